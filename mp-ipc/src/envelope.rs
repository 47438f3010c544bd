//! An envelope for raw descriptors: a fresh Unix socket pair whose one end sent them
//! (`SCM_RIGHTS`) and was closed, so they wait in flight inside the other end. That end is a
//! socket, which ipc-channel moves as a channel inside any message, and which the receiver
//! classifies as the socket it is, whatever the descriptors inside (ipc-channel maps every
//! non-socket it receives as shared memory, so a raw descriptor cannot ride bare).
//! Closing an unopened envelope closes them.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::sys::fd_passing::{fd_space, recv_with_fds, send_all_with_fds, seqpacket_pair};

/// An envelope holding duplicates of `fds`: the receiving end of a socket pair whose other
/// end, closed here, sent them (they wait in flight for [`open_envelope`]).
pub(crate) fn seal_envelope(fds: &[BorrowedFd<'_>]) -> std::io::Result<OwnedFd> {
    let (sealed, envelope) = seqpacket_pair()?;
    send_all_with_fds(sealed.as_fd(), &[1], fds)?;
    Ok(envelope)
}

/// The descriptors in an envelope made by [`seal_envelope`]; `None` when it holds none or
/// not all of them (an empty or forged one: sealed before it was sent, so never a wait).
pub(crate) fn open_envelope(envelope: OwnedFd) -> Option<Vec<OwnedFd>> {
    let mut byte = [0];
    match recv_with_fds(envelope.as_fd(), &mut byte, true, &mut fd_space()) {
        Ok(got) if got.bytes == 1 && !got.truncated && !got.fds.is_empty() => Some(got.fds),
        _ => None,
    }
}
