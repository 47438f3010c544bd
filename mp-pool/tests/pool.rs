//! Pool: the process pool's behaviours, with real worker processes under every start method,
//! each test bounded (a regression fails, it never hangs).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mp_process::Process;
use serde::{Serialize, Serializer};

use mp_pool::{
    JoinError, Options, Pool, PoolError, StartMethod, SubmitError, TaskError, WorkerExit,
    WorkerStartError,
};

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/pool_tasks.rs"]
mod pool_tasks;

use pool_tasks::{
    FATAL, all_gone, bounded, pid, sleep_ms, square, square_or_exit, square_or_sigkill,
};

/// A pool of `n` workers under `method`.
fn pool(n: usize, method: StartMethod) -> Pool {
    Pool::builder()
        .processes(n)
        .start_method(method)
        .build()
        .unwrap()
}

fn mul(a: i64, b: i64) -> i64 {
    a * b
}

/// Checks a 1,000-task result: exactly one failure, at `FATAL`, a lost worker that ended as
/// `how`; every other result right.
fn exactly_one_lost(results: &[Result<u64, TaskError>], how: WorkerExit) {
    assert_eq!(results.len(), 1000);
    for (x, result) in results.iter().enumerate() {
        let x = x as u64;
        if x == FATAL {
            match result {
                Err(TaskError::WorkerLost {
                    task,
                    worker,
                    how: got,
                }) => {
                    assert_eq!(*task, FATAL as usize);
                    assert!(worker.pid.is_some());
                    assert_eq!(*got, how);
                    let message = result.as_ref().unwrap_err().to_string();
                    assert!(message.contains("pid"), "{message}");
                }
                other => panic!("task {x}: {other:?}"),
            }
        } else {
            assert_eq!(result.as_ref().ok(), Some(&(x * x)), "task {x}");
        }
    }
}

#[test]
fn map_apply_starmap_under_every_start_method() {
    bounded(|| {
        for method in StartMethod::ALL {
            let pool = pool(2, method);
            let expected: Vec<u64> = (0..100).map(|x| x * x).collect();
            for result in [
                pool.map(square, 0..100).unwrap(),
                pool.map_chunked(square, 0..100, 7).unwrap(),
                pool.map_async(square, 0..100).unwrap().get(),
            ] {
                let values: Vec<u64> = result.into_iter().map(Result::unwrap).collect();
                assert_eq!(values, expected, "{method:?}");
            }
            assert_eq!(pool.apply(square, 12).unwrap(), 144);
            let pairs: Vec<(i64, i64)> = (0..10).map(|i| (i, i + 1)).collect();
            let products: Vec<i64> = pool
                .starmap(mul as fn(i64, i64) -> i64, pairs.clone())
                .unwrap()
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(
                products,
                pairs.iter().map(|(a, b)| a * b).collect::<Vec<_>>()
            );
            let pids: Vec<u32> = pool.workers().iter().filter_map(|w| w.pid).collect();
            assert_eq!(pids.len(), 2);
            assert!(!pids.contains(&std::process::id()));
            pool.close();
            pool.join().unwrap();
        }
    });
}

#[test]
fn a_sigkilled_worker_fails_exactly_its_task_under_every_start_method() {
    bounded(|| {
        for method in StartMethod::ALL {
            let pool = pool(2, method);
            let results = pool.map(square_or_sigkill, 0..1000).unwrap();
            exactly_one_lost(&results, WorkerExit::Signal(9));
            // The worker was replaced: the pool still has two and still works.
            assert_eq!(pool.apply(square, 3).unwrap(), 9);
            assert_eq!(pool.workers().len(), 2);
        }
    });
}

