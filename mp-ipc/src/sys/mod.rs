//! The one OS seam of the crate: `epoll` for the descriptor watcher, a lock-free per-process
//! value, page release and population, the queue's held locks, and named POSIX shared memory with its
//! name watcher. The shared-memory segment,
//! the futexes (wait, wake, waitv) and the monotonic clock come from mp-sync's public low-level
//! layer, [`mp_sync::raw`], so the two crates share one seam for each.
//!
//! Everything that calls `libc` lives below this module.

mod atomic;
mod cpu;
mod elems;
mod epoll;
pub(crate) mod fd_passing;
mod held;
pub(crate) mod kind;
mod layout;
mod per_process;
mod populate;
mod raw_array;
mod raw_value;
mod release;
mod shm;
mod shm_view;
mod shm_watcher;
pub(crate) mod socket;
mod this_pid;

pub use atomic::AtomicInteger;
pub(crate) use cpu::current_cpu;
pub(crate) use elems::Elems;
pub(crate) use epoll::{Epoll, Interest};
pub(crate) use held::{Held, lock};
pub(crate) use layout::{Direction, ElemHeader, PipeHeader, QueueHeader};
pub(crate) use mp_sync::raw::{
    MAX_WAITV, futex_wait, futex_waitv, futex_wake, may_spin, poll_readable,
};
pub(crate) use mp_sync::raw::{Segment, SharedHeader};
pub(crate) use per_process::PerProcess;
pub(crate) use populate::{POPULATE_MIN, populate_for_write};
pub use raw_array::RawArray;
pub use raw_value::RawValue;
pub(crate) use release::release_pages;
pub(crate) use shm::{
    FileIdentity, Mapping, fill_random, identity_and_len, identity_of, set_len, shm_attach,
    shm_create, shm_unlink,
};
pub(crate) use shm_watcher::{MAX_NAME, Registration, register};

/// Creates a segment with a data area of `data_len` bytes whose header `init` sets up before
/// anyone else can see it; an error when the memory cannot be had (e.g. no descriptor left).
pub(crate) fn create_segment<H: SharedHeader>(
    data_len: usize,
    init: impl FnOnce(&H) -> std::io::Result<()>,
) -> Result<Segment<H>, crate::Error> {
    Segment::create(data_len, init).map_err(crate::Error::Os)
}
