//! `Event`: a flag in shared memory that processes can wait on.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::Error;
use crate::sys::{EventState, Shared, spin_until};

/// A flag shared between processes (Python's `multiprocessing.Event`): [`set`](Event::set)
/// wakes every [`wait`](Event::wait)er, [`clear`](Event::clear) resets it.
///
/// As in Python, a `set` wakes everyone waiting at that moment even if a `clear` follows at
/// once; those waiters then return the flag as they find it (`false`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// The segment holding the flag.
    shared: Shared<EventState>,
}

impl Event {
    /// Creates a clear event.
    pub fn new() -> Result<Self, Error> {
        Ok(Event {
            shared: Shared::new()?,
        })
    }

    /// Sets the flag and wakes all waiters.
    #[inline]
    pub fn set(&self) {
        let st = &*self.shared;
        if st.flag.swap(1, Ordering::SeqCst) == 0 {
            st.sets.wake_all();
        }
    }

    /// Clears the flag.
    #[inline]
    pub fn clear(&self) {
        self.shared.flag.store(0, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.shared.flag.load(Ordering::Acquire) == 1
    }

    /// Waits until the flag is set; returns whether it is set on return (`false` only when a
    /// `clear` followed the `set` that woke this waiter).
    #[inline]
    pub fn wait(&self) -> bool {
        self.is_set() || self.wait_contended(None)
    }

    /// Waits until the flag is set or `timeout` passes; returns whether it is set.
    #[inline]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.is_set() || self.wait_contended(Some(Deadline::after(timeout)))
    }

    /// Waits until the flag is set or `deadline` passes; returns whether it is set.
    #[inline]
    pub fn wait_deadline(&self, deadline: Deadline) -> bool {
        self.is_set() || self.wait_contended(Some(deadline))
    }

    #[cold]
    fn wait_contended(&self, deadline: Option<Deadline>) -> bool {
        let st = &*self.shared;
        // The generation before the last look at the flag: a `set` after the look bumps it.
        let sets = st.sets.seq();
        if self.is_set() || spin_until(|| self.is_set()) {
            return true;
        }
        st.sets.wait_until(sets, deadline);
        self.is_set()
    }
}
