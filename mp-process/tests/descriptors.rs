//! A fresh child, and the fork server, start with the standard streams and mp's own
//! descriptors only: a descriptor the parent left open without `FD_CLOEXEC` does not leak into
//! them (CPython's `test_child_fd_inflation`, `close_fds`).
//!
//! One test in this binary: its stray descriptor must exist before the fork server starts.

mod common;

use std::os::fd::AsRawFd;

use common::{builder, join, recv, state_and_ppid};
use ipc_channel::ipc::{self, IpcSender};
use mp_process::StartMethod;

/// The stray descriptor's number.
const STRAY: i32 = 500;

fn list_fds(tx: IpcSender<Vec<i32>>) {
    let fds = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    tx.send(fds).unwrap();
}

#[test]
fn a_stray_descriptor_reaches_no_fresh_child_and_no_fork_server() {
    let null = std::fs::File::open("/dev/null").unwrap();
    // dup2 makes the copy without FD_CLOEXEC: it survives every exec.
    // SAFETY: dup2 onto a number nothing in this test process uses; the result is owned below.
    let rc = unsafe { libc::dup2(null.as_raw_fd(), STRAY) };
    assert_eq!(rc, STRAY);
    // SAFETY: dup2 just made this descriptor; nothing else owns it.
    let stray = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(STRAY) };
    let known_before: Vec<i32> = Vec::new();
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let (tx, rx) = ipc::channel().unwrap();
        let mut p = builder(method).target(list_fds, tx);
        p.start().unwrap();
        let fds = recv(&rx);
        assert_eq!(join(&p), 0);
        assert!(
            !fds.contains(&STRAY),
            "{method:?}: the child has the parent's stray descriptor: {fds:?}"
        );
        assert!(
            fds.len() <= 8,
            "{method:?}: the child has more than its own descriptors: {fds:?}"
        );
    }
    let me = std::process::id() as i32;
    let server = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|&pid| {
            !known_before.contains(&pid)
                && matches!(state_and_ppid(pid), Some((state, ppid)) if ppid == me && state != 'Z')
        })
        .expect("the fork server runs");
    assert!(
        std::fs::metadata(format!("/proc/{server}/fd/{STRAY}")).is_err(),
        "the fork server has the parent's stray descriptor"
    );
    drop(stray);
}
