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

/// The bound on a whole test.
const TEST_BOUND: Duration = Duration::from_secs(60);

/// Runs `body` on its own thread and fails if it does not finish within [`TEST_BOUND`].
fn bounded<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    bounded::on_thread_within(TEST_BOUND, body)
}

fn square(x: u64) -> u64 {
    x * x
}

/// The number that kills its worker.
const FATAL: u64 = 500;

fn square_or_sigkill(x: u64) -> u64 {
    if x == FATAL {
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    x * x
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

fn sleep_ms(ms: u64) -> u64 {
    thread::sleep(Duration::from_millis(ms));
    ms
}

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
    });
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