#[test]
fn a_worker_killed_as_it_boots_is_replaced_under_every_start_method() {
    // Creation does not wait for the workers to boot (no initializer): one killed at once is
    // most often not ready yet. It must be replaced like any dead worker, not leave the pool
    // a worker short (nor break a pool of one).
    bounded(|| {
        for method in StartMethod::ALL {
            for round in 0..5 {
                let pool = pool(2, method);
                let pid = pool.workers()[0].pid.unwrap();
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let results = pool.map(square, 0..100).unwrap();
                assert!(
                    results
                        .iter()
                        .enumerate()
                        .all(|(x, r)| r.as_ref().ok() == Some(&(x as u64 * x as u64))),
                    "{method:?} round {round}"
                );
                let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while pool.workers().len() < 2 {
                    assert!(
                        std::time::Instant::now() < until,
                        "{method:?} round {round}: the killed worker was not replaced"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                let single = Pool::builder()
                    .processes(1)
                    .start_method(method)
                    .build()
                    .unwrap();
                let pid = single.workers()[0].pid.unwrap();
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                assert_eq!(
                    single.apply(square, 7).unwrap(),
                    49,
                    "{method:?} round {round}"
                );
            }
        }
    });
}

/// A task in the middle of a chunk of 100 (and of Python's default 125 for 1,000 on two).
const FATAL_MID_CHUNK: u64 = 537;

fn square_or_sigkill_mid_chunk(x: u64) -> u64 {
    if x == FATAL_MID_CHUNK {
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    x * x
}

#[test]
fn a_worker_killed_mid_chunk_fails_exactly_the_running_item() {
    // The items of the chunk before the fatal one finished, but their results were held back
    // for a flush that died with the worker: they run again, and only the fatal one fails.
    bounded(|| {
        for method in StartMethod::ALL {
            let pool = pool(2, method);
            for chunksize in [Some(100), None] {
                let results = match chunksize {
                    Some(c) => pool.map_chunked(square_or_sigkill_mid_chunk, 0..1000, c),
                    None => pool.map(square_or_sigkill_mid_chunk, 0..1000),
                }
                .unwrap();
                assert_eq!(results.len(), 1000);
                for (x, result) in results.iter().enumerate() {
                    if x as u64 == FATAL_MID_CHUNK {
                        match result {
                            Err(TaskError::WorkerLost { task, how, .. }) => {
                                assert_eq!(*task, x, "{method:?} {chunksize:?}");
                                assert_eq!(*how, WorkerExit::Signal(9));
                            }
                            other => panic!("{method:?} {chunksize:?} task {x}: {other:?}"),
                        }
                    } else {
                        let want = (x * x) as u64;
                        assert_eq!(result.as_ref().ok(), Some(&want), "{method:?} task {x}");
                    }
                }
            }
        }
    });
}

#[test]
fn imap_and_apply_async_survive_a_sigkilled_worker() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        let results: Vec<_> = pool.imap(square_or_sigkill, 0..1000).unwrap().collect();
        exactly_one_lost(&results, WorkerExit::Signal(9));
        let unordered: Vec<_> = pool
            .imap_unordered_chunked(square_or_sigkill, 0..1000, 10)
            .unwrap()
            .collect();
        assert_eq!(unordered.len(), 1000);
        assert_eq!(unordered.iter().filter(|r| r.is_err()).count(), 1);
        let handles: Vec<_> = (0..1000)
            .map(|x| pool.apply_async(square_or_sigkill, x).unwrap())
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.get()).collect();
        // Each apply is its own submission: the lost one is task 0 of its own.
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
        match &results[FATAL as usize] {
            Err(TaskError::WorkerLost { task: 0, how, .. }) => {
                assert_eq!(*how, WorkerExit::Signal(9))
            }
            other => panic!("{other:?}"),
        }
        for (x, r) in results.iter().enumerate() {
            if x as u64 != FATAL {
                assert_eq!(*r.as_ref().unwrap(), (x * x) as u64);
            }
        }
    });
}

#[test]
fn a_task_that_exits_fails_with_its_exit_code() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        let results = pool.map(square_or_exit, 0..1000).unwrap();
        exactly_one_lost(&results, WorkerExit::Code(7));
    });
}

