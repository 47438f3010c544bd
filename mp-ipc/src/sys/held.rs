//! A held [`RobustMutex`] that unlocks when dropped: the queue's put and get locks, which
//! live in the queue's own segment.

use mp_sync::raw::{Deadline, LockOutcome, RobustMutex};

/// Proof that this thread holds `mutex`; dropping it unlocks.
pub(crate) struct Held<'a>(&'a RobustMutex);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // SAFETY: a `Held` exists only while this thread holds the mutex (made by `lock`
        // below on success), and nothing borrowed under it outlives the guard.
        let _ = unsafe { self.0.unlock() };
    }
}

/// Takes `mutex` by `deadline` (`None`: for good); `None` when it stayed busy. A holder that
/// died is acknowledged at once: the queue's commits are single stores, so a dead holder
/// leaves nothing to repair.
pub(crate) fn lock(mutex: &RobustMutex, deadline: Option<Deadline>) -> Option<Held<'_>> {
    match mutex.lock_until(deadline) {
        LockOutcome::Acquired => Some(Held(mutex)),
        LockOutcome::OwnerDied => {
            mutex.mark_consistent();
            Some(Held(mutex))
        }
        // `WouldDeadlock`: a put or get re-entered from inside itself (an encoder that puts
        // to its own queue) is refused like a busy lock.
        _ => None,
    }
}
