//! The tasks and checks mp-pool's tests share (included with `#[path]` beside `bounded.rs`,
//! which it uses): plain `fn`s a worker process runs under every start method, one that kills
//! its worker at [`FATAL`], and the whole-test bound.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

/// The bound on a whole test (each does several pool runs): far above what any needs, on a
/// loaded machine.
pub const TEST_BOUND: Duration = Duration::from_secs(60);

/// Runs `body` on its own thread and fails if it does not finish within [`TEST_BOUND`].
pub fn bounded<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    super::bounded::on_thread_within(TEST_BOUND, body)
}

/// The work of most tests.
pub fn square(x: u64) -> u64 {
    x * x
}

/// The item that kills its worker in [`square_or_sigkill`] and [`square_or_exit`].
pub const FATAL: u64 = 500;

/// [`square`], except that [`FATAL`] SIGKILLs its worker.
pub fn square_or_sigkill(x: u64) -> u64 {
    if x == FATAL {
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    x * x
}

/// [`square`], except that [`FATAL`] makes its worker exit with code 7.
pub fn square_or_exit(x: u64) -> u64 {
    if x == FATAL {
        std::process::exit(7);
    }
    x * x
}

/// The worker's process id.
pub fn pid(_: ()) -> u32 {
    std::process::id()
}

/// Sleeps for `ms` milliseconds and returns it.
pub fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Whether a process with this pid exists (a zombie counts).
pub fn exists(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

/// Waits (bounded) until none of `pids` exists.
pub fn all_gone(pids: &[u32]) {
    super::bounded::wait_until(|| !pids.iter().any(|&p| exists(p)));
}
