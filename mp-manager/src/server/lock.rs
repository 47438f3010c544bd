//! The server's counting lock: [`Semaphore`] (also the plain Lock: a semaphore of one that
//! anyone may release, as `threading.Lock`). It remembers which connection took what, so a
//! client that disconnects (or is killed) while holding it gives it back: unlike Python's
//! manager, a dead holder strands no one. (The re-entrant lock is in `condition.rs`.)

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use crate::error::Refusal;
use crate::server::waiting::{Caller, Waited, wait_for};
use crate::wire::{Reply, Wait};

/// A counting semaphore; with `max` 1, a Lock.
#[derive(Debug)]
pub(crate) struct Semaphore {
    /// The count and holders.
    state: Mutex<Count>,
    /// Signalled on every release.
    cv: Condvar,
    /// The most the count may reach (`Some(1)`: a Lock, whose release when free fails).
    max: Option<u64>,
}

/// A semaphore's count and who took from it.
#[derive(Debug)]
struct Count {
    /// Acquires that may happen now.
    value: u64,
    /// Acquires not released yet, by connection.
    holders: HashMap<u64, u64>,
}

impl Semaphore {
    /// A Lock (free).
    pub(crate) fn lock() -> Semaphore {
        Semaphore::new(1, Some(1))
    }

    /// A semaphore starting at `value`, unbounded.
    pub(crate) fn counting(value: u32) -> Semaphore {
        Semaphore::new(u64::from(value), None)
    }

    /// A semaphore at `value`, at most `max`.
    fn new(value: u64, max: Option<u64>) -> Semaphore {
        Semaphore {
            state: Mutex::new(Count {
                value,
                holders: HashMap::new(),
            }),
            cv: Condvar::new(),
            max,
        }
    }

    /// Takes one, waiting as allowed.
    pub(crate) fn acquire(&self, wait: Wait, caller: &Caller<'_>) -> Reply {
        let guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (mut count, waited) = wait_for(guard, &self.cv, wait, caller, |c| c.value > 0);
        match waited {
            Waited::Ready => {
                count.value -= 1;
                *count.holders.entry(caller.conn).or_default() += 1;
                Reply::Bool(true)
            }
            Waited::TimedOut => Reply::Bool(false),
            Waited::Cancelled => Reply::Refused(Refusal::ShuttingDown),
        }
    }

    /// Gives one back (the caller's own if it holds one, another's otherwise: a Lock may be
    /// released by anyone, as in Python).
    pub(crate) fn release(&self, conn: u64) -> Reply {
        let mut count = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if self.max.is_some_and(|max| count.value >= max) {
            return Reply::Refused(Refusal::NotHeld);
        }
        let holder = if count.holders.contains_key(&conn) {
            Some(conn)
        } else {
            count.holders.keys().next().copied()
        };
        if let Some(h) = holder {
            take_one(&mut count.holders, h);
        }
        count.value += 1;
        self.cv.notify_all();
        Reply::Done
    }

    /// Gives back what connection `conn` holds (it is gone).
    pub(crate) fn forget(&self, conn: u64) {
        let mut count = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = count.holders.remove(&conn) {
            count.value += n;
            self.cv.notify_all();
        }
    }
}

/// Decrements `holders[h]`, removing it at zero.
fn take_one(holders: &mut HashMap<u64, u64>, h: u64) {
    if let Some(n) = holders.get_mut(&h) {
        *n -= 1;
        if *n == 0 {
            holders.remove(&h);
        }
    }
}
