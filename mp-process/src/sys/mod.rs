//! The OS seam: every `unsafe` and `libc` call of mp-process, and the system calls around them.
//!
//! Everything Linux-specific that needs `unsafe` lives here, small and commented, so that the rest
//! of the crate is safe code over these functions.

mod exit;
mod spawn;
mod stack_overflow;

pub(crate) use exit::{flush_c_stdio, leave};
pub(crate) use spawn::spawn_keeping;
pub(crate) use stack_overflow::install as install_stack_overflow_report;

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, UnixAddr, recvmsg, sendmsg};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

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

/// Removes `name` from the environment of a process that has one thread only (a fresh child
/// before `main`, from `.init_array`).
pub(crate) fn remove_env_single_threaded(name: &str) {
    // SAFETY: the caller runs before `main`, while the process has a single thread: nothing
    // can read the environment concurrently.
    unsafe { std::env::remove_var(name) };
}

/// A `&'static T` that can be replaced: each value is a `Box` leaked on purpose and never
/// freed, so a reference to any of them stays valid for the whole process (a forked child may
/// not know who else still reads the old one). Reading it takes no lock.
pub(crate) struct Leaked<T>(std::sync::atomic::AtomicPtr<T>);

impl<T> Leaked<T> {
    /// Nothing yet.
    pub(crate) const fn new() -> Leaked<T> {
        Leaked(std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()))
    }

    /// The current value, if any.
    pub(crate) fn get(&self) -> Option<&'static T> {
        let current = self.0.load(std::sync::atomic::Ordering::Acquire);
        // SAFETY: a non-null pointer here came from `Box::into_raw` in `set` or `replace` and
        // is never freed.
        unsafe { current.as_ref() }
    }

    /// Makes `value` the current value (the old one stays valid, leaked).
    pub(crate) fn set(&self, value: Box<T>) {
        self.0
            .store(Box::into_raw(value), std::sync::atomic::Ordering::Release);
    }

    /// Makes `value` current if `expected` still is; otherwise leaves it and returns the value
    /// that is current instead.
    pub(crate) fn replace(
        &self,
        expected: Option<&'static T>,
        value: Box<T>,
    ) -> Result<(), &'static T> {
        let expected = expected.map_or(std::ptr::null_mut(), |e| std::ptr::from_ref(e).cast_mut());
        let fresh = Box::into_raw(value);
        match self.0.compare_exchange(
            expected,
            fresh,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Acquire,
        ) {
            Ok(_) => Ok(()),
            Err(other) => {
                // SAFETY: `fresh` came from `Box::into_raw` above and was never published.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: `other` is non-null (we only ever store leaked boxes) and never freed.
                Err(unsafe { &*other })
            }
        }
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
/// Its two callers keep it sound: in the child only async-signal-safe work is sound if the
/// parent had other threads, whose locks (malloc's aside, which glibc resets) are copied in
/// whatever state they were in. The fork server is single-threaded; `start::fork` forks only a
/// process with no other thread, or one whose user allowed it for a child that avoids their
/// locks (`Builder::allow_fork_with_threads`, documented as such).
pub(crate) fn fork() -> io::Result<Forked> {
    // SAFETY: see above: the callers are a single-threaded server, and a start that checked
    // the thread count (or was explicitly allowed by the user, who takes the documented risk).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Forked::Parent(child.as_raw())),
        Ok(nix::unistd::ForkResult::Child) => Ok(Forked::Child),
        Err(e) => Err(e.into()),
    }
}

/// Closes every descriptor of this process from 3 up but `keep` (and 0, 1, 2): a fresh child
/// starts with the standard streams and mp's own descriptor only, whatever its parent left
/// open without `FD_CLOEXEC`. Async-signal-safe (two `close_range` calls).
///
/// Nothing in this process may own a descriptor being closed (its owner would close a number
/// that may by then be reused): call it before any such owner exists, or after they are gone.
pub(crate) fn close_fds_except(keep: RawFd) -> io::Result<()> {
    let close_range = |first: u32, last: u32| {
        if first > last {
            return Ok(());
        }
        // SAFETY: close_range takes integers only; the caller guarantees no owner of a closed
        // number is left in this process.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    let keep = u32::try_from(keep).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    if keep < 3 {
        return close_range(3, u32::MAX);
    }
    close_range(3, keep - 1)?;
    close_range(keep.saturating_add(1), u32::MAX)
}

/// Takes ownership of descriptor `fd`, which this process inherited at exec under a number
/// given in its mark; `EBADF` if no such descriptor is open.
pub(crate) fn inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD on a number only reads its flags.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: the descriptor is open (checked above) and the mark says it was passed to this
    // process to own: nothing else here refers to it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arranges for `command`'s child, between fork and exec, to keep `inherit` open across the exec
/// (the descriptor keeps its number) and, if `die_with` is `Some(parent pid)`, to be SIGKILLed
/// when its parent thread exits (failing the start if that parent is already gone).
pub(crate) fn prepare_exec(command: &mut Command, inherit: RawFd, die_with: Option<i32>) {
    let child_side = move || {
        clear_cloexec(inherit)?;
        if let Some(parent_pid) = die_with {
            set_parent_death_kill()?;
            if nix::unistd::getppid().as_raw() != parent_pid {
                // The parent died before the signal was armed: it would never come.
                return Err(io::Error::other("parent already exited"));
            }
        }
        Ok(())
    };
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls
    // (fcntl, prctl, getppid); it allocates nothing.
    unsafe {
        command.pre_exec(child_side);
    }
}

