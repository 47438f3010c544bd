//! The child's way in: the one piece of magic in mp-process, documented in one place.
//!
//! A spawn child, and the fork server, are fresh executions of the current program
//! (`/proc/self/exe`). The parent marks them with the environment variable [`CHILD_ENV`]. The
//! function [`child_entry`] sits in the ELF `.init_array`, so the dynamic loader runs it before
//! `main` — and before the libtest harness in a test binary. Unmarked, it returns at once and the
//! program runs as usual; marked, it removes the mark (so that the child's own children do not see
//! it) and never returns: it becomes the requested child, or the fork server. No code of the
//! user's runs twice, and no call in `main` is needed.
//!
//! Functions travel between parent and child as offsets from [`anchor`], a function of this
//! crate: parent and child run the same executable image, so `anchor + offset` is the same
//! function in both, wherever ASLR put the image (procspawn's scheme).
//!
//! The handshake of a fresh child ([`bootstrap`]):
//! 1. it connects to the parent's one-shot server named in the mark and sends [`Hello::Ready`]
//!    with the sending end of a new channel;
//! 2. the parent sends one [`Launch`] message on it: the target (an offset), the child's name and
//!    identity, its parent, a report channel, and the arguments, whose file descriptors (channels,
//!    shared memory) ipc-channel moves with the message;
//! 3. the trampoline for the argument type decodes it, runs the target, reports a panic, and
//!    leaves with the target's exit code.

use std::panic::{AssertUnwindSafe, catch_unwind};

use ipc_channel::ipc::{self, IpcSender, OpaqueIpcReceiver, OpaqueIpcSender};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{context, start, sys};

/// The environment variable that marks a fresh execution of the program as one of ours.
pub(crate) const CHILD_ENV: &str = "MP_PROCESS_CHILD";

/// The exit code of a child whose start-up failed before its target ran (`EX_SOFTWARE`).
pub(crate) const STARTUP_FAILED: i32 = 70;

/// Runs before `main` in every execution of a program that links mp-process.
#[used]
#[unsafe(link_section = ".init_array")]
pub(crate) static CHILD_ENTRY: extern "C" fn() = child_entry;

/// Takes over a marked execution; returns at once from an unmarked one.
extern "C" fn child_entry() {
    let Some(mark) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    // SAFETY: this runs from `.init_array`, before `main`, while the process has a single thread:
    // nothing can read the environment concurrently.
    unsafe { std::env::remove_var(CHILD_ENV) };
    // std's stack-overflow report is set up in `main`, which this process never runs.
    crate::sys_stack_overflow::install();
    let mark = mark.to_string_lossy().into_owned();
    // A panic must not unwind out of an `extern "C"` function: catch it and leave.
    let failure = catch_unwind(|| match Role::parse(&mark) {
        Some(Role::Spawned { server, trampoline }) => bootstrap(&server, trampoline),
        Some(Role::ForkServer { fd, server }) => start::forkserver::serve(fd, &server),
        None => format!("malformed {CHILD_ENV}={mark:?}"),
    });
    let why = failure.unwrap_or_else(|p| panic_message(p.as_ref()));
    eprintln!("mp-process: child start-up failed: {why}");
    sys::exit_now(STARTUP_FAILED)
}

/// What a marked execution is asked to be.
#[derive(Debug, PartialEq)]
pub(crate) enum Role {
    /// A child: connect to the one-shot server `server`, then jump to `trampoline`.
    Spawned {
        /// The parent's one-shot server name.
        server: String,
        /// The trampoline's offset.
        trampoline: usize,
    },
    /// The fork server, talking to its parent over the inherited socket `fd`, after saying
    /// hello on the one-shot server `server`.
    ForkServer {
        /// The inherited socket.
        fd: i32,
        /// The parent's one-shot server name.
        server: String,
    },
}

