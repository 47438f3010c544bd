//! The parent's half of a fresh child's start (spawn, forkserver): the channels made before the
//! child exists, and the one launch message that tells the child what to run.
//!
//! No named socket is involved: the child inherits the receiving end of its launch channel
//! (across exec for spawn, through the fork server's fork for forkserver), so no other process
//! can reach the child before it has its target, and nothing is left in the file system.
//!
//! The launch channel is one socket pair, used both ways: the parent sends the launch message
//! on its socket, and the child, once it has read it, reports a panic on its own socket, which
//! the parent reads on (a duplicate of) its own. So a start makes one socket pair, not two.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use ipc_channel::ipc::{self, IpcReceiver, OpaqueIpcSender};
use mp_sync::raw::Deadline;

use crate::child::{ChildShared, Reaper};
use crate::error::{Error, Result};
use crate::start::wire::{ChildReport, ChildStart, LaunchHeader};
use crate::target::FunctionTarget;

/// How long a child whose launch could not be sent is given to exit before it is killed.
const FAILED_START_GRACE: Duration = Duration::from_secs(5);

/// A fresh child's channels, made before the child: running out of descriptors then fails the
/// start while there is no child to clean up.
pub(crate) struct LaunchChannels {
    /// Where the parent sends the launch message.
    launch: OpaqueIpcSender,
    /// The launch channel's receiving end, handed to the child.
    child_end: OwnedFd,
    /// Where the child's report arrives: a duplicate of the parent's socket of the launch
    /// channel (the child reports on its end once it has read the launch message).
    report_rx: IpcReceiver<ChildReport>,
}

impl LaunchChannels {
    /// Makes the launch channel (which is also the report channel).
    pub(crate) fn new() -> Result<LaunchChannels> {
        let (launch, child_end) =
            ipc::channel::<()>().map_err(Error::os("creating a launch channel"))?;
        let report_rx = IpcReceiver::from_owned_fd(
            launch
                .to_owned_fd()
                .map_err(Error::os("creating a report channel"))?,
        );
        Ok(LaunchChannels {
            launch: launch.to_opaque(),
            child_end: child_end.into_owned_fd(),
            report_rx,
        })
    }

    /// The descriptor the child must inherit: the receiving end of its launch channel.
    pub(crate) fn child_end(&self) -> BorrowedFd<'_> {
        self.child_end.as_fd()
    }
}

/// A fresh child that exists but has not yet been sent its target.
pub(crate) struct Started {
    /// Its pid.
    pub(crate) pid: i32,
    /// Its pidfd.
    pub(crate) pidfd: OwnedFd,
    /// Who reaps it.
    pub(crate) reaper: Reaper,
}

/// Sends `target` and its arguments to a started child, see [`send`] and [`Sent::finish`].
pub(crate) fn launch(
    started: Started,
    channels: LaunchChannels,
    target: Box<dyn FunctionTarget>,
    start: ChildStart,
) -> Result<Arc<ChildShared>> {
    send(channels, target, start).finish(started)
}

/// A launch message sent (or not: the child cannot be told what to run), whose child is not
/// yet known.
pub(crate) struct Sent {
    /// Whether the message went; `Err(Some(why))` if it was not even sent, for that reason.
    sent: std::result::Result<(), Option<Error>>,
    /// Where the child's report arrives.
    report_rx: IpcReceiver<ChildReport>,
    /// The child's name.
    name: String,
    /// Whether it is a daemon.
    daemon: bool,
}

/// Sends `target` and its arguments on the launch channel, once the child's end of it is in
/// the child or on its way there (a fork server's request carries a copy): the send does not
/// wait for the child (the message waits in the channel), unless the arguments are too large
/// for the socket's buffer; then it waits until the child reads them, or until every copy of
/// the child's end is closed (the child died, or was never made), which fails it.
pub(crate) fn send(
    channels: LaunchChannels,
    target: Box<dyn FunctionTarget>,
    start: ChildStart,
) -> Sent {
    let LaunchChannels {
        launch,
        child_end,
        report_rx,
    } = channels;
    // The child has its own copy; ours must go, so that a dead child's channel reads as closed.
    drop(child_end);
    let (name, daemon) = (start.name.clone(), start.daemon);
    let header = LaunchHeader { context: start };
    Sent {
        sent: target.launch(launch, header).map_err(|_| None),
        report_rx,
        name,
        daemon,
    }
}

/// No launch message for the child that `channels` were made for, because of `why`: the child
/// leaves as soon as it sees its launch channel closed, and [`Sent::finish`] reaps it and
/// fails with `why`.
pub(crate) fn unsent(channels: LaunchChannels, start: ChildStart, why: Error) -> Sent {
    Sent {
        sent: Err(Some(why)),
        report_rx: channels.report_rx,
        name: start.name,
        daemon: start.daemon,
    }
}

impl Sent {
    /// The started child's handle. If the launch message did not go, the child died (or
    /// cannot be told what to run): it is reaped, killed first if it has not exited within a
    /// grace period, and the start fails with [`Error::DiedDuringStart`] (or with why the
    /// message was not sent, see [`unsent`]).
    pub(crate) fn finish(self, started: Started) -> Result<Arc<ChildShared>> {
        let pid = started.pid;
        let child = ChildShared::new(
            pid,
            started.pidfd,
            started.reaper,
            self.report_rx,
            self.name,
            self.daemon,
        );
        match self.sent {
            Ok(()) => Ok(child),
            Err(why) => {
                if child
                    .wait_until(Some(Deadline::after(FAILED_START_GRACE)))?
                    .is_none()
                {
                    child.signal(nix::sys::signal::Signal::SIGKILL)?;
                }
                let exitcode = child.wait_until(None).ok().flatten();
                Err(why.unwrap_or(Error::DiedDuringStart { pid, exitcode }))
            }
        }
    }
}
