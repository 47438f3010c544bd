//! The parent's view of one started child: its pidfd, its exit code once reaped, its panic report.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ipc_channel::ipc::IpcReceiver;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::entry::ChildReport;
use crate::error::{Error, Result};
use crate::{start, sys};

/// How long the parent waits for a fork server's report of an exit it has already seen happen.
const SERVER_REPORT_BOUND: Duration = Duration::from_secs(10);

/// Who reaps the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reaper {
    /// We are its OS parent (fork, spawn): `waitpid`.
    Us,
    /// The fork server is its OS parent and reports its exit code.
    ForkServer,
}

/// A started child, shared by its [`Process`](crate::Process) and the process-wide registry that
/// reaps children whose handle was dropped.
#[derive(Debug)]
pub(crate) struct ChildShared {
    /// The child's pid.
    pub(crate) pid: i32,
    /// The child's name.
    pub(crate) name: String,
    /// Whether it is a daemon (terminated at the parent's exit rather than joined).
    pub(crate) daemon: bool,
    /// Refers to the child for as long as we live: readable once it has exited, and the way to
    /// signal it without racing pid reuse.
    pidfd: OwnedFd,
    /// Who reaps it.
    reaper: Reaper,
    /// What is known once it has exited.
    state: Mutex<ChildState>,
}

/// The mutable part of [`ChildShared`].
#[derive(Debug)]
struct ChildState {
    /// `Some` once reaped.
    exitcode: Option<i32>,
    /// The child's report channel, dropped once read.
    report: Option<IpcReceiver<ChildReport>>,
    /// The panic message the child reported, if any.
    panic: Option<String>,
}

impl ChildShared {
    /// A child that has just been started.
    pub(crate) fn new(
        pid: i32,
        pidfd: OwnedFd,
        reaper: Reaper,
        report: IpcReceiver<ChildReport>,
        name: String,
        daemon: bool,
    ) -> Arc<ChildShared> {
        Arc::new(ChildShared {
            pid,
            name,
            daemon,
            pidfd,
            reaper,
            state: Mutex::new(ChildState {
                exitcode: None,
                report: Some(report),
                panic: None,
            }),
        })
    }

    /// The pidfd: readable once the child has exited.
    pub(crate) fn sentinel(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// The exit code if the child has exited (reaping it), without waiting.
    pub(crate) fn poll(&self) -> Result<Option<i32>> {
        self.wait(Some(Duration::ZERO))
    }

    /// Waits up to `timeout` (`None`: forever) for the child to exit; its exit code, or `None` if
    /// it is still running.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Result<Option<i32>> {
        if let Some(code) = self.lock().exitcode {
            return Ok(Some(code));
        }
        // Wait without the lock, so that other threads can poll or signal meanwhile.
        if !sys::wait_readable(self.pidfd.as_fd(), timeout)
            .map_err(Error::os("waiting for a child"))?
        {
            return Ok(None);
        }
        self.reap().map(Some)
    }

    /// The panic message the child reported, once it has been reaped.
    pub(crate) fn panic_message(&self) -> Option<String> {
        self.lock().panic.clone()
    }

    /// Sends `signal`, unless the child is known to have exited.
    pub(crate) fn signal(&self, signal: i32) -> Result<()> {
        let state = self.lock();
        if state.exitcode.is_some() {
            return Ok(());
        }
        sys::pidfd_send_signal(self.pidfd.as_fd(), signal).map_err(Error::os("signalling a child"))
    }

    /// Collects the exit code of a child that has exited, and its panic report.
    fn reap(&self) -> Result<i32> {
        let mut state = self.lock();
        if let Some(code) = state.exitcode {
            return Ok(code);
        }
        let code = match self.reaper {
            Reaper::Us => reap_own_child(self.pid)?,
            Reaper::ForkServer => start::forkserver::exit_status(self.pid, SERVER_REPORT_BOUND)?,
        };
        state.exitcode = Some(code);
        let report = state.report.take();
        // Only a panicking child (exit code 1) sends a report, before exiting: it waits in the
        // socket. Other exits skip the read (ipc-channel maps a large receive buffer per read).
        if code == 1
            && let Some(Ok(ChildReport::Panicked(message))) = report.map(|r| r.try_recv())
        {
            state.panic = Some(message);
        }
        Ok(code)
    }

    fn lock(&self) -> MutexGuard<'_, ChildState> {
        // A panic while holding this lock leaves the state consistent (every write is one field).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reaps our own exited child `pid`, returning Python's exit code.
fn reap_own_child(pid: i32) -> Result<i32> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(status) => {
                if let Some(code) = exitcode_of(status) {
                    return Ok(code);
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            // Somebody else reaped it (a `waitpid(-1)` elsewhere, or SIGCHLD ignored).
            Err(nix::errno::Errno::ECHILD) => return Err(Error::StatusLost { pid }),
            Err(e) => return Err(Error::os("reaping a child")(e.into())),
        }
    }
}

/// Python's exit code for a wait status: the exit status, or minus the signal that killed it.
pub(crate) fn exitcode_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(-(signal as i32)),
        _ => None,
    }
}
