//! The one OS seam of the crate: futex system calls, the monotonic clock, glibc's robust
//! process-shared pthread mutex and the shared-memory segment.
//!
//! Everything that touches `libc` or needs `unsafe` lives below this module; the
//! primitives above it only see safe functions over `&AtomicU32` and [`RawMutex`].

mod action;
mod futex;
mod pthread;
mod shm;

pub(crate) use action::Action;
pub use futex::{
    MAX_WAITV, futex_wait, futex_waitv, futex_wake, may_spin, monotonic_now, spin_until,
};
pub(crate) use pthread::{MutexKind, Outcome, RawMutex};
pub(crate) use shm::{Fresh, Shared, SharedState, kind};
pub use shm::{Segment, SharedHeader};
