//! `Condition`: a condition variable over a [`Lock`] or an [`RLock`](crate::RLock), shared
//! between processes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::condition_lock::{ConditionLock, Token};
use crate::deadline::Deadline;
use crate::error::{Error, LockResult, OwnerDied};
use crate::lock::{Lock, LockGuard};
use crate::raw_lock::{expect_acquired, guard_for};
use crate::rlock::{RLock, RLockGuard};
use crate::sys::{ConditionState, RobustMutex, Shared};

/// A condition variable shared between processes (Python's `multiprocessing.Condition`).
///
/// It owns a [`Lock`] (its own, or one given to [`with_lock`](Condition::with_lock)), or an
/// [`RLock`] ([`Condition::recursive`], [`Condition::with_rlock`]: Python's default
/// `Condition()`); waiting takes that lock's guard, like [`std::sync::Condvar`], and gives it
/// back. Over an `RLock`, waiting releases every level the calling thread holds (whatever
/// guards it holds them through) and takes them all back before it returns, as Python does. If a
/// holder of the lock dies, the waiter that reacquires it gets [`OwnerDied`]. `notify(n)`
/// wakes at most `n` waiters; still, wait in a loop (or use
/// [`wait_for`](Condition::wait_for)): another thread may change the state between the
/// notify and the waiter's relock.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Condition<L = Lock> {
    /// The lock the condition is used with.
    lock: L,
    /// The segment holding the condition variable.
    cv: Shared<ConditionState>,
}

impl Condition<Lock> {
    /// Creates a condition with a new [`Lock`] of its own.
    pub fn new() -> Result<Self, Error> {
        Self::with_lock(Lock::new()?)
    }

    /// Creates a condition over an existing lock.
    pub fn with_lock(lock: Lock) -> Result<Self, Error> {
        Ok(Condition {
            lock,
            cv: Shared::new()?,
        })
    }

    /// Acquires the condition's lock (Python's `with cond:`).
    pub fn acquire(&self) -> LockResult<LockGuard<'_>> {
        self.lock.acquire()
    }
}

impl Condition<RLock> {
    /// Creates a condition with a new [`RLock`] of its own (Python's `Condition()`).
    pub fn recursive() -> Result<Self, Error> {
        Self::with_rlock(RLock::new()?)
    }

    /// Creates a condition over an existing re-entrant lock (Python's `Condition(rlock)`).
    pub fn with_rlock(lock: RLock) -> Result<Self, Error> {
        Ok(Condition {
            lock,
            cv: Shared::new()?,
        })
    }

    /// Acquires one level of the condition's lock (Python's `with cond:`).
    pub fn acquire(&self) -> LockResult<RLockGuard<'_>> {
        self.lock.acquire()
    }
}

impl<L: ConditionLock> Condition<L> {
    /// The condition's lock.
    pub fn lock(&self) -> &L {
        &self.lock
    }

    /// The robust mutex under the lock.
    fn raw(&self) -> &RobustMutex {
        self.lock.raw_mutex(Token(()))
    }

