//! The one OS seam of the crate: futex system calls, the monotonic clock, glibc's robust
//! process-shared pthread mutex, the shared-memory segment and function references (code
//! addresses that cross processes).
//!
//! Everything that touches `libc` or needs `unsafe` lives below this module; the
//! primitives above it only see safe functions over `&AtomicU32` and [`RawMutex`].

mod fn_ref;
mod futex;
mod poll;
mod pthread;
mod shm;

pub use fn_ref::{FnPointer, FnRef, ForeignFunction};
pub use futex::{
    MAX_WAITV, futex_wait, futex_waitv, futex_wake, may_spin, monotonic_now, spin_until,
};
pub use poll::poll_readable;
pub(crate) use pthread::{MutexKind, Outcome, RawMutex};
pub(crate) use shm::{Fresh, Shared, SharedState, kind};
pub use shm::{Segment, SharedHeader};
