//! The child's way in: the one piece of magic in mp-process, documented in one place.
//!
//! A spawn child, and the fork server, are fresh executions of the current program
//! (`/proc/self/exe`), marked with the environment variable
//! `MP_PROCESS_CHILD` ([`crate::start::mark`]). The function
//! `child_entry` sits in the ELF `.init_array`, so the dynamic loader runs it before `main` —
//! and before the libtest harness in a test binary. Unmarked, it returns at once and the
//! program runs as usual; marked, it removes the mark (so that the child's own children do not
//! see it), closes every descriptor but the standard streams and the one its parent passed it,
//! and never returns: it runs the function the mark names with that descriptor (a spawn child's
//! trampoline, or the fork server's loop). No code of the user's runs twice, and no call in
//! `main` is needed.

use std::panic::catch_unwind;

use crate::start::mark::{CHILD_ENV, Mark};
use crate::start::run;
use crate::sys;

/// Runs before `main` in every execution of a program that links mp-process.
///
/// The crate's one `unsafe` attribute outside `sys`: placing a function pointer in
/// `.init_array` is what that section is for, and the function is an ordinary safe one.
#[allow(unsafe_code)]
#[used]
#[unsafe(link_section = ".init_array")]
static CHILD_ENTRY: extern "C" fn() = child_entry;

/// Takes over a marked execution; returns at once from an unmarked one.
extern "C" fn child_entry() {
    let Some(mark) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    // This runs from `.init_array`, before `main`, while the process has a single thread.
    sys::remove_env_single_threaded(CHILD_ENV);
    // std's stack-overflow report is set up in `main`, which this process never runs.
    crate::sys::install_stack_overflow_report();
    let mark = mark.to_string_lossy().into_owned();
    // A panic must not unwind out of an `extern "C"` function: catch it and leave.
    let failure = catch_unwind(|| {
        let Some(Mark { boot, fd }) = Mark::parse(&mark) else {
            return format!("malformed {CHILD_ENV}={mark:?}");
        };
        // Whatever the parent left open without FD_CLOEXEC is not ours: a fresh child shares
        // nothing with its parent but what it is sent. Nothing here owns a descriptor yet.
        if let Err(e) = sys::close_fds_except(fd) {
            return format!("closing inherited descriptors: {e}");
        }
        match sys::inherited_fd(fd) {
            Ok(fd) => (boot.get())(fd),
            Err(e) => format!("the descriptor {fd} named in the mark: {e}"),
        }
    });
    let why = failure.unwrap_or_else(|p| run::panic_message(p.as_ref()));
    run::start_up_failed(&why)
}