    /// Releases the lock held by `guard`, sleeps until notified, then reacquires it.
    ///
    /// # Panics
    /// If `guard` holds another lock than the condition's.
    pub fn wait<'a>(&self, guard: L::Guard<'a>) -> LockResult<L::Guard<'a>> {
        let (guard, _) = self.wait_until(guard, None);
        guard
    }

    /// Like [`wait`](Self::wait), but gives up after `timeout`; the `bool` is `false` when
    /// the wait timed out (Python's return value).
    pub fn wait_timeout<'a>(
        &self,
        guard: L::Guard<'a>,
        timeout: Duration,
    ) -> LockResult<(L::Guard<'a>, bool)> {
        self.wait_deadline(guard, Deadline::after(timeout))
    }

    /// Like [`wait`](Self::wait), but gives up at `deadline`; the `bool` is `false` when
    /// the wait timed out.
    pub fn wait_deadline<'a>(
        &self,
        guard: L::Guard<'a>,
        deadline: Deadline,
    ) -> LockResult<(L::Guard<'a>, bool)> {
        with_flag(self.wait_until(guard, Some(deadline)))
    }

    /// Waits until `predicate` (called with the lock held) returns `true` (Python's
    /// `wait_for` without a timeout).
    pub fn wait_for<'a>(
        &self,
        guard: L::Guard<'a>,
        predicate: impl FnMut() -> bool,
    ) -> LockResult<L::Guard<'a>> {
        match self.wait_for_until(guard, None, predicate) {
            Ok((guard, _)) => Ok(guard),
            Err(died) => Err(OwnerDied {
                guard: died.guard.0,
            }),
        }
    }

    /// Waits until `predicate` (called with the lock held) returns `true` or `timeout`
    /// passes; the `bool` is the predicate's last value (Python's `wait_for`).
    pub fn wait_for_timeout<'a>(
        &self,
        guard: L::Guard<'a>,
        timeout: Duration,
        predicate: impl FnMut() -> bool,
    ) -> LockResult<(L::Guard<'a>, bool)> {
        self.wait_for_until(guard, Some(Deadline::after(timeout)), predicate)
    }

    /// Waits until `predicate` (called with the lock held) returns `true` or `deadline`
    /// passes; the `bool` is the predicate's last value.
    pub fn wait_for_deadline<'a>(
        &self,
        guard: L::Guard<'a>,
        deadline: Deadline,
        predicate: impl FnMut() -> bool,
    ) -> LockResult<(L::Guard<'a>, bool)> {
        self.wait_for_until(guard, Some(deadline), predicate)
    }

    fn wait_for_until<'a>(
        &self,
        mut guard: L::Guard<'a>,
        deadline: Option<Deadline>,
        mut predicate: impl FnMut() -> bool,
    ) -> LockResult<(L::Guard<'a>, bool)> {
        loop {
            if predicate() {
                return Ok((guard, true));
            }
            if deadline.is_some_and(Deadline::has_passed) {
                return Ok((guard, false));
            }
            match self.wait_until(guard, deadline).0 {
                Ok(g) => guard = g,
                Err(died) => {
                    let done = predicate();
                    return Err(OwnerDied {
                        guard: (died.guard, done),
                    });
                }
            }
        }
    }

    fn wait_until<'a>(
        &self,
        guard: L::Guard<'a>,
        deadline: Option<Deadline>,
    ) -> (LockResult<L::Guard<'a>>, bool) {
        let lock = L::lock_of(&guard, Token(()));
        let raw = lock.raw_mutex(Token(()));
        assert!(
            std::ptr::eq(raw, self.raw()),
            "Condition::wait with a guard of another lock"
        );
        // The guard's unlock happens inside `Condvar::wait_until`; a new guard is made after.
        std::mem::forget(guard);
        // Every level but the one the condvar releases (an RLock's recursion; none for a
        // Lock): Python's Condition releases the whole recursion for the wait. The count is
        // the mutex's own, read by its holder.
        let extra = raw.levels_held_by_caller().saturating_sub(1);
        for _ in 0..extra {
            // This thread holds these levels: their guards stay alive but are not used
            // while this call runs, and get their levels back below before it returns.
            let _ = raw.unlock_owned();
        }
        // The guard proved that this thread holds the condition's lock, and was forgotten,
        // so nothing relies on the lock being held across the wait.
        let (outcome, notified) = self.cv.cv.wait_owned(raw, deadline);
        for _ in 0..extra {
            // Re-entrant and held by this thread now: each is one more level, at once.
            let _ = raw.lock_until(None);
        }
        let relocked = guard_for(outcome, || lock.make_guard(Token(())));
        (expect_acquired(relocked), notified)
    }

    /// Wakes up to `n` waiters (call it with the lock held, as in Python).
    ///
    /// When the calling thread holds the lock, the wake-up itself is made when it releases
    /// the lock (dropping the guard, or waiting): a waiter woken earlier would only block
    /// again on the lock, which costs two more context switches. The waiters are chosen at
    /// once, though: if the holder dies before releasing the lock, they still wake within a
    /// [`MAX_SLEEP`](crate::raw::MAX_SLEEP) slice and learn of the death from their relock.
    pub fn notify(&self, n: u32) {
        let raw = self.raw();
        if !raw.is_held_by_caller() {
            self.cv.cv.notify(n);
            return;
        }
        let chosen = self.cv.cv.choose(n);
        if chosen > 0 {
            let cv = self.cv.clone();
            raw.defer_until_unlock(move || cv.cv.wake(chosen));
        }
    }

    /// Wakes every waiter (deferred to the unlock like [`notify`](Self::notify)).
    pub fn notify_all(&self) {
        self.notify(u32::MAX);
    }
}

/// Moves a `(result, flag)` pair into one `LockResult` of a pair.
fn with_flag<G>((result, flag): (LockResult<G>, bool)) -> LockResult<(G, bool)> {
    match result {
        Ok(guard) => Ok((guard, flag)),
        Err(died) => Err(OwnerDied {
            guard: (died.guard, flag),
        }),
    }
}

impl<'a> OwnerDied<(LockGuard<'a>, bool)> {
    /// Declares the state protected by the lock repaired and returns the guard and flag.
    pub fn into_inner(self) -> (LockGuard<'a>, bool) {
        self.guard.0.lock().raw().mark_consistent();
        self.guard
    }
}

impl<'a> OwnerDied<(RLockGuard<'a>, bool)> {
    /// Declares the state protected by the lock repaired and returns the guard and flag.
    pub fn into_inner(self) -> (RLockGuard<'a>, bool) {
        self.guard.0.lock().raw().mark_consistent();
        self.guard
    }
}
