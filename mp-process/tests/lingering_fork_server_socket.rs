//! A fork server that died while something else still held its end of the socket (a child it
//! had just forked, before that child closed the server's descriptors) is still known dead at
//! the next start: the start makes a new server and succeeds. The stress drill once failed so:
//! the next start's request went into the dead server's socket, kept open by its half-born
//! child, and the reply read was a reset once that child closed it ("Connection reset by
//! peer").
//!
//! The half-born child is played here by this test: it takes copies of the server's sockets
//! (`pidfd_getfd`) before killing the server, and closes them a while after the next start
//! began.
//!
//! A start already waiting for its reply when the server dies is answered the same way, at
//! once, and not when the copy closes.
//!
//! One test in this binary: it kills the fork server, which no other test may see.

mod common;

use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;

use common::{
    builder, copies_of_sockets, dies_within_bound, join, queued, signal, the_fork_server, until,
};
use mp_process::{Error, StartMethod};

fn nothing(_: ()) {}

#[test]
fn a_start_after_the_fork_server_died_works_while_its_socket_lingers() {
    let mut first = builder(StartMethod::ForkServer).target(nothing, ());
    first.start().unwrap();
    assert_eq!(join(&first), 0);
    let server = the_fork_server();
    let lingering = copies_of_sockets(server);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(dies_within_bound(server));
    // The half-born child closes the server's descriptors a little later.
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(lingering);
    });
    let mut next = builder(StartMethod::ForkServer).target(nothing, ());
    let started = next.start();
    closer.join().unwrap();
    started.expect("the start after the fork server died");
    assert_eq!(join(&next), 0);

    // The new server is stopped with a start's request unread, then killed while its socket
    // lingers: the waiting start learns of the death at once.
    let server = the_fork_server();
    let lingering = copies_of_sockets(server);
    signal(server, nix::sys::signal::Signal::SIGSTOP);
    let (done, answer) = mpsc::channel();
    std::thread::spawn(move || {
        let mut waiting = builder(StartMethod::ForkServer).target(nothing, ());
        let _ = done.send(waiting.start().map(|()| waiting));
    });
    // Its request is in the server's queue (it waits for the reply) before the kill.
    until("the request queued", || {
        lingering.iter().any(|s| queued(s.as_fd(), true) > 0)
    });
    signal(server, nix::sys::signal::Signal::SIGKILL);
    assert!(dies_within_bound(server));
    let answered = answer.recv_timeout(Duration::from_secs(5));
    drop(lingering);
    let answered = answered.expect("the waiting start answered while the socket lingers");
    assert!(
        matches!(answered, Err(Error::ForkServerDied(_))),
        "{answered:?}"
    );
}
