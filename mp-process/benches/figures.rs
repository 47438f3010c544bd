//! mp-process's figures for `cargo xtask bench`: `figures <name> <ours|floor>` prints one number.
//!
//! Each figure is the median of 5 batches, each batch the mean time of `n` start+join cycles of
//! a target that returns at once, the same work as the Python side (`xtask/bench/mp_bench.py`).
//! The floor of fork and forkserver is a bare `fork()` + `_exit(0)` + `waitpid()`; that of spawn,
//! what executing this program at all costs: `posix_spawn()` of it, exiting at the start of
//! `main`, + `waitpid()`.

use std::time::Instant;

use mp_process::{Process, StartMethod};

/// Batches per figure.
const BATCHES: usize = 5;

fn noop(_: ()) {}

/// ms per start+join under `method`, averaged over `n`.
fn start_join(method: StartMethod, n: usize) -> f64 {
    let once = || {
        let mut p = Process::builder().start_method(method).target(noop, ());
        p.start().expect("start");
        assert_eq!(p.join().expect("join"), 0);
    };
    // Warm up (starts the fork server once).
    once();
    median(|| {
        let t0 = Instant::now();
        for _ in 0..n {
            once();
        }
        t0.elapsed().as_secs_f64() * 1e3 / n as f64
    })
}

/// ms per bare fork + _exit + waitpid, averaged over `n`.
fn fork_waitpid(n: usize) -> f64 {
    median(|| {
        let t0 = Instant::now();
        for _ in 0..n {
            // SAFETY: the child only calls _exit, which is async-signal-safe.
            match unsafe { nix::unistd::fork() }.expect("fork") {
                // SAFETY: _exit never returns.
                nix::unistd::ForkResult::Child => unsafe { libc::_exit(0) },
                nix::unistd::ForkResult::Parent { child } => {
                    nix::sys::wait::waitpid(child, None).expect("waitpid");
                }
            }
        }
        t0.elapsed().as_secs_f64() * 1e3 / n as f64
    })
}

/// The argument that makes this program exit at once (for the exec floor).
const EXIT_AT_ONCE: &str = "--exit-at-once";

/// ms per posix_spawn of this same program, which exits at once, + waitpid, averaged over `n`.
fn exec_waitpid(n: usize) -> f64 {
    median(|| {
        let t0 = Instant::now();
        for _ in 0..n {
            // Without pre_exec hooks std uses posix_spawn.
            let status = std::process::Command::new("/proc/self/exe")
                .arg(EXIT_AT_ONCE)
                .status()
                .expect("spawn");
            assert!(status.success());
        }
        t0.elapsed().as_secs_f64() * 1e3 / n as f64
    })
}

fn median(mut batch: impl FnMut() -> f64) -> f64 {
    let mut values: Vec<f64> = (0..BATCHES).map(|_| batch()).collect();
    values.sort_by(f64::total_cmp);
    values[BATCHES / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(EXIT_AT_ONCE) {
        return;
    }
    // `cargo bench` passes `--bench`; a figure is asked for by name and side.
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let value = match args.as_slice() {
        ["process/start_join/spawn", "floor"] => exec_waitpid(20),
        [name, "floor"] if name.starts_with("process/start_join/") => fork_waitpid(200),
        ["process/start_join/fork", "ours"] => start_join(StartMethod::Fork, 200),
        ["process/start_join/spawn", "ours"] => start_join(StartMethod::Spawn, 20),
        ["process/start_join/forkserver", "ours"] => start_join(StartMethod::ForkServer, 200),
        _ => {
            eprintln!("usage: figures <process/start_join/{{fork,spawn,forkserver}}> <ours|floor>");
            std::process::exit(2);
        }
    };
    println!("{value:.4}");
}
