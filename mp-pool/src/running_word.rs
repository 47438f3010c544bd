//! A worker process's running-item word: one `u64` in shared memory where the worker records,
//! before each item, which item of which job it starts, and after it that it runs none. The
//! pool reads it when the worker died or ran out of time ([`Held`]), so a worker need not
//! report each item before it starts the next: its reports can be batched (one message per
//! flush) and a death still fails exactly the running item.
//!
//! The word is `tag << 32 | (item + 1)`, `tag` the job's [`JobId::tag`](crate::backend::JobId::tag);
//! 0 is "no item". One store per change, no system call. It is the spare word of the worker's
//! pipe ([`mp_ipc::SpareWord`]), which both sides already map: no segment of its own.

use std::sync::atomic::{AtomicU64, Ordering};

use mp_ipc::{Connection, SpareWord};

use crate::backend::Held;

/// The value of "no item".
const NOTHING: u64 = 0;

/// One worker's running-item word (the pool and the worker each reach it from their end of the
/// worker's pipe, mapping the same shared memory).
#[derive(Clone)]
pub(crate) struct RunningWord {
    /// The word.
    word: SpareWord,
}

impl RunningWord {
    /// The word of the worker whose pipe `pipe` is an end (or a half) of: "no item" in a new
    /// pipe. `None` for a connection that is no pipe.
    pub(crate) fn of(pipe: &Connection) -> Option<Self> {
        pipe.spare_word().map(|word| RunningWord { word })
    }

    /// In the worker: the word itself, to record items in (found once for a run of items).
    pub(crate) fn word(&self) -> RunningSlot<'_> {
        RunningSlot(self.word.word())
    }

    /// In the pool: what the word says.
    pub(crate) fn held(&self) -> Held {
        let value = self.word.word().load(Ordering::Acquire);
        match value & u64::from(u32::MAX) {
            0 => Held::Nothing,
            item => Held::Item {
                job: (value >> 32) as u32,
                item: (item - 1) as usize,
            },
        }
    }
}

/// A worker's running-item word, borrowed for a run of items.
#[derive(Clone, Copy)]
pub(crate) struct RunningSlot<'a>(&'a AtomicU64);

impl RunningSlot<'_> {
    /// Item `item` (an index in the payload given) of the job tagged `job` starts now. An
    /// index past `u32::MAX - 1` is recorded as that (a job's items are bounded below it at
    /// submission).
    #[inline]
    pub(crate) fn start(self, job: u32, item: usize) {
        let item = u32::try_from(item).unwrap_or(u32::MAX - 1);
        let value = (u64::from(job) << 32) | u64::from(item + 1);
        self.0.store(value, Ordering::Release);
    }

    /// It runs no item now.
    #[inline]
    pub(crate) fn clear(self) {
        self.0.store(NOTHING, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_names_the_started_item_until_cleared() {
        let (ours, theirs) = mp_ipc::Pipe(true).unwrap();
        let word = RunningWord::of(&ours).unwrap();
        assert_eq!(word.held(), Held::Nothing);
        let other = RunningWord::of(&theirs).unwrap();
        let slot = other.word();
        slot.start(7, 0);
        assert_eq!(word.held(), Held::Item { job: 7, item: 0 });
        slot.start(u32::MAX, 41);
        assert_eq!(
            word.held(),
            Held::Item {
                job: u32::MAX,
                item: 41
            }
        );
        slot.clear();
        assert_eq!(word.held(), Held::Nothing);
    }
}
