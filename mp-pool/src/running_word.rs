//! A worker process's running-item word: one `u64` in shared memory where the worker records,
//! before each item, which item of which job it starts, and after it that it runs none. The
//! pool reads it when the worker died or ran out of time ([`Held`]), so a worker need not
//! report each item before it starts the next: its reports can be batched (one message per
//! flush) and a death still fails exactly the running item.
//!
//! The word is `tag << 32 | (item + 1)`, `tag` the job's [`JobId::tag`](crate::backend::JobId::tag);
//! 0 is "no item". One store per change, no system call.

use std::sync::atomic::Ordering;

use mp_ipc::RawValue;
use serde::{Deserialize, Serialize};

use crate::backend::Held;

/// The value of "no item".
const NOTHING: u64 = 0;

/// One worker's running-item word (the pool and the worker each hold a copy, mapping the same
/// shared memory).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct RunningWord {
    /// The word.
    word: RawValue<u64>,
}

impl RunningWord {
    /// A new word saying "no item".
    pub(crate) fn new() -> Result<Self, mp_ipc::Error> {
        Ok(RunningWord {
            word: RawValue::new(NOTHING)?,
        })
    }

    /// In the worker: item `item` (an index in the payload given) of the job tagged `job`
    /// starts now. An index past `u32::MAX - 1` is recorded as that (a job's items are
    /// bounded below it at submission).
    pub(crate) fn start(&self, job: u32, item: usize) {
        let item = u32::try_from(item).unwrap_or(u32::MAX - 1);
        let value = (u64::from(job) << 32) | u64::from(item + 1);
        self.word.atomic().store(value, Ordering::Release);
    }

    /// In the worker: it runs no item now.
    pub(crate) fn clear(&self) {
        self.word.atomic().store(NOTHING, Ordering::Release);
    }

    /// In the pool: what the word says.
    pub(crate) fn held(&self) -> Held {
        let value = self.word.atomic().load(Ordering::Acquire);
        match value & u64::from(u32::MAX) {
            0 => Held::Nothing,
            item => Held::Item {
                job: (value >> 32) as u32,
                item: (item - 1) as usize,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_names_the_started_item_until_cleared() {
        let word = RunningWord::new().unwrap();
        assert_eq!(word.held(), Held::Nothing);
        let other = word.clone();
        other.start(7, 0);
        assert_eq!(word.held(), Held::Item { job: 7, item: 0 });
        other.start(u32::MAX, 41);
        assert_eq!(
            word.held(),
            Held::Item {
                job: u32::MAX,
                item: 41
            }
        );
        other.clear();
        assert_eq!(word.held(), Held::Nothing);
    }
}
