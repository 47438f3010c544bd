//! Stream sockets for `Listener`/`Client`: a listening socket with a chosen backlog, accept,
//! connect, and sends that never raise `SIGPIPE` (a peer that went away is `EPIPE`, reported
//! as a broken pipe, not a signal that kills the process).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{self as unix, UnixStream};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    self, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, SockaddrLike, SockaddrStorage,
    UnixAddr, sockopt,
};

use crate::address::Address;

/// A listening stream socket bound to `address` (close-on-exec), with `backlog` pending
/// connections at most. A TCP socket gets `SO_REUSEADDR`, as Python's listener sets it.
pub(crate) fn listen(address: &Address, backlog: i32) -> io::Result<OwnedFd> {
    let (family, addr): (AddressFamily, Box<dyn SockaddrLike>) = match address {
        Address::Unix(path) => (
            AddressFamily::Unix,
            Box::new(UnixAddr::new(path.as_path())?),
        ),
        Address::Abstract(name) => (AddressFamily::Unix, Box::new(UnixAddr::new_abstract(name)?)),
        Address::Tcp(sa) => {
            let family = if sa.is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            };
            (family, Box::new(SockaddrStorage::from(*sa)))
        }
    };
    let fd = socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    if matches!(address, Address::Tcp(_)) {
        socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    }
    socket::bind(fd.as_raw_fd(), addr.as_ref())?;
    socket::listen(
        &fd,
        Backlog::new(backlog.max(1)).unwrap_or(Backlog::MAXCONN),
    )?;
    Ok(fd)
}

/// The address a listening socket is bound to (the port the kernel chose for port 0).
pub(crate) fn bound_tcp_address(fd: BorrowedFd<'_>) -> io::Result<std::net::SocketAddr> {
    let sa: SockaddrStorage = socket::getsockname(fd.as_raw_fd())?;
    if let Some(v4) = sa.as_sockaddr_in() {
        Ok(std::net::SocketAddr::V4((*v4).into()))
    } else if let Some(v6) = sa.as_sockaddr_in6() {
        Ok(std::net::SocketAddr::V6((*v6).into()))
    } else {
        Err(io::Error::other("not an IP socket"))
    }
}

/// Accepts one pending connection (close-on-exec); `EINTR` retried.
pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    loop {
        match socket::accept4(listener, SockFlag::SOCK_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Connects to `address` (blocking).
pub(crate) fn connect(address: &Address) -> io::Result<OwnedFd> {
    Ok(match address {
        Address::Unix(path) => UnixStream::connect(path)?.into(),
        Address::Abstract(name) => {
            UnixStream::connect_addr(&unix::SocketAddr::from_abstract_name(name)?)?.into()
        }
        Address::Tcp(sa) => {
            let s = std::net::TcpStream::connect(sa)?;
            // Request/response traffic: no Nagle delay on the second small write.
            s.set_nodelay(true)?;
            s.into()
        }
    })
}

/// Whether `fd` is a Unix socket (descriptors can travel on it).
pub(crate) fn is_unix(fd: BorrowedFd<'_>) -> bool {
    socket::getsockname::<SockaddrStorage>(fd.as_raw_fd())
        .is_ok_and(|sa| sa.family() == Some(AddressFamily::Unix))
}

/// Turns Nagle's algorithm off on an accepted TCP socket (a no-op error on a Unix socket,
/// which is ignored).
pub(crate) fn set_nodelay(fd: BorrowedFd<'_>) {
    let _ = socket::setsockopt(&fd, sockopt::TcpNoDelay, &true);
}

/// Turns TCP keepalive on for a connected socket: after `idle` without traffic a probe goes
/// every `interval`, and `probes` unanswered ones end the connection; `TCP_USER_TIMEOUT`
/// (`idle + interval * probes`) also ends it when data sent stays unacknowledged that long.
/// Either way later calls on the socket fail (`ETIMEDOUT`) instead of waiting for a peer that
/// was cut off. A Unix socket is left alone.
pub(crate) fn set_keepalive(
    fd: BorrowedFd<'_>,
    idle: Duration,
    interval: Duration,
    probes: u32,
) -> io::Result<()> {
    if is_unix(fd) {
        return Ok(());
    }
    // Linux refuses (EINVAL) times above 32767 s and more than 127 probes: clamped instead.
    let secs = |d: Duration| d.as_secs().clamp(1, 32_767) as u32;
    let (idle, interval, probes) = (secs(idle), secs(interval), probes.clamp(1, 127));
    // Milliseconds, in the kernel's `int`.
    let user_timeout_ms = (u64::from(idle) + u64::from(interval) * u64::from(probes))
        .saturating_mul(1000)
        .min(i32::MAX as u64) as u32;
    socket::setsockopt(&fd, sockopt::KeepAlive, &true)?;
    socket::setsockopt(&fd, sockopt::TcpKeepIdle, &idle)?;
    socket::setsockopt(&fd, sockopt::TcpKeepInterval, &interval)?;
    socket::setsockopt(&fd, sockopt::TcpKeepCount, &probes)?;
    socket::setsockopt(&fd, sockopt::TcpUserTimeout, &user_timeout_ms)?;
    Ok(())
}

/// Sends all of `buf` (`EINTR` retried; `MSG_NOSIGNAL`: a gone peer is `EPIPE`, no signal).
pub(crate) fn send_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match socket::send(fd.as_fd().as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Receives what is there, at most `buf.len()` bytes, blocking until something is (0: the
/// peer closed its side); `EINTR` retried.
pub(crate) fn recv_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match socket::recv(fd.as_raw_fd(), buf, MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Whether the other end of the socket `fd` is gone (every copy of it closed): one `poll` that
/// does not wait, for the hang-up only (a pipe end's link is readable whenever a side message
/// waits on it, which says nothing about the peer).
pub(crate) fn peer_hung_up(fd: BorrowedFd<'_>) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    // A closed peer of a SOCK_SEQPACKET socket shows as POLLHUP (the kernel marks both
    // directions shut down), queued messages or not; POLLHUP and POLLERR are reported
    // whatever is asked for, so nothing else is.
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    loop {
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => return false,
            Ok(_) => {
                let events = fds[0].revents().unwrap_or(PollFlags::empty());
                return events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR);
            }
            Err(Errno::EINTR) => {}
            // A descriptor that cannot be polled says nothing about the peer.
            Err(_) => return false,
        }
    }
}
