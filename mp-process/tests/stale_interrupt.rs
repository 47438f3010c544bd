//! A Ctrl-C (SIGINT to the program's process group) that came before a forkserver start does
//! not reach the child that start makes, although the fork server forks its children ahead (its
//! spares wait in a process group of their own), while a SIGINT after the start still does.

mod common;

use std::time::Duration;

use common::{builder, join};
use mp_process::StartMethod;
use nix::sys::signal::{SigHandler, Signal, killpg, signal};
use nix::unistd::{Pid, getpgrp, setpgid};

fn nothing(_: ()) {}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// In a child, the leader of its own process group (as a shell makes a job), deaf to SIGINT
/// itself: a first forkserver start (after which the server forks its spares), a Ctrl-C to the
/// group, then a second start. Exits 0 if the second child ran to its end, else 10 + how it
/// ended.
fn owner(_: ()) {
    setpgid(Pid::from_raw(0), Pid::from_raw(0)).unwrap();
    // SAFETY: SIG_IGN installs no handler code.
    unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) }.unwrap();
    let mut first = builder(StartMethod::ForkServer).target(nothing, ());
    first.start().unwrap();
    assert_eq!(join(&first), 0);
    // The server forks its spares while it has nothing else to do.
    sleep_ms(200);
    killpg(getpgrp(), Signal::SIGINT).unwrap();
    sleep_ms(50);
    let mut next = builder(StartMethod::ForkServer).target(sleep_ms, 50);
    next.start().unwrap();
    let code = join(&next);
    std::process::exit(if code == 0 { 0 } else { 10 + code.abs() });
}

#[test]
fn a_ctrl_c_before_a_forkserver_start_does_not_reach_its_child() {
    for round in 0..3 {
        let mut p = builder(StartMethod::Spawn).target(owner, ());
        p.start().unwrap();
        assert_eq!(
            join(&p),
            0,
            "round {round}: the second child (10 + {} is SIGINT)",
            libc::SIGINT
        );
    }
}

#[test]
fn a_sigint_right_after_a_forkserver_start_reaches_its_child() {
    // Several starts in a row: the server's spares are used, and made again.
    for round in 0..6 {
        let mut p = builder(StartMethod::ForkServer).target(sleep_ms, 60_000);
        p.start().unwrap();
        p.interrupt().unwrap();
        assert_eq!(join(&p), -libc::SIGINT, "round {round}");
    }
}
