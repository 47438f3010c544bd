//! ThreadPool: every pool behaviour that applies to threads, each test bounded (a regression
//! fails, it never hangs).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use mp_pool::{
    JoinError, NotReady, Options, PoolError, SubmitError, TaskError, ThreadPool, Waited,
    WorkerExit, WorkerStartError,
};

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/pool_tasks.rs"]
mod pool_tasks;

use pool_tasks::{TEST_BOUND as BOUND, bounded};

#[test]
fn apply_returns_the_result() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        assert_eq!(pool.apply(|x: i32| x + 1, 5).unwrap(), 6);
        let captured = String::from("closures are fine");
        assert_eq!(pool.apply(move |()| captured.len(), ()).unwrap(), 17);
    });
}

#[test]
fn map_gives_results_in_input_order_with_any_chunk_size() {
    bounded(|| {
        let pool = ThreadPool::new(3).unwrap();
        let expected: Vec<u64> = (0..100).map(|x| x * x).collect();
        for result in [
            pool.map(|x: u64| x * x, 0..100).unwrap(),
            pool.map_chunked(|x: u64| x * x, 0..100, 20).unwrap(),
            pool.map_async(|x: u64| x * x, 0..100).unwrap().get(),
        ] {
            let values: Vec<u64> = result.into_iter().map(Result::unwrap).collect();
            assert_eq!(values, expected);
        }
    });
}

#[test]
fn starmap_unpacks_tuples() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let pairs: Vec<(i32, i32)> = (0..10).map(|i| (i, i + 1)).collect();
        let expected: Vec<i32> = pairs.iter().map(|(a, b)| a * b).collect();
        let mul = |a: i32, b: i32| a * b;
        let sync: Vec<i32> = pool
            .starmap(mul, pairs.clone())
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let chunked: Vec<i32> = pool
            .starmap_chunked(mul, pairs.clone(), 3)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let asynced: Vec<i32> = pool
            .starmap_async(mul, pairs)
            .unwrap()
            .get()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(sync, expected);
        assert_eq!(chunked, expected);
        assert_eq!(asynced, expected);
        let triple = pool
            .starmap(|a: u8, b: u8, c: u8| a + b + c, [(1, 2, 3)])
            .unwrap();
        assert_eq!(*triple[0].as_ref().unwrap(), 6);
    });
}

#[test]
fn empty_input_gives_empty_output_at_once() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        assert!(pool.map(|x: u8| x, Vec::new()).unwrap().is_empty());
        assert!(
            pool.map_async(|x: u8| x, Vec::new())
                .unwrap()
                .get()
                .is_empty()
        );
        assert_eq!(pool.imap(|x: u8| x, Vec::new()).unwrap().count(), 0);
        assert_eq!(
            pool.imap_unordered(|x: u8| x, Vec::new()).unwrap().count(),
            0
        );
    });
}

#[test]
fn a_panic_fails_its_task_with_the_message_and_the_others_run_on() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let results = pool
            .map_chunked(
                |x: u32| {
                    if x == 13 {
                        panic!("unlucky {x}");
                    }
                    x
                },
                0..50,
                4,
            )
            .unwrap();
        for (i, result) in results.iter().enumerate() {
            match result {
                Ok(v) => assert_eq!(*v as usize, i),
                Err(TaskError::Panicked {
                    task,
                    message,
                    worker,
                }) => {
                    assert_eq!((*task, i), (13, 13));
                    assert_eq!(message, "unlucky 13");
                    assert_eq!(worker.pid, None);
                }
                Err(other) => panic!("unexpected {other}"),
            }
        }
        // The pool is still whole.
        assert_eq!(pool.apply(|x: u8| x, 1).unwrap(), 1);
        assert_eq!(pool.workers().len(), 2);
    });
}

#[test]
fn close_then_join_completes_what_was_submitted() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let slow = pool
            .map_async(
                |x: u64| {
                    thread::sleep(Duration::from_millis(2));
                    x
                },
                0..40,
            )
            .unwrap();
        pool.close();
        pool.join().unwrap();
        assert!(slow.ready());
        assert_eq!(slow.get().len(), 40);
        assert!(pool.workers().is_empty());
    });
}