#[test]
fn a_task_past_its_time_limit_is_killed_and_fails_timed_out() {
    bounded(|| {
        let pool = Pool::builder()
            .processes(2)
            .task_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let before: HashSet<u32> = pool.workers().iter().filter_map(|w| w.pid).collect();
        let results = pool.map_chunked(sleep_ms, [1, 3_600_000, 2, 3], 1).unwrap();
        match &results[1] {
            Err(TaskError::TimedOut {
                task: 1,
                worker,
                limit,
            }) => {
                assert_eq!(*limit, Duration::from_millis(300));
                assert!(before.contains(&worker.pid.unwrap()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(results[0].as_ref().unwrap(), &1);
        assert_eq!(results[2].as_ref().unwrap(), &2);
        assert_eq!(results[3].as_ref().unwrap(), &3);
        // Per submission, too; and the killed worker was replaced.
        let one = pool
            .apply_async_with(
                sleep_ms,
                3_600_000,
                Options::new().timeout(Duration::from_millis(100)),
            )
            .unwrap();
        assert!(matches!(one.get(), Err(TaskError::TimedOut { .. })));
        let after: HashSet<u32> = pool.workers().iter().filter_map(|w| w.pid).collect();
        assert_eq!(after.len(), 2);
        assert_ne!(before, after);
    });
}

#[test]
fn max_tasks_per_child_replaces_workers_and_completes_on_close() {
    bounded(|| {
        let pool = Pool::builder()
            .processes(2)
            .max_tasks_per_child(10)
            .build()
            .unwrap();
        let pids: HashSet<u32> = pool
            .map_chunked(pid, vec![(); 100], 1)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(
            pids.len() >= 10,
            "{} pids for 100 tasks, 10 each",
            pids.len()
        );
        let squares: Vec<u64> = pool
            .map(square, 0..100)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(squares, (0..100).map(|x| x * x).collect::<Vec<_>>());

        // bpo-10332: one task per child, pending tasks, then close and join.
        let pool = Pool::builder()
            .processes(2)
            .max_tasks_per_child(1)
            .build()
            .unwrap();
        let handles: Vec<_> = (0..6)
            .map(|x| pool.apply_async(square, x).unwrap())
            .collect();
        pool.close();
        pool.join().unwrap();
        let values: Vec<u64> = handles.into_iter().map(|h| h.get().unwrap()).collect();
        assert_eq!(values, [0, 1, 4, 9, 16, 25]);
    });
}

/// Allocates and touches 64 MiB and keeps it (so the worker's resident memory stays high) when
/// `hog`; returns the worker's pid.
fn pid_after_hogging(hog: bool) -> u32 {
    if hog {
        let memory = vec![1u8; 64 << 20];
        std::hint::black_box(&memory);
        std::mem::forget(memory);
    }
    std::process::id()
}

#[test]
fn max_memory_per_child_replaces_a_worker_after_the_task_that_passed_it() {
    bounded(|| {
        let pool = Pool::builder()
            .processes(1)
            .max_memory_per_child(32 << 20)
            .build()
            .unwrap();
        let first = pool.apply(pid_after_hogging, false).unwrap();
        assert_eq!(pool.apply(pid_after_hogging, false).unwrap(), first);
        // Its result is kept; then the worker leaves and another takes its place.
        assert_eq!(pool.apply(pid_after_hogging, true).unwrap(), first);
        let second = pool.apply(pid_after_hogging, false).unwrap();
        assert_ne!(second, first);
        // In the middle of a job: the rest of the chunk goes to the replacement.
        let mut hogs = vec![false; 10];
        hogs[1] = true;
        let pids: Vec<u32> = pool
            .map_chunked(pid_after_hogging, hogs, 10)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(pids[0], second);
        assert_eq!(pids[1], second);
        assert!(pids[2..].iter().all(|&p| p != second), "{pids:?}");
        assert_eq!(pool.workers().len(), 1);
        assert!(matches!(
            Pool::builder().max_memory_per_child(0).build(),
            Err(PoolError::ZeroMaxMemory)
        ));
    });
}

#[test]
fn terminate_with_ten_thousand_queued_tasks_returns_promptly() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        let result = pool
            .map_async_with(
                sleep_ms,
                vec![3_600_000; 10_000],
                Options::new().chunksize(1),
            )
            .unwrap();
        let started = Instant::now();
        pool.terminate();
        pool.join().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        let results = result.get();
        assert_eq!(results.len(), 10_000);
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(TaskError::Terminated { .. })))
        );
        assert!(matches!(
            pool.apply(square, 1),
            Err(TaskError::Submit(SubmitError::NotRunning))
        ));
    });
}

fn panic_on_three(x: u32) -> u32 {
    if x == 3 {
        panic!("three is not allowed");
    }
    x
}

#[test]
fn a_panic_fails_its_task_with_the_message_and_the_worker() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        let results = pool.map_chunked(panic_on_three, 0..8, 4).unwrap();
        match &results[3] {
            Err(TaskError::Panicked {
                task: 3,
                worker,
                message,
            }) => {
                assert_eq!(message, "three is not allowed");
                assert!(worker.pid.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 7);
        // No worker was lost to it.
        assert_eq!(pool.workers().len(), 2);
    });
}

