//! `Event`: a flag in shared memory that processes can wait on.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::Error;
use crate::sys::{Shared, SharedHeader, SharedState, futex_wait, futex_wake, kind, spin_until};

/// The segment of an event.
#[repr(C)]
pub(crate) struct EventState {
    /// 1 when set, 0 when clear; the futex word waiters sleep on while it is 0.
    flag: AtomicU32,
    /// How many waiters are in (or about to enter) the kernel; `set` only wakes when > 0.
    sleepers: AtomicU32,
}

// SAFETY: `repr(C)`, two atomics, valid zeroed (a clear event), no addresses.
unsafe impl SharedHeader for EventState {
    const KIND: u32 = kind::EVENT;
}

// SAFETY: as for `SharedHeader` above; the state is mutated only through atomics and the
// pthread objects, as other processes use it concurrently.
unsafe impl SharedState for EventState {}

/// A flag shared between processes (Python's `multiprocessing.Event`): [`set`](Event::set)
/// wakes every [`wait`](Event::wait)er, [`clear`](Event::clear) resets it.
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
        // SeqCst pairs with the waiter's announce-then-check (see `wait`).
        if st.flag.swap(1, Ordering::SeqCst) == 0 && st.sleepers.load(Ordering::SeqCst) > 0 {
            futex_wake(&st.flag, u32::MAX);
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

    /// Waits until the flag is set or `timeout` (if any) passes; returns whether it is set.
    #[inline]
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        self.is_set() || self.wait_contended(Deadline::from_timeout(timeout))
    }

    #[cold]
    fn wait_contended(&self, deadline: Option<Deadline>) -> bool {
        if spin_until(|| self.is_set()) {
            return true;
        }
        let st = &*self.shared;
        loop {
            // Announce, then look: `set` either sees us and wakes, or its store is visible.
            st.sleepers.fetch_add(1, Ordering::SeqCst);
            let in_time = st.flag.load(Ordering::SeqCst) == 1 || futex_wait(&st.flag, 0, deadline);
            st.sleepers.fetch_sub(1, Ordering::SeqCst);
            if self.is_set() {
                return true;
            }
            if !in_time || deadline.is_some_and(Deadline::has_passed) {
                return false;
            }
        }
    }
}
