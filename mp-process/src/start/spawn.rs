//! The spawn start method: the child is a fresh execution of this program, which inherits the
//! receiving end of its launch channel across the exec.

use std::sync::Arc;

use crate::child::{ChildShared, Reaper};
use crate::error::{Error, Result};
use crate::start::exe;
use crate::start::launch::{self, LaunchChannels, Started};
use crate::start::wire::ChildStart;
use crate::sys;
use crate::target::FunctionTarget;

/// Starts a fresh execution of this program that runs `target`.
pub(crate) fn start(
    target: Box<dyn FunctionTarget>,
    start: ChildStart,
) -> Result<Arc<ChildShared>> {
    let channels = LaunchChannels::new()?;
    let die_with = start.daemon.then_some(start.parent_pid);
    let pid = exe::start_fresh(target.trampoline(), channels.child_end(), die_with)
        .map_err(Error::os("starting a spawn child"))?;
    // Race-free: the child cannot be reaped (and its pid reused) before we wait for it.
    let pidfd = match sys::pidfd_open(pid) {
        Ok(pidfd) => pidfd,
        Err(e) => {
            // No way to watch it: it must not run unwatched, nor stay a zombie.
            sys::kill_and_reap(pid);
            return Err(Error::os("pidfd_open")(e));
        }
    };
    let started = Started {
        pid,
        pidfd,
        reaper: Reaper::Us,
    };
    launch::launch(started, channels, target, start)
}
