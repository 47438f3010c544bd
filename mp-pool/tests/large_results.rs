//! Large results: whatever their size (below, at and above the result arena's threshold,
//! larger than the arena itself), many at once (the arena wrapping around), and with workers
//! killed while they send them; nothing leaks (descriptors, mappings) when workers die.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use mp_ipc::Bytes;
use mp_pool::{Pool, StartMethod, TaskError};

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/leaks.rs"]
mod leaks;

use leaks::fds_and_shared_mappings;

/// The bound on a whole test: far above what any needs, on a loaded machine.
const TEST_BOUND: Duration = Duration::from_secs(120);

/// Taken by every test of this file: the leak test counts this process's descriptors and shared
/// mappings, which a test running beside it changes (its pools' pipes and arenas, a fork server
/// or an mp-ipc thread it starts for good).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Waits for the other tests of this file to end (a failed one does not stop the rest).
fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sizes tried: around the arena's threshold (256 KiB), 1 MiB, and around and above the
/// arena's ring (8 MiB).
const SIZES: &[usize] = &[
    0,
    1,
    (256 << 10) - 20,
    256 << 10,
    (256 << 10) + 1,
    1 << 20,
    (8 << 20) - 64,
    8 << 20,
    9 << 20,
];

/// The byte at offset `at` of result `n`: results differ from each other and along their
/// length, so a block read at the wrong place, or from another result, shows.
fn byte(n: usize, at: usize) -> u8 {
    (n.wrapping_mul(31) ^ at.wrapping_mul(7) ^ (at >> 12)) as u8
}

/// Result `n` of `len` bytes.
fn result_bytes((n, len): (usize, usize)) -> Bytes {
    Bytes((0..len).map(|at| byte(n, at)).collect())
}

/// Checks that `result` is result `n` of `len` bytes.
fn check(n: usize, len: usize, result: &Bytes) {
    assert_eq!(result.len(), len, "result {n}");
    assert!(
        result.iter().enumerate().all(|(at, &b)| b == byte(n, at)),
        "result {n} ({len} bytes) differs"
    );
}

#[test]
fn results_of_every_size_arrive_whole_under_every_start_method() {
    let _alone = alone();
    bounded::on_thread_within(TEST_BOUND, || {
        for method in StartMethod::ALL {
            let pool = Pool::builder()
                .processes(2)
                .start_method(method)
                .build()
                .unwrap();
            let items: Vec<(usize, usize)> = SIZES.iter().copied().enumerate().collect();
            // One item per job, then all in one job (a flush with several results).
            for chunk in [1, SIZES.len()] {
                let results = pool
                    .map_chunked(result_bytes, items.clone(), chunk)
                    .unwrap();
                for ((n, len), result) in items.iter().zip(&results) {
                    check(*n, *len, result.as_ref().unwrap());
                }
            }
        }
    });
}

#[test]
fn many_results_wrap_the_arena_and_small_ones_share_its_blocks() {
    let _alone = alone();
    bounded::on_thread_within(TEST_BOUND, || {
        let pool = Pool::new(2).unwrap();
        // 300 results of 300 KiB: the 8 MiB ring wraps many times.
        let items: Vec<(usize, usize)> = (0..300).map(|n| (n, 300 << 10)).collect();
        for (n, result) in pool.imap(result_bytes, items.clone()).unwrap().enumerate() {
            check(n, 300 << 10, &result.unwrap());
        }
        // 20,000 results of 100 bytes, chunks of 1,000: flushes of 64 KiB, several jobs' runs
        // in one block.
        let items: Vec<(usize, usize)> = (0..20_000).map(|n| (n, 100)).collect();
        let results = pool.map_chunked(result_bytes, items, 1000).unwrap();
        for (n, result) in results.iter().enumerate() {
            check(n, 100, result.as_ref().unwrap());
        }
    });
}

#[test]
fn a_thread_waiting_in_get_reads_large_results_itself() {
    let _alone = alone();
    bounded::on_thread_within(TEST_BOUND, || {
        let pool = Pool::new(2).unwrap();
        // One at a time: the waiting thread may read the worker's reports itself.
        for round in 0..3 {
            for (n, &len) in SIZES.iter().enumerate() {
                let n = round * SIZES.len() + n;
                let result = pool.apply_async(result_bytes, (n, len)).unwrap().get();
                check(n, len, &result.unwrap());
            }
        }
    });
}

