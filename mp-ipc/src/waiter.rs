//! The one waiting loop of the crate: spin briefly, then sleep on a sequence word in bounded
//! slices until a condition holds, the deadline passes, or a check between slices gives up.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::sys::{futex_wait, may_spin};
use mp_sync::raw::Deadline;

/// Spins before sleeping, when spinning can help (more than one CPU).
const SPINS: u32 = 4000;

/// A futex word bumped after every change a waiter may care about, with the count of those
/// sleeping on it (so that the changing side makes a system call only when someone sleeps).
#[derive(Clone, Copy)]
pub(crate) struct Signal<'a> {
    /// Bumped after every change.
    pub(crate) seq: &'a AtomicU32,
    /// Sleepers on `seq`.
    pub(crate) waiters: &'a AtomicU32,
}

impl Signal<'_> {
    /// Waits until `ready()` holds (`Ok(true)`) or `deadline` passes (`Ok(false)`). Sleeps
    /// last at most `slice`; after a slice that brought no change, `between_slices` may give
    /// up with an error (e.g. the other end is gone).
    ///
    /// No wake-up is lost: the word is read before `ready()` is checked, so a change made
    /// after the check alters the word and the sleep returns at once.
    pub(crate) fn wait_until<E>(
        self,
        ready: impl Fn() -> bool,
        deadline: Option<Deadline>,
        slice: Duration,
        mut between_slices: impl FnMut() -> Result<(), E>,
    ) -> Result<bool, E> {
        let mut spins = if may_spin() && !deadline.is_some_and(Deadline::has_passed) {
            SPINS
        } else {
            0
        };
        loop {
            let seq = self.seq.load(Ordering::SeqCst);
            if ready() {
                return Ok(true);
            }
            if spins > 0 {
                spins -= 1;
                std::hint::spin_loop();
                continue;
            }
            if deadline.is_some_and(Deadline::has_passed) {
                return Ok(false);
            }
            self.waiters.fetch_add(1, Ordering::SeqCst);
            let woken =
                ready() || futex_wait(self.seq, seq, Some(Deadline::slice(deadline, slice)));
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            if !woken && !ready() {
                between_slices()?;
            }
        }
    }
}
