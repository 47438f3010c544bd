//! A fork server that dies with a request of ours unread makes our next read of its socket a
//! reset ("Connection reset by peer"), ahead of what it had sent before it died: that is still
//! read. Here the server reported a child's exit, then died with a later start's request in
//! its queue; the child's exit code is still known (not a lost status).
//!
//! One test in this binary: it stops and kills the fork server, which no other test may see.

mod common;

use std::os::fd::AsFd;
use std::sync::mpsc;

use common::{
    BOUND, builder, copies_of_sockets, dies_within_bound, queued, signal, state_and_ppid, until,
};
use mp_process::{Error, StartMethod};

fn nothing(_: ()) {}

fn sleep_ms(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

#[test]
fn what_a_dead_server_sent_before_the_reset_is_still_read() {
    // It runs until killed: its exit report comes only after its start's reply was read.
    let mut first = builder(StartMethod::ForkServer).target(sleep_ms, 60_000);
    first.start().unwrap();
    let child = first.pid().unwrap();
    first.kill().unwrap();
    let server = common::the_fork_server();
    let copies = copies_of_sockets(server);
    // The server reaps the child and reports its exit; nobody here reads the report yet.
    until("the child reaped", || state_and_ppid(child).is_none());
    until("the exit report sent", || {
        queued(copies[0].as_fd(), false) > 0
    });
    // A stopped server takes no request: the next start's stays in its queue, while that
    // start makes its arguments (held until the server is dead and its socket closed).
    signal(server, nix::sys::signal::Signal::SIGSTOP);
    let (go, wait) = mpsc::channel::<()>();
    let next = std::thread::spawn(move || {
        let mut next = builder(StartMethod::ForkServer).target_made(nothing, move || {
            let _ = wait.recv_timeout(BOUND);
            Ok(())
        });
        next.start()
    });
    until("the next start's request queued", || {
        queued(copies[0].as_fd(), true) > 0
    });
    signal(server, nix::sys::signal::Signal::SIGKILL);
    assert!(dies_within_bound(server));
    // The server's socket closes with the request unread: our end reads a reset first.
    drop(copies);
    go.send(()).unwrap();
    let started = next.join().unwrap();
    // That request was taken by nobody: no child, and the start says why.
    assert!(
        matches!(started, Err(Error::ForkServerDied(_))),
        "{started:?}"
    );
    let code = first.exitcode();
    assert_eq!(
        code.ok(),
        Some(Some(-libc::SIGKILL)),
        "the first child's exit"
    );
}
