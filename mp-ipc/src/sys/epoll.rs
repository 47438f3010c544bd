//! `epoll` in one-shot mode: the descriptor watch of the process-wide watcher thread that
//! `WaitSet` and `wait` stand on (pidfd sentinels, connections' liveness sockets).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Events a readable watch reports: readable or hung up (`EPOLLHUP`/`EPOLLERR` always are),
/// once, until re-armed. One-shot, so that a descriptor that stays readable (an exited child's
/// pidfd) does not keep the watcher spinning while nobody looks.
const ONE_SHOT_READABLE: u32 = (libc::EPOLLIN | libc::EPOLLONESHOT) as u32;

/// Events a hang-up watch reports: hung up only (`EPOLLHUP`/`EPOLLERR` are always reported;
/// `EPOLLRDHUP` is the peer's shutdown), once, until re-armed.
const ONE_SHOT_HANG_UP: u32 = (libc::EPOLLRDHUP | libc::EPOLLONESHOT) as u32;

/// What a watch reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Readable or hung up (a sentinel, a socket with data).
    Readable,
    /// Hung up only (a pipe end's link, readable whenever a side message waits on it).
    HangUp,
}

/// Most events taken from the kernel per wait.
const BATCH: usize = 64;

/// An epoll instance (close-on-exec).
#[derive(Debug)]
pub(crate) struct Epoll(OwnedFd);

impl Epoll {
    /// A new, empty epoll instance.
    pub(crate) fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall with an integer argument.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Watches `fd` for one report of `interest` carrying `key`.
    pub(crate) fn add(&self, fd: BorrowedFd<'_>, key: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, key, interest)
    }

    /// Re-arms the one-shot watch of `fd` (added before) for one more report.
    pub(crate) fn rearm(&self, fd: BorrowedFd<'_>, key: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, key, interest)
    }

    /// Stops watching `fd`.
    pub(crate) fn remove(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, Interest::Readable)
    }

    /// One `epoll_ctl` call.
    fn ctl(
        &self,
        op: libc::c_int,
        fd: BorrowedFd<'_>,
        key: u64,
        interest: Interest,
    ) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: match interest {
                Interest::Readable => ONE_SHOT_READABLE,
                Interest::HangUp => ONE_SHOT_HANG_UP,
            },
            u64: key,
        };
        // SAFETY: both descriptors are open (owned and borrowed); `event` is a live
        // epoll_event for the duration of the call (ignored by EPOLL_CTL_DEL).
        let rc = unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd.as_raw_fd(), &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Blocks until at least one watched descriptor is ready and appends the keys of the ready
    /// ones to `keys` (a signal resumes the wait: there is no deadline to stretch).
    pub(crate) fn wait(&self, keys: &mut Vec<u64>) -> io::Result<()> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        loop {
            // SAFETY: `events` is a live, writable array of `BATCH` epoll_event entries; the
            // epoll descriptor is owned, so open.
            let n = unsafe {
                libc::epoll_wait(
                    self.0.as_raw_fd(),
                    events.as_mut_ptr(),
                    BATCH as libc::c_int,
                    -1,
                )
            };
            if n >= 0 {
                keys.extend(events[..n as usize].iter().map(|e| e.u64));
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(err);
            }
        }
    }
}
