//! Properties: map, imap, starmap and imap_unordered (as a multiset) equal the sequential
//! result for random inputs, pool sizes and chunk sizes, over a ThreadPool and over a process
//! Pool (fewer cases: processes are slower to start). Bounded as a whole.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mp_pool::{Pool, TaskError, ThreadPool};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// The bound on one property run.
const BOUND: Duration = Duration::from_secs(120);

/// The work: anything that depends on the item.
fn work(x: i64) -> i64 {
    x.wrapping_mul(31).wrapping_add(7) ^ (x >> 3)
}

/// The work of two arguments, for starmap.
fn add(a: i64, b: i64) -> i64 {
    work(a).wrapping_add(b)
}

/// The values of results that must all have succeeded.
fn values(results: impl IntoIterator<Item = Result<i64, TaskError>>) -> Vec<i64> {
    results.into_iter().map(Result::unwrap).collect()
}

/// The forms under test, as each pool offers them.
trait Forms: Sized {
    /// A pool of `workers`.
    fn with_workers(workers: usize) -> Self;
    /// `map` with the given chunk size and with the default.
    fn maps(&self, items: Vec<i64>, chunksize: usize) -> (Vec<i64>, Vec<i64>);
    /// `imap` with a small window.
    fn imap(&self, items: Vec<i64>, chunksize: usize) -> Vec<i64>;
    /// `starmap` of [`add`].
    fn starmap(&self, pairs: Vec<(i64, i64)>, chunksize: usize) -> Vec<i64>;
    /// `imap_unordered`.
    fn imap_unordered(&self, items: Vec<i64>, chunksize: usize) -> Vec<i64>;
}

impl Forms for ThreadPool {
    fn with_workers(workers: usize) -> Self {
        ThreadPool::new(workers).expect("a pool")
    }
    fn maps(&self, items: Vec<i64>, chunksize: usize) -> (Vec<i64>, Vec<i64>) {
        let chunked = values(self.map_chunked(work, items.clone(), chunksize).unwrap());
        (chunked, values(self.map(work, items).unwrap()))
    }
    fn imap(&self, items: Vec<i64>, chunksize: usize) -> Vec<i64> {
        let stream = self.imap_chunked(work, items, chunksize).unwrap();
        values(stream.in_flight(chunksize * 3))
    }
    fn starmap(&self, pairs: Vec<(i64, i64)>, chunksize: usize) -> Vec<i64> {
        values(self.starmap_chunked(add, pairs, chunksize).unwrap())
    }
    fn imap_unordered(&self, items: Vec<i64>, chunksize: usize) -> Vec<i64> {
        values(self.imap_unordered_chunked(work, items, chunksize).unwrap())
    }
}

impl Forms for Pool {
    fn with_workers(workers: usize) -> Self {
        Pool::new(workers).expect("a pool")
    }
    fn maps(&self, items: Vec<i64>, chunksize: usize) -> (Vec<i64>, Vec<i64>) {
        let chunked = values(self.map_chunked(work, items.clone(), chunksize).unwrap());
        (chunked, values(self.map(work, items).unwrap()))
    }
    fn imap(&self, items: Vec<i64>, chunksize: usize) -> Vec<i64> {
        let stream = self.imap_chunked(work, items, chunksize).unwrap();
        values(stream.in_flight(chunksize * 3))
    }
    fn starmap(&self, pairs: Vec<(i64, i64)>, chunksize: usize) -> Vec<i64> {
        let add = add as fn(i64, i64) -> i64;
        values(self.starmap_chunked(add, pairs, chunksize).unwrap())
    }
    fn imap_unordered(&self, items: Vec<i64>, chunksize: usize) -> Vec<i64> {
        values(self.imap_unordered_chunked(work, items, chunksize).unwrap())
    }
}

