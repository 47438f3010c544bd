//! [`ConditionLock`]: the locks a [`Condition`](crate::Condition) works over, [`Lock`] and
//! [`RLock`], and what the condition needs of each.

use crate::lock::{Lock, LockGuard};
use crate::rlock::{RLock, RLockGuard};
use crate::sys::RobustMutex;

/// Keeps [`ConditionLock`] to the crate's two locks, and its methods to the crate.
mod sealed {
    /// Implemented by [`Lock`](crate::Lock) and [`RLock`](crate::RLock) only.
    pub trait Sealed {}

    /// Proof that the caller is this crate (nobody else can make one).
    #[derive(Clone, Copy)]
    pub struct Token(pub(crate) ());
}

pub(crate) use sealed::Token;

/// A lock a [`Condition`](crate::Condition) can be used with: [`Lock`] (a plain one, the
/// default) or [`RLock`] (Python's default `Condition()` lock). Waiting on a condition over an
/// `RLock` releases every level the calling thread holds and takes them all back after, as
/// Python's does. Implemented by those two only.
pub trait ConditionLock: sealed::Sealed {
    /// The guard of one level of ownership: what `Condition::wait` takes and gives back.
    type Guard<'a>
    where
        Self: 'a;

    /// The robust mutex under the lock.
    #[doc(hidden)]
    fn raw_mutex(&self, _: Token) -> &RobustMutex;

    /// The lock `guard` holds.
    #[doc(hidden)]
    fn lock_of<'a>(guard: &Self::Guard<'a>, _: Token) -> &'a Self
    where
        Self: 'a;

    /// A guard for a level the calling thread has just taken.
    #[doc(hidden)]
    fn make_guard(&self, _: Token) -> Self::Guard<'_>;
}

impl sealed::Sealed for Lock {}

impl ConditionLock for Lock {
    type Guard<'a> = LockGuard<'a>;

    fn raw_mutex(&self, _: Token) -> &RobustMutex {
        self.raw()
    }

    fn lock_of<'a>(guard: &LockGuard<'a>, _: Token) -> &'a Lock
    where
        Self: 'a,
    {
        guard.lock()
    }

    fn make_guard(&self, _: Token) -> LockGuard<'_> {
        self.guard()
    }
}

impl sealed::Sealed for RLock {}

impl ConditionLock for RLock {
    type Guard<'a> = RLockGuard<'a>;

    fn raw_mutex(&self, _: Token) -> &RobustMutex {
        self.raw()
    }

    fn lock_of<'a>(guard: &RLockGuard<'a>, _: Token) -> &'a RLock
    where
        Self: 'a,
    {
        guard.lock()
    }

    fn make_guard(&self, _: Token) -> RLockGuard<'_> {
        self.guard()
    }
}
