//! The parent's half of a fresh child's start-up: wait for a spawn child's (or the fork
//! server's) hello, and send a child its target and arguments. The child's half is
//! [`crate::entry::bootstrap`] and [`crate::entry::trampoline`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use ipc_channel::ipc::{self, IpcOneShotServer, IpcSender, OpaqueIpcSender};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::child::{ChildShared, Reaper};
use crate::context::ChildStart;
use crate::entry::{ChildReport, Hello, LaunchHeader};
use crate::error::{Error, Result};
use crate::target::FunctionTarget;

/// How long a child that failed its start-up is given to exit before it is killed.
const FAILED_START_GRACE: Duration = Duration::from_secs(5);

/// A fresh child that exists but has not yet received its target.
pub(crate) struct Started {
    /// Its pid.
    pub(crate) pid: i32,
    /// Its pidfd.
    pub(crate) pidfd: OwnedFd,
    /// Who reaps it.
    pub(crate) reaper: Reaper,
}

/// Starts a spawn child with `create(server name, trampoline offset)`, waits for its hello on a
/// one-shot server, then hands it `target`.
pub(crate) fn fresh_child(
    target: Box<dyn FunctionTarget>,
    start: ChildStart,
    create: impl FnOnce(&str, usize) -> Result<Started>,
) -> Result<Arc<ChildShared>> {
    let (server, server_name) =
        IpcOneShotServer::<Hello>::new().map_err(Error::os("creating the start-up socket"))?;
    let started = create(&server_name, target.trampoline())?;
    let launch = match accept_unless_dead(server, &server_name, started.pidfd.as_fd()) {
        Ok(Hello::Ready { launch }) => Ok(launch),
        Ok(Hello::Abandoned) => Err(Error::Ipc("the child exited before its start-up".into())),
        Err(e) => Err(e),
    };
    launch_target(started, target, start, launch)
}

/// Sends `target` and its arguments to a started child through `launch`. If that fails, the
/// child died (or cannot be told what to run): it is reaped, killed first if need be, and the
/// start fails with [`Error::DiedDuringStart`].
pub(crate) fn launch_target(
    started: Started,
    target: Box<dyn FunctionTarget>,
    start: ChildStart,
    launch: Result<OpaqueIpcSender>,
) -> Result<Arc<ChildShared>> {
    let (report_tx, report_rx) =
        ipc::channel::<ChildReport>().map_err(Error::os("creating the report channel"))?;
    let pid = started.pid;
    let child = ChildShared::new(
        pid,
        started.pidfd,
        started.reaper,
        report_rx,
        start.name.clone(),
        start.daemon,
    );
    let header = LaunchHeader {
        target: 0,
        context: start,
        report: report_tx,
    };
    match launch.and_then(|to| target.launch(to, header)) {
        Ok(()) => Ok(child),
        Err(_) => {
            if child.wait(Some(FAILED_START_GRACE))?.is_none() {
                child.signal(libc::SIGKILL)?;
            }
            let exitcode = child.wait(None)?;
            Err(Error::DiedDuringStart { pid, exitcode })
        }
    }
}

/// Accepts the child's hello on `server`, or [`Hello::Abandoned`] if the child dies first.
///
/// ipc-channel's `accept` has no timeout (servo/ipc-channel#201). A watchdog thread waits for the
/// child's exit or for the accept to finish; if the child dies first, the watchdog connects to the
/// server itself and says so, which ends the accept.
pub(crate) fn accept_unless_dead(
    server: IpcOneShotServer<Hello>,
    name: &str,
    pidfd: BorrowedFd<'_>,
) -> Result<Hello> {
    let (done_r, done_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2")(e.into()))?;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut fds = [
                PollFd::new(pidfd, PollFlags::POLLIN),
                PollFd::new(done_r.as_fd(), PollFlags::POLLIN),
            ];
            while let Err(nix::errno::Errno::EINTR) = poll(&mut fds, PollTimeout::NONE) {}
            let accepted = fds[1].any().unwrap_or(true);
            let child_died = fds[0].any().unwrap_or(false);
            if child_died
                && !accepted
                && let Ok(tx) = IpcSender::<Hello>::connect(name.to_owned())
            {
                let _ = tx.send(Hello::Abandoned);
            }
        });
        let accepted = server.accept();
        // Closing the pipe's write end wakes the watchdog.
        drop(done_w);
        accepted
            .map(|(_, hello)| hello)
            .map_err(|e| Error::Ipc(format!("waiting for the child's start-up: {e}")))
    })
}