/// Runs the property `check` over random (items, workers, chunksize) on pools of type `P`,
/// `cases` times, bounded.
fn property<P: Forms + 'static>(
    cases: u32,
    check: fn(&P, Vec<i64>, usize) -> Result<(), TestCaseError>,
) {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut runner = TestRunner::new(Config::with_cases(cases));
        let inputs = (
            prop::collection::vec(any::<i64>(), 0..300),
            1usize..5,
            1usize..40,
        );
        let outcome = runner.run(&inputs, |(items, workers, chunksize)| {
            check(&P::with_workers(workers), items, chunksize)
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

/// Cases on threads.
const THREAD_CASES: u32 = 48;

/// Cases on processes.
const PROCESS_CASES: u32 = 24;

fn map_equals_the_sequential_map<P: Forms>(
    pool: &P,
    items: Vec<i64>,
    chunksize: usize,
) -> Result<(), TestCaseError> {
    let expected: Vec<i64> = items.iter().copied().map(work).collect();
    let (chunked, default) = pool.maps(items, chunksize);
    prop_assert_eq!(&chunked, &expected);
    prop_assert_eq!(&default, &expected);
    Ok(())
}

fn imap_equals_the_sequential_map<P: Forms>(
    pool: &P,
    items: Vec<i64>,
    chunksize: usize,
) -> Result<(), TestCaseError> {
    let expected: Vec<i64> = items.iter().copied().map(work).collect();
    prop_assert_eq!(pool.imap(items, chunksize), expected);
    Ok(())
}

fn starmap_equals_the_sequential_starmap<P: Forms>(
    pool: &P,
    items: Vec<i64>,
    chunksize: usize,
) -> Result<(), TestCaseError> {
    let pairs: Vec<(i64, i64)> = items.iter().map(|&x| (x, x >> 1)).collect();
    let expected: Vec<i64> = pairs.iter().map(|&(a, b)| add(a, b)).collect();
    prop_assert_eq!(pool.starmap(pairs, chunksize), expected);
    Ok(())
}

fn imap_unordered_equals_the_sequential_map_as_a_multiset<P: Forms>(
    pool: &P,
    items: Vec<i64>,
    chunksize: usize,
) -> Result<(), TestCaseError> {
    let mut expected: Vec<i64> = items.iter().copied().map(work).collect();
    let mut got = pool.imap_unordered(items, chunksize);
    expected.sort_unstable();
    got.sort_unstable();
    prop_assert_eq!(got, expected);
    Ok(())
}

#[test]
fn thread_pool_map_equals_the_sequential_map() {
    property::<ThreadPool>(THREAD_CASES, map_equals_the_sequential_map);
}

#[test]
fn thread_pool_imap_equals_the_sequential_map() {
    property::<ThreadPool>(THREAD_CASES, imap_equals_the_sequential_map);
}

#[test]
fn thread_pool_starmap_equals_the_sequential_starmap() {
    property::<ThreadPool>(THREAD_CASES, starmap_equals_the_sequential_starmap);
}

#[test]
fn thread_pool_imap_unordered_equals_the_sequential_map_as_a_multiset() {
    property::<ThreadPool>(
        THREAD_CASES,
        imap_unordered_equals_the_sequential_map_as_a_multiset,
    );
}

#[test]
fn pool_map_equals_the_sequential_map() {
    property::<Pool>(PROCESS_CASES, map_equals_the_sequential_map);
}

#[test]
fn pool_imap_equals_the_sequential_map() {
    property::<Pool>(PROCESS_CASES, imap_equals_the_sequential_map);
}

#[test]
fn pool_starmap_equals_the_sequential_starmap() {
    property::<Pool>(PROCESS_CASES, starmap_equals_the_sequential_starmap);
}

#[test]
fn pool_imap_unordered_equals_the_sequential_map_as_a_multiset() {
    property::<Pool>(
        PROCESS_CASES,
        imap_unordered_equals_the_sequential_map_as_a_multiset,
    );
}