/// A value whose encoding always fails.
#[derive(Debug, serde::Deserialize)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("Unencodable cannot be encoded"))
    }
}

fn unencodable_result(_: u32) -> Unencodable {
    Unencodable
}

fn length(_: Unencodable) -> u32 {
    0
}

#[test]
fn encoding_failures_fail_the_task_or_the_submission_and_the_pool_goes_on() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        for _ in 0..20 {
            match pool.apply(unencodable_result, 1) {
                Err(TaskError::ResultEncoding { task: 0, .. }) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(pool.workers().len(), 2);
        match pool.map(length, [Unencodable]) {
            Err(SubmitError::ArgumentEncoding { task: 0, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(pool.apply(square, 4).unwrap(), 16);
    });
}

static INITIALIZED: AtomicU64 = AtomicU64::new(0);

fn remember(value: u64) {
    INITIALIZED.store(value, Ordering::SeqCst);
}

fn initialized(_: ()) -> u64 {
    INITIALIZED.load(Ordering::SeqCst)
}

fn panicking_init(_: ()) {
    panic!("no init today");
}

fn exiting_init(_: ()) {
    std::process::exit(4);
}

#[test]
fn the_initializer_runs_in_every_worker_and_its_failure_fails_creation() {
    bounded(|| {
        for method in StartMethod::ALL {
            let pool = Pool::builder()
                .processes(2)
                .start_method(method)
                .initializer(remember, 42)
                .build()
                .unwrap();
            let seen = pool.map_chunked(initialized, vec![(); 8], 1).unwrap();
            assert!(seen.into_iter().all(|v| v.unwrap() == 42), "{method:?}");
        }
        match Pool::builder()
            .processes(2)
            .initializer(panicking_init, ())
            .build()
        {
            Err(PoolError::WorkerStart(WorkerStartError::Initializer { message, worker })) => {
                assert_eq!(message, "no init today");
                assert!(worker.pid.is_some());
            }
            other => panic!("{:?}", other.err()),
        }
        match Pool::builder()
            .processes(2)
            .initializer(exiting_init, ())
            .build()
        {
            Err(PoolError::WorkerStart(WorkerStartError::Died { how, .. })) => {
                assert_eq!(how, WorkerExit::Code(4))
            }
            other => panic!("{:?}", other.err()),
        }
    });
}

#[test]
fn settings_and_lifecycle_errors_are_pythons() {
    bounded(|| {
        assert!(matches!(Pool::new(0), Err(PoolError::ZeroWorkers)));
        assert!(matches!(
            Pool::builder().max_tasks_per_child(0).build(),
            Err(PoolError::ZeroMaxTasks)
        ));
        let pool = Pool::builder().build().unwrap();
        assert_eq!(pool.size(), mp_process::process_cpu_count());
        assert_eq!(pool.join(), Err(JoinError::StillRunning));
        assert!(pool.map(square, Vec::new()).unwrap().is_empty());
        assert_eq!(pool.imap(square, Vec::new()).unwrap().count(), 0);
        assert!(matches!(
            pool.map_chunked(square, 0..3, 0),
            Err(SubmitError::ZeroChunksize)
        ));
        pool.close();
        assert!(matches!(
            pool.map(square, 0..3),
            Err(SubmitError::NotRunning)
        ));
        pool.join().unwrap();
    });
}

#[test]
fn callbacks_run_before_get_returns() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
        let seen2 = Arc::clone(&seen);
        let result = pool
            .map_async_with(
                square,
                0..5,
                Options::new()
                    .on_success(move |v: &Vec<u64>| seen2.lock().unwrap().extend_from_slice(v)),
            )
            .unwrap();
        assert!(result.get().iter().all(Result::is_ok));
        assert_eq!(*seen.lock().unwrap(), [0, 1, 4, 9, 16]);
        let failed = Arc::new(Mutex::new(None));
        let failed2 = Arc::clone(&failed);
        let r = pool
            .apply_async_with(
                panic_on_three,
                3,
                Options::new().on_error(move |e| *failed2.lock().unwrap() = Some(e.to_string())),
            )
            .unwrap();
        assert!(r.get().is_err());
        assert!(
            failed
                .lock()
                .unwrap()
                .as_ref()
                .unwrap()
                .contains("three is not allowed")
        );
    });
}

