//! The one way to start a fresh execution of this program: `/proc/self/exe` with the mark.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::start::mark::{CHILD_ENV, Mark};
use crate::sys;

/// The running program, even if its file was deleted or replaced since it started.
const SELF_EXE: &str = "/proc/self/exe";

/// Starts this program afresh as `boot(inherit)`; the new process's pid. `inherit` stays open
/// across the exec under its number, and, with `die_with: Some(parent pid)`, the new process is
/// SIGKILLed when its parent thread exits. Every other descriptor is closed by the new process
/// itself, first thing ([`crate::entry`]).
///
/// Without `die_with` the child is started by `posix_spawn`, which copies nothing of this
/// process (a `fork` would copy its page tables: 0.1 ms and more, a quarter of a spawn start);
/// the parent-death signal needs code between fork and exec, so a daemon child is forked.
pub(crate) fn start_fresh(
    boot: mp_sync::raw::FnRef<crate::start::mark::BootFn>,
    inherit: BorrowedFd<'_>,
    die_with: Option<i32>,
) -> std::io::Result<i32> {
    let fd = inherit.as_raw_fd();
    let mark = Mark { boot, fd }.to_env();
    // The program's own arguments, so that `std::env::args()` in a child is its parent's (as
    // Python passes `sys.argv`); the child never reaches `main`, which would read them.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let Some(die_with) = die_with else {
        if args.is_empty() {
            args.push(SELF_EXE.into());
        }
        return sys::spawn_keeping(SELF_EXE, args, (CHILD_ENV, mark), fd);
    };
    let mut command = Command::new(SELF_EXE);
    let mut args = args.into_iter();
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    command.args(args);
    command.env(CHILD_ENV, mark);
    sys::prepare_exec(&mut command, fd, Some(die_with));
    Ok(command.spawn()?.id() as i32)
}
