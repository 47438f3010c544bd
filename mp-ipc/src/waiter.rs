//! The one waiting loop of the crate: spin (or yield) briefly, then sleep on a sequence word in
//! bounded slices until a condition holds, the deadline passes, or a check between slices gives
//! up.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::sys::{current_cpu, futex_wait, may_spin};
use mp_sync::raw::{Deadline, WakeWord};

/// Spins before sleeping, when spinning can help (the peer runs on another CPU): ~13 µs on
/// the 2-CPU EPYC VM measured (a `pause` is ~30 ns there). It was 4000 (~130 µs): on a
/// loaded machine that spin is CPU the other side needs, and with 400 every pool and pipe
/// row measured did as well or better there (1 MiB pipe messages 1.9 -> 7.1 GB/s, the pool's
/// 1 MiB results 515 -> 1034 MiB/s, its round trip 68k -> 88k/s, medians at load 5-7).
const SPINS: u32 = 400;

/// Yields before sleeping when the peer last ran on this waiter's CPU: each yield lets a
/// runnable peer run its whole time slice (a producer then puts many items, which the waiter
/// takes without a system call), where a sleep would cost the peer a wake-up and both of them a
/// context switch per item. A peer that is not runnable makes each yield return at once.
const YIELDS: u32 = 8;

/// What a waiter does before it first sleeps.
#[derive(Clone, Copy)]
pub(crate) enum Before<'a> {
    /// Spins or yields, as the place of the peer suggests: the CPU (plus one; 0: unknown)
    /// the process expected to make the condition true last ran on, if known.
    Guess(Option<&'a AtomicU32>),
    /// Sleeps at once: the caller knows the wait is long (an idle pool worker waiting for
    /// its next job), and a spin would take a CPU the other side needs.
    Sleep,
}

/// Where the process a waiter waits for last ran, relative to the waiter.
enum Placement {
    /// Not known: spin if this process may run on several CPUs.
    Unknown,
    /// On this CPU: spinning only delays it; yield to it.
    SameCpu,
    /// On another CPU: spin briefly, it may be about to deliver.
    OtherCpu,
}

/// Where the peer whose CPU (plus one, 0 for unknown) is in `peer_cpu` ran last.
fn placement(peer_cpu: Option<&AtomicU32>) -> Placement {
    let Some(peer) = peer_cpu
        .map(|c| c.load(Ordering::Relaxed))
        .filter(|&c| c > 0)
    else {
        return Placement::Unknown;
    };
    match current_cpu() {
        Some(mine) if mine + 1 == peer => Placement::SameCpu,
        Some(_) => Placement::OtherCpu,
        None => Placement::Unknown,
    }
}

/// Waits on `word` (mp-sync's wake word: a sequence bumped after every change a waiter may
/// care about, and the count of those sleeping on it) until `ready()` holds (`Ok(true)`) or
/// `deadline` passes (`Ok(false)`). Sleeps last at most `slice`; after a slice that brought no
/// change, `between_slices` may give up with an error (e.g. the other end is gone).
/// `before` says whether to spin or yield before the first sleep ([`Before`]).
///
/// No wake-up is lost: the word is read before `ready()` is checked, so a change made after
/// the check alters the word and the sleep returns at once.
pub(crate) fn wait_until<E>(
    word: &WakeWord,
    ready: impl Fn() -> bool,
    deadline: Option<Deadline>,
    slice: Duration,
    before: Before<'_>,
    mut between_slices: impl FnMut() -> Result<(), E>,
) -> Result<bool, E> {
    let (seq_word, waiters) = (word.futex_word(), word.sleepers());
    let (mut spins, mut yields) = match before {
        _ if deadline.is_some_and(Deadline::has_passed) => (0, 0),
        Before::Sleep => (0, 0),
        Before::Guess(peer_cpu) => match placement(peer_cpu) {
            Placement::SameCpu => (0, YIELDS),
            Placement::OtherCpu => (SPINS, 0),
            Placement::Unknown if may_spin() => (SPINS, 0),
            Placement::Unknown => (0, 0),
        },
    };
    loop {
        // Spinning and yielding look at the condition only: reading the word on every turn
        // would keep pulling its line away from the process that bumps it (a stall of a
        // cross-CPU transfer in each of its wakes).
        if spins > 0 || yields > 0 {
            if ready() {
                return Ok(true);
            }
            if spins > 0 {
                spins -= 1;
                std::hint::spin_loop();
            } else {
                yields -= 1;
                std::thread::yield_now();
            }
            continue;
        }
        let seq = seq_word.load(Ordering::SeqCst);
        if ready() {
            return Ok(true);
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
