//! `Condition`: a condition variable over a [`Lock`], shared between processes.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{Error, LockResult, OwnerDied};
use crate::lock::{Lock, LockGuard};
use crate::raw_lock::expect_acquired;
use crate::sys::Shared;
use crate::sys::{Outcome, RawMutex, SharedHeader, SharedState, futex_wait, futex_wake, kind};

/// The condition-variable half, in shared memory: a sequence number that every notify bumps,
/// and that waiters sleep on (std's futex condvar, plus a sleeper count so that a notify with
/// nobody waiting makes no system call).
#[repr(C)]
pub(crate) struct RawCondvar {
    /// Bumped by every notify; the futex word.
    seq: AtomicU32,
    /// Waiters between announcing themselves (lock still held) and leaving the kernel.
    sleepers: AtomicU32,
}

impl RawCondvar {
    /// Releases `raw` (held by the caller), sleeps until notified or `deadline`, then takes
    /// `raw` again. Returns how the relock went and whether the wait ended before the
    /// deadline (spurious wake-ups count as "in time", as with any condition variable).
    pub(crate) fn wait(&self, raw: &RawMutex, deadline: Option<Deadline>) -> (Outcome, bool) {
        // Read the sequence and announce ourselves while still holding the lock: a notifier
        // must take the lock first, so it sees the announcement and bumps `seq` after our read,
        // and the futex then refuses to sleep on the stale value.
        let seq = self.seq.load(Ordering::SeqCst);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let deferred = raw.take_deferred();
        let held = raw.unlock();
        debug_assert!(held.is_ok(), "condition waited on without holding its lock");
        if deferred {
            wake_deferred();
        }
        let in_time = futex_wait(&self.seq, seq, deadline);
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        (raw.lock(None), in_time)
    }

    /// Wakes up to `n` waiters.
    pub(crate) fn notify(&self, n: u32) {
        if self.bump() {
            futex_wake(&self.seq, n);
        }
    }

    /// Starts a notify: bumps the sequence; returns whether anyone may need waking.
    fn bump(&self) -> bool {
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.sleepers.load(Ordering::SeqCst) > 0
    }
}

thread_local! {
    /// Wake-ups this thread owes, to be made once it has released the lock it holds.
    static DEFERRED: RefCell<Vec<(Shared<RawCondvar>, u32)>> = const { RefCell::new(Vec::new()) };
}

/// Makes the wake-ups this thread deferred (after it released the lock they wait for).
#[cold]
pub(crate) fn wake_deferred() {
    let owed = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
    for (cv, n) in owed {
        futex_wake(&cv.seq, n);
    }
}

// SAFETY: `repr(C)`, two atomics, valid zeroed, no addresses.
unsafe impl SharedHeader for RawCondvar {
    const KIND: u32 = kind::CONDITION;
}

// SAFETY: as for `SharedHeader` above; the state is mutated only through atomics and the
// pthread objects, as other processes use it concurrently.
unsafe impl SharedState for RawCondvar {}

/// A condition variable shared between processes (Python's `multiprocessing.Condition`).
///
/// It owns a [`Lock`] (its own, or one given to [`with_lock`](Condition::with_lock));
/// waiting takes that lock's guard, like [`std::sync::Condvar`], and gives it back. If a
/// holder of the lock dies, the waiter that reacquires it gets [`OwnerDied`]. Wake-ups may be
/// spurious: wait in a loop, or use [`wait_for`](Condition::wait_for).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Condition {
    /// The lock the condition is used with.
    lock: Lock,
    /// The segment holding the sequence word.
    cv: Shared<RawCondvar>,
}

impl Condition {
    /// Creates a condition with a new lock of its own.
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

    /// The condition's lock.
    pub fn lock(&self) -> &Lock {
        &self.lock
    }

    /// Acquires the condition's lock (Python's `with cond:`).
    pub fn acquire(&self) -> LockResult<LockGuard<'_>> {
        self.lock.acquire()
    }

    /// Releases the lock held by `guard`, sleeps until notified, then reacquires it.
    ///
    /// # Panics
    /// If `guard` holds another lock than the condition's.
    pub fn wait<'a>(&self, guard: LockGuard<'a>) -> LockResult<LockGuard<'a>> {
        let (guard, _) = self.wait_until(guard, None);
        guard
    }

    /// Like [`wait`](Self::wait), but gives up after `timeout`; the `bool` is `false` when
    /// the wait timed out (Python's return value).
    pub fn wait_timeout<'a>(
        &self,
        guard: LockGuard<'a>,
        timeout: Duration,
    ) -> LockResult<(LockGuard<'a>, bool)> {
        with_flag(self.wait_until(guard, Some(Deadline::after(timeout))))
    }

    /// Waits until `predicate` (called with the lock held) returns `true` or `timeout` (if
    /// any) passes; the `bool` is the predicate's last value (Python's `wait_for`).
    pub fn wait_for<'a>(
        &self,
        mut guard: LockGuard<'a>,
        timeout: Option<Duration>,
        mut predicate: impl FnMut() -> bool,
    ) -> LockResult<(LockGuard<'a>, bool)> {
        let deadline = Deadline::from_timeout(timeout);
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
        guard: LockGuard<'a>,
        deadline: Option<Deadline>,
    ) -> (LockResult<LockGuard<'a>>, bool) {
        let lock = guard.lock();
        assert!(
            lock.same_as(&self.lock),
            "Condition::wait with a guard of another lock"
        );
        // The guard's unlock happens inside `RawCondvar::wait`; a new guard is made afterwards.
        std::mem::forget(guard);
        let (outcome, in_time) = self.cv.wait(lock.raw(), deadline);
        let relocked = crate::raw_lock::guard_for(outcome, || lock.guard());
        (expect_acquired(relocked), in_time)
    }

    /// Wakes up to `n` waiters (call it with the lock held, as in Python).
    ///
    /// When the calling thread holds the lock, the wake-up itself is made when it releases
    /// the lock (dropping the guard, or waiting): a waiter woken earlier would only block
    /// again on the lock, which costs two more context switches. A holder that dies before
    /// releasing the lock therefore takes its notifications with it, as if it had died just
    /// before notifying; the waiters learn of the death from their next (timed) relock.
    pub fn notify(&self, n: u32) {
        if !self.cv.bump() {
            return;
        }
        let raw = self.lock.raw();
        if raw.is_held_by_caller() {
            DEFERRED.with(|d| d.borrow_mut().push((self.cv.clone(), n)));
            raw.set_deferred();
        } else {
            futex_wake(&self.cv.seq, n);
        }
    }

    /// Wakes every waiter (deferred to the unlock like [`notify`](Self::notify)).
    pub fn notify_all(&self) {
        self.notify(u32::MAX);
    }
}

/// Moves a `(result, flag)` pair into one `LockResult` of a pair.
fn with_flag<'a>(
    (result, flag): (LockResult<LockGuard<'a>>, bool),
) -> LockResult<(LockGuard<'a>, bool)> {
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
