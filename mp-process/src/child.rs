//! The parent's view of one started child: its pidfd, its exit code once reaped, its panic report.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use ipc_channel::ipc::IpcReceiver;
use mp_sync::raw::{Deadline, poll_readable};
use nix::sys::signal::Signal;

use crate::error::{Error, Result};
use crate::start::wire::ChildReport;
use crate::sys;

/// Someone other than us who learns the exit codes of children we did not fork ourselves (the
/// fork server, for its children). Given to each child handle at start.
pub(crate) trait ExitReports: Send + Sync + fmt::Debug {
    /// The exit code of `pid` (whose pidfd is `pidfd`) once reported, waiting for it until
    /// `deadline` (`None`: no deadline); `Ok(None)` if the child still runs at the deadline,
    /// [`Error::StatusLost`] if the code will never be known. Called with no lock of the
    /// child's held.
    fn exit_code(
        &self,
        pid: i32,
        pidfd: BorrowedFd<'_>,
        deadline: Option<Deadline>,
    ) -> Result<Option<i32>>;

    /// The child's handle is gone: its exit code need not be kept.
    fn forget(&self, pid: i32);
}

/// Who reaps the child.
#[derive(Debug, Clone)]
pub(crate) enum Reaper {
    /// We are its OS parent (fork, spawn): `waitpid`.
    Us,
    /// Its OS parent reports its exit code to us.
    Reported(Arc<dyn ExitReports>),
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
    /// Set once the child has exited and its code is known, or known lost.
    outcome: Option<Outcome>,
    /// The child's report channel, dropped once read.
    report: Option<IpcReceiver<ChildReport>>,
    /// The panic message the child reported, if any.
    panic: Option<String>,
}

/// How a child's end is known.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// It exited with this code.
    Exited(i32),
    /// Its code will never be known (its fork server died, or someone else reaped it).
    Lost,
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
                outcome: None,
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
        self.wait_until(Some(Deadline::now()))
    }

    /// Whether the child is still running: a child whose exit code is lost runs as long as its
    /// pidfd says so.
    pub(crate) fn is_running(&self) -> Result<bool> {
        match self.poll() {
            Ok(code) => Ok(code.is_none()),
            Err(Error::StatusLost { .. }) => Ok(!self.has_exited_now()?),
            Err(e) => Err(e),
        }
    }

    /// Waits until `deadline` (`None`: forever) for the child to exit; its exit code, or `None`
    /// if it is still running. No lock is held while waiting.
    pub(crate) fn wait_until(&self, deadline: Option<Deadline>) -> Result<Option<i32>> {
        if let Some(outcome) = self.lock().outcome {
            return self.answer(outcome).map(Some);
        }
        let reported = match &self.reaper {
            Reaper::Us => {
                let exited = !poll_readable(&[self.pidfd.as_fd()], deadline)
                    .map_err(Error::os("waiting for a child"))?
                    .is_empty();
                if !exited {
                    return Ok(None);
                }
                None
            }
            Reaper::Reported(reports) => {
                match reports.exit_code(self.pid, self.sentinel(), deadline) {
                    Ok(None) => return Ok(None),
                    Ok(Some(code)) => Some(Outcome::Exited(code)),
                    Err(Error::StatusLost { .. }) => Some(Outcome::Lost),
                    Err(e) => return Err(e),
                }
            }
        };
        let mut state = self.lock();
        // Another thread may have got here first; the first answer stands.
        let outcome = match (state.outcome, reported) {
            (Some(known), _) => known,
            (None, Some(outcome)) => self.record(&mut state, outcome),
            // Our own child has exited (its pidfd says so): waitpid returns at once.
            (None, None) => {
                let outcome = match sys::reap(self.pid) {
                    Ok(code) => Outcome::Exited(code),
                    // Somebody else reaped it (a `waitpid(-1)` elsewhere, or SIGCHLD ignored).
                    Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ECHILD as i32) => {
                        Outcome::Lost
                    }
                    Err(e) => return Err(Error::os("reaping a child")(e)),
                };
                self.record(&mut state, outcome)
            }
        };
        drop(state);
        self.answer(outcome).map(Some)
    }

    /// Stores the outcome, and reads a panicking child's report.
    fn record(&self, state: &mut ChildState, outcome: Outcome) -> Outcome {
        state.outcome = Some(outcome);
        let report = state.report.take();
        // Only a panicking child (exit code 1) sends a report, before exiting: it waits in the
        // socket. Other exits skip the read (ipc-channel maps a large receive buffer per read).
        if matches!(outcome, Outcome::Exited(1))
            && let Some(Ok(ChildReport::Panicked(message))) = report.map(|r| r.try_recv())
        {
            state.panic = Some(message);
        }
        outcome
    }

    fn answer(&self, outcome: Outcome) -> Result<i32> {
        match outcome {
            Outcome::Exited(code) => Ok(code),
            Outcome::Lost => Err(Error::StatusLost { pid: self.pid }),
        }
    }

    /// Whether the pidfd says the child has exited, now.
    fn has_exited_now(&self) -> Result<bool> {
        let ready = poll_readable(&[self.pidfd.as_fd()], Some(Deadline::now()))
            .map_err(Error::os("polling a child"))?;
        Ok(!ready.is_empty())
    }

    /// The panic message the child reported, once it has been reaped.
    pub(crate) fn panic_message(&self) -> Option<String> {
        self.lock().panic.clone()
    }

    /// Sends `signal`, unless the child is known to have exited.
    pub(crate) fn signal(&self, signal: Signal) -> Result<()> {
        if matches!(self.lock().outcome, Some(Outcome::Exited(_))) {
            return Ok(());
        }
        sys::pidfd_send_signal(self.pidfd.as_fd(), signal as i32)
            .map_err(Error::os("signalling a child"))
    }

    fn lock(&self) -> MutexGuard<'_, ChildState> {
        // A panic while holding this lock leaves the state consistent (every write is one field).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ChildShared {
    fn drop(&mut self) {
        if let Reaper::Reported(reports) = &self.reaper {
            reports.forget(self.pid);
        }
    }
}
