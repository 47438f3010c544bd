//! What `Lock` and `RLock` share (their state, one robust mutex in its own segment, is
//! `sys::MutexState`): the one function that turns a lock attempt into a guard, an
//! `OwnerDied` or nothing, and `release()` of a level whose guard was leaked.

use std::sync::atomic::Ordering;

use crate::deadline::Deadline;
use crate::error::{Error, OwnerDied, TryLockResult};
use crate::sys::{LockOutcome, MutexState, RobustMutex, caller_tid};

/// Locks `raw` (until `deadline`, or for good with `None`) and wraps the result in a guard
/// made by `guard`.
///
/// A relock by the holding thread of a non-recursive lock is `Ok(None)` for a bounded attempt
/// (as Python's `acquire(timeout=...)` eventually returns `False`) and a panic for an
/// unbounded one, which could never return (like `std::sync::Mutex`, which may panic there).
#[inline(always)]
pub(crate) fn acquire<G>(
    raw: &RobustMutex,
    deadline: Option<Deadline>,
    guard: impl FnOnce() -> G,
) -> TryLockResult<G> {
    match raw.lock_until(deadline) {
        LockOutcome::WouldDeadlock if deadline.is_some() => Ok(None),
        LockOutcome::WouldDeadlock => {
            panic!("lock acquired again by the thread holding it: deadlock")
        }
        outcome => guard_for(outcome, guard),
    }
}

/// Wraps the outcome of a lock attempt other than `WouldDeadlock` in a guard made by `guard`.
#[inline(always)]
pub(crate) fn guard_for<G>(outcome: LockOutcome, guard: impl FnOnce() -> G) -> TryLockResult<G> {
    match outcome {
        LockOutcome::Acquired => Ok(Some(guard())),
        LockOutcome::OwnerDied => Err(OwnerDied { guard: guard() }),
        LockOutcome::TimedOut | LockOutcome::WouldDeadlock => Ok(None),
    }
}

/// Narrows the result of an unbounded [`acquire`], which never comes back empty-handed.
#[inline(always)]
pub(crate) fn expect_acquired<G>(result: TryLockResult<G>) -> Result<G, OwnerDied<G>> {
    match result {
        Ok(Some(guard)) => Ok(guard),
        Ok(None) => unreachable!("an unbounded lock attempt came back without the lock"),
        Err(died) => Err(died),
    }
}

/// Notes (holder only) that the holder gave up the guard of one level, which a later
/// [`release_leaked`] by the same thread may unlock.
pub(crate) fn note_leaked<const RECURSIVE: bool>(state: &MutexState<RECURSIVE>) {
    let tid = caller_tid();
    if state.leaker.load(Ordering::Relaxed) != tid {
        // Levels counted for another (dead) holder are not ours.
        state.leaker.store(tid, Ordering::Relaxed);
        state.leaked.store(0, Ordering::Relaxed);
    }
    state.leaked.fetch_add(1, Ordering::Relaxed);
}

/// `release()` of a `Lock` or an `RLock`: unlocks one level whose guard the calling thread
/// leaked; never one held through a live guard ([`Error::GuardAlive`]), never another
/// thread's ([`Error::NotOwner`]).
pub(crate) fn release_leaked<const RECURSIVE: bool>(
    state: &MutexState<RECURSIVE>,
) -> Result<(), Error> {
    if !state.raw.is_held_by_caller() {
        return Err(Error::NotOwner);
    }
    // The caller holds the lock: the holder-only fields are its to read and write.
    if state.leaker.load(Ordering::Relaxed) != caller_tid()
        || state.leaked.load(Ordering::Relaxed) == 0
    {
        return Err(Error::GuardAlive);
    }
    state.leaked.fetch_sub(1, Ordering::Relaxed);
    state.raw.unlock_owned().map_err(|_| Error::NotOwner)
}
