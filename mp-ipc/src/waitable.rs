//! [`Waitable`]: what [`WaitSet`](crate::WaitSet) and [`wait`](crate::wait) wait for, and how
//! each kind of object is waited for (a futex word, a descriptor, or both).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::connection::Connection;
use crate::joinable_queue::JoinableQueue;
use crate::queue::Queue;
use crate::simple_queue::SimpleQueue;

/// Something a [`WaitSet`](crate::WaitSet) or [`wait`](crate::wait) can wait for: a
/// [`Connection`] (ready: a message or EOF), a queue (ready: not empty, or closed by this
/// process), or a descriptor such as `mp_process::Process::sentinel()` or a socket's
/// (ready: readable or hung up; a sentinel is readable once the process exited). A reference
/// to a waitable object is waitable too.
pub trait Waitable: sealed::Sealed {}

/// The seam between the waits and the objects; not nameable outside the crate.
#[allow(unreachable_pub, missing_docs)]
pub(crate) mod sealed {
    use mp_sync::raw::WakeWord;
    use std::io;
    use std::os::fd::OwnedFd;

    use std::os::fd::BorrowedFd;

    pub trait Sealed {
        /// A futex word bumped after every change that may make the object ready, with the
        /// count of its sleepers (so that changes wake them).
        fn word(&self) -> Option<&WakeWord>;
        /// For an object that is no descriptor itself: a duplicate of a descriptor that
        /// hangs up when the object is ready (for a pipe connection, its link: once every
        /// copy of the other end is gone). Watched for the hang-up only.
        fn watch_fd(&self) -> Option<io::Result<OwnedFd>>;
        /// Whether it is ready now, cheaply (no system call); false for descriptors.
        fn ready(&self) -> bool;
        /// The object's own descriptor, when it is one (polled as it is; duplicated only
        /// when a wait has to sleep on it).
        fn fd(&self) -> Option<BorrowedFd<'_>> {
            None
        }
    }
}

use mp_sync::raw::WakeWord;
use sealed::Sealed;

impl Sealed for Connection {
    fn word(&self) -> Option<&WakeWord> {
        self.data_word()
    }
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.socket_fd()
    }
    fn watch_fd(&self) -> Option<io::Result<OwnedFd>> {
        self.peer_watch_fd()
    }
    fn ready(&self) -> bool {
        self.ready_now()
    }
}
impl Waitable for Connection {}

impl<T> Sealed for Queue<T> {
    fn word(&self) -> Option<&WakeWord> {
        Some(self.raw().data_word())
    }
    fn watch_fd(&self) -> Option<io::Result<OwnedFd>> {
        None
    }
    fn ready(&self) -> bool {
        !self.empty() || self.is_closed()
    }
}
impl<T> Waitable for Queue<T> {}

impl<T> Sealed for JoinableQueue<T> {
    fn word(&self) -> Option<&WakeWord> {
        (**self).word()
    }
    fn watch_fd(&self) -> Option<io::Result<OwnedFd>> {
        None
    }
    fn ready(&self) -> bool {
        (**self).ready()
    }
}
impl<T> Waitable for JoinableQueue<T> {}

impl<T> Sealed for SimpleQueue<T> {
    fn word(&self) -> Option<&WakeWord> {
        self.inner().word()
    }
    fn watch_fd(&self) -> Option<io::Result<OwnedFd>> {
        None
    }
    fn ready(&self) -> bool {
        self.inner().ready()
    }
}
impl<T> Waitable for SimpleQueue<T> {}

impl Sealed for BorrowedFd<'_> {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(*self)
    }
    fn word(&self) -> Option<&WakeWord> {
        None
    }
    fn watch_fd(&self) -> Option<io::Result<OwnedFd>> {
        Some(self.try_clone_to_owned())
    }
    fn ready(&self) -> bool {
        false
    }
}
impl Waitable for BorrowedFd<'_> {}

impl Sealed for OwnedFd {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
    fn word(&self) -> Option<&WakeWord> {
        None
    }
    fn watch_fd(&self) -> Option<io::Result<OwnedFd>> {
        self.as_fd().watch_fd()
    }
    fn ready(&self) -> bool {
        false
    }
}
impl Waitable for OwnedFd {}

impl<W: Sealed + ?Sized> Sealed for &W {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        (**self).fd()
    }
    fn word(&self) -> Option<&WakeWord> {
        (**self).word()
    }
    fn watch_fd(&self) -> Option<io::Result<OwnedFd>> {
        (**self).watch_fd()
    }
    fn ready(&self) -> bool {
        (**self).ready()
    }
}
impl<W: Waitable + ?Sized> Waitable for &W {}