impl Role {
    /// The mark's text: `spawn;<layout>;<trampoline>;<server>` or
    /// `forkserver;<layout>;<fd>;<server>`.
    pub(crate) fn mark(&self) -> String {
        let layout = layout_check();
        match self {
            Role::Spawned { server, trampoline } => format!("spawn;{layout};{trampoline};{server}"),
            Role::ForkServer { fd, server } => format!("forkserver;{layout};{fd};{server}"),
        }
    }

    /// Parses a mark; `None` if it is malformed or from a different executable image.
    pub(crate) fn parse(mark: &str) -> Option<Role> {
        let mut parts = mark.splitn(4, ';');
        let kind = parts.next()?;
        let layout: usize = parts.next()?.parse().ok()?;
        if layout != layout_check() {
            return None;
        }
        match kind {
            "spawn" => Some(Role::Spawned {
                trampoline: parts.next()?.parse().ok()?,
                server: parts.next()?.to_owned(),
            }),
            "forkserver" => Some(Role::ForkServer {
                fd: parts.next()?.parse().ok()?,
                server: parts.next()?.to_owned(),
            }),
            _ => None,
        }
    }
}

/// Fault injection for tests of start-up failures: a fresh child that finds this variable set
/// exits with the code it holds before it talks to its parent, as a child killed during
/// start-up would. Read only by spawn and forkserver children, never by the fork server.
pub(crate) const FAULT_ENV: &str = "MP_PROCESS_TEST_EXIT_AT_STARTUP";

/// Exits at once if [`FAULT_ENV`] asks for it.
pub(crate) fn die_here_if_asked() {
    if let Some(code) = std::env::var_os(FAULT_ENV).and_then(|v| v.to_str()?.parse::<i32>().ok()) {
        sys::exit_now(code);
    }
}

/// The first message of a fresh child, on the parent's one-shot server.
#[derive(Serialize, Deserialize)]
pub(crate) enum Hello {
    /// The child is up and waits for its [`Launch`] on `launch`.
    Ready {
        /// Where the parent sends the launch message.
        launch: OpaqueIpcSender,
    },
    /// Sent by the parent's own watchdog when the child died before it said hello.
    Abandoned,
}

/// Everything a fresh child needs but its arguments.
#[derive(Serialize, Deserialize)]
pub(crate) struct LaunchHeader {
    /// The target `fn(A)`, as an offset.
    pub(crate) target: usize,
    /// Who the child is, and who its parent is.
    pub(crate) context: context::ChildStart,
    /// Where the child reports a panic.
    pub(crate) report: IpcSender<ChildReport>,
}

/// The launch message: header and arguments.
#[derive(Serialize, Deserialize)]
pub(crate) struct Launch<A> {
    /// Everything but the arguments.
    pub(crate) header: LaunchHeader,
    /// The arguments.
    pub(crate) args: A,
}

/// What a child tells its parent before it exits.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ChildReport {
    /// The target panicked with this message.
    Panicked(String),
}

/// A fresh child's handshake (steps 1 and 2 of the module docs); returns only on failure.
pub(crate) fn bootstrap(server: &str, trampoline: usize) -> String {
    die_here_if_asked();
    match say_hello(server) {
        Ok(launch) => run_trampoline(trampoline, launch),
        Err(why) => why,
    }
}

/// Connects to the parent's one-shot server `server` and says [`Hello::Ready`] with the sending
/// end of a new channel; returns its receiving end, where the parent's messages will come.
pub(crate) fn say_hello(server: &str) -> Result<OpaqueIpcReceiver, String> {
    let (launch_tx, launch_rx) = ipc::channel::<()>().map_err(|e| e.to_string())?;
    let hello = IpcSender::<Hello>::connect(server.to_owned())
        .map_err(|e| format!("connecting to the parent: {e}"))?;
    hello
        .send(Hello::Ready {
            launch: launch_tx.to_opaque(),
        })
        .map_err(|e| format!("greeting the parent: {e}"))?;
    Ok(launch_rx.to_opaque())
}

