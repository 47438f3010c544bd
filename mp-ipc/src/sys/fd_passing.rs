//! Descriptors over Unix sockets (`SCM_RIGHTS`): for a raw descriptor's envelope
//! ([`send_handle`](crate::send_handle)) and for the handles inside a socket connection's
//! messages.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
    UnixAddr,
};

/// The most descriptors one message carries (the kernel's `SCM_MAX_FD`).
pub(crate) const MAX_FDS: usize = 253;

/// A connected pair of `SOCK_SEQPACKET` Unix sockets (close-on-exec).
pub(crate) fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// Sends all of `buf` on `sock` with `fds` attached to its first byte (`MSG_NOSIGNAL`: a gone
/// peer is `EPIPE`; `EINTR` retried). `buf` is not empty.
pub(crate) fn send_all_with_fds(
    sock: BorrowedFd<'_>,
    buf: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<()> {
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let control = [ControlMessage::ScmRights(&raw)];
    let sent = loop {
        match socket::sendmsg::<UnixAddr>(
            sock.as_raw_fd(),
            &[IoSlice::new(buf)],
            &control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    };
    // The descriptors went with the first bytes; the rest is plain stream.
    super::socket::send_all(sock, &buf[sent..])
}

/// What one [`recv_with_fds`] got.
#[derive(Debug)]
pub(crate) struct WithFds {
    /// Bytes received (0: the peer closed its side).
    pub(crate) bytes: usize,
    /// The descriptors that came with them.
    pub(crate) fds: Vec<OwnedFd>,
    /// More descriptors came than fit (or than this process may open): those were closed.
    pub(crate) truncated: bool,
}

/// Room for the control message of [`MAX_FDS`] descriptors, for [`recv_with_fds`] (kept
/// and reused by a caller that receives often).
pub(crate) fn fd_space() -> Vec<u8> {
    nix::cmsg_space!([RawFd; MAX_FDS])
}

/// Receives what is there on `sock`, at most `buf.len()` bytes, with the descriptors that
/// came with them (close-on-exec), blocking until something is unless `nonblocking`
/// (`WouldBlock` then); `EINTR` retried. `space` is from [`fd_space`].
pub(crate) fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    nonblocking: bool,
    space: &mut Vec<u8>,
) -> io::Result<WithFds> {
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if nonblocking {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        match socket::recvmsg::<UnixAddr>(sock.as_raw_fd(), &mut iov, Some(&mut *space), flags) {
            Ok(msg) => {
                let mut fds = Vec::new();
                for cmsg in msg.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(raw) = cmsg {
                        // SAFETY: the kernel just installed these descriptors for us; nothing
                        // else owns them.
                        fds.extend(
                            raw.into_iter()
                                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                        );
                    }
                }
                return Ok(WithFds {
                    bytes: msg.bytes,
                    fds,
                    truncated: msg.flags.contains(MsgFlags::MSG_CTRUNC),
                });
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
