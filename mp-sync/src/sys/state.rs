//! The shared states of the primitives: the header of each primitive's segment, and the
//! `unsafe impl`s that declare them fit for shared memory. Only the layouts live here; the
//! primitives' methods stay in their own files (`lock.rs`, `event.rs`, ...).
//!
//! Every state is `repr(C)`, valid all zeroes, holds no addresses, and is changed only through
//! atomics, [`RobustMutex`] and [`Condvar`]: what [`SharedHeader`] and [`SharedState`] demand.

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32};

use super::shm::{Fresh, SharedHeader, SharedState, init_fresh, kind};
use super::{Condvar, MutexKind, RobustMutex, WakeWord};

/// The segment of a `Lock` (`RECURSIVE = false`) or an `RLock` (`true`).
#[repr(C)]
pub(crate) struct MutexState<const RECURSIVE: bool> {
    /// The robust process-shared mutex.
    pub(crate) raw: RobustMutex,
    /// How many levels `leaker` gave up its guards for (`LockGuard::leak`), which `release`
    /// may then unlock. A release with no leaked level would pull the lock from under a live
    /// guard. Read and written only by the holder, so relaxed accesses suffice.
    pub(crate) leaked: AtomicU32,
    /// The thread id of the holder that leaked them: a holder that died with leaked levels
    /// leaves a count that no later holder (another thread) may use.
    pub(crate) leaker: AtomicI32,
}

// SAFETY: `repr(C)`, a `RobustMutex` and an atomic, valid zeroed before `init`, address-independent
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
        init_fresh(fresh, &self.raw, kind)
    }
}

/// The segment of a semaphore.
#[repr(C)]
pub(crate) struct SemaphoreState {
    /// The count; also the futex word acquirers sleep on while it is 0.
    pub(crate) value: AtomicU32,
    /// How many acquirers are in (or about to enter) the kernel; releases only wake when > 0.
    pub(crate) sleepers: AtomicU32,
    /// The largest value a release may produce: the initial value for a bounded semaphore,
    /// `MAX_SEMAPHORE_VALUE` otherwise. Written once before the segment is shared.
    pub(crate) bound: AtomicU32,
}

// SAFETY: `repr(C)`, three atomics, valid zeroed, no addresses.
unsafe impl SharedHeader for SemaphoreState {
    const KIND: u32 = kind::SEMAPHORE;
}

// SAFETY: as for `SharedHeader` above; the state is mutated only through atomics.
unsafe impl SharedState for SemaphoreState {}

/// The segment of an event.
#[repr(C)]
pub(crate) struct EventState {
    /// Bit 0: 1 when set, 0 when clear; the bits above: how many times a clear event was set
    /// (wrapping), changed in the same atomic step as the flag, so that a waiter can tell a
    /// `set` since its look from a late wake-up of an earlier one.
    pub(crate) flag: AtomicU32,
    /// Bumped by every `set` of a clear event (after the flag): a waiter sleeps on this word,
    /// not on the flag, so that a `set` at once followed by a `clear` still wakes it.
    pub(crate) sets: WakeWord,
}

// SAFETY: `repr(C)`, atomics only, valid zeroed (a clear event), no addresses.
unsafe impl SharedHeader for EventState {
    const KIND: u32 = kind::EVENT;
}

// SAFETY: as for `SharedHeader` above; the state is mutated only through atomics.
unsafe impl SharedState for EventState {}

/// The segment of a condition's waiting half.
#[repr(C)]
pub(crate) struct ConditionState {
    /// The raw condition variable.
    pub(crate) cv: Condvar,
}

// SAFETY: `repr(C)`, a `Condvar` (atomics only), valid zeroed, no addresses.
unsafe impl SharedHeader for ConditionState {
    const KIND: u32 = kind::CONDITION;
}

// SAFETY: as for `SharedHeader` above; the state is mutated only through atomics.
unsafe impl SharedState for ConditionState {}

/// The segment of a barrier. Every field but `state`'s readers in `n_waiting`/`broken` is
/// accessed only with `raw` held. The data area holds the parties' presence mutexes.
#[repr(C)]
pub(crate) struct BarrierState {
    /// Guards the fields below.
    pub(crate) raw: RobustMutex,
    /// Where parties wait for the round to complete or the drain to finish.
    pub(crate) cv: Condvar,
    /// One of the barrier's `FILLING`, `DRAINING`, `RESETTING`, `BROKEN`.
    pub(crate) state: AtomicI32,
    /// Parties inside `wait` (arrived and not yet left).
    pub(crate) count: AtomicU32,
    /// The number of parties per round, written once before sharing.
    pub(crate) parties: AtomicU32,
}

// SAFETY: `repr(C)`, a `RobustMutex`, a `Condvar` and atomics: valid zeroed, no addresses.
unsafe impl SharedHeader for BarrierState {
    const KIND: u32 = kind::BARRIER;
}

// SAFETY: as for `SharedHeader` above; the state is mutated only through atomics and the
// pthread objects, as other processes use it concurrently.
unsafe impl SharedState for BarrierState {
    fn init(&self, fresh: &Fresh) -> io::Result<()> {
        init_fresh(fresh, &self.raw, MutexKind::Plain)
    }
}
