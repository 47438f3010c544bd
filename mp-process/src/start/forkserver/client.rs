//! The parent's side of the fork server: starting it, asking it for children, and learning how
//! they exited.
//!
//! Several threads may use one server at once; none holds a lock while it waits. Every read of
//! the socket happens under the link's lock and without blocking ([`Link::drain`]), filing each
//! message where its reader will look (replies by request id, exit codes by pid). Of the
//! threads that wait, one at a time (the reader) polls the socket with no lock held; the others
//! sleep on a condition variable that is signalled whenever a message is filed and when the
//! reader leaves (one of them then takes the role on), so a message read by one thread for
//! another wakes that other at once ([`Link::wait_for`]). A server that dies is known dead at
//! once (its socket reads as closed): every child whose exit it had not reported has a lost
//! status from then on, and the next start makes a new server, which is never asked about the
//! old one's children.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use mp_sync::raw::{Deadline, FnRef, poll_readable};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};

use crate::child::ExitReports;
use crate::error::{Error, Result};
use crate::start::exe;
use crate::start::forkserver::wire::{MAX_MESSAGE, Reply, Request};
use crate::start::mark::BootFn;
use crate::start::wire::Trampoline;
use crate::sys::{self, Received};

/// How long a fork request may wait for the server's reply before the start fails.
const REPLY_BOUND: Duration = Duration::from_secs(30);

/// How long the server's report of a child's exit may lag behind the exit itself (it is sent
/// as soon as the server sees the child's pidfd ready: microseconds, unless the machine stalls).
const REPORT_BOUND: Duration = Duration::from_secs(10);

/// How long the reader polls a quiet socket before it asks whether the server has exited.
const EXIT_CHECK: Duration = Duration::from_millis(50);

/// How long a join waits for its child's exit report before it looks at the child's pidfd, to
/// bound how long the report may lag behind the exit.
const SLICE: Duration = Duration::from_millis(10);

/// A process's fork server, once started: the slot its context keeps.
#[derive(Debug, Default)]
pub(crate) struct ServerSlot {
    /// The server in use; a dead one is replaced at the next start.
    link: Mutex<Option<Arc<Link>>>,
    /// The socket's number (-1: none), for a forked child to close its copy without a lock.
    fd: AtomicI32,
}

impl ServerSlot {
    /// A slot with no server yet.
    pub(crate) fn new() -> ServerSlot {
        ServerSlot {
            link: Mutex::new(None),
            fd: AtomicI32::new(-1),
        }
    }

    /// The live server, started now if there is none (or the last one died) as a fresh
    /// execution of this program that runs `serve` (the server's loop) with its socket.
    pub(crate) fn current(&self, serve: FnRef<BootFn>) -> Result<Arc<Link>> {
        let mut slot = self.link.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(link) = slot.as_ref()
            && !link.is_dead()
        {
            return Ok(link.clone());
        }
        // Starting is a fork and exec, no handshake: nothing here waits for the server.
        let link = Arc::new(Link::start(serve)?);
        self.fd.store(link.sock.as_raw_fd(), Ordering::Relaxed);
        *slot = Some(link.clone());
        Ok(link)
    }

    /// In a forked child: closes the child's copy of the parent's socket, so that the server
    /// still sees the parent's exit. Takes no lock (the parent's may have been copied held); the
    /// copy's owner is the parent's context, which the child never uses or drops.
    pub(crate) fn close_copy_in_forked_child(&self) {
        let fd: RawFd = self.fd.load(Ordering::Relaxed);
        if fd >= 0 {
            sys::close_unowned(fd);
        }
    }
}

/// A fork request sent and not yet answered.
#[derive(Debug)]
#[must_use = "a request's answer carries the child's pidfd"]
pub(crate) struct ForkRequest {
    /// Its id, which the reply carries.
    id: u64,
}

/// The connection to one fork server.
#[derive(Debug)]
pub(crate) struct Link {
    /// Our end of the socket pair.
    sock: OwnedFd,
    /// The server's pid (our child).
    server_pid: i32,
    /// Numbers requests, to match replies.
    next_id: AtomicU64,
    /// What has been read from the socket.
    state: Mutex<LinkState>,
    /// Signalled when a message is filed, the server is found dead, or the reader leaves.
    filed: Condvar,
}

/// What has been read from the server and not yet taken.
#[derive(Debug, Default)]
struct LinkState {
    /// Replies to fork requests, by request id: the child's pid and pidfd, or an errno.
    replies: HashMap<u64, std::result::Result<(i32, OwnedFd), i32>>,
    /// Exit codes, by pid, kept until the child's handle goes ([`ExitReports::forget`]).
    exited: HashMap<i32, i32>,
    /// Why the server is gone, once it is: no more messages will come.
    dead: Option<Arc<std::io::Error>>,
    /// Whether a thread polls the socket now: while one does, only it reads the socket.
    reader: bool,
    /// How many threads sleep on [`Link::filed`] (none: signalling it is skipped).
    waiting: usize,
}