#[test]
fn dropping_a_pool_stops_and_reaps_its_workers() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        let _pending = pool
            .map_async_with(sleep_ms, vec![3_600_000; 4], Options::new().chunksize(1))
            .unwrap();
        let pids: Vec<u32> = pool.workers().iter().filter_map(|w| w.pid).collect();
        drop(pool);
        // Reaped as well as stopped: not even a zombie is left.
        all_gone(&pids);
    });
}

/// In a child: a pool whose worker pids go to the parent; then the child waits to be killed.
fn pool_then_wait(report: mp_ipc::Connection) {
    let pool = Pool::new(2).unwrap();
    let pids: Vec<u32> = pool.workers().iter().filter_map(|w| w.pid).collect();
    report.send(&pids).unwrap();
    thread::sleep(Duration::from_secs(3600));
}

#[test]
fn a_killed_parent_leaves_no_worker() {
    bounded(|| {
        for method in [StartMethod::Spawn, StartMethod::ForkServer] {
            let (parent_end, child_end) = mp_ipc::Pipe(true).unwrap();
            let mut child = Process::builder()
                .start_method(method)
                .target(pool_then_wait, child_end);
            child.start().unwrap();
            let pids: Vec<u32> = parent_end.recv_timeout(Duration::from_secs(30)).unwrap();
            assert_eq!(pids.len(), 2);
            child.kill().unwrap();
            assert_eq!(child.join().unwrap(), -9);
            all_gone(&pids); // else the workers outlived their pool's process
        }
    });
}

/// In a child: a pool's map, checked; the exit code says how it went. It exits with the pool
/// still alive: the exit must not wait for the pool's workers.
fn pool_in_child(n: u64) {
    let pool = Pool::new(2).unwrap();
    let sum: u64 = pool
        .map(square, 0..n)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .sum();
    std::process::exit(if sum == (0..n).map(|x| x * x).sum() {
        0
    } else {
        3
    });
}

#[test]
fn a_pool_works_inside_a_child_process() {
    bounded(|| {
        // Not a fork child: this test program has other threads (libtest's), whose locks a
        // forked child would inherit held.
        for method in [StartMethod::Spawn, StartMethod::ForkServer] {
            let mut child = Process::builder()
                .start_method(method)
                .target(pool_in_child, 100);
            child.start().unwrap();
            assert_eq!(child.join().unwrap(), 0, "{method:?}");
        }
    });
}

/// A task that runs a pool of its own (Python's daemonic workers refuse).
fn nested_sum(n: u64) -> u64 {
    let pool = Pool::new(1).unwrap();
    let sum = pool
        .map(square, 0..n)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .sum();
    pool.close();
    pool.join().unwrap();
    sum
}

#[test]
fn a_task_may_start_a_pool_of_its_own() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        let sums = pool.map(nested_sum, [3, 4]).unwrap();
        assert_eq!(sums[0].as_ref().unwrap(), &5);
        assert_eq!(sums[1].as_ref().unwrap(), &14);
    });
}

#[test]
fn imap_is_lazy_and_exact_size() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        let pulled = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&pulled);
        let input = (0..1_000_000u64).inspect(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let mut results = pool.imap(square, input).unwrap();
        assert_eq!(results.next().unwrap().unwrap(), 0);
        assert!(pulled.load(Ordering::SeqCst) < 1000);
        drop(results);
        let exact = pool.imap(square, vec![1u64, 2, 3]).unwrap();
        assert_eq!(exact.len(), 3);
        assert_eq!(exact.map(Result::unwrap).collect::<Vec<_>>(), [1, 4, 9]);
    });
}

fn mebibyte(n: u32) -> Vec<u8> {
    vec![n as u8; 1 << 20]
}

#[test]
fn results_larger_than_the_pipe_arrive_whole() {
    bounded(|| {
        let pool = Pool::new(2).unwrap();
        let results = pool.map_chunked(mebibyte, 0..16, 1).unwrap();
        for (n, result) in results.into_iter().enumerate() {
            let bytes = result.unwrap();
            assert_eq!(bytes.len(), 1 << 20);
            assert!(bytes.iter().all(|&b| b == n as u8));
        }
    });
}