#[test]
fn join_before_close_is_an_error_and_submitting_after_close_is_refused() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        assert_eq!(pool.join(), Err(JoinError::StillRunning));
        pool.close();
        assert!(matches!(
            pool.apply_async(|x: u8| x, 1),
            Err(SubmitError::NotRunning)
        ));
        assert!(matches!(
            pool.map(|x: u8| x, [1]),
            Err(SubmitError::NotRunning)
        ));
        assert!(matches!(
            pool.imap(|x: u8| x, [1]),
            Err(SubmitError::NotRunning)
        ));
        assert!(matches!(
            pool.apply(|x: u8| x, 1),
            Err(TaskError::Submit(SubmitError::NotRunning))
        ));
        pool.join().unwrap();
        pool.terminate();
        assert!(matches!(
            pool.map(|x: u8| x, [1]),
            Err(SubmitError::NotRunning)
        ));
    });
}

#[test]
fn terminate_with_ten_thousand_long_tasks_queued_returns_promptly() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let stop = Arc::new(AtomicUsize::new(0));
        let hour = {
            let stop = Arc::clone(&stop);
            move |_: u32| {
                // "An hour", but let the abandoned threads go once the test is done.
                let until = Instant::now() + Duration::from_secs(3600);
                while Instant::now() < until && stop.load(Ordering::Relaxed) == 0 {
                    thread::sleep(Duration::from_millis(10));
                }
            }
        };
        let result = pool
            .map_async_with(hour, 0..10_000, Options::new().chunksize(1))
            .unwrap();
        thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        pool.terminate();
        pool.join().unwrap();
        let took = started.elapsed();
        let results = result.get();
        assert_eq!(results.len(), 10_000);
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(TaskError::Terminated { .. })))
        );
        assert!(took < Duration::from_secs(10), "terminate took {took:?}");
        stop.store(1, Ordering::Relaxed);
    });
}

#[test]
fn dropping_a_running_pool_terminates_it() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let pending = pool
            .apply_async(|()| thread::sleep(Duration::from_millis(300)), ())
            .unwrap();
        let queued = pool.apply_async(|x: u8| x, 7).unwrap();
        drop(pool);
        assert!(matches!(
            queued.get(),
            Err(TaskError::Terminated { task: 0 })
        ));
        assert!(matches!(pending.get(), Err(TaskError::Terminated { .. })));
    });
}

#[test]
fn a_task_past_its_limit_fails_and_its_thread_is_replaced() {
    bounded(|| {
        let pool = ThreadPool::builder()
            .workers(2)
            .task_timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let before = pool.workers();
        let results = pool
            .map_chunked(
                |ms: u64| {
                    thread::sleep(Duration::from_millis(ms));
                    ms
                },
                [0, 2000, 0, 0],
                1,
            )
            .unwrap();
        match &results[1] {
            Err(TaskError::TimedOut {
                task: 1,
                limit,
                worker,
            }) => {
                assert_eq!(*limit, Duration::from_millis(100));
                assert!(before.contains(worker));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(results.iter().enumerate().all(|(i, r)| i == 1 || r.is_ok()));
        // Replaced: still two workers, one of them new.
        let after = pool.workers();
        assert_eq!(after.len(), 2);
        assert_ne!(before, after);
        // A per-submission limit overrides the pool's.
        let generous = pool
            .apply_async_with(
                |()| thread::sleep(Duration::from_millis(300)),
                (),
                Options::new().timeout(Duration::from_secs(30)),
            )
            .unwrap();
        assert!(generous.get().is_ok());
    });
}

#[test]
fn max_tasks_per_child_replaces_workers_and_results_stay_right() {
    bounded(|| {
        let pool = ThreadPool::builder()
            .workers(2)
            .max_tasks_per_child(10)
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let record = Arc::clone(&seen);
        let results = pool
            .map_chunked(
                move |x: u32| {
                    record.lock().unwrap().insert(thread::current().id());
                    x * 2
                },
                0..100,
                1,
            )
            .unwrap();
        let values: Vec<u32> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, (0..100).map(|x| x * 2).collect::<Vec<_>>());
        // No thread ran more than 10 of the 100 jobs.
        assert!(seen.lock().unwrap().len() >= 10, "threads were replaced");
    });
}

#[test]
fn early_close_with_max_tasks_one_completes_pending_tasks() {
    bounded(|| {
        let pool = ThreadPool::builder()
            .workers(2)
            .max_tasks_per_child(1)
            .build()
            .unwrap();
        let results: Vec<_> = (0..6)
            .map(|i| {
                pool.apply_async(
                    |x: u64| {
                        thread::sleep(Duration::from_millis(5));
                        x
                    },
                    i,
                )
                .unwrap()
            })
            .collect();
        pool.close();
        pool.join().unwrap();
        let values: Vec<u64> = results.into_iter().map(|r| r.get().unwrap()).collect();
        assert_eq!(values, [0, 1, 2, 3, 4, 5]);
    });
}

#[test]
fn invalid_settings_are_errors() {
    assert!(matches!(ThreadPool::new(0), Err(PoolError::ZeroWorkers)));
    let zero_tasks = ThreadPool::builder().max_tasks_per_child(0).build();
    assert!(matches!(zero_tasks, Err(PoolError::ZeroMaxTasks)));
    let zero_limit = ThreadPool::builder().task_timeout(Duration::ZERO).build();
    assert!(matches!(zero_limit, Err(PoolError::ZeroTimeout)));
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        assert!(matches!(
            pool.map_chunked(|x: u8| x, [1], 0),
            Err(SubmitError::ZeroChunksize)
        ));
        assert!(matches!(
            pool.imap_chunked(|x: u8| x, [1], 0),
            Err(SubmitError::ZeroChunksize)
        ));
        let default_size = ThreadPool::builder().build().unwrap();
        assert_eq!(
            default_size.size(),
            thread::available_parallelism().map_or(1, usize::from)
        );
    });
}