/// Python's exit code for a wait status: the exit status, or minus the signal that killed it.
fn exitcode_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(-(signal as i32)),
        _ => None,
    }
}

/// Reaps our child `pid`, waiting for it to exit; its exit code as Python gives it. The one
/// `waitpid` loop of the crate (children of ours, and the fork server's children).
pub(crate) fn reap(pid: i32) -> io::Result<i32> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(status) => {
                if let Some(code) = exitcode_of(status) {
                    return Ok(code);
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Kills and reaps our child `pid`, for a start that cannot go on (no pidfd could be opened for
/// it). The pid cannot have been reused: an unreaped child keeps it.
pub(crate) fn kill_and_reap(pid: i32) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    let _ = reap(pid);
}

/// Whether our child `pid` has exited (a zombie, or already reaped: nothing to wait for), now,
/// without reaping it: it stays ours to reap. Race-free while it is unreaped (its pid cannot be
/// reused).
pub(crate) fn has_exited(pid: i32) -> bool {
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
            Ok(WaitStatus::StillAlive) => return false,
            Ok(_) => return true,
            Err(nix::errno::Errno::EINTR) => {}
            // ECHILD: reaped already, so gone.
            Err(_) => return true,
        }
    }
}

/// Sends one datagram on a `SOCK_SEQPACKET` socket, with descriptor `fd` attached if given.
/// A peer that has gone is `EPIPE` (never SIGPIPE).
pub(crate) fn send_with_fd(
    sock: BorrowedFd<'_>,
    message: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let fds: Vec<RawFd> = fd.iter().map(AsRawFd::as_raw_fd).collect();
    let control: Vec<ControlMessage<'_>> = if fds.is_empty() {
        Vec::new()
    } else {
        vec![ControlMessage::ScmRights(&fds)]
    };
    loop {
        match sendmsg::<UnixAddr>(
            sock.as_raw_fd(),
            &[IoSlice::new(message)],
            &control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// One datagram received by [`recv_with_fd`].
pub(crate) enum Received {
    /// A datagram of this many bytes, with the descriptor that came with it.
    Datagram(usize, Option<OwnedFd>),
    /// The peer has closed its end.
    Closed,
    /// Nothing is waiting (only when not blocking).
    Empty,
}

/// Receives one datagram into `buffer` (blocking or not), with at most one descriptor.
/// A descriptor that came but could not be installed (this process is out of descriptors) is
/// `EMFILE`.
pub(crate) fn recv_with_fd(
    sock: BorrowedFd<'_>,
    buffer: &mut [u8],
    block: bool,
) -> io::Result<Received> {
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if !block {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    loop {
        let mut iov = [IoSliceMut::new(buffer)];
        match recvmsg::<UnixAddr>(sock.as_raw_fd(), &mut iov, Some(&mut space), flags) {
            Ok(msg) => {
                let mut fd = None;
                for cmsg in msg.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(fds) = cmsg {
                        for raw in fds {
                            // SAFETY: the kernel just installed this descriptor for us; nothing
                            // else owns it.
                            let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                            fd.get_or_insert(owned);
                        }
                    }
                }
                if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
                    return Err(io::Error::from_raw_os_error(libc::EMFILE));
                }
                if msg.bytes == 0 {
                    return Ok(Received::Closed);
                }
                return Ok(Received::Datagram(msg.bytes, fd));
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) if !block => return Ok(Received::Empty),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Makes the fork server deaf to SIGINT: ignored and blocked. The server outlives a Ctrl-C
/// sent to the whole process group, as Python's does. Blocked too, so that a SIGINT sent to a
/// child between its fork and [`restore_interrupts`] stays pending (Linux keeps a blocked
/// signal pending even while it is ignored) and acts then, instead of being lost
/// (`Process::interrupt` right after `start`). Returns whether SIGINT was blocked before.
pub(crate) fn ignore_interrupts() -> bool {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
    let mut sigint = SigSet::empty();
    sigint.add(Signal::SIGINT);
    let mut before = SigSet::empty();
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&sigint), Some(&mut before));
    // SAFETY: SIG_IGN installs no handler code.
    let _ = unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) };
    before.contains(Signal::SIGINT)
}

/// In a child of the fork server: SIGINT's default action back, then unblocked unless it was
/// blocked before [`ignore_interrupts`] (`was_blocked`); a SIGINT that came meanwhile acts now.
pub(crate) fn restore_interrupts(was_blocked: bool) {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
    // SAFETY: SIG_DFL installs no handler code.
    let _ = unsafe { signal(Signal::SIGINT, SigHandler::SigDfl) };
    if !was_blocked {
        let mut sigint = SigSet::empty();
        sigint.add(Signal::SIGINT);
        let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&sigint), None);
    }
}

/// Closes descriptor number `fd`, which nothing in this process will use again (the copy of
/// the parent's fork-server socket in a forked child, owned by a context that is never dropped).
pub(crate) fn close_unowned(fd: RawFd) {
    // SAFETY: closing a number; the caller guarantees its only owner is never used again.
    unsafe { libc::close(fd) };
}

/// The number of CPUs online, if the system says.
pub(crate) fn cpus_online() -> Option<usize> {
    // SAFETY: sysconf reads a system constant.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(online).ok().filter(|&n| n > 0)
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
