//! `Semaphore` and `BoundedSemaphore`: a counter in shared memory, waited on with a futex.

use std::ops::Deref;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::Error;
use crate::sys::{SemaphoreState, Shared, futex_wait, futex_wake, spin_until};

/// The largest value a semaphore can hold (the futex word is a C `int`, as for POSIX
/// `SEM_VALUE_MAX`).
pub const MAX_SEMAPHORE_VALUE: u32 = i32::MAX as u32;

/// A counting semaphore shared between processes (Python's `multiprocessing.Semaphore`).
///
/// A permit taken by a process that then dies is **lost**, as in Python: the semaphore does
/// not know who holds its permits, and a release from any process is legitimate. Where a
/// holder may die, guard the resource with a [`Lock`](crate::Lock) (whose next acquirer
/// hears of the death), or use a [`BoundedSemaphore`] and have a supervisor release the
/// permits of the workers it sees die.
///
/// Negative initial values, a `ValueError` in Python, cannot be expressed:
/// ```compile_fail
/// let s = mp_sync::Semaphore::new(-1);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Semaphore {
    /// The segment holding the count.
    shared: Shared<SemaphoreState>,
}

impl Semaphore {
    /// Creates a semaphore holding `value` (at most [`MAX_SEMAPHORE_VALUE`]).
    pub fn new(value: u32) -> Result<Self, Error> {
        Self::with_bound(value, MAX_SEMAPHORE_VALUE)
    }

    fn with_bound(value: u32, bound: u32) -> Result<Self, Error> {
        if value > MAX_SEMAPHORE_VALUE {
            return Err(Error::ValueTooLarge(value.into()));
        }
        let shared = Shared::<SemaphoreState>::new()?;
        // Nobody else sees the segment yet; sending or forking publishes these stores.
        shared.value.store(value, Ordering::Relaxed);
        shared.bound.store(bound, Ordering::Relaxed);
        Ok(Semaphore { shared })
    }

    /// Decrements the value, waiting while it is 0.
    #[inline]
    pub fn acquire(&self) {
        self.acquire_until(None);
    }

    /// Decrements the value if it is above 0 right now; returns whether it did.
    pub fn try_acquire(&self) -> bool {
        self.acquire_until(Some(Deadline::now()))
    }

    /// Decrements the value, waiting at most `timeout` for it to rise above 0; returns whether
    /// it did.
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.acquire_until(Some(Deadline::after(timeout)))
    }

    /// Decrements the value, waiting until `deadline` at most for it to rise above 0; returns
    /// whether it did.
    pub fn acquire_deadline(&self, deadline: Deadline) -> bool {
        self.acquire_until(Some(deadline))
    }

    #[inline]
    fn acquire_until(&self, deadline: Option<Deadline>) -> bool {
        self.try_take() || self.acquire_contended(deadline)
    }

    /// One attempt to decrement a positive value.
    #[inline]
    fn try_take(&self) -> bool {
        let value = &self.shared.value;
        let mut v = value.load(Ordering::SeqCst);
        while v > 0 {
            match value.compare_exchange_weak(v, v - 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    #[cold]
    fn acquire_contended(&self, deadline: Option<Deadline>) -> bool {
        if deadline.is_some_and(Deadline::has_passed) {
            return false;
        }
        if spin_until(|| self.try_take()) {
            return true;
        }
        let st = &*self.shared;
        loop {
            // Announce ourselves before the last look at the value: a release either sees
            // `sleepers > 0` and wakes us, or made its increment visible to `try_take` (both
            // sides are SeqCst). The futex only sleeps while the word is still 0.
            st.sleepers.fetch_add(1, Ordering::SeqCst);
            if self.try_take() {
                st.sleepers.fetch_sub(1, Ordering::SeqCst);
                return true;
            }
            let in_time = futex_wait(&st.value, 0, deadline);
            st.sleepers.fetch_sub(1, Ordering::SeqCst);
            if self.try_take() {
                return true;
            }
            if !in_time {
                // A release may have woken us just as we timed out: pass its wake-up on.
                if st.value.load(Ordering::SeqCst) > 0 && st.sleepers.load(Ordering::SeqCst) > 0 {
                    futex_wake(&st.value, 1);
                }
                return false;
            }
        }
    }

    /// Increments the value, waking one waiter.
    ///
    /// Fails, leaving the value unchanged, if it would exceed the bound: the initial value
    /// for a [`BoundedSemaphore`] ([`Error::AboveBound`]), [`MAX_SEMAPHORE_VALUE`] otherwise
    /// ([`Error::ValueTooLarge`]).
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        let st = &*self.shared;
        let bound = st.bound.load(Ordering::Relaxed);
        let add = |v: u32| (v < bound).then_some(v + 1);
        if let Err(v) = st
            .value
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, add)
        {
            return Err(if bound == MAX_SEMAPHORE_VALUE {
                Error::ValueTooLarge(u64::from(v) + 1)
            } else {
                Error::AboveBound { bound }
            });
        }
        if st.sleepers.load(Ordering::SeqCst) > 0 {
            futex_wake(&st.value, 1);
        }
        Ok(())
    }

    /// The current value (a snapshot; Python's `get_value()`).
    pub fn value(&self) -> u32 {
        self.shared.value.load(Ordering::Relaxed)
    }
}

/// A semaphore whose value may never exceed its initial value (Python's
/// `multiprocessing.BoundedSemaphore`): a surplus [`release`](Semaphore::release) is
/// [`Error::AboveBound`]. Everything else is [`Semaphore`]'s, through `Deref`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BoundedSemaphore {
    /// The semaphore, created with its bound.
    inner: Semaphore,
}

impl BoundedSemaphore {
    /// Creates a semaphore holding `value`, which is also its bound.
    pub fn new(value: u32) -> Result<Self, Error> {
        Ok(BoundedSemaphore {
            inner: Semaphore::with_bound(value, value)?,
        })
    }

    /// The bound (the initial value).
    pub fn bound(&self) -> u32 {
        self.inner.shared.bound.load(Ordering::Relaxed)
    }
}

impl Deref for BoundedSemaphore {
    type Target = Semaphore;

    fn deref(&self) -> &Semaphore {
        &self.inner
    }
}
