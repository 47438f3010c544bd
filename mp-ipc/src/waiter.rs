//! The one waiting loop of the crate: spin briefly, then sleep on a sequence word in bounded
//! slices until a condition holds, the deadline passes, or a check between slices gives up.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::sys::{futex_wait, may_spin};
use mp_sync::raw::{Deadline, WakeWord};

/// Spins before sleeping, when spinning can help (more than one CPU).
const SPINS: u32 = 4000;

/// Waits on `word` (mp-sync's wake word: a sequence bumped after every change a waiter may
/// care about, and the count of those sleeping on it) until `ready()` holds (`Ok(true)`) or
/// `deadline` passes (`Ok(false)`). Sleeps last at most `slice`; after a slice that brought no
/// change, `between_slices` may give up with an error (e.g. the other end is gone).
///
/// No wake-up is lost: the word is read before `ready()` is checked, so a change made after
/// the check alters the word and the sleep returns at once.
pub(crate) fn wait_until<E>(
    word: &WakeWord,
    ready: impl Fn() -> bool,
    deadline: Option<Deadline>,
    slice: Duration,
    mut between_slices: impl FnMut() -> Result<(), E>,
) -> Result<bool, E> {
    let (seq_word, waiters) = (word.futex_word(), word.sleepers());
    let mut spins = if may_spin() && !deadline.is_some_and(Deadline::has_passed) {
        SPINS
    } else {
        0
    };
    loop {
        let seq = seq_word.load(Ordering::SeqCst);
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
        waiters.fetch_add(1, Ordering::SeqCst);
        let woken = ready() || futex_wait(seq_word, seq, Some(Deadline::slice(deadline, slice)));
        waiters.fetch_sub(1, Ordering::SeqCst);
        if !woken && !ready() {
            between_slices()?;
        }
    }
}
