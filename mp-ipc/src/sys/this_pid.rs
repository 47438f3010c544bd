//! [`this_pid`]: the calling process's id without a system call on every look (glibc caches
//! no pid since 2.25, so `std::process::id()` is a `getpid` each time, and a [`WaitSet`]
//! wait looks at it every call, to tell an inherited watcher from its own).
//!
//! The cache is reset in every fork child by a `pthread_atfork` child handler, which runs in
//! the child before `fork` returns there, so no code of the child ever reads the parent's pid
//! (every fork in this workspace goes through libc's `fork`, which runs the handlers). The
//! pid is cached only once the handler is registered: a child forked before that reads no
//! cache that is not its own.
//!
//! [`WaitSet`]: crate::WaitSet

use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

/// The cached pid; 0: not known (never a process's id here: pid 0 is the idle task).
static PID: AtomicU32 = AtomicU32::new(0);

/// Whether the fork handler is registered: [`NOT_YET`], [`REGISTERING`], [`REGISTERED`] or
/// [`FAILED`].
static HOOK: AtomicU8 = AtomicU8::new(NOT_YET);

/// No thread tried to register the handler yet.
const NOT_YET: u8 = 0;
/// A thread registers it now (others read the pid without caching it meanwhile; a child
/// forked meanwhile never caches: its copy stays here).
const REGISTERING: u8 = 1;
/// Registered: the pid may be cached.
const REGISTERED: u8 = 2;
/// `pthread_atfork` failed: the pid is never cached.
const FAILED: u8 = 3;

/// Forgets the parent's pid in a fork child (the child handler of `pthread_atfork`; it only
/// stores to an atomic, which is async-signal-safe).
extern "C" fn forget_pid() {
    PID.store(0, Ordering::SeqCst);
}

/// The calling process's id: cached after the first look, and looked up afresh after a fork.
pub(crate) fn this_pid() -> u32 {
    let cached = PID.load(Ordering::SeqCst);
    if cached != 0 {
        return cached;
    }
    let pid = std::process::id();
    if registered() {
        PID.store(pid, Ordering::SeqCst);
    }
    pid
}

/// Registers the fork handler once; whether it is registered.
fn registered() -> bool {
    match HOOK.compare_exchange(NOT_YET, REGISTERING, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => {
            // SAFETY: `forget_pid` is a plain `extern "C"` function that lives for the whole
            // process and only stores to an atomic; no prepare or parent handler is given.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) };
            let state = if rc == 0 { REGISTERED } else { FAILED };
            HOOK.store(state, Ordering::SeqCst);
            state == REGISTERED
        }
        Err(state) => state == REGISTERED,
    }
}

#[cfg(test)]
mod tests {
    use super::this_pid;

    #[test]
    fn the_cached_pid_is_this_process_s() {
        assert_eq!(this_pid(), std::process::id());
        assert_eq!(this_pid(), std::process::id());
    }

    #[test]
    fn a_fork_child_looks_its_own_pid_up() {
        let parent = this_pid();
        // SAFETY: the child only calls `this_pid` (an atomic load, a `getpid`, an atomic
        // store: no lock another thread could hold) and `_exit`.
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork failed");
        if child == 0 {
            let own = this_pid() == std::process::id() && this_pid() != parent;
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(if own { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked; `status` is a valid out-pointer.
        let reaped = unsafe { libc::waitpid(child, &mut status, 0) };
        assert_eq!(reaped, child);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status}"
        );
        assert_eq!(this_pid(), parent);
    }
}
