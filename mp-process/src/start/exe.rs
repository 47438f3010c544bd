//! The one way to start a fresh execution of this program: `/proc/self/exe` with the mark.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::start::mark::{CHILD_ENV, Mark};
use crate::sys;

/// The running program, even if its file was deleted or replaced since it started.
const SELF_EXE: &str = "/proc/self/exe";

/// A command that runs this program afresh as `boot(inherit)`: `inherit` stays open across the
/// exec under its number, and, with `die_with: Some(parent pid)`, the new process is SIGKILLed
/// when its parent thread exits. Every other descriptor is closed by the new process itself,
/// first thing ([`crate::entry`]).
pub(crate) fn fresh_command(
    boot: mp_sync::raw::FnRef<crate::start::mark::BootFn>,
    inherit: BorrowedFd<'_>,
    die_with: Option<i32>,
) -> Command {
    let mut command = Command::new(SELF_EXE);
    // The program's own arguments, so that `std::env::args()` in a child is its parent's (as
    // Python passes `sys.argv`); the child never reaches `main`, which would read them.
    let mut args = std::env::args_os();
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    command.args(args);
    let fd = inherit.as_raw_fd();
    command.env(CHILD_ENV, Mark { boot, fd }.to_env());
    sys::prepare_exec(&mut command, fd, die_with);
    command
}
