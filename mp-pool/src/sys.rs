//! The pool's OS calls: a worker process asks to die with its parent; a worker host (the
//! `redis` feature) removes its setting from the environment before `main`.

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

/// Removes `name` from the environment. Only from an `.init_array` entry, which runs while the
/// process has its one thread (before `main`).
#[cfg(feature = "redis")]
pub(crate) fn remove_env_single_threaded(name: &std::ffi::OsStr) {
    // SAFETY: called before `main`, while no other thread exists that could read the
    // environment at the same time.
    unsafe { std::env::remove_var(name) };
}
