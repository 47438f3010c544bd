//! Properties: map, imap, starmap and imap_unordered (as a multiset) over a ThreadPool equal
//! the sequential result, for random inputs, pool sizes and chunk sizes. Bounded as a whole.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mp_pool::ThreadPool;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// The bound on the whole property run.
const BOUND: Duration = Duration::from_secs(120);

/// The work: anything that depends on the item.
fn work(x: i64) -> i64 {
    x.wrapping_mul(31).wrapping_add(7) ^ (x >> 3)
}

/// Runs the property `check` over random (items, workers, chunksize), bounded.
fn property(check: fn(&ThreadPool, Vec<i64>, usize) -> Result<(), TestCaseError>) {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut runner = TestRunner::new(Config::with_cases(48));
        let inputs = (
            prop::collection::vec(any::<i64>(), 0..300),
            1usize..5,
            1usize..40,
        );
        let outcome = runner.run(&inputs, |(items, workers, chunksize)| {
            let pool = ThreadPool::new(workers).expect("a pool");
            check(&pool, items, chunksize)
        });
        let _ = tx.send(outcome.map_err(|e| e.to_string()));
    });
    let outcome = rx
        .recv_timeout(BOUND)
        .expect("the property run hung or panicked");
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn map_equals_the_sequential_map() {
    property(|pool, items, chunksize| {
        let expected: Vec<i64> = items.iter().copied().map(work).collect();
        let chunked: Vec<i64> = pool
            .map_chunked(work, items.clone(), chunksize)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let default: Vec<i64> = pool
            .map(work, items)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        prop_assert_eq!(&chunked, &expected);
        prop_assert_eq!(&default, &expected);
        Ok(())
    });
}

#[test]
fn imap_equals_the_sequential_map() {
    property(|pool, items, chunksize| {
        let expected: Vec<i64> = items.iter().copied().map(work).collect();
        let got: Vec<i64> = pool
            .imap_chunked(work, items, chunksize)
            .unwrap()
            .in_flight(chunksize * 3)
            .map(Result::unwrap)
            .collect();
        prop_assert_eq!(got, expected);
        Ok(())
    });
}

#[test]
fn starmap_equals_the_sequential_starmap() {
    property(|pool, items, chunksize| {
        let pairs: Vec<(i64, i64)> = items.iter().map(|&x| (x, x >> 1)).collect();
        let add = |a: i64, b: i64| work(a).wrapping_add(b);
        let expected: Vec<i64> = pairs.iter().map(|&(a, b)| add(a, b)).collect();
        let got: Vec<i64> = pool
            .starmap_chunked(add, pairs, chunksize)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        prop_assert_eq!(got, expected);
        Ok(())
    });
}

#[test]
fn imap_unordered_equals_the_sequential_map_as_a_multiset() {
    property(|pool, items, chunksize| {
        let mut expected: Vec<i64> = items.iter().copied().map(work).collect();
        let mut got: Vec<i64> = pool
            .imap_unordered_chunked(work, items, chunksize)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        expected.sort_unstable();
        got.sort_unstable();
        prop_assert_eq!(got, expected);
        Ok(())
    });
}
