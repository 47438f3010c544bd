//! After the fork server is SIGKILLed, every question about its children is answered at once:
//! a child of a dead server has a lost exit status, known at once and never asked of the server
//! that replaces it; a new start makes a new server without waiting for the old one.
//!
//! One test in this binary: it kills the fork server, which no other test may see.

mod common;

use std::time::{Duration, Instant};

use common::{builder, dies_within_bound, join, the_fork_server};
use mp_process::{Error, Process, StartMethod, active_children};

/// How long each answer may take: "at once", with room for a loaded machine.
const AT_ONCE: Duration = Duration::from_secs(2);

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn nothing(_: ()) {}

/// Runs `f`, failing if it takes longer than [`AT_ONCE`].
fn quickly<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = f();
    let took = started.elapsed();
    assert!(
        took < AT_ONCE,
        "{what} took {took:?} after the fork server died"
    );
    value
}

#[test]
fn the_children_of_a_killed_fork_server_are_answered_for_at_once() {
    let mut children: Vec<Process> = (0..3)
        .map(|_| builder(StartMethod::ForkServer).target(sleep_ms, 60_000))
        .collect();
    for p in &mut children {
        p.start().unwrap();
    }
    let pids: Vec<i32> = children.iter().map(|p| p.pid().unwrap()).collect();
    let server = the_fork_server();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(dies_within_bound(server));

    for p in &children {
        // Each child itself still runs: that is what every call says, at once.
        let alive = quickly("is_alive", || p.is_alive().unwrap());
        assert!(alive, "the child itself still runs");
        let code = quickly("exitcode", || p.exitcode());
        assert!(matches!(code, Ok(None)), "{code:?}");
        let joined = quickly("join_timeout", || {
            p.join_timeout(std::time::Duration::from_millis(100))
        });
        assert!(matches!(joined, Ok(None)), "{joined:?}");
    }
    let active = quickly("active_children", active_children);
    assert!(active.iter().all(|c| pids.contains(&c.pid)));
    // A new start makes a new server, which is never asked about the old one's children.
    let mut fresh = builder(StartMethod::ForkServer).target(nothing, ());
    quickly("start", || fresh.start().unwrap());
    assert_eq!(join(&fresh), 0);
    for p in &children {
        p.kill().unwrap();
    }
    for pid in &pids {
        assert!(dies_within_bound(*pid), "pid {pid} was killed");
    }
    // Ended, with nobody left to tell how: a lost status, at once, never "still running",
    // and never asked of the new server.
    for p in &children {
        let code = quickly("exitcode once it ended", || p.exitcode());
        assert!(matches!(code, Err(Error::StatusLost { .. })), "{code:?}");
        let joined = quickly("join once it ended", || p.join());
        assert!(
            matches!(joined, Err(Error::StatusLost { .. })),
            "{joined:?}"
        );
        assert!(!quickly("is_alive once it ended", || p.is_alive().unwrap()));
    }
}
