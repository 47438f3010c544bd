//! The server's Queue: a FIFO of encoded items, bounded or not (Python's `queue.Queue`, which
//! is what `SyncManager.Queue` serves).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use crate::error::Refusal;
use crate::server::waiting::{Caller, Waited, wait_for};
use crate::wire::{Bytes, Reply, Wait};

/// A FIFO of encoded items.
#[derive(Debug)]
pub(crate) struct Queue {
    /// The items.
    items: Mutex<VecDeque<Bytes>>,
    /// Signalled on every put and get.
    cv: Condvar,
    /// The most items it holds (0: no bound).
    maxsize: u64,
}

impl Queue {
    /// An empty queue of at most `maxsize` items (0: unbounded).
    pub(crate) fn new(maxsize: u64) -> Queue {
        Queue {
            items: Mutex::new(VecDeque::new()),
            cv: Condvar::new(),
            maxsize,
        }
    }

    /// Appends `item` when there is room, waiting as allowed; whether it was put.
    pub(crate) fn put(&self, item: Bytes, wait: Wait, caller: &Caller<'_>) -> Reply {
        let guard = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let max = self.maxsize;
        let (mut items, waited) = wait_for(guard, &self.cv, wait, caller, |q| {
            max == 0 || (q.len() as u64) < max
        });
        match waited {
            Waited::Ready => {
                items.push_back(item);
                self.cv.notify_all();
                Reply::Bool(true)
            }
            Waited::TimedOut => Reply::Bool(false),
            Waited::Cancelled => Reply::Refused(Refusal::ShuttingDown),
        }
    }

    /// Takes the first item, waiting as allowed (`Item(None)`: none in time).
    pub(crate) fn get(&self, wait: Wait, caller: &Caller<'_>) -> Reply {
        let guard = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let (mut items, waited) = wait_for(guard, &self.cv, wait, caller, |q| !q.is_empty());
        match waited {
            Waited::Ready => {
                let item = items.pop_front();
                self.cv.notify_all();
                Reply::Item(item)
            }
            Waited::TimedOut => Reply::Item(None),
            Waited::Cancelled => Reply::Refused(Refusal::ShuttingDown),
        }
    }

    /// The number of items.
    pub(crate) fn len(&self) -> Reply {
        Reply::Len(self.items.lock().unwrap_or_else(|p| p.into_inner()).len() as u64)
    }
}
