//! The forkserver start method: a clean server process forks each child on request.
//!
//! The server is a fresh execution of this program (so it has none of the caller's threads or
//! held locks), taken over before `main` by [`crate::entry`], single-threaded for its whole life.
//! It says hello once, like a spawn child, on a one-shot server of its parent's, handing over the
//! sending end of its request channel (ipc-channel). Then it talks to its parent over a
//! `SOCK_SEQPACKET` socket pair inherited at exec, in one-line text messages:
//!
//! | from | message | meaning |
//! |---|---|---|
//! | parent | `S <daemon 0/1> <trampoline>` | fork a child; its launch channel is the next request on the ipc-channel |
//! | server | `P <pid>` + the child's pidfd (`SCM_RIGHTS`) | the child exists |
//! | server | `F <errno>` | fork failed |
//! | server | `X <pid> <exit code>` | a child exited (the server reaped it) |
//!
//! Each request carries the receiving end of the child's launch channel; the child inherits it
//! through the fork and goes straight to its trampoline: no hello, no one-shot server per child.
//! The server polls the socket and its children's pidfds, never the ipc-channel, whose
//! descriptor ipc-channel does not expose: a request's `S` is sent after its ipc message, so the
//! message is waiting when the server reads it.
//!
//! The parent gets each child's pidfd from the server, so it can wait for and signal the child
//! with no pid-reuse race although the child is not its own; the exit code comes in an `X`
//! message, since only the OS parent can reap. The server exits when its parent's end closes
//! (the parent exited or was killed), after killing its daemon children.

use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipc_channel::ipc::{self, IpcOneShotServer, IpcSender, OpaqueIpcReceiver};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr,
    recvmsg, sendmsg, socketpair,
};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::child::{ChildShared, Reaper, exitcode_of};
use crate::context::{ChildStart, context};
use crate::entry::{self, CHILD_ENV, Hello, Role};
use crate::error::{Error, Result};
use crate::start::handshake::{self, Started};
use crate::sys::{self, Forked};
use crate::target::FunctionTarget;

/// The largest message either side sends (a socket path is at most 108 bytes).
const MAX_MESSAGE: usize = 512;

/// A fork request: the receiving end of the new child's launch channel.
#[derive(Debug, Serialize, Deserialize)]
struct ForkRequest {
    /// Where the child's [`crate::entry::Launch`] message will come.
    launch: OpaqueIpcReceiver,
}

/// Starts a child through this process's fork server (starting the server first if needed).
pub(crate) fn start(
    target: Box<dyn FunctionTarget>,
    start: ChildStart,
) -> Result<Arc<ChildShared>> {
    let request = format!("S {} {}", u8::from(start.daemon), target.trampoline());
    let ctx = context();
    let mut slot = ctx.forkserver();
    let mut attempt = 0;
    let (started, launch_tx) = loop {
        attempt += 1;
        let client = match slot.as_mut() {
            Some(client) => client,
            None => {
                let client = Client::start()?;
                ctx.set_forkserver_fd(client.sock.as_raw_fd());
                slot.insert(client)
            }
        };
        let (launch_tx, launch_rx) =
            ipc::channel::<()>().map_err(Error::os("creating a launch channel"))?;
        match client.request(&request, launch_rx.to_opaque()) {
            Ok((pid, pidfd)) => {
                break (
                    Started {
                        pid,
                        pidfd,
                        reaper: Reaper::ForkServer,
                    },
                    launch_tx,
                );
            }
            // A server that died since the last start is replaced, once.
            Err(Error::ForkServerDied(_)) if attempt == 1 => {
                ctx.set_forkserver_fd(-1);
                *slot = None;
            }
            Err(e) => return Err(e),
        }
    };
    drop(slot);
    handshake::launch_target(started, target, start, Ok(launch_tx.to_opaque()))
}

/// The exit code of forkserver child `pid`, which has exited: from the server's report, waiting
/// up to `bound` for it.
pub(crate) fn exit_status(pid: i32, bound: Duration) -> Result<i32> {
    let mut slot = context().forkserver();
    match slot.as_mut() {
        Some(client) => client.exit_status(pid, bound),
        None => Err(Error::StatusLost { pid }),
    }
}

/// The parent's connection to its fork server.
#[derive(Debug)]
pub(crate) struct Client {
    /// Our end of the socket pair.
    sock: OwnedFd,
    /// The server's pid (our child).
    server_pid: i32,
    /// The server's request channel: each request carries a child's launch channel.
    requests: IpcSender<ForkRequest>,
    /// Exit codes reported but not yet asked for.
    exited: HashMap<i32, i32>,
}

