//! The one OS seam of the crate: `poll` on descriptors and eventfds. The shared-memory segment,
//! the futexes (wait, wake, waitv) and the monotonic clock come from mp-sync's public low-level
//! layer, [`mp_sync::raw`], so the two crates share one seam for each.
//!
//! Everything that calls `libc` lives below this module.

mod eventfd;
pub(crate) mod kind;
mod poll;

pub(crate) use eventfd::EventFd;
pub(crate) use mp_sync::raw::{MAX_WAITV, futex_wait, futex_waitv, futex_wake, may_spin};
pub(crate) use mp_sync::raw::{Segment, SharedHeader};
pub(crate) use poll::poll_readable;

/// Creates a segment with a data area of `data_len` bytes whose header `init` sets up before
/// anyone else can see it. (mp-sync's `Segment::create` fails only when `init` does, and these
/// inits cannot: ipc-channel itself panics if no memfd can be made.)
pub(crate) fn create_segment<H: SharedHeader>(
    data_len: usize,
    init: impl FnOnce(&H),
) -> Segment<H> {
    let created = Segment::create(data_len, |header| {
        init(header);
        Ok(())
    });
    let Ok(segment) = created else {
        unreachable!("an infallible header init failed")
    };
    segment
}