impl Link {
    /// Starts a fork server: a fresh execution of this program that inherits its end of a new
    /// socket pair and runs `serve` with it.
    fn start(serve: FnRef<BootFn>) -> Result<Link> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::os("socketpair")(e.into()))?;
        let server_pid = exe::start_fresh(serve, theirs.as_fd(), None)
            .map_err(Error::os("starting the fork server"))?;
        Ok(Link {
            sock: ours,
            server_pid,
            next_id: AtomicU64::new(1),
            state: Mutex::new(LinkState::default()),
            filed: Condvar::new(),
        })
    }

    /// Whether the server is gone: known dead, or found to have exited now. Its socket alone
    /// does not tell: a child it had just forked holds a copy until it closes the server's
    /// descriptors, and a request sent there meanwhile is taken by nobody (its reply read is a
    /// reset once that copy closes). What it sent before it died is read first.
    fn is_dead(&self) -> bool {
        let mut state = self.lock();
        self.mark_dead_if_exited(&mut state);
        state.dead.is_some()
    }

    /// Marks the server dead if it has exited, after reading what it sent before it died.
    fn mark_dead_if_exited(&self, state: &mut LinkState) {
        if state.dead.is_none() && sys::has_exited(self.server_pid) {
            self.drain(state);
            let why = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "it exited");
            state.mark_dead(self, why);
            self.signal(state);
        }
    }

    /// Sends the request for a child that enters `trampoline` with the launch channel `launch`
    /// (the server holds its own copy of it once this returns); the request, for
    /// [`forked`](Self::forked). [`Error::ForkServerDied`] if it cannot be sent.
    pub(crate) fn request_fork(
        &self,
        trampoline: FnRef<Trampoline>,
        launch: BorrowedFd<'_>,
        daemon: bool,
    ) -> Result<ForkRequest> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = Request::Fork {
            id,
            daemon,
            trampoline: trampoline.to_wire(),
        };
        // Room for the pidfd that comes back: out of descriptors is an error now, before the
        // server forks a child we could not watch.
        let room = self
            .sock
            .try_clone()
            .map_err(Error::os("reserving a descriptor for the child's pidfd"))?;
        if let Err(e) = sys::send_with_fd(self.sock.as_fd(), &request.encode(), Some(launch)) {
            let why = std::io::Error::new(e.kind(), format!("sending it a request: {e}"));
            let mut state = self.lock();
            let why = state.mark_dead(self, why);
            self.signal(&state);
            return Err(Error::ForkServerDied(why));
        }
        drop(room);
        Ok(ForkRequest { id })
    }

    /// Waits for the server's answer to `request`: the child's pid and pidfd.
    pub(crate) fn forked(&self, request: ForkRequest) -> Result<(i32, OwnedFd)> {
        let id = request.id;
        let deadline = Deadline::after(REPLY_BOUND);
        let answer = self.wait_for(deadline, |state| match state.replies.remove(&id) {
            Some(Ok(child)) => Some(Ok(child)),
            Some(Err(errno)) => Some(Err(Error::os("forking in the fork server")(
                std::io::Error::from_raw_os_error(errno),
            ))),
            None => (state.dead.as_ref()).map(|why| Err(Error::ForkServerDied(Arc::clone(why)))),
        })?;
        answer.unwrap_or(Err(Error::StartTimedOut {
            what: "the fork server's reply",
            bound: REPLY_BOUND,
        }))
    }

    /// Waits until `take` finds what it looks for in the state (`Some`), or `until` passes
    /// (`None`). One waiter at a time (the reader) polls the socket and files what it reads;
    /// the others sleep on [`Link::filed`], so each learns of its message as soon as anyone
    /// files it. The reader leaves when its own wait ends, and signals, so that a waiter that
    /// still waits takes the role on.
    fn wait_for<T>(
        &self,
        until: Deadline,
        mut take: impl FnMut(&mut LinkState) -> Option<T>,
    ) -> Result<Option<T>> {
        let mut state = self.lock();
        if !state.reader {
            self.drain(&mut state);
        }
        loop {
            if let Some(found) = take(&mut state) {
                return Ok(Some(found));
            }
            if until.has_passed() {
                return Ok(None);
            }
            if state.reader {
                state.waiting += 1;
                state = match self.filed.wait_timeout(state, until.remaining()) {
                    Ok((state, _)) => state,
                    Err(poisoned) => poisoned.into_inner().0,
                };
                state.waiting -= 1;
                continue;
            }
            state.reader = true;
            drop(state);
            let slice = Deadline::slice(Some(until), EXIT_CHECK);
            let polled = poll_readable(&[self.sock.as_fd()], Some(slice));
            state = self.lock();
            state.reader = false;
            self.drain(&mut state);
            // A quiet socket may be a dead server's, kept open by a child it had just forked
            // (see [`Link::is_dead`]): a waiter must not wait for that child.
            if polled.as_ref().is_ok_and(Vec::is_empty) {
                self.mark_dead_if_exited(&mut state);
            }
            // Whether or not it filed something: the role is free for a waiter to take.
            self.signal(&state);
            polled.map_err(Error::os("waiting for the fork server"))?;
        }
    }

    /// Wakes every thread asleep on [`Link::filed`], to look at the state again.
    fn signal(&self, state: &LinkState) {
        if state.waiting > 0 {
            self.filed.notify_all();
        }
    }

    /// Reads every message waiting on the socket, without blocking, and files it.
    fn drain(&self, state: &mut LinkState) {
        let mut filed = false;
        // A server that died with requests unread makes the next read a reset, ahead of what
        // it sent before (a child's pidfd, an exit report): those are read after it.
        let mut reset: Option<std::io::Error> = None;
        while state.dead.is_none() {
            let mut buffer = [0u8; MAX_MESSAGE];
            let why = match sys::recv_with_fd(self.sock.as_fd(), &mut buffer, false) {
                Ok(Received::Empty) => break,
                Ok(Received::Datagram(len, fd)) => match (Reply::decode(&buffer[..len]), fd) {
                    (Some(Reply::Exited { pid, code }), _) => {
                        state.exited.insert(pid, code);
                        filed = true;
                        continue;
                    }
                    (Some(Reply::Forked { id, pid }), Some(pidfd)) => {
                        state.replies.insert(id, Ok((pid, pidfd)));
                        filed = true;
                        continue;
                    }
                    (Some(Reply::ForkFailed { id, errno }), _) => {
                        state.replies.insert(id, Err(errno));
                        filed = true;
                        continue;
                    }
                    _ => std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("it sent a malformed message {:?}", &buffer[..len]),
                    ),
                },
                Ok(Received::Closed) => reset.take().unwrap_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "it closed its socket")
                }),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && reset.is_none() => {
                    reset = Some(std::io::Error::new(
                        e.kind(),
                        format!("reading its socket: {e}"),
                    ));
                    continue;
                }
                Err(e) => std::io::Error::new(e.kind(), format!("reading its socket: {e}")),
            };
            state.mark_dead(self, why);
            filed = true;
        }
        if let Some(why) = reset.filter(|_| state.dead.is_none()) {
            // The reset came, but not the close after it: the server is gone all the same.
            state.mark_dead(self, why);
            filed = true;
        }
        if filed {
            self.signal(state);
        }
    }

    fn lock(&self) -> MutexGuard<'_, LinkState> {
        // Every update is one map insert or one field: a panic leaves the state consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl LinkState {
    /// Records the server's death (killing and reaping it, our child); returns why it died.
    fn mark_dead(&mut self, link: &Link, why: std::io::Error) -> Arc<std::io::Error> {
        Arc::clone(self.dead.get_or_insert_with(|| {
            // A server whose socket failed is of no more use; a dead one exits at once.
            sys::kill_and_reap(link.server_pid);
            Arc::new(why)
        }))
    }
}

