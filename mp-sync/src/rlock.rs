//! `RLock`: Python's `multiprocessing.RLock`, re-entrant by the owning thread.

use std::marker::PhantomData;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{Error, LockResult, OwnerDied, TryLockResult};
use crate::raw_lock::{acquire, expect_acquired, note_leaked, release_leaked};
use crate::sys::{MutexState, RobustMutex, Shared};

/// A re-entrant lock shared between processes (Python's `multiprocessing.RLock`).
///
/// The thread holding it may acquire it again; each acquisition gives an [`RLockGuard`] and
/// the lock is free once all of them are dropped. Only the owning thread can release it
/// ([`RLock::release`] elsewhere is [`Error::NotOwner`]). A dead owner is reported to the next
/// acquirer as [`OwnerDied`], whatever its recursion depth was.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RLock {
    /// The segment holding the robust recursive mutex.
    shared: Shared<MutexState<true>>,
}

impl RLock {
    /// Creates an unlocked re-entrant lock in a new shared-memory segment.
    pub fn new() -> Result<Self, Error> {
        Ok(RLock {
            shared: Shared::new()?,
        })
    }

    /// Blocks until the lock is acquired (at once if the calling thread owns it).
    pub fn acquire(&self) -> LockResult<RLockGuard<'_>> {
        expect_acquired(self.acquire_until(None))
    }

    /// Acquires the lock if it is free or owned by the calling thread; `Ok(None)` otherwise.
    pub fn try_acquire(&self) -> TryLockResult<RLockGuard<'_>> {
        self.acquire_until(Some(Deadline::now()))
    }

    /// Waits up to `timeout` for the lock; `Ok(None)` if another thread kept it.
    pub fn acquire_timeout(&self, timeout: Duration) -> TryLockResult<RLockGuard<'_>> {
        self.acquire_until(Some(Deadline::after(timeout)))
    }

    /// Waits until `deadline` for the lock; `Ok(None)` if another thread kept it.
    pub fn acquire_deadline(&self, deadline: Deadline) -> TryLockResult<RLockGuard<'_>> {
        self.acquire_until(Some(deadline))
    }

    fn acquire_until(&self, deadline: Option<Deadline>) -> TryLockResult<RLockGuard<'_>> {
        acquire(&self.shared.raw, deadline, || self.guard())
    }

    /// Whether some live thread holds the lock at this instant, at any depth (a snapshot;
    /// Python 3.14's `locked()`).
    pub fn locked(&self) -> bool {
        self.shared.raw.is_locked()
    }

    /// A guard for one more level the calling thread has just taken.
    pub(crate) fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            rlock: self,
            _not_send: PhantomData,
        }
    }

    /// The recursive robust mutex under the lock.
    pub(crate) fn raw(&self) -> &RobustMutex {
        &self.shared.raw
    }

    /// Releases one level of the lock whose guard was given up with [`RLockGuard::leak`].
    ///
    /// Fails with [`Error::NotOwner`] if the calling thread does not own the lock, and with
    /// [`Error::GuardAlive`] if it owns it only through live guards (no level was leaked).
    pub fn release(&self) -> Result<(), Error> {
        release_leaked(&self.shared)
    }
}

/// One level of ownership of an [`RLock`]; releases that level when dropped.
///
/// Neither `Send` nor `Sync`: the lock belongs to the thread that acquired it.
#[must_use = "if unused the RLock will immediately unlock"]
#[derive(Debug)]
pub struct RLockGuard<'a> {
    /// The lock held.
    rlock: &'a RLock,
    /// Keeps the guard on its thread.
    _not_send: PhantomData<*const ()>,
}

impl<'a> RLockGuard<'a> {
    /// The lock this guard holds a level of.
    pub fn lock(&self) -> &'a RLock {
        self.rlock
    }

    /// Gives up the guard and keeps its level held, to be released later by this thread with
    /// [`RLock::release`].
    pub fn leak(self) {
        note_leaked(&self.rlock.shared);
        std::mem::forget(self);
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        // The guard is one level held by this thread (a stale one's unlock fails harmlessly,
        // see `LockGuard`'s drop).
        let _ = self.rlock.shared.raw.unlock_owned();
    }
}

impl<'a> OwnerDied<RLockGuard<'a>> {
    /// Declares the state protected by the lock repaired and returns the guard.
    pub fn into_inner(self) -> RLockGuard<'a> {
        self.guard.rlock.shared.raw.mark_consistent();
        self.guard
    }
}
