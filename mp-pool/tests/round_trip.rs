//! Pool: a thread waiting in `get` reads its worker's reports itself (the watcher lends the
//! pipe; see `results_reader.rs`). These tests run the round trip until the pipe is lent, then
//! every way a lent pipe must come back or be let go: a death while a getter reads, a worker
//! leaving after its task, a result nobody waits for, a timed get, other threads' gets and a
//! map at the same time. Each test is bounded.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use mp_pool::{Options, Pool, TaskError, Waited, WorkerExit};

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/pool_tasks.rs"]
mod pool_tasks;

use pool_tasks::{FATAL, bounded, pid, sleep_ms, square, square_or_sigkill};

/// Round trips enough that the getter reads the worker's pipe itself from the second on.
fn round_trips(pool: &Pool, n: u64) {
    for x in 0..n {
        assert_eq!(pool.apply_async(square, x).unwrap().get().unwrap(), x * x);
    }
}

#[test]
fn a_getter_reading_its_worker_sees_it_die_and_goes_on_with_the_next() {
    bounded(|| {
        let pool = Pool::new(1).unwrap();
        round_trips(&pool, 100);
        match pool.apply_async(square_or_sigkill, FATAL).unwrap().get() {
            Err(TaskError::WorkerLost { how, .. }) => assert_eq!(how, WorkerExit::Signal(9)),
            other => panic!("{other:?}"),
        }
        // The replacement is read the same way.
        round_trips(&pool, 100);
        // A death while the getter sleeps on the pipe (the task is running).
        let handle = pool.apply_async(sleep_ms, 60_000).unwrap();
        thread::sleep(Duration::from_millis(50));
        let worker = pool.workers()[0].pid.expect("a process");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(worker as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        match handle.get() {
            Err(TaskError::WorkerLost { how, .. }) => assert_eq!(how, WorkerExit::Signal(9)),
            other => panic!("{other:?}"),
        }
        round_trips(&pool, 10);
    });
}

#[test]
fn a_worker_leaving_after_each_task_is_replaced_under_a_getter() {
    bounded(|| {
        let pool = Pool::builder()
            .processes(1)
            .max_tasks_per_child(1)
            .build()
            .unwrap();
        let pids: HashSet<u32> = (0..20)
            .map(|_| pool.apply_async(pid, ()).unwrap().get().unwrap())
            .collect();
        assert_eq!(pids.len(), 20, "one worker per task");
        let pool = Pool::builder()
            .processes(1)
            .max_memory_per_child(1)
            .build()
            .unwrap();
        round_trips(&pool, 20);
        // A getter waiting for the job behind one after which the worker leaves reads the
        // first job's result and the worker's leaving: it hands the leaving to the watcher,
        // and its own job runs on the replacement.
        let pool = Pool::builder()
            .processes(1)
            .max_memory_per_child(32 << 20)
            .build()
            .unwrap();
        for x in 0..3 {
            round_trips(&pool, 20);
            let before = pool
                .apply_async(pid_after_keeping, 0)
                .unwrap()
                .get()
                .unwrap();
            let first = pool.apply_async(pid_after_keeping, 64).unwrap();
            let second = pool.apply_async(square, x).unwrap();
            assert_eq!(second.get().unwrap(), x * x);
            assert_eq!(
                first.get().unwrap(),
                before,
                "the hog ran where the pool was"
            );
            let after = pool.apply_async(pid_after_keeping, 0).unwrap().get();
            assert_ne!(after.unwrap(), before, "the worker was replaced");
        }
    });
}

/// Keeps `mib` MiB of touched memory for the rest of the worker's life (its resident memory
/// stays that much higher); returns the worker's pid.
fn pid_after_keeping(mib: usize) -> u32 {
    std::hint::black_box(Vec::leak(vec![1u8; mib << 20]));
    std::process::id()
}

#[test]
fn results_nobody_waits_for_are_read_while_the_pipe_is_lent() {
    bounded(|| {
        let pool = Pool::new(1).unwrap();
        round_trips(&pool, 100);
        // Nobody calls get: the callback still runs.
        let seen = Arc::new(AtomicU64::new(0));
        let record = Arc::clone(&seen);
        let options = Options::new().on_success(move |v: &u64| record.store(*v, Ordering::SeqCst));
        let handle = pool.apply_async_with(square, 12, options).unwrap();
        bounded::wait_until(|| seen.load(Ordering::SeqCst) == 144);
        assert!(handle.ready());
        // A map after the round trips.
        let squares: Vec<u64> = (pool.map_chunked(square, 0..2000, 1).unwrap())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(squares, (0..2000).map(square).collect::<Vec<_>>());
        round_trips(&pool, 100);
    });
}

#[test]
fn a_timed_get_on_a_lent_pipe_returns_in_time_and_the_task_runs_on() {
    bounded(|| {
        let pool = Pool::new(1).unwrap();
        round_trips(&pool, 100);
        let handle = match pool
            .apply_async(sleep_ms, 300)
            .unwrap()
            .get_timeout(Duration::from_millis(20))
        {
            Waited::Pending(handle) => handle,
            Waited::Ready(value) => panic!("ready after 20 ms: {value:?}"),
        };
        assert_eq!(handle.get().unwrap(), 300);
        round_trips(&pool, 10);
    });
}

#[test]
fn getters_on_several_threads_and_a_map_share_the_workers() {
    bounded(|| {
        let pool = Arc::new(Pool::new(2).unwrap());
        let getters: Vec<_> = (0..3)
            .map(|t| {
                let pool = Arc::clone(&pool);
                thread::spawn(move || {
                    for x in 0..300 {
                        let x = t * 1000 + x;
                        assert_eq!(pool.apply_async(square, x).unwrap().get().unwrap(), x * x);
                    }
                })
            })
            .collect();
        for _ in 0..3 {
            let squares: Vec<u64> = (pool.map_chunked(square, 0..5000, 1).unwrap())
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(squares, (0..5000).map(square).collect::<Vec<_>>());
        }
        for getter in getters {
            getter.join().unwrap();
        }
    });
}

/// Where the grandchild of [`die_leaving_a_grandchild`] looks for leave to exit.
fn marker(tag: u64) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("mp-pool-round-trip-{}-{tag}", std::process::id()))
}

/// Forks a grandchild that keeps every descriptor of the worker (its end of the reports pipe
/// among them) until the marker file named by `path` exists (at most 90 s), and dies by
/// SIGKILL, as the worker does at once: the pool sees no end of the pipe, only the worker's
/// sentinel.
fn die_leaving_a_grandchild(path: String) -> u64 {
    use nix::unistd::{AccessFlags, ForkResult, access, fork};
    // SAFETY: the child only sleeps, looks for a file and kills itself (no allocation, no
    // lock: async-signal-safe calls only, as a fork of a threaded process must).
    if let Ok(ForkResult::Child) = unsafe { fork() } {
        for _ in 0..900 {
            if access(path.as_str(), AccessFlags::F_OK).is_ok() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
    0
}

#[test]
fn a_getter_sees_its_worker_die_while_a_grandchild_holds_the_pipe() {
    bounded(|| {
        let pool = Pool::new(1).unwrap();
        round_trips(&pool, 100);
        let path = marker(1);
        let result = (pool.apply_async(die_leaving_a_grandchild, path.display().to_string()))
            .unwrap()
            .get();
        std::fs::write(&path, b"").unwrap();
        match result {
            Err(TaskError::WorkerLost { how, .. }) => assert_eq!(how, WorkerExit::Signal(9)),
            other => panic!("{other:?}"),
        }
        round_trips(&pool, 10);
        let _ = std::fs::remove_file(&path);
    });
}