impl Client {
    /// Starts a fork server and waits for its hello.
    fn start() -> Result<Client> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::os("socketpair")(e.into()))?;
        let (hello_server, hello_name) =
            IpcOneShotServer::<Hello>::new().map_err(Error::os("creating the start-up socket"))?;
        let fd = theirs.as_raw_fd();
        let mut command = Command::new("/proc/self/exe");
        // The program's own arguments, so that `std::env::args()` in a child is its parent's (as
        // Python passes `sys.argv`); the child never reaches `main`, which would read them.
        let mut args = std::env::args_os();
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        command.args(args);
        command.env(
            CHILD_ENV,
            Role::ForkServer {
                fd,
                server: hello_name.clone(),
            }
            .mark(),
        );
        // SAFETY: the closure runs between fork and exec and only calls fcntl (async-signal-safe).
        unsafe {
            command.pre_exec(move || sys::clear_cloexec(fd));
        }
        let server = command
            .spawn()
            .map_err(Error::os("starting the fork server"))?;
        drop(theirs);
        let server_pid = server.id() as i32;
        let pidfd = sys::pidfd_open(server_pid).map_err(Error::os("pidfd_open"))?;
        match handshake::accept_unless_dead(hello_server, &hello_name, pidfd.as_fd()) {
            Ok(Hello::Ready { launch }) => Ok(Client {
                sock: ours,
                server_pid,
                requests: launch.to(),
                exited: HashMap::new(),
            }),
            other => {
                let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
                let _ = waitpid(Pid::from_raw(server_pid), None);
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "it exited during start-up".to_owned(),
                };
                Err(Error::ForkServerDied(why))
            }
        }
    }

    /// Asks for a child whose launch channel is `launch`; the new child's pid and pidfd.
    fn request(&mut self, request: &str, launch: OpaqueIpcReceiver) -> Result<(i32, OwnedFd)> {
        // The ipc message first, so that it is there when the server reads the `S`.
        self.requests
            .send(ForkRequest { launch })
            .map_err(|e| self.died(std::io::Error::other(e.to_string())))?;
        send(self.sock.as_raw_fd(), request.as_bytes(), None).map_err(|e| self.died(e))?;
        loop {
            let (message, fd) = self.receive()?;
            match parse(&message) {
                Some(('P', pid, _)) => {
                    let fd = fd.ok_or_else(|| {
                        Error::ForkServerDied("a reply came without a pidfd".into())
                    })?;
                    return Ok((pid, fd));
                }
                Some(('F', errno, _)) => {
                    return Err(Error::os("fork in the fork server")(
                        std::io::Error::from_raw_os_error(errno),
                    ));
                }
                Some(('X', pid, code)) => {
                    self.exited.insert(pid, code);
                }
                _ => {
                    return Err(Error::ForkServerDied(format!(
                        "unexpected message {message:?}"
                    )));
                }
            }
        }
    }

    /// Waits up to `bound` for the server's report of `pid`'s exit.
    fn exit_status(&mut self, pid: i32, bound: Duration) -> Result<i32> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(code) = self.exited.remove(&pid) {
                return Ok(code);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !sys::wait_readable(self.sock.as_fd(), Some(left))
                .map_err(Error::os("waiting for the fork server"))?
            {
                return Err(Error::StatusLost { pid });
            }
            let (message, _) = self.receive().map_err(|_| Error::StatusLost { pid })?;
            if let Some(('X', child, code)) = parse(&message) {
                self.exited.insert(child, code);
            }
        }
    }

    /// Receives one message (and a descriptor that came with it).
    fn receive(&mut self) -> Result<(String, Option<OwnedFd>)> {
        match receive(self.sock.as_raw_fd()) {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(self.died(std::io::Error::other("it closed its socket"))),
            Err(e) => Err(self.died(e)),
        }
    }

    /// Reaps a server that died and describes it.
    fn died(&self, e: std::io::Error) -> Error {
        let _ = nix::sys::wait::waitpid(
            Pid::from_raw(self.server_pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
        Error::ForkServerDied(e.to_string())
    }
}

/// Parses `<letter> <a> [<b>]`.
fn parse(message: &str) -> Option<(char, i32, i32)> {
    let mut words = message.split(' ');
    let kind = words.next()?.chars().next()?;
    let a = words.next()?.parse().ok()?;
    let b = words.next().map_or(Some(0), |w| w.parse().ok())?;
    Some((kind, a, b))
}

/// Sends one message, with a descriptor if given.
fn send(sock: RawFd, message: &[u8], fd: Option<RawFd>) -> std::io::Result<()> {
    let fds: Vec<RawFd> = fd.into_iter().collect();
    let control: Vec<ControlMessage<'_>> = if fds.is_empty() {
        Vec::new()
    } else {
        vec![ControlMessage::ScmRights(&fds)]
    };
    loop {
        match sendmsg::<UnixAddr>(
            sock,
            &[IoSlice::new(message)],
            &control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one message; `None` at end of stream.
fn receive(sock: RawFd) -> std::io::Result<Option<(String, Option<OwnedFd>)>> {
    let mut buffer = [0u8; MAX_MESSAGE];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buffer)];
        match recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(msg) => {
                let mut fd = None;
                for cmsg in msg.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(fds) = cmsg {
                        for raw in fds {
                            // SAFETY: the kernel just gave us this descriptor; we own it now.
                            let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                            fd.get_or_insert(owned);
                        }
                    }
                }
                let len = msg.bytes;
                if len == 0 {
                    return Ok(None);
                }
                return Ok(Some((
                    String::from_utf8_lossy(&buffer[..len]).into_owned(),
                    fd,
                )));
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// A child of the server.
struct ServerChild {
    pid: i32,
    pidfd: OwnedFd,
    daemon: bool,
}

/// The server's loop; returns only on failure (a message for stderr).
pub(crate) fn serve(fd: RawFd, server: &str) -> String {
    // SAFETY: the parent passed us this descriptor at exec; nothing else in this process owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let requests = match entry::say_hello(server) {
        Ok(requests) => requests.to::<ForkRequest>(),
        Err(why) => return why,
    };
    // Ctrl-C goes to the whole process group: the server must outlive it, as Python's does, so
    // that its parent still learns how its children ended. Children get the default back.
    // SAFETY: setting a disposition to SIG_IGN/SIG_DFL installs no handler code.
    let _ = unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) };
    let mut children: Vec<ServerChild> = Vec::new();
    loop {
        let (request_ready, exited) = {
            let mut fds = vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
            fds.extend(
                children
                    .iter()
                    .map(|c| PollFd::new(c.pidfd.as_fd(), PollFlags::POLLIN)),
            );
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return format!("fork server poll: {e}"),
            }
            let ready = |f: &PollFd<'_>| f.any().unwrap_or(false);
            let exited: Vec<usize> = fds[1..]
                .iter()
                .enumerate()
                .filter(|(_, f)| ready(f))
                .map(|(i, _)| i)
                .collect();
            (ready(&fds[0]), exited)
        };
        for index in exited.into_iter().rev() {
            let child = children.swap_remove(index);
            let code = loop {
                match waitpid(Pid::from_raw(child.pid), None) {
                    Ok(status) => match exitcode_of(status) {
                        Some(code) => break code,
                        None => continue,
                    },
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return format!("fork server waitpid: {e}"),
                }
            };
            if send(
                sock.as_raw_fd(),
                format!("X {} {code}", child.pid).as_bytes(),
                None,
            )
            .is_err()
            {
                shut_down(children);
            }
        }
        if !request_ready {
            continue;
        }
        let request = match receive(sock.as_raw_fd()) {
            Ok(Some((request, _))) => request,
            // The parent is gone.
            Ok(None) | Err(_) => shut_down(children),
        };
        let mut words = request.split(' ');
        let (Some("S"), Some(daemon), Some(trampoline)) = (
            words.next(),
            words.next(),
            words.next().and_then(|w| w.parse::<usize>().ok()),
        ) else {
            return format!("fork server: bad request {request:?}");
        };
        let daemon = daemon == "1";
        let launch = match requests.recv() {
            Ok(ForkRequest { launch }) => launch,
            Err(e) => return format!("fork server: reading a request: {e}"),
        };
        // SAFETY: the server is single-threaded, so the child's copy of every lock is free.
        match unsafe { sys::fork() } {
            Ok(Forked::Child) => {
                drop(sock);
                drop(children);
                drop(requests);
                // SAFETY: restoring the default disposition installs no handler code.
                let _ = unsafe { signal(Signal::SIGINT, SigHandler::SigDfl) };
                if daemon && sys::set_parent_death_kill().is_err() {
                    sys::exit_now(entry::STARTUP_FAILED);
                }
                entry::die_here_if_asked();
                let why = entry::run_trampoline(trampoline, launch);
                eprintln!("mp-process: forkserver child start-up failed: {why}");
                sys::exit_now(entry::STARTUP_FAILED)
            }
            Ok(Forked::Parent(pid)) => {
                // The child has its copy of the launch channel; ours goes.
                drop(launch);
                let reply = match sys::pidfd_open(pid) {
                    Ok(pidfd) => {
                        let sent = send(
                            sock.as_raw_fd(),
                            format!("P {pid}").as_bytes(),
                            Some(pidfd.as_raw_fd()),
                        );
                        children.push(ServerChild { pid, pidfd, daemon });
                        sent
                    }
                    Err(e) => send(
                        sock.as_raw_fd(),
                        format!("F {}", e.raw_os_error().unwrap_or(0)).as_bytes(),
                        None,
                    ),
                };
                if reply.is_err() {
                    shut_down(children);
                }
            }
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(0);
                if send(sock.as_raw_fd(), format!("F {errno}").as_bytes(), None).is_err() {
                    shut_down(children);
                }
            }
        }
    }
}

/// The parent is gone: kill the daemon children (they die with their parent) and leave.
fn shut_down(children: Vec<ServerChild>) -> ! {
    for child in children.iter().filter(|c| c.daemon) {
        let _ = sys::pidfd_send_signal(child.pidfd.as_fd(), libc::SIGKILL);
    }
    sys::exit_now(0)
}