#[test]
fn the_initializer_runs_once_in_every_worker_and_its_panic_fails_creation() {
    bounded(|| {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let pool = ThreadPool::builder()
            .workers(3)
            .initializer(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "all ran before build returned"
        );
        pool.map(|x: u8| x, 0..30).unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);

        let failing = ThreadPool::builder()
            .workers(2)
            .initializer(|| panic!("no config"))
            .build();
        match failing {
            Err(PoolError::WorkerStart(WorkerStartError::Initializer { message, .. })) => {
                assert_eq!(message, "no config");
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("creation should fail"),
        }
    });
}

#[test]
fn callbacks_run_before_get_returns() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ok_log, err_log, map_log) = (Arc::clone(&log), Arc::clone(&log), Arc::clone(&log));
        let ok = pool
            .apply_async_with(
                |x: i32| x * 3,
                2,
                Options::new()
                    .on_success(move |v: &i32| ok_log.lock().unwrap().push(format!("ok {v}"))),
            )
            .unwrap();
        assert_eq!(ok.get().unwrap(), 6);
        assert_eq!(log.lock().unwrap().last().unwrap(), "ok 6");

        let failed = pool
            .apply_async_with(
                |()| -> i32 { panic!("boom") },
                (),
                Options::new().on_error(move |e: &TaskError| {
                    err_log
                        .lock()
                        .unwrap()
                        .push(format!("err {}", e.task().unwrap()))
                }),
            )
            .unwrap();
        failed.wait();
        assert_eq!(log.lock().unwrap().last().unwrap(), "err 0");
        assert!(failed.get().is_err());

        let listed = pool
            .map_async_with(
                |x: u8| x + 1,
                [1, 2, 3],
                Options::new()
                    .on_success(move |v: &Vec<u8>| map_log.lock().unwrap().push(format!("{v:?}"))),
            )
            .unwrap();
        listed.wait();
        assert_eq!(log.lock().unwrap().last().unwrap(), "[2, 3, 4]");
    });
}

#[test]
fn a_get_with_a_timeout_hands_the_handle_back_and_the_task_runs_on() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let (go, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let result = pool
            .apply_async(
                move |x: u8| {
                    gate.lock().unwrap().recv().unwrap();
                    x
                },
                9,
            )
            .unwrap();
        assert!(!result.ready());
        assert_eq!(result.successful(), Err(NotReady));
        let result = match result.get_timeout(Duration::from_millis(20)) {
            Waited::Pending(result) => result,
            Waited::Ready(_) => panic!("the task cannot have finished"),
        };
        let result = match result.try_get() {
            Waited::Pending(result) => result,
            Waited::Ready(_) => panic!("the task cannot have finished"),
        };
        go.send(()).unwrap();
        assert!(result.wait_timeout(BOUND));
        assert_eq!(result.successful(), Ok(true));
        assert_eq!(result.get_timeout(BOUND).ready().unwrap().unwrap(), 9);
    });
}

