//! Error types: the crate's [`Error`], the owner-died result that hands the guard back, and
//! the broken-barrier error.

use std::fmt;
use std::io;

/// What can go wrong with a primitive, apart from a holder dying ([`OwnerDied`]) and a barrier
/// breaking ([`BrokenBarrier`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused to set the primitive up.
    #[error("cannot create the shared primitive: {0}")]
    Os(#[from] io::Error),
    /// A release by a thread that does not hold the lock (or a lock that nobody holds).
    #[error("release of a lock that the calling thread does not hold")]
    NotOwner,
    /// A release of a lock the calling thread holds through a live guard: drop the guard
    /// instead, or give it up first with `LockGuard::leak` / `RLockGuard::leak` (releasing
    /// behind a live guard would let others in while it is still in use).
    #[error("release of a lock held through a live guard: drop the guard, or leak() it first")]
    GuardAlive,
    /// A `BoundedSemaphore` released more often than acquired.
    #[error("semaphore released too many times (bound {bound})")]
    AboveBound {
        /// The semaphore's initial value, which its value may not exceed.
        bound: u32,
    },
    /// A semaphore value above [`MAX_SEMAPHORE_VALUE`](crate::MAX_SEMAPHORE_VALUE).
    #[error("semaphore value {0} exceeds the maximum {max}", max = crate::MAX_SEMAPHORE_VALUE)]
    ValueTooLarge(u64),
    /// A barrier for zero parties.
    #[error("a barrier needs at least one party")]
    NoParties,
    /// A barrier for more than [`MAX_PARTIES`](crate::MAX_PARTIES) parties.
    #[error("a barrier for {0} parties: at most {max} are supported", max = crate::MAX_PARTIES)]
    TooManyParties(u32),
}

/// The lock was acquired, but a previous holder died while holding it (or a later holder saw
/// that and did not recover): the data it protects may be half-updated.
///
/// Like [`std::sync::PoisonError`], it carries the guard. [`into_inner`](Self::into_inner)
/// declares the protected state repaired and returns the guard; dropping the `OwnerDied`
/// instead releases the lock and leaves the mark, so the next acquirer hears of the death too.
pub struct OwnerDied<G> {
    /// The guard of the lock now held by the caller.
    pub(crate) guard: G,
}

impl<G> OwnerDied<G> {
    /// The guard, without marking the lock consistent.
    pub fn get_ref(&self) -> &G {
        &self.guard
    }

    /// The guard, mutably, without marking the lock consistent.
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.guard
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDied").finish_non_exhaustive()
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a holder of the lock died while holding it")
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

/// The result of a blocking acquire: the guard, or the guard wrapped in [`OwnerDied`].
pub type LockResult<G> = Result<G, OwnerDied<G>>;

/// The result of a non-blocking or timed acquire: `Ok(None)` when the lock stayed busy.
pub type TryLockResult<G> = Result<Option<G>, OwnerDied<G>>;

/// The barrier is broken: a party timed out or died inside `wait`,
/// [`abort`](crate::Barrier::abort) or [`reset`](crate::Barrier::reset) was called, or the
/// action panicked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the barrier is broken")]
pub struct BrokenBarrier;
