//! xtask's OS seam: the few signals and the CPU pinning its commands need, and nothing else
//! of `libc`.
#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, Ordering};

/// The process group of the child running now (0: none). Read by [`on_fatal_signal`]: the
/// child has its own group, so a Ctrl-C at the terminal reaches only us, and we pass it on.
static CURRENT_GROUP: AtomicI32 = AtomicI32::new(0);

/// Installs the SIGINT/SIGTERM/SIGHUP handler once.
static INSTALL_HANDLER: Once = Once::new();

/// Records the process group a fatal signal must be passed on to (0: none).
pub(crate) fn set_current_group(group: i32) {
    CURRENT_GROUP.store(group, Ordering::SeqCst);
}

/// Signal handler: kills the running child's process group, then dies of the same signal.
extern "C" fn on_fatal_signal(sig: libc::c_int) {
    let group = CURRENT_GROUP.load(Ordering::SeqCst);
    // SAFETY: kill, signal and raise are async-signal-safe and have no memory-safety
    // preconditions; restoring the default action before raising makes us die of `sig`.
    unsafe {
        if group > 0 {
            libc::kill(-group, libc::SIGKILL);
        }
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Makes SIGINT, SIGTERM and SIGHUP kill the running child's process group before we exit.
pub(crate) fn install_signal_forwarding() {
    INSTALL_HANDLER.call_once(|| {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: `on_fatal_signal` is an `extern "C" fn(c_int)` that only calls
            // async-signal-safe functions and touches one atomic.
            unsafe {
                libc::signal(sig, on_fatal_signal as *const () as libc::sighandler_t);
            }
        }
    });
}

/// SIGKILLs every process of process group `group`.
pub(crate) fn kill_group(group: i32) {
    if group > 0 {
        // SAFETY: kill(2) with a negative pid signals a process group; it has no memory-safety
        // preconditions.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
}

/// Makes `command`'s child, and so everything it starts, run on CPU 0 only.
pub(crate) fn pin_to_cpu0_before_exec(command: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec; it only fills a local
    // cpu_set_t and makes one raw syscall (sched_setaffinity), which is async-signal-safe,
    // allocates nothing and takes no locks.
    unsafe {
        command.pre_exec(pin_to_cpu0);
    }
}

/// Restricts the calling process to CPU 0. Runs between fork and exec.
fn pin_to_cpu0() -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array, for which all-zero bytes are a valid (empty)
    // value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit of the set we own; 0 is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(0, &mut set) };
    // SAFETY: the pointer and size describe `set`, a valid cpu_set_t that outlives the call;
    // pid 0 means the calling process.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
