//! The one OS seam of the crate: `poll` on descriptors, eventfds, and the typed view of a
//! shared-memory segment. The futexes (wait, wake, waitv) and the monotonic clock come from
//! mp-sync's public low-level layer, [`mp_sync::raw`], so the two crates share one futex seam.
//!
//! Everything that calls `libc` lives below this module.

mod eventfd;
mod poll;
mod shm;

pub(crate) use eventfd::EventFd;
pub(crate) use mp_sync::raw::{MAX_WAITV, futex_wait, futex_waitv, futex_wake, may_spin};
pub(crate) use poll::poll_readable;
pub(crate) use shm::{Segment, SharedHeader, kind};
