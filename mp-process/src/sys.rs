//! The OS seam: every system call mp-process makes that `nix` does not wrap safely.
//!
//! Everything Linux-specific that needs `unsafe` lives here, small and commented, so that the rest
//! of the crate is safe code over these functions.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Opens a pidfd for `pid`: a file descriptor that refers to that process for as long as the
/// descriptor lives, becomes readable when the process terminates (before it is reaped), and can be
/// signalled without the pid-reuse race of `kill(pid, ...)`.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and a flags word and returns a new descriptor or -1; no
    // memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `signal` to the process behind `pidfd`. A process that has already exited is not an
/// error: signalling it is a no-op, as in Python's `terminate()` of a finished process.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: the descriptor is valid for the call (borrowed); the siginfo pointer may be null.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ESRCH) {
            return Ok(());
        }
        return Err(err);
    }
    Ok(())
}

/// Waits until `fd` is readable or `timeout` passes (`None`: forever). Returns whether it is readable.
/// Retries on `EINTR` with the time that is left.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let left = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up so that a sub-millisecond wait does not turn into a busy loop.
                let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, left) {
            Ok(0) => {
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    return Ok(false);
                }
            }
            Ok(_) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Clears `FD_CLOEXEC` on `fd`, so that it survives the `exec` of a child. Async-signal-safe: may
/// be called between `fork` and `exec`.
pub(crate) fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor number with integer arguments touches no memory of ours.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Asks the kernel to SIGKILL this process when its parent thread exits. Async-signal-safe.
pub(crate) fn set_parent_death_kill() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes integers only.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Leaves the process at once with `code`, running no destructors and no `atexit` handlers: the
/// only safe way out of a forked child, whose copies of the parent's locks may be held.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// How many threads this process has now: the link count of `/proc/self/task` is two more than
/// its entries (one per thread). One `stat`, cheaper than reading `/proc/self/stat`.
pub(crate) fn thread_count() -> io::Result<usize> {
    use std::os::unix::fs::MetadataExt;
    let links = std::fs::metadata("/proc/self/task")?.nlink();
    Ok(links.saturating_sub(2).max(1) as usize)
}

/// Registers `f` to run when the process exits normally (`exit`, or returning from `main`).
pub(crate) fn at_exit(f: extern "C" fn()) {
    // SAFETY: atexit stores the function pointer; `f` is a plain function valid for the whole
    // program. A failure (no room) only means the hook does not run.
    unsafe {
        libc::atexit(f);
    }
}

/// The kind of `fork` result the start methods see.
pub(crate) enum Forked {
    /// In the parent, with the child's pid.
    Parent(i32),
    /// In the new child.
    Child,
}

/// Forks the process.
///
/// # Safety
/// In the child only async-signal-safe work is sound if the parent had other threads: their
/// locks (malloc's aside, which glibc resets) are copied in whatever state they were in. The
/// caller decides what the child runs; see `start::fork` for how mp-process keeps this sound.
pub(crate) unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: forwarded to the caller's contract above.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Forked::Parent(child.as_raw())),
        Ok(nix::unistd::ForkResult::Child) => Ok(Forked::Child),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thread_count_sees_a_new_thread() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        // This thread and the new one at least (other tests' threads come and go meanwhile).
        assert!(super::thread_count().unwrap() >= 2);
        drop(tx);
        let _ = t.join();
    }
}
