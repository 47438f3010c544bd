//! What `Lock` and `RLock` share (their state, one robust mutex in its own segment, is
//! `sys::MutexState`): the one function that turns a lock attempt into a guard, an
//! `OwnerDied` or nothing.

use crate::deadline::Deadline;
use crate::error::{OwnerDied, TryLockResult};
use crate::sys::{LockOutcome, RobustMutex};

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
