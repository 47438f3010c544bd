//! The spawn start method: the child is a fresh execution of this program.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;

use crate::child::{ChildShared, Reaper};
use crate::context::ChildStart;
use crate::entry::{CHILD_ENV, Role};
use crate::error::{Error, Result};
use crate::start::handshake::{self, Started};
use crate::sys;
use crate::target::FunctionTarget;

/// The running program, even if its file was deleted or replaced since it started.
const SELF_EXE: &str = "/proc/self/exe";

/// Starts a fresh execution of this program that runs `target`.
pub(crate) fn start(
    target: Box<dyn FunctionTarget>,
    start: ChildStart,
) -> Result<Arc<ChildShared>> {
    let daemon = start.daemon;
    let parent_pid = start.parent_pid;
    handshake::fresh_child(target, start, |server, trampoline| {
        let mut command = Command::new(SELF_EXE);
        // The program's own arguments, so that `std::env::args()` in a child is its parent's (as
        // Python passes `sys.argv`); the child never reaches `main`, which would read them.
        let mut args = std::env::args_os();
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        command.args(args);
        command.env(
            CHILD_ENV,
            Role::Spawned {
                server: server.to_owned(),
                trampoline,
            }
            .mark(),
        );
        if daemon {
            // SAFETY: the closure runs between fork and exec and makes only async-signal-safe
            // calls (prctl, getppid).
            unsafe {
                command.pre_exec(move || {
                    sys::set_parent_death_kill()?;
                    if nix::unistd::getppid().as_raw() != parent_pid {
                        // The parent died before the signal was armed: it would never come.
                        return Err(std::io::Error::other("parent already exited"));
                    }
                    Ok(())
                });
            }
        }
        let child = command
            .spawn()
            .map_err(Error::os("starting a spawn child"))?;
        let pid = child.id() as i32;
        // Race-free: the child cannot be reaped (and its pid reused) before we wait for it.
        let pidfd = sys::pidfd_open(pid).map_err(Error::os("pidfd_open"))?;
        Ok(Started {
            pid,
            pidfd,
            reaper: Reaper::Us,
        })
    })
}
