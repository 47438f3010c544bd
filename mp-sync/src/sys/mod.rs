//! The one OS seam of the crate, and the raw layer public through [`crate::raw`]: futex
//! system calls, the monotonic clock, glibc's robust process-shared pthread mutex, the wake
//! word and condition variable over futexes, the shared-memory segment and function
//! references (code addresses that cross processes).
//!
//! Everything that touches `libc` or needs `unsafe` lives below this module; the
//! primitives above it only see safe functions: their shared states (`state.rs`) and the
//! safe, crate-private faces of the raw mutex's unlock and the condition variable's wait
//! (`RobustMutex::unlock_owned`, `Condvar::wait_owned`). The crate root denies `unsafe` code
//! everywhere else.

mod condvar;
mod deferred;
mod fn_ref;
mod futex;
mod poll;
mod pthread;
mod shm;
mod state;
mod tid;
mod wake_word;

pub use condvar::Condvar;
pub use fn_ref::{FnPointer, FnRef, ForeignFunction};
pub use futex::{
    MAX_SLEEP, MAX_WAITV, futex_wait, futex_waitv, futex_wake, may_spin, monotonic_now, spin_until,
};
pub use poll::poll_readable;
pub use pthread::{LockOutcome, MutexKind, NotOwner, RobustMutex};
pub(crate) use shm::Shared;
pub use shm::{Segment, SharedHeader};
pub(crate) use state::{BarrierState, ConditionState, EventState, MutexState, SemaphoreState};
pub(crate) use tid::caller_tid;
pub use wake_word::WakeWord;
