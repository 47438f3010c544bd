//! The pool's one OS call: a worker process asks to die with its parent.

use std::io;

/// Asks the kernel to SIGKILL this process when the thread that started it exits (for a
/// worker: the pool's supervisor thread, or the fork server, which exits with the pool's
/// process). Unlike a daemon child, a process that set this may still start children.
pub(crate) fn die_with_parent() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes integers only and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Registers `f` to run when the process exits normally (`exit`, or returning from `main`).
pub(crate) fn at_exit(f: extern "C" fn()) {
    // SAFETY: atexit stores the function pointer; `f` is a plain function valid for the whole
    // program. A failure (no room) only means the hook does not run.
    unsafe {
        libc::atexit(f);
    }
}