impl ExitReports for Link {
    fn exit_code(
        &self,
        pid: i32,
        pidfd: BorrowedFd<'_>,
        deadline: Option<Deadline>,
    ) -> Result<Option<i32>> {
        // Set once the child is seen to have exited: its report is then due.
        let mut report_due: Option<Deadline> = None;
        loop {
            let until = report_due.or(deadline);
            // The report comes on the socket: only it wakes us (waking at the child's exit too
            // would cost a wake-up, a look and a sleep more per start). Its pidfd is looked at
            // after a slice without the report, to bound how long the report may lag.
            let found = self.wait_for(Deadline::slice(until, SLICE), |state| {
                match state.exited.get(&pid) {
                    Some(&code) => Some(Some(code)),
                    None => state.dead.is_some().then_some(None),
                }
            })?;
            match found {
                Some(Some(code)) => return Ok(Some(code)),
                Some(None) => return lost_child_exit(pid, pidfd, deadline),
                None => {}
            }
            if until.is_some_and(Deadline::has_passed) {
                return match report_due {
                    Some(_) => Err(Error::StatusLost { pid }),
                    None => Ok(None),
                };
            }
            if report_due.is_none() && has_ended(pidfd)? {
                report_due = Some(Deadline::after(REPORT_BOUND));
            }
        }
    }

    fn forget(&self, pid: i32) {
        self.lock().exited.remove(&pid);
    }
}

/// Whether the child behind `pidfd` has ended, now.
fn has_ended(pidfd: BorrowedFd<'_>) -> Result<bool> {
    let ready =
        poll_readable(&[pidfd], Some(Deadline::now())).map_err(Error::os("polling a child"))?;
    Ok(!ready.is_empty())
}

/// The answer for a child whose server died before reporting its exit: nobody will ever tell
/// its exit code, but its pidfd still tells when it ends. Until then it is running (`None` at
/// the deadline, like any child); once it has ended, its status is lost, at once, and no
/// server is asked.
fn lost_child_exit(
    pid: i32,
    pidfd: BorrowedFd<'_>,
    deadline: Option<Deadline>,
) -> Result<Option<i32>> {
    let exited = !poll_readable(&[pidfd], deadline)
        .map_err(Error::os("waiting for a child"))?
        .is_empty();
    if exited {
        Err(Error::StatusLost { pid })
    } else {
        Ok(None)
    }
}
