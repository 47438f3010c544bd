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
        let mut word = st.flag.load(Ordering::SeqCst);
        // Set and count the set in one step (see `EventState::flag`).
        while word & SET == 0 {
            match st.flag.compare_exchange_weak(
                word,
                word.wrapping_add(ONE_SET) | SET,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    st.sets.wake_all();
                    return;
                }
                Err(now) => word = now,
            }
        }
    }

    /// Clears the flag.
    #[inline]
    pub fn clear(&self) {
        self.shared.flag.fetch_and(!SET, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.shared.flag.load(Ordering::Acquire) & SET != 0
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
        // The flag word at the look: a `set` since then changes its count of sets.
        let looked = st.flag.load(Ordering::SeqCst);
        loop {
            // The wake word before the next look at the flag: a `set` after it bumps it.
            let sets = st.sets.seq();
            let now = st.flag.load(Ordering::SeqCst);
            if now & SET != 0 || spin_until(|| self.is_set()) {
                return true;
            }
            // Set and cleared again since we looked: woken by that `set`, we find it clear.
            if now != looked {
                return false;
            }
            // A wake-up with no `set` since we looked (the late bump of a `set` whose flag we
            // saw before our look, or a spurious one) sends us back to sleep.
            if !st.sets.wait_until(sets, deadline) {
                return self.is_set();
            }
        }
    }
}

/// Bit 0 of [`EventState::flag`](crate::sys::EventState): the event is set.
const SET: u32 = 1;

/// One more set in the count of sets above bit 0 of the flag word.
const ONE_SET: u32 = 2;

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::Event;

    /// A waiter that saw the flag of a `set` whose wake-up had not landed yet, cleared it and
    /// waited again, woke on that late wake-up and returned `false` at once, though nothing had
    /// set the event since it looked: a ping-pong then ran a round ahead, and its other side
    /// waited forever (`sync/event_pingpong` in `cargo xtask test` hung so). The late wake-up
    /// is played here by hand: a set flag without a wake, then the wake.
    #[test]
    fn a_late_wake_up_of_an_earlier_set_does_not_end_a_wait() {
        let ev = Event::new().unwrap();
        let st = &*ev.shared;
        // The setter's flag change, its wake-up still to come.
        st.flag.fetch_or(super::SET, Ordering::SeqCst);
        assert!(ev.wait());
        ev.clear();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| ev.wait_timeout(Duration::from_secs(20)));
            // Asleep by now (if not, the late wake-up lands before its look: no harm).
            std::thread::sleep(Duration::from_millis(100));
            st.sets.wake_all();
            std::thread::sleep(Duration::from_millis(100));
            assert!(!waiter.is_finished(), "the late wake-up ended the wait");
            ev.set();
            assert!(waiter.join().unwrap());
        });
    }
}
