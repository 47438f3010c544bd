//! [`WakeWord`]: a sequence number that sleepers wait on and every change bumps, with a
//! sleeper count so that a change with nobody asleep makes no system call.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::deadline::Deadline;

use super::futex::{futex_wait, futex_wake, spin_until};

/// The `{seq, waiters}` pair behind every "wait until something changes" in shared memory
/// (an `Event`'s set, a queue's put and get): place it inside any
/// [`SharedHeader`](super::SharedHeader); all zeroes is a valid `WakeWord`.
///
/// The protocol: a waiter reads [`seq`](Self::seq) *before* checking its condition and then
/// sleeps with [`wait_until`](Self::wait_until) on the value read; a waker changes the
/// condition and then calls [`wake_all`](Self::wake_all) (or `wake_one`), which bumps the
/// sequence. A change made after the check alters the word, so the sleep returns at once:
/// no wake-up is lost. [`wait_for`](Self::wait_for) does it all.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use mp_sync::raw::WakeWord;
///
/// let (word, ready) = (WakeWord::new(), AtomicBool::new(false));
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         ready.store(true, Ordering::SeqCst);
///         word.wake_all();
///     });
///     assert!(word.wait_for(|| ready.load(Ordering::SeqCst), None));
/// });
/// ```
#[repr(C)]
#[derive(Debug, Default)]
pub struct WakeWord {
    /// Bumped by every wake; the futex word.
    seq: AtomicU32,
    /// Sleepers between announcing themselves and leaving the kernel.
    waiters: AtomicU32,
}

impl WakeWord {
    /// A word with nobody waiting (all zeroes).
    pub const fn new() -> Self {
        WakeWord {
            seq: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        }
    }

    /// The current sequence number: read it before checking the condition waited for.
    #[inline]
    pub fn seq(&self) -> u32 {
        self.seq.load(Ordering::SeqCst)
    }

    /// The futex word itself (the sequence), for a waiter that sleeps on several words at
    /// once with [`futex_waitv`](super::futex_waitv) (mp-ipc's `wait`). Such a waiter must
    /// count itself in [`sleepers`](Self::sleepers) for as long as it may sleep, or a wake
    /// that sees no sleeper skips the system call; its futex `expected` value is the
    /// [`seq`](Self::seq) it read before checking its condition.
    #[inline]
    pub fn futex_word(&self) -> &AtomicU32 {
        &self.seq
    }

    /// The count of sleepers on [`futex_word`](Self::futex_word): increment it before
    /// sleeping on the word by other means than [`wait_until`](Self::wait_until), decrement
    /// it after. [`wake`](Self::wake) makes its system call only while it is above 0.
    #[inline]
    pub fn sleepers(&self) -> &AtomicU32 {
        &self.waiters
    }

    /// Sleeps while the sequence is still `expected` (read with [`seq`](Self::seq)), until a
    /// wake or `deadline` (`None`: no deadline). Returns `true` once the sequence moved on,
    /// `false` when the deadline passed first.
    ///
    /// Each sleep in the kernel lasts at most [`MAX_SLEEP`](super::MAX_SLEEP), after which the
    /// word is read again: a waker that bumped the sequence and died before its wake-up
    /// system call delays the waiter by one slice, not forever.
    pub fn wait_until(&self, expected: u32, deadline: Option<Deadline>) -> bool {
        loop {
            if self.seq() != expected {
                return true;
            }
            // Announce, then sleep: a waker bumps before it looks at `waiters`, so it either
            // sees us or its bump makes the kernel refuse to sleep on `expected`.
            self.waiters.fetch_add(1, Ordering::SeqCst);
            let in_time = futex_wait(&self.seq, expected, deadline);
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            if !in_time {
                return self.seq() != expected;
            }
        }
    }

    /// Waits until `ready()` holds (`true`) or `deadline` passes (`false`, after a last look);
    /// spins briefly first on a machine with more than one CPU.
    pub fn wait_for(&self, mut ready: impl FnMut() -> bool, deadline: Option<Deadline>) -> bool {
        if ready() || spin_until(&mut ready) {
            return true;
        }
        loop {
            let seq = self.seq();
            if ready() {
                return true;
            }
            if !self.wait_until(seq, deadline) {
                return ready();
            }
        }
    }

    /// Bumps the sequence and wakes up to `n` sleepers (none: no system call).
    #[inline]
    pub fn wake(&self, n: u32) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            futex_wake(&self.seq, n);
        }
    }

    /// Bumps the sequence and wakes one sleeper (the others see the bump at their next look).
    #[inline]
    pub fn wake_one(&self) {
        self.wake(1);
    }

    /// Bumps the sequence and wakes every sleeper.
    #[inline]
    pub fn wake_all(&self) {
        self.wake(u32::MAX);
    }
}
