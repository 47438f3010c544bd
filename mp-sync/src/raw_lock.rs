//! The state shared by `Lock` and `RLock` (one robust mutex in its own segment) and the one
//! function that turns a lock attempt into a guard, an `OwnerDied` or nothing.

use std::io;

use crate::deadline::Deadline;
use crate::error::{OwnerDied, TryLockResult};
use crate::sys::{Fresh, LockOutcome, MutexKind, RobustMutex, SharedHeader, SharedState, kind};

/// The segment of a `Lock` (`RECURSIVE = false`) or an `RLock` (`true`).
#[repr(C)]
pub(crate) struct MutexState<const RECURSIVE: bool> {
    /// The robust process-shared mutex.
    pub(crate) raw: RobustMutex,
}

// SAFETY: `repr(C)`, a single `RobustMutex`, valid zeroed before `init`, address-independent
// (glibc's robust-list links inside it are only meaningful to the current holder's process).
unsafe impl<const RECURSIVE: bool> SharedHeader for MutexState<RECURSIVE> {
    const KIND: u32 = if RECURSIVE { kind::RLOCK } else { kind::LOCK };
}

// SAFETY: as for `SharedHeader` above; the state is mutated only through atomics and the
// pthread objects, as other processes use it concurrently.
unsafe impl<const RECURSIVE: bool> SharedState for MutexState<RECURSIVE> {
    fn init(&self, fresh: &Fresh) -> io::Result<()> {
        let kind = if RECURSIVE {
            MutexKind::Recursive
        } else {
            MutexKind::Plain
        };
        crate::sys::init_fresh(fresh, &self.raw, kind)
    }
}

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
