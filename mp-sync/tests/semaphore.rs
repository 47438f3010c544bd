//! `Semaphore` and `BoundedSemaphore`: counting, timeouts, bounds, across processes.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{BOUND, shared_counters, spawn};
use mp_sync::{BoundedSemaphore, Error, MAX_SEMAPHORE_VALUE, Semaphore};

#[test]
fn counts_down_and_up() {
    let sem = Semaphore::new(2).unwrap();
    assert_eq!(sem.value(), 2);
    sem.acquire();
    assert!(sem.try_acquire());
    assert_eq!(sem.value(), 0);
    assert!(!sem.try_acquire());
    sem.release().unwrap();
    sem.release().unwrap();
    sem.release().unwrap();
    assert_eq!(
        sem.value(),
        3,
        "a plain semaphore may exceed its initial value"
    );
}

#[test]
fn acquire_timeout_gives_up_after_the_timeout() {
    let sem = Semaphore::new(0).unwrap();
    let start = Instant::now();
    assert!(!sem.acquire_timeout(Duration::from_millis(100)));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(sem.value(), 0);
}

#[test]
fn a_release_in_another_process_wakes_a_waiter() {
    let sem = Semaphore::new(0).unwrap();
    let child = spawn(|| {
        std::thread::sleep(Duration::from_millis(30));
        i32::from(sem.release().is_err())
    });
    assert!(sem.acquire_timeout(BOUND));
    child.join();
    assert_eq!(sem.value(), 0);
}

#[test]
fn too_large_values_are_errors() {
    assert!(matches!(
        Semaphore::new(MAX_SEMAPHORE_VALUE + 1),
        Err(Error::ValueTooLarge(_))
    ));
    let sem = Semaphore::new(MAX_SEMAPHORE_VALUE).unwrap();
    assert!(matches!(sem.release(), Err(Error::ValueTooLarge(_))));
    assert_eq!(sem.value(), MAX_SEMAPHORE_VALUE);
}

#[test]
fn a_bounded_semaphore_refuses_a_release_above_its_initial_value() {
    let sem = BoundedSemaphore::new(2).unwrap();
    assert_eq!(sem.bound(), 2);
    assert!(matches!(sem.release(), Err(Error::AboveBound { bound: 2 })));
    sem.acquire();
    // The surplus release may come from another process: still refused.
    spawn(|| i32::from(sem.release().is_err())).join();
    spawn(|| i32::from(!matches!(sem.release(), Err(Error::AboveBound { .. })))).join();
    assert_eq!(sem.value(), 2);
}

#[test]
fn many_waiters_each_take_exactly_one_release() {
    let sem = Semaphore::new(0).unwrap();
    let taken = shared_counters(1);
    let children: Vec<_> = (0..4)
        .map(|_| {
            spawn(|| {
                for _ in 0..500 {
                    if !sem.acquire_timeout(BOUND) {
                        return 1;
                    }
                    taken[0].fetch_add(1, Ordering::SeqCst);
                }
                0
            })
        })
        .collect();
    for _ in 0..2000 {
        sem.release().unwrap();
    }
    children.into_iter().for_each(common::Child::join);
    assert_eq!(taken[0].load(Ordering::SeqCst), 2000);
    assert_eq!(sem.value(), 0);
}
