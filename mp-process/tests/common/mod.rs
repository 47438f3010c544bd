//! Helpers shared by mp-process's integration tests: bounded waits, so a bug fails a test
//! instead of hanging it, and probes of this process's descriptors and children.
#![allow(dead_code, unreachable_pub)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

#[path = "../../../test-support/bounded.rs"]
mod bounded;
#[path = "../../../test-support/memory.rs"]
mod memory;
#[path = "../../../test-support/process.rs"]
mod process;

pub use bounded::*;
#[allow(unused_imports)]
pub use memory::resident_kib;
pub use process::*;

/// Receives from `rx` within [`BOUND`].
pub fn recv<T>(rx: &ipc_channel::ipc::IpcReceiver<T>) -> T
where
    T: serde::Serialize + for<'de> serde::Deserialize<'de>,
{
    rx.try_recv_timeout(BOUND)
        .expect("a message from the child within the bound")
}

/// How many descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// The pids of this process's zombie children.
pub fn zombie_children() -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut zombies = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Some((state, ppid)) = state_and_ppid(pid) else {
            continue;
        };
        if ppid == me && state == 'Z' {
            zombies.push(pid);
        }
    }
    zombies
}

/// A process's state letter and parent pid, from `/proc/<pid>/stat`.
pub fn state_and_ppid(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether `pid` is gone (or a zombie) within [`BOUND`].
pub fn dies_within_bound(pid: i32) -> bool {
    let deadline = Instant::now() + BOUND;
    while Instant::now() < deadline {
        match state_and_ppid(pid) {
            None | Some(('Z', _)) | Some(('X', _)) => return true,
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    false
}

/// The live child of this process that is the fork server (after one forkserver start, the
/// only one).
pub fn the_fork_server() -> i32 {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|&pid| matches!(state_and_ppid(pid), Some((s, ppid)) if ppid == me && s != 'Z'))
        .expect("the fork server runs")
}

/// Copies of every socket `pid` has open, taken into this process.
pub fn copies_of_sockets(pid: i32) -> Vec<OwnedFd> {
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

/// Bytes waiting in `sock`'s queue (`in_queue`), or sent by it and not yet read by its peer.
pub fn queued(sock: std::os::fd::BorrowedFd<'_>, in_queue: bool) -> i32 {
    let mut bytes: libc::c_int = 0;
    let request = if in_queue {
        libc::FIONREAD
    } else {
        libc::TIOCOUTQ
    };
    // SAFETY: SIOCINQ (FIONREAD) and SIOCOUTQ (TIOCOUTQ) on a socket write one int to the
    // pointer given, which points at one.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request, &mut bytes) };
    assert_eq!(rc, 0, "ioctl: {}", std::io::Error::last_os_error());
    bytes
}

/// Waits (bounded) until `done` holds.
pub fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within the bound");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn signal(pid: i32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).unwrap();
}
