//! [`Condvar`]: a condition variable over a [`RobustMutex`], in shared memory.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::deadline::Deadline;

use super::futex::{futex_wait, futex_wake};
use super::pthread::{LockOutcome, RobustMutex};

/// A condition variable in shared memory, used with a [`RobustMutex`]; place it inside any
/// [`SharedHeader`](super::SharedHeader) (all zeroes is a valid, empty `Condvar`).
///
/// A notify hands out wake-up *tokens*, one per waiter it chooses (any waiter that arrived
/// before it may take one), so `notify(n)` wakes at most `n` waiters (Python's contract)
/// even though every sleep lasts at most
/// [`MAX_SLEEP`](super::MAX_SLEEP) and then looks again: a waiter leaves only with a token
/// or at its deadline. A notifier that dies after handing out tokens but before its wake-up
/// system call delays the chosen waiters by one slice, not forever.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Condvar {
    /// Bumped by every notify that chose someone; the futex word.
    seq: AtomicU32,
    /// Waiters not yet chosen by a notify (changed under the mutex, or by a notify).
    waiting: AtomicU32,
    /// Wake-up tokens handed out and not yet taken by a waiter.
    tokens: AtomicU32,
}

impl Condvar {
    /// An empty condition variable (all zeroes).
    pub const fn new() -> Self {
        Condvar {
            seq: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            tokens: AtomicU32::new(0),
        }
    }

    /// Releases `mutex`, sleeps until notified or `deadline` (`None`: no deadline), then takes
    /// `mutex` again (without a deadline). Returns how the relock went and whether this
    /// waiter was notified (`false`: the deadline passed first).
    ///
    /// # Safety
    /// As for [`RobustMutex::unlock`]: the calling thread holds `mutex`, the mutex every user
    /// of this condition variable waits and notifies under, and nothing relies on its being
    /// held across the call.
    pub unsafe fn wait_until(
        &self,
        mutex: &RobustMutex,
        deadline: Option<Deadline>,
    ) -> (LockOutcome, bool) {
        // Counted under the mutex: a notifier (who takes the mutex first) sees us. Only a
        // notify after this point counted us, so only then may we take one of its tokens
        // (tokens of earlier notifies belong to earlier waiters).
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let arrived = self.seq.load(Ordering::SeqCst);
        // SAFETY: the caller's contract.
        let held = unsafe { mutex.unlock() };
        debug_assert!(held.is_ok(), "condition waited on without holding its lock");
        let mut notified = loop {
            // Read the word before looking for a token: a notify after the look bumps it,
            // and the kernel then refuses to sleep on the stale value.
            let seq = self.seq.load(Ordering::SeqCst);
            if seq != arrived && self.take_token() {
                break true;
            }
            if !futex_wait(&self.seq, seq, deadline) {
                break false;
            }
        };
        let relocked = mutex.lock_until(None);
        if !notified && !self.leave_unchosen() {
            // A notify chose us just as the deadline passed: its token is ours.
            notified = self.take_token();
        }
        (relocked, notified)
    }

    /// [`wait_until`](Self::wait_until) for mp-sync's own primitives, whose guard proves
    /// that the calling thread holds `mutex`: safe for the reasons of
    /// [`RobustMutex::unlock_owned`] (glibc checks the owner; the crate keeps only atomics
    /// under its mutexes).
    pub(crate) fn wait_owned(
        &self,
        mutex: &RobustMutex,
        deadline: Option<Deadline>,
    ) -> (LockOutcome, bool) {
        // SAFETY: as for `RobustMutex::unlock_owned`: a caller that does not hold `mutex`
        // gets a refused unlock (debug-asserted inside), not undefined behaviour, and nothing
        // the crate keeps under `mutex` is plain memory.
        unsafe { self.wait_until(mutex, deadline) }
    }

    /// Chooses up to `n` waiters and wakes them now; returns how many were chosen.
    pub fn notify(&self, n: u32) -> u32 {
        let chosen = self.choose(n);
        if chosen > 0 {
            self.wake(chosen);
        }
        chosen
    }

    /// Chooses up to `n` waiters (hands them tokens) without waking them; returns how many
    /// were chosen. [`wake`](Self::wake) them later, for instance after unlocking
    /// ([`RobustMutex::defer_until_unlock`]); they also find their tokens by themselves
    /// within a [`MAX_SLEEP`](super::MAX_SLEEP) slice.
    pub fn choose(&self, n: u32) -> u32 {
        let before = self
            .waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| Some(w - w.min(n)))
            .unwrap_or_else(|w| w);
        let chosen = before.min(n);
        if chosen > 0 {
            self.tokens.fetch_add(chosen, Ordering::SeqCst);
            self.seq.fetch_add(1, Ordering::SeqCst);
        }
        chosen
    }

    /// Wakes up to `n` sleepers, to take the tokens [`choose`](Self::choose) handed out.
    pub fn wake(&self, n: u32) {
        futex_wake(&self.seq, n);
    }

    /// Takes a token if there is one.
    fn take_token(&self) -> bool {
        self.tokens
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| t.checked_sub(1))
            .is_ok()
    }

    /// A waiter whose deadline passed leaves (mutex held): `false` if a notify had already
    /// chosen every waiter, this one included.
    fn leave_unchosen(&self) -> bool {
        self.waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| w.checked_sub(1))
            .is_ok()
    }
}
