//! `Lock`: Python's `multiprocessing.Lock`, with RAII guards and owner-death detection.

use std::marker::PhantomData;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{Error, LockResult, OwnerDied, TryLockResult};
use crate::raw_lock::{acquire, expect_acquired, note_leaked, release_leaked};
use crate::sys::{MutexState, RobustMutex, Shared};

/// A non-recursive lock shared between processes (Python's `multiprocessing.Lock`).
///
/// Acquiring returns a [`LockGuard`]; dropping the guard releases the lock. If a holder dies
/// (even by `SIGKILL`) the next acquirer gets [`OwnerDied`] carrying the guard instead of
/// waiting forever. Clones share one lock (and one mapping); see the crate docs for how a
/// `Lock` reaches other processes.
///
/// Unlike Python's, this lock belongs to the thread that acquired it: only that thread can
/// release it ([`Lock::release`] from any other thread or process is [`Error::NotOwner`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Lock {
    /// The segment holding the robust mutex.
    shared: Shared<MutexState<false>>,
}

impl Lock {
    /// Creates an unlocked lock in a new shared-memory segment.
    pub fn new() -> Result<Self, Error> {
        Ok(Lock {
            shared: Shared::new()?,
        })
    }

    /// Blocks until the lock is acquired.
    ///
    /// # Panics
    /// If the calling thread already holds it (that would deadlock).
    #[inline(always)]
    pub fn acquire(&self) -> LockResult<LockGuard<'_>> {
        expect_acquired(self.acquire_until(None))
    }

    /// Acquires the lock if it is free right now; `Ok(None)` otherwise (also when the calling
    /// thread holds it already).
    #[inline]
    pub fn try_acquire(&self) -> TryLockResult<LockGuard<'_>> {
        self.acquire_until(Some(Deadline::now()))
    }

    /// Waits up to `timeout` for the lock; `Ok(None)` if it stayed busy.
    pub fn acquire_timeout(&self, timeout: Duration) -> TryLockResult<LockGuard<'_>> {
        self.acquire_until(Some(Deadline::after(timeout)))
    }

    /// Waits until `deadline` for the lock; `Ok(None)` if it stayed busy.
    pub fn acquire_deadline(&self, deadline: Deadline) -> TryLockResult<LockGuard<'_>> {
        self.acquire_until(Some(deadline))
    }

    #[inline(always)]
    fn acquire_until(&self, deadline: Option<Deadline>) -> TryLockResult<LockGuard<'_>> {
        acquire(self.raw(), deadline, || self.guard())
    }

    /// Whether some live thread holds the lock at this instant (a snapshot).
    pub fn locked(&self) -> bool {
        self.raw().is_locked()
    }

    /// Releases a lock whose guard was given up with [`LockGuard::leak`], for code that
    /// acquires and releases in different places, as with Python's `acquire()`/`release()`.
    ///
    /// Fails with [`Error::NotOwner`] when the calling thread does not hold the lock (it is
    /// free, or held by another thread or process), and with [`Error::GuardAlive`] when it holds
    /// it through a live guard (including one given up with `mem::forget`, which cannot be told
    /// apart): releasing it then would let others in while the guard is still in use.
    pub fn release(&self) -> Result<(), Error> {
        release_leaked(&self.shared)
    }

    /// A guard for a lock the calling thread has just taken.
    pub(crate) fn guard(&self) -> LockGuard<'_> {
        LockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// The robust mutex under the lock.
    pub(crate) fn raw(&self) -> &RobustMutex {
        &self.shared.raw
    }
}

/// Proof that the calling thread holds a [`Lock`]; releases it when dropped.
///
/// Neither `Send` nor `Sync`: the lock belongs to the thread that acquired it.
///
/// ```compile_fail
/// let lock = mp_sync::Lock::new().unwrap();
/// let guard = lock.acquire().unwrap();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(guard)); // a guard cannot move to another thread
/// });
/// ```
#[must_use = "if unused the Lock will immediately unlock"]
#[derive(Debug)]
pub struct LockGuard<'a> {
    /// The lock held.
    lock: &'a Lock,
    /// Keeps the guard on its thread.
    _not_send: PhantomData<*const ()>,
}

impl<'a> LockGuard<'a> {
    /// The lock this guard holds.
    pub fn lock(&self) -> &'a Lock {
        self.lock
    }

    /// Gives up the guard and keeps the lock held, to be released later by this thread with
    /// [`Lock::release`] (Python's `lock.acquire()` ... `lock.release()`).
    pub fn leak(self) {
        note_leaked(&self.lock.shared);
        std::mem::forget(self);
    }
}

impl Drop for LockGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // The guard exists only while this thread holds the lock: `Lock::release` refuses to
        // pull it from under a live guard (`GuardAlive`). Were it released anyway, the unlock
        // would fail (`NotOwner`, glibc checks) and change nothing, not even another holder's
        // owed wake-ups, which are kept per thread.
        let _ = self.lock.raw().unlock_owned();
    }
}

impl<'a> OwnerDied<LockGuard<'a>> {
    /// Declares the state protected by the lock repaired and returns the guard: later
    /// acquirers no longer hear of the death.
    pub fn into_inner(self) -> LockGuard<'a> {
        self.guard.lock.raw().mark_consistent();
        self.guard
    }
}
