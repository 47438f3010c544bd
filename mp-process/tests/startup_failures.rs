//! Children that die during start-up, and a fork server that dies: errors, never hangs.
//!
//! One test in this binary: it changes the environment and kills the fork server, which no
//! other test may see.

mod common;

use std::time::{Duration, Instant};

use common::{BOUND, join, state_and_ppid};
use mp_process::{Error, Process, StartMethod};

/// Read by spawn and forkserver children at start-up (see mp-process's `entry.rs`).
const FAULT: &str = "MP_PROCESS_TEST_EXIT_AT_STARTUP";

fn nothing(_: ()) {}

/// The pid of this process's fork server: the one child that is not `known`.
fn fork_server_pid(known: &[i32]) -> Option<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: i32 = entry.file_name().to_string_lossy().parse().ok()?;
            let (state, ppid) = state_and_ppid(pid)?;
            (ppid == me && state != 'Z' && !known.contains(&pid)).then_some(pid)
        })
}

/// Kills this process's fork server (so that the next forkserver start makes a new one, which
/// inherits the environment of that moment); its pid.
fn kill_fork_server() -> i32 {
    let server = fork_server_pid(&[]).expect("a fork server is running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    server
}

/// Starts a child under `method` that dies during start-up with code 3: the start fails with
/// [`Error::DiedDuringStart`] when the death comes before the parent handed over its arguments,
/// or, since the launch message waits in the child's inherited channel without the child
/// reading it, the start succeeds and the exit code says it. Either way, an answer within the
/// bound.
fn expect_death_at_start_up(method: StartMethod) {
    let started = Instant::now();
    let mut p = Process::builder().start_method(method).target(nothing, ());
    match p.start() {
        Err(Error::DiedDuringStart { exitcode, .. }) => {
            assert_eq!(exitcode, Some(3), "{method:?}: the child's own exit code");
            assert!(
                matches!(p.start(), Err(Error::Closed { .. })),
                "a failed start cannot be retried"
            );
        }
        Ok(()) => assert_eq!(join(&p), 3, "{method:?}"),
        other => panic!("{method:?}: expected DiedDuringStart, got {other:?}"),
    }
    assert!(
        started.elapsed() < BOUND,
        "{method:?}: answered, did not hang"
    );
}

fn start_and_join(method: StartMethod) {
    let mut p = Process::builder().start_method(method).target(nothing, ());
    p.start().unwrap();
    assert_eq!(join(&p), 0);
}

#[test]
fn start_up_failures_are_errors_and_a_dead_fork_server_is_replaced() {
    start_and_join(StartMethod::ForkServer);

    // SAFETY: the only test of this binary, and no child is being started meanwhile.
    unsafe { std::env::set_var(FAULT, "3") };
    expect_death_at_start_up(StartMethod::Spawn);
    // The running fork server predates the fault; the one that replaces it inherits it.
    let first = kill_fork_server();
    expect_death_at_start_up(StartMethod::ForkServer);
    // SAFETY: as above.
    unsafe { std::env::remove_var(FAULT) };
    assert!(
        common::zombie_children().is_empty(),
        "failed children were reaped"
    );

    let second = kill_fork_server();
    assert_ne!(first, second, "the killed server was replaced");
    start_and_join(StartMethod::ForkServer);
    start_and_join(StartMethod::Spawn);
}
