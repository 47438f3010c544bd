//! Start-up uses no named resource another process could connect to: while spawn and
//! forkserver children start under umask 000, this process never holds a unix socket bound to a
//! path (the old one-shot server's `/tmp/.tmpXXXXXX/socket`, which another local user could
//! connect to first and be handed the child's arguments), and a child's mark, readable in
//! `/proc/<pid>/environ`, names no path.
//!
//! One test in this binary: it sets the umask, which is process-wide.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{builder, join, state_and_ppid};
use mp_process::StartMethod;

fn nothing(_: ()) {}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// The socket inodes this process holds open.
fn my_socket_inodes() -> HashSet<u64> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The paths of the named unix sockets among `inodes` (`/proc/net/unix`: `... Inode Path`).
fn named(inodes: &HashSet<u64>) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let inode: u64 = fields.get(6)?.parse().ok()?;
            let path = fields.get(7)?;
            inodes.contains(&inode).then(|| (*path).to_owned())
        })
        .collect()
}

/// The value of `MP_PROCESS_CHILD` in `pid`'s initial environment.
fn mark_of(pid: i32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|&b| b == 0).find_map(|var| {
        let var = std::str::from_utf8(var).ok()?;
        var.strip_prefix("MP_PROCESS_CHILD=").map(str::to_owned)
    })
}

#[test]
fn start_up_binds_no_socket_to_a_path_and_marks_carry_none() {
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::<String>::new()));
    let watcher = {
        let (done, seen) = (done.clone(), seen.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let paths = named(&my_socket_inodes());
                seen.lock().unwrap().extend(paths);
            }
        })
    };
    for _ in 0..10 {
        for method in [StartMethod::Spawn, StartMethod::ForkServer] {
            let mut p = builder(method).target(nothing, ());
            p.start().unwrap();
            assert_eq!(join(&p), 0);
        }
    }
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let seen = seen.lock().unwrap();
    assert!(
        seen.is_empty(),
        "sockets bound to paths during start-up: {seen:?}"
    );

    // The marks of a running spawn child and of the fork server name nothing to connect to.
    let mut sleeper = builder(StartMethod::Spawn).target(sleep_ms, 60_000);
    sleeper.start().unwrap();
    let me = std::process::id() as i32;
    let fresh: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| matches!(state_and_ppid(pid), Some((s, ppid)) if ppid == me && s != 'Z'))
        .collect();
    assert!(fresh.len() >= 2, "the spawn child and the fork server run");
    for pid in fresh {
        let mark = mark_of(pid).expect("a fresh child of ours carries the mark");
        assert!(
            !mark.contains('/'),
            "pid {pid}'s mark names a path: {mark:?}"
        );
    }
    sleeper.kill().unwrap();
    join(&sleeper);
}
