//! Out of processes or descriptors, a start is a typed error that leaves no zombie behind and
//! no thread to fail: checked in a forked child that lowers its own limits (as a non-root uid
//! for `RLIMIT_NPROC`, which root ignores).

mod common;

use std::error::Error as _;

use common::{builder, join, zombie_children};
use mp_process::{Error, StartMethod};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

fn nothing(_: ()) {}

/// The errno at the root of `error`, if it has one.
fn errno_of(error: &Error) -> Option<i32> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io.raw_os_error();
        }
        source = e.source();
    }
    None
}

/// Runs `check` in a forked child, which exits 0 if it returns true; the child's exit code.
fn in_a_child(check: fn() -> bool) -> i32 {
    let mut p = builder(StartMethod::Fork).closure(move || std::process::exit(i32::from(!check())));
    p.start().unwrap();
    join(&p)
}

/// As uid 65534 with room for exactly `room` more processes: a spawn start works with room for
/// one (no helper thread is needed) and fails with EAGAIN with none; a forkserver start, which
/// needs two (the server and its child), fails with EAGAIN. No zombie is left.
fn starts_under_nproc(room: u64) -> bool {
    // SAFETY: setgid and setuid take integers; this forked child has no other thread.
    if unsafe { libc::setgid(65534) } != 0 || unsafe { libc::setuid(65534) } != 0 {
        return false;
    }
    // Every task of uid 65534 on the machine counts, this one included.
    let count: u64 = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                // Numbered entries only: `self` and `thread-self` are this process again.
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.parse::<u32>().is_ok())
                })
                .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
                .filter_map(|status| {
                    // The real uid (first of the `Uid:` line) and the thread count.
                    let field = |name: &str| {
                        status
                            .lines()
                            .find_map(|l| l.strip_prefix(name))
                            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                    };
                    (field("Uid:")? == 65534).then(|| field("Threads:").unwrap_or(1))
                })
                .sum()
        })
        .unwrap_or(1);
    if setrlimit(Resource::RLIMIT_NPROC, count + room, count + room).is_err() {
        return false;
    }
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let mut p = builder(method).target(nothing, ());
        let should_work = method == StartMethod::Spawn && room == 1;
        match p.start() {
            Ok(()) if should_work => {
                if p.join_timeout(common::BOUND).ok().flatten() != Some(0) {
                    return false;
                }
            }
            Err(e) if !should_work && errno_of(&e) == Some(libc::EAGAIN) => {}
            _ => return false,
        }
    }
    zombie_children().is_empty()
}

fn no_room_for_a_process() -> bool {
    starts_under_nproc(0)
}

fn room_for_one_process() -> bool {
    starts_under_nproc(1)
}

#[test]
fn out_of_processes_a_start_is_an_error_and_leaves_no_zombie() {
    assert_eq!(in_a_child(no_room_for_a_process), 0);
    assert_eq!(in_a_child(room_for_one_process), 0);
}

/// With descriptors for only a few more, each start works or fails with EMFILE, and leaves no
/// zombie; tried at every limit from none to enough.
fn starts_out_of_descriptors() -> bool {
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as u64;
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        for room in 0..12 {
            if setrlimit(Resource::RLIMIT_NOFILE, open + room, hard).is_err() {
                return false;
            }
            let mut p = builder(method).target(nothing, ());
            let started = p.start();
            // Room again, to join and look at /proc.
            if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_err() {
                return false;
            }
            match started {
                Ok(()) => {
                    if p.join_timeout(common::BOUND).ok().flatten().is_none() {
                        return false;
                    }
                }
                Err(e) if errno_of(&e) == Some(libc::EMFILE) => {}
                Err(e) => {
                    eprintln!("{method:?} with room for {room}: {e}");
                    return false;
                }
            }
            drop(p);
            mp_process::active_children();
            if !zombie_children().is_empty() {
                eprintln!("{method:?} with room for {room}: zombies left");
                return false;
            }
        }
    }
    true
}

#[test]
fn out_of_descriptors_a_start_is_emfile_and_leaves_no_zombie() {
    assert_eq!(in_a_child(starts_out_of_descriptors), 0);
}
