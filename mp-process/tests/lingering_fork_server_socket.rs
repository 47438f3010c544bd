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
//! One test in this binary: it kills the fork server, which no other test may see.

mod common;

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use common::{builder, dies_within_bound, join, state_and_ppid};
use mp_process::StartMethod;

fn nothing(_: ()) {}

/// The live child of this process that is the fork server (after one forkserver start, the
/// only one).
fn the_fork_server() -> i32 {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|&pid| matches!(state_and_ppid(pid), Some((s, ppid)) if ppid == me && s != 'Z'))
        .expect("the fork server runs")
}

/// Copies of every socket `pid` has open, taken into this process.
fn copies_of_sockets(pid: i32) -> Vec<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(
        pidfd >= 0,
        "pidfd_open: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the descriptor was just returned to us and nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    let copies: Vec<OwnedFd> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        })
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .map(|fd| {
            use std::os::fd::AsRawFd;
            // SAFETY: pidfd_getfd takes a pidfd, a descriptor number in that process and
            // flags, and returns a new descriptor of ours or -1; no memory is passed.
            let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
            assert!(
                copy >= 0,
                "pidfd_getfd: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: as above.
            unsafe { OwnedFd::from_raw_fd(copy as i32) }
        })
        .collect();
    assert!(!copies.is_empty(), "the fork server has a socket");
    copies
}

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
}
