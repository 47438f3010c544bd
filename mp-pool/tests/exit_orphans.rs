//! A program that exits while its pool's workers die and are replaced leaves no worker behind.
//! The exit hook kills the live workers; their watchers then started replacements, and one
//! forked as the program went armed its parent-death signal after its parent was gone and,
//! holding copies of the pool's ends of its pipes (fork), waited for a job forever, orphaned.
//! Alone in its test program: it becomes the subreaper of its descendants (so that an orphan
//! is reparented to it, where it can be seen) and reaps them.

use std::time::{Duration, Instant};

use mp_pool::{Options, Pool, StartMethod};
use mp_process::Process;

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/pool_tasks.rs"]
mod pool_tasks;

use pool_tasks::{FATAL, square_or_sigkill};

/// In a child: a pool under `method` whose every item kills its worker, so workers die and are
/// replaced all the time; after `ms` milliseconds the program exits with the pool alive.
fn exit_amid_replacements(args: (StartMethod, u64)) {
    let (method, ms) = args;
    let pool = Pool::builder()
        .processes(2)
        .start_method(method)
        .build()
        .unwrap();
    let _pending = pool
        .map_async_with(
            square_or_sigkill,
            vec![FATAL; 100_000],
            Options::new().chunksize(1),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    std::process::exit(0);
}

/// This process's children (by `/proc`), zombies included, and whether each is a zombie.
fn children() -> Vec<(i32, bool)> {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let mut fields = stat.rsplit(')').next()?.split_whitespace();
            let state = fields.next()?;
            (fields.next()? == me).then_some((pid, state == "Z"))
        })
        .collect()
}

/// Reaps every child that has ended (this test program starts no other).
fn reap() {
    use nix::sys::wait::{WaitPidFlag, waitpid};
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == nix::sys::wait::WaitStatus::StillAlive {
            break;
        }
    }
}

#[test]
fn an_exit_amid_worker_replacements_leaves_no_worker() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    for round in 0..12u64 {
        for method in [StartMethod::Fork, StartMethod::ForkServer] {
            let mut owner = Process::builder()
                .start_method(StartMethod::Spawn)
                .target(exit_amid_replacements, (method, 20 + round * 7));
            owner.start().unwrap();
            let code = owner.join_timeout(Duration::from_secs(30)).unwrap();
            assert_eq!(code, Some(0), "round {round} {method:?}: the owner's exit");
            // A worker killed at its parent's death goes at once; allow a slow machine.
            let until = Instant::now() + Duration::from_secs(5);
            loop {
                reap();
                let left: Vec<i32> = children()
                    .into_iter()
                    .filter_map(|(pid, zombie)| (!zombie).then_some(pid))
                    .collect();
                if left.is_empty() {
                    break;
                }
                assert!(
                    Instant::now() < until,
                    "round {round} {method:?}: processes of the exited owner left: {left:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