/// Jumps to the trampoline at offset `trampoline` with the receiving end of the launch channel;
/// returns only on failure.
pub(crate) fn run_trampoline(trampoline: usize, launch: OpaqueIpcReceiver) -> String {
    // SAFETY: the parent computed `trampoline` with `code_offset` from a `fn(OpaqueIpcReceiver)
    // -> String` (a `trampoline::<A>`) of this same executable image (checked by the layout
    // field of the mark), so `anchor + trampoline` is that function here.
    let trampoline = unsafe { function_at::<fn(OpaqueIpcReceiver) -> String>(trampoline) };
    trampoline(launch)
}

/// Step 3 for argument type `A`: receives the launch message, becomes the child, runs the target.
/// Returns only on failure.
pub(crate) fn trampoline<A>(launch: OpaqueIpcReceiver) -> String
where
    A: Serialize + DeserializeOwned,
{
    let launch = match launch.to::<Launch<A>>().recv() {
        Ok(launch) => launch,
        Err(e) => return format!("receiving the target and its arguments: {e}"),
    };
    let Launch { header, args } = launch;
    // SAFETY: the parent computed `header.target` with `code_offset` from the `fn(A)` of the
    // `FnTarget<A>` whose trampoline is this very `trampoline::<A>`, in the same executable image.
    let target = unsafe { function_at::<fn(A)>(header.target) };
    if let Err(why) = context::become_child(header.context) {
        return why;
    }
    run_target(&header.report, move || target(args))
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

/// The reference point for code offsets. Never called; only its address matters.
#[inline(never)]
fn anchor() {}

/// A second function whose offset from [`anchor`] fingerprints the executable image: a mark made
/// by a different build of the program is refused rather than jumped into.
#[inline(never)]
fn layout_probe() {}

/// The offset of `layout_probe` from `anchor`.
fn layout_check() -> usize {
    code_offset(layout_probe as fn() as usize)
}

/// The offset of the code address `address` from [`anchor`]; the same in every process running
/// this executable image.
pub(crate) fn code_offset(address: usize) -> usize {
    address.wrapping_sub(anchor as fn() as usize)
}

/// The function at `offset` from [`anchor`].
///
/// # Safety
/// `offset` must come from [`code_offset`] applied, in a process running this same executable
/// image, to a function pointer of type `F`.
unsafe fn function_at<F: Copy>(offset: usize) -> F {
    assert_eq!(
        size_of::<F>(),
        size_of::<usize>(),
        "F must be a function pointer"
    );
    let address = (anchor as fn() as usize).wrapping_add(offset) as *const ();
    // SAFETY: by the contract, `address` is a function of type `F` in this process; F is a
    // function pointer type, the same size as a data pointer on Linux.
    unsafe { std::mem::transmute_copy::<*const (), F>(&address) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip() {
        let spawned = Role::Spawned {
            server: "/tmp/x;y/socket".into(),
            trampoline: 1234,
        };
        assert_eq!(Role::parse(&spawned.mark()), Some(spawned));
        let server = Role::ForkServer {
            fd: 7,
            server: "/tmp/s".into(),
        };
        assert_eq!(Role::parse(&server.mark()), Some(server));
    }

    #[test]
    fn a_mark_from_another_image_is_refused() {
        let mark = format!("spawn;{};1;/tmp/s", layout_check().wrapping_add(16));
        assert_eq!(Role::parse(&mark), None);
        assert_eq!(Role::parse("nonsense"), None);
    }

    #[test]
    fn offsets_round_trip_to_the_same_function() {
        fn double(x: usize) -> usize {
            x * 2
        }
        let offset = code_offset(double as fn(usize) -> usize as usize);
        // SAFETY: the offset was made from a `fn(usize) -> usize` of this image.
        let f = unsafe { function_at::<fn(usize) -> usize>(offset) };
        assert_eq!(f(21), 42);
    }
}
