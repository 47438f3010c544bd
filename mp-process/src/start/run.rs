//! The child's side of a start, after it knows its target: run it, report a panic, leave with
//! its exit code. Shared by every start method.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use ipc_channel::ipc::IpcSender;

use crate::start::wire::ChildReport;
use crate::{context, sys};

/// The exit code of a child whose start-up failed before its target ran (`EX_SOFTWARE`).
pub(crate) const STARTUP_FAILED: i32 = 70;

/// Fault injection for tests of start-up failures: a fresh child that finds this variable set
/// exits with the code it holds before it reads its launch message, as a child killed during
/// start-up would. Acted on only by spawn and forkserver children, never by the fork server,
/// which reads it once for all its children ([`read_fault_injection`]).
pub(crate) const FAULT_ENV: &str = "MP_PROCESS_TEST_EXIT_AT_STARTUP";

/// [`FAULT_ENV`]'s code, read once per process image: a forkserver child inherits the server's
/// reading (its environment is the server's, fixed at the server's start).
static STARTUP_FAULT: OnceLock<Option<i32>> = OnceLock::new();

/// Reads [`FAULT_ENV`], once: in the fork server before its forks, since a child that read the
/// environment itself faulted in five pages of the server's for it (the lookup's code, the
/// environment lock).
pub(crate) fn read_fault_injection() -> Option<i32> {
    *STARTUP_FAULT
        .get_or_init(|| std::env::var_os(FAULT_ENV).and_then(|v| v.to_str()?.parse::<i32>().ok()))
}

/// Exits at once if [`FAULT_ENV`] asks for it.
pub(crate) fn die_here_if_asked() {
    if let Some(code) = read_fault_injection() {
        sys::exit_now(code);
    }
}

/// Leaves a child whose start-up failed, saying why on stderr.
pub(crate) fn start_up_failed(why: &str) -> ! {
    eprintln!("mp-process: child start-up failed: {why}");
    sys::exit_now(STARTUP_FAILED)
}

/// Runs a child's target and leaves the process with its exit code: 0 on return, 1 on a panic
/// (reported to the parent; the panic hook has already printed it to stderr), or whatever code
/// the target passed to `std::process::exit`.
pub(crate) fn run_target(report: &IpcSender<ChildReport>, target: impl FnOnce()) -> ! {
    let code = match catch_unwind(AssertUnwindSafe(target)) {
        Ok(()) => 0,
        Err(payload) => {
            let _ = report.send(ChildReport::Panicked(panic_message(payload.as_ref())));
            1
        }
    };
    context::leave_child(code)
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