/// Wakes a parked thread.
struct ThreadWaker(thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor: polls `future` on this thread, parking between polls.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        thread::park();
    }
}

#[test]
fn results_can_be_awaited_without_a_runtime() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let one = pool
            .apply_async(
                |x: u32| {
                    thread::sleep(Duration::from_millis(20));
                    x + 1
                },
                41,
            )
            .unwrap();
        assert_eq!(block_on(one).unwrap(), 42);
        let many = pool.map_async(|x: u32| x * 2, 0..5).unwrap();
        let values: Vec<u32> = block_on(many).into_iter().map(Result::unwrap).collect();
        assert_eq!(values, [0, 2, 4, 6, 8]);
    });
}

#[test]
fn imap_yields_in_input_order_and_imap_unordered_in_completion_order() {
    bounded(|| {
        let pool = ThreadPool::new(3).unwrap();
        // Each task waits for its own gate; the test opens them in the order 1, 2, 0.
        let (gates, waits): (Vec<_>, Vec<_>) = (0..3).map(|_| mpsc::channel::<()>()).unzip();
        let waits: Arc<Vec<Mutex<mpsc::Receiver<()>>>> =
            Arc::new(waits.into_iter().map(Mutex::new).collect());
        let gated = move |i: usize| {
            waits[i].lock().unwrap().recv().unwrap();
            i
        };
        let mut unordered = pool.imap_unordered(gated, [0, 1, 2]).unwrap();
        for i in [1, 2, 0] {
            gates[i].send(()).unwrap();
            // (The first next submits all three, then waits for the first to complete.)
            assert_eq!(unordered.next().unwrap().unwrap(), i);
        }
        assert!(unordered.next().is_none());

        let sleep = |ms: u64| {
            thread::sleep(Duration::from_millis(ms));
            ms
        };
        let ordered: Vec<u64> = pool
            .imap(sleep, [30, 0, 15])
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ordered, [30, 0, 15]);
        let chunked: Vec<u32> = pool
            .imap_chunked(|x: u32| x + 1, 0..1000, 100)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(chunked, (1..=1000).collect::<Vec<_>>());
    });
}

#[test]
fn imap_pulls_its_input_only_as_results_are_taken() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pulled);
        let endless = (0u64..).inspect(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let mut results = pool.imap(|x: u64| x * 2, endless).unwrap().in_flight(5);
        assert_eq!(
            pulled.load(Ordering::SeqCst),
            0,
            "nothing before the first next"
        );
        for expected in 0..100u64 {
            assert_eq!(results.next().unwrap().unwrap(), expected * 2);
            let ahead = pulled.load(Ordering::SeqCst) - (expected as usize + 1);
            assert!(
                ahead <= 5,
                "{ahead} items pulled ahead of the results taken"
            );
        }
    });
}

#[test]
fn imap_is_exact_size_when_its_input_is() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let mut results = pool
            .imap_chunked(|x: u16| x, vec![1, 2, 3, 4, 5], 2)
            .unwrap();
        assert_eq!(results.len(), 5);
        results.next();
        assert_eq!(results.len(), 4);
        assert_eq!(results.by_ref().count(), 4);
        assert_eq!(results.len(), 0);
    });
}

#[test]
fn close_then_join_waits_for_a_live_imap_and_it_completes() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let results = pool.imap(|x: u32| x + 1, 0..50).unwrap().in_flight(4);
        pool.close();
        let values: Vec<u32> = results.map(Result::unwrap).collect();
        assert_eq!(values, (1..=50).collect::<Vec<_>>());
        pool.join().unwrap();
    });
}

#[test]
fn workers_are_named_as_threads() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let names = pool
            .map(|_: u8| thread::current().name().map(str::to_owned), 0..20)
            .unwrap();
        assert!(
            names
                .into_iter()
                .all(|n| n.unwrap().unwrap().starts_with("mp-pool worker"))
        );
        assert!(pool.workers().iter().all(|w| w.pid.is_none()));
        // WorkerExit is public for matching lost-task errors.
        let _ = WorkerExit::Abandoned;
    });
}
