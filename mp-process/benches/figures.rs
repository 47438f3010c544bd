//! mp-process's figures for `cargo xtask bench`: `figures <name> <ours|floor>` prints one number
//! (the protocol is `xtask/bench/protocol.rs`).
//!
//! Each repeat is the mean time of `n` start+join cycles of a target that returns at once, the
//! same work as the Python side (`xtask/bench/mp_bench.py`); the median of 5 repeats is printed.
//! The floor of fork and forkserver is a bare `fork()` + `_exit(0)` + `waitpid()`; that of spawn,
//! what executing this program at all costs: `posix_spawn()` of it, exiting at the start of
//! `main`, + `waitpid()`.

use std::time::Instant;

use mp_process::{Process, StartMethod};

#[path = "../../xtask/bench/protocol.rs"]
mod protocol;

/// Repeats per figure; the median is printed.
const REPS: usize = 5;

/// The argument that makes this program exit at once (for the exec floor).
const EXIT_AT_ONCE: &str = "--exit-at-once";

const FIGURES: &[(&str, protocol::Figure)] = &[
    ("process/start_join/fork", |floor| {
        if floor {
            fork_waitpid(200)
        } else {
            start_join(StartMethod::Fork, 200)
        }
    }),
    ("process/start_join/spawn", |floor| {
        if floor {
            exec_waitpid(20)
        } else {
            start_join(StartMethod::Spawn, 20)
        }
    }),
    ("process/start_join/forkserver", |floor| {
        if floor {
            fork_waitpid(200)
        } else {
            start_join(StartMethod::ForkServer, 200)
        }
    }),
];

fn main() {
    if std::env::args().nth(1).as_deref() == Some(EXIT_AT_ONCE) {
        return;
    }
    protocol::run(FIGURES, REPS);
}

fn noop(_: ()) {}

/// ms per start+join under `method`, averaged over `n` (after one warm-up, which starts the
/// fork server once).
fn start_join(method: StartMethod, n: usize) -> f64 {
    let once = || {
        let mut p = Process::builder().start_method(method).target(noop, ());
        p.start().expect("start");
        assert_eq!(p.join().expect("join"), 0);
    };
    once();
    mean_ms(n, once)
}

/// ms per bare fork + _exit + waitpid, averaged over `n`.
fn fork_waitpid(n: usize) -> f64 {
    mean_ms(n, || {
        // SAFETY: the child only calls _exit, which is async-signal-safe.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            // SAFETY: _exit never returns.
            nix::unistd::ForkResult::Child => unsafe { libc::_exit(0) },
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).expect("waitpid");
            }
        }
    })
}

/// ms per posix_spawn of this same program, which exits at once, + waitpid, averaged over `n`.
fn exec_waitpid(n: usize) -> f64 {
    mean_ms(n, || {
        // Without pre_exec hooks std uses posix_spawn.
        let status = std::process::Command::new("/proc/self/exe")
            .arg(EXIT_AT_ONCE)
            .status()
            .expect("spawn");
        assert!(status.success());
    })
}

/// ms per call of `once`, averaged over `n` calls.
fn mean_ms(n: usize, mut once: impl FnMut()) -> f64 {
    let t0 = Instant::now();
    for _ in 0..n {
        once();
    }
    t0.elapsed().as_secs_f64() * 1e3 / n as f64
}
