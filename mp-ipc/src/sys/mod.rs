//! The one OS seam of the crate: shared futexes (wait, wake, waitv), the monotonic clock,
//! `poll` on descriptors, and the typed view of a shared-memory segment.
//!
//! Everything that calls `libc` lives below this module. The futex functions duplicate a
//! private seam of mp-sync; they should move to a public low-level module there.

mod eventfd;
mod futex;
mod shm;

pub(crate) use eventfd::EventFd;
pub(crate) use futex::{
    MAX_WAITV, futex_wait, futex_waitv, futex_wake, may_spin, monotonic_now, poll_readable,
};
pub(crate) use shm::{Segment, SharedHeader, kind};
