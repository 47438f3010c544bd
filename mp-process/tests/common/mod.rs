//! Helpers shared by mp-process's integration tests: bounded waits, so a bug fails a test
//! instead of hanging it, and probes of this process's descriptors and children.
#![allow(dead_code, unreachable_pub)]

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
