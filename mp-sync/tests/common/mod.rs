//! Test helpers: forked children with a bounded wait, and shared scratch memory.
//!
//! libtest runs tests on threads, so a forked child touches only the primitives, atomics
//! and raw memory, and leaves with `_exit` (no std locks, no printing).

#![allow(dead_code, unreachable_pub)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

#[path = "../../../test-support/bounded.rs"]
mod bounded;

pub use bounded::{BOUND, wait_until};

/// A forked child process.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
}

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(Signal),
}

/// Forks a child running `f`; its return value becomes the exit code (101 if it panics).
pub fn spawn(f: impl FnOnce() -> i32) -> Child {
    // SAFETY: the child only runs `f` (which by this module's contract touches primitives,
    // atomics and raw memory) and leaves with `_exit`, never returning into the test harness.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = catch_unwind(AssertUnwindSafe(f)).unwrap_or(101);
            // SAFETY: `_exit` is async-signal-safe and never returns.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Child { pid: child },
    }
}

impl Child {
    /// The child's pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Kills the child with SIGKILL (it stays a zombie until waited for).
    pub fn kill(&self) {
        kill(self.pid, Signal::SIGKILL).expect("kill");
    }

    /// Waits at most `bound` for the child; kills it and panics if it does not end in time.
    pub fn wait_within(self, bound: Duration) -> Exit {
        let deadline = Instant::now() + bound;
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)).expect("waitpid") {
                WaitStatus::Exited(_, code) => return Exit::Code(code),
                WaitStatus::Signaled(_, sig, _) => return Exit::Signal(sig),
                _ if Instant::now() >= deadline => {
                    let _ = kill(self.pid, Signal::SIGKILL);
                    let _ = waitpid(self.pid, None);
                    panic!("child {} still running after {bound:?}: killed", self.pid);
                }
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// Waits (bounded by [`BOUND`]) and asserts a zero exit code.
    pub fn join(self) {
        let pid = self.pid;
        assert_eq!(self.wait_within(BOUND), Exit::Code(0), "child {pid}");
    }
}

/// `n` zeroed 64-bit atomics in an anonymous shared mapping (inherited by forked children),
/// leaked for the rest of the test process.
pub fn shared_counters(n: usize) -> &'static [AtomicU64] {
    let len = n.max(1) * size_of::<AtomicU64>();
    // SAFETY: a fresh anonymous mapping; no address hint, no fd.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap");
    // SAFETY: the mapping is page-aligned, zeroed (a valid AtomicU64 array), never unmapped.
    unsafe { std::slice::from_raw_parts(p.cast::<AtomicU64>(), n) }
}

/// Runs `f` and asserts it took less than `limit`.
pub fn within<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < limit, "took {took:?}, limit {limit:?}");
    out
}

/// Forks a child that takes something with `acquire` (a lock, usually) and keeps it until
/// killed; returns once the child holds it.
pub fn spawn_holding<G>(acquire: impl FnOnce() -> G) -> Child {
    let flag = shared_counters(1);
    let child = spawn(|| {
        let _held = acquire();
        flag[0].store(1, std::sync::atomic::Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    wait_until(|| flag[0].load(std::sync::atomic::Ordering::SeqCst) == 1);
    child
}

/// Whether the process `pid` is asleep (state `S` in `/proc/<pid>/stat`): blocked in the
/// kernel, for instance on a futex, rather than running or spinning.
pub fn is_asleep(pid: Pid) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain spaces.
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
}

/// Returns once `pid` has been asleep at two looks 20 ms apart (failing after [`BOUND`]): it
/// got past any spinning and sleeps in the kernel.
pub fn wait_until_asleep(pid: Pid) {
    wait_until(|| {
        is_asleep(pid) && {
            std::thread::sleep(Duration::from_millis(20));
            is_asleep(pid)
        }
    });
}