/// Result `n` of 3 MiB and the pid of the worker that made it.
fn large_with_pid(n: usize) -> (u32, Bytes) {
    (std::process::id(), result_bytes((n, 3 << 20)))
}

/// A map of large results on a Pool(2) whose workers are killed a few times while they send
/// them: every result is right but at most one per kill, which failed as lost.
fn map_killing_workers() {
    const TASKS: usize = 90;
    const KILLS: usize = 6;
    let pool = Pool::new(2).unwrap();
    let mut kills = 0;
    let mut results = Vec::new();
    for (n, result) in pool.imap(large_with_pid, 0..TASKS).unwrap().enumerate() {
        if let Ok((pid, bytes)) = &result {
            check(n, 3 << 20, bytes);
            // Kill the worker that just sent a result, most likely while it copies its next
            // one, a few times along the map.
            if n % (TASKS / KILLS) == 3 && kills < KILLS {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                kills += 1;
            }
        }
        results.push(result);
    }
    assert_eq!(results.len(), TASKS);
    let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(
        failed.len() <= kills,
        "{} failed for {kills} kills",
        failed.len()
    );
    for error in failed {
        assert!(
            matches!(error, Err(TaskError::WorkerLost { .. })),
            "{error:?}"
        );
    }
    pool.close();
    pool.join().unwrap();
}

#[test]
fn workers_killed_while_they_send_large_results_fail_at_most_their_item_and_leak_nothing() {
    let _alone = alone();
    bounded::on_thread_within(TEST_BOUND, || {
        // What the process keeps after one such map (mp-ipc's threads, ...) is there after
        // the next: the dead workers' arenas and pipes went with them (their watchers end
        // once their workers are reaped, a moment after the pool's join).
        map_killing_workers();
        std::thread::sleep(Duration::from_millis(500));
        let after_one = fds_and_shared_mappings();
        map_killing_workers();
        bounded::wait_until(|| fds_and_shared_mappings() == after_one);
    });
}

/// Task `n` of [`large_results_behind_a_gap`], run in `dir`: task 0 waits (bounded) until
/// `dir/go` exists and returns a small result; every other one says it ran (`dir/ran-n`) and
/// returns 1 MiB.
fn wait_first_then_large((n, dir): (usize, String)) -> Bytes {
    let dir = std::path::Path::new(&dir);
    if n == 0 {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !dir.join("go").exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        return result_bytes((n, 10));
    }
    let _ = std::fs::write(dir.join(format!("ran-{n}")), b"");
    result_bytes((n, 1 << 20))
}

#[test]
fn large_results_behind_a_gap_in_the_list_do_not_hold_their_workers_arena() {
    // Checked: when a run that did not continue the map's list was kept encoded (its block
    // held in the worker's 8 MiB arena until the list reached it), the worker not stuck on
    // task 0 stopped after 8 results, waiting for room, and this failed at its bound.
    const TASKS: usize = 40;
    const RAN: usize = 24;
    let _alone = alone();
    bounded::on_thread_within(TEST_BOUND, || {
        let dir = std::env::temp_dir().join(format!("mp-pool-gap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = std::sync::Arc::new(Pool::new(2).unwrap());
        let items: Vec<(usize, String)> = (0..TASKS)
            .map(|n| (n, dir.to_string_lossy().into_owned()))
            .collect();
        let map = {
            let pool = std::sync::Arc::clone(&pool);
            std::thread::spawn(move || pool.map_chunked(wait_first_then_large, items, 1))
        };
        // While task 0 waits, the other worker runs on through the rest (all but the few
        // queued behind task 0).
        let ran = || {
            std::fs::read_dir(&dir)
                .map(|d| d.filter(|e| e.is_ok()).count())
                .unwrap_or(0)
        };
        let deadline = std::time::Instant::now() + bounded::BOUND;
        while ran() < RAN && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let ran_before_go = ran();
        std::fs::write(dir.join("go"), b"").unwrap();
        let results = map.join().unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            ran_before_go >= RAN,
            "only {ran_before_go} tasks ran while task 0 waited"
        );
        for (n, result) in results.iter().enumerate() {
            check(
                n,
                if n == 0 { 10 } else { 1 << 20 },
                result.as_ref().unwrap(),
            );
        }
    });
}
