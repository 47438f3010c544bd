//! imap's memory: over millions of items the parent's resident memory stays flat, because
//! `imap` and `imap_unordered` pull their input only as results are taken and keep a bounded
//! window in flight (Python's `imap` takes its whole input at once, so its memory grows with
//! it). Each test is bounded, and one at a time: they read this process's resident memory.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use mp_pool::Pool;

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/memory.rs"]
mod memory;
#[path = "../../test-support/pool_tasks.rs"]
mod pool_tasks;

use memory::PeakResident;
use pool_tasks::square;

/// The bound on a whole test: far above what one needs (a few seconds), on a loaded machine.
const TEST_BOUND: Duration = Duration::from_secs(180);

/// Items of the long imap.
const ITEMS: u64 = 4_000_000;

/// Items a job, as the imap bench row.
const CHUNKSIZE: usize = 1000;

/// Items of the warm-up imap, which makes what a pool makes once (its result buffers, the
/// allocator's arenas of its threads) before the baseline: a few windows' worth.
const WARM_UP_ITEMS: u64 = 200_000;

/// How many KiB the parent's resident memory may grow over the long imap: allocator slack and
/// pages a window's results touch (an imap of 10^7 peaks at about 6 MiB in the bench, the
/// process's whole memory). What an imap that buffered would hold, for [`ITEMS`]: its input,
/// 8 bytes an item, is 31 MiB (about 4x this bound); its results, `Result<u64, TaskError>`
/// (at least 8 bytes an item, far more in a per-item allocation), at least as much again; and
/// `an_imap_over_a_collected_input_is_seen_to_exceed_the_bound` measures the first. Measured
/// (debug build): 0.3-0.6 MiB for the lazy imaps, 31 MiB over a collected input, 234 MiB for
/// an `imap_unordered` with an unbounded window (`.in_flight(usize::MAX)`: every job submitted
/// at the first `next`, as Python's `imap` does).
const GROWTH_BOUND_KIB: u64 = 8 << 10;

// A buffered input alone must exceed the bound with a wide margin, or the tests show nothing.
const _: () = assert!(ITEMS * 8 / 1024 >= 3 * GROWTH_BOUND_KIB);

/// Taken by each test: the others' pools and buffers would count in its resident memory.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Waits for the other tests of this file to end (a failed one does not stop the rest).
fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The order the results come in.
#[derive(Clone, Copy, Debug)]
enum Order {
    /// `imap`: input order.
    Input,
    /// `imap_unordered`: completion order.
    Completion,
}

/// Runs a warm-up imap on a pool of two, then takes the baseline, makes the input with
/// `input` and takes [`ITEMS`] results of an imap over it one by one (sampling the resident
/// memory once a chunk); returns the growth in KiB. Checks the results' sum.
fn growth_over_a_long_imap<I>(order: Order, input: fn() -> I) -> u64
where
    I: IntoIterator<Item = u64> + 'static,
{
    let pool = Pool::new(2).expect("a pool");
    let warm: u64 = pool
        .imap_chunked(square, 0..WARM_UP_ITEMS, CHUNKSIZE)
        .expect("imap")
        .map(|r| r.expect("task"))
        .fold(0, u64::wrapping_add);
    assert_eq!(
        warm,
        (0..WARM_UP_ITEMS).map(square).fold(0, u64::wrapping_add)
    );
    let mut peak = PeakResident::from_now();
    let input = input();
    let results = match order {
        Order::Input => pool.imap_chunked(square, input, CHUNKSIZE),
        Order::Completion => pool.imap_unordered_chunked(square, input, CHUNKSIZE),
    }
    .expect("imap");
    let mut sum = 0u64;
    for (taken, result) in results.take(ITEMS as usize).enumerate() {
        sum = sum.wrapping_add(result.expect("task"));
        if taken % CHUNKSIZE == 0 {
            peak.sample();
        }
    }
    peak.sample();
    assert_eq!(sum, (0..ITEMS).map(square).fold(0, u64::wrapping_add));
    let growth = peak.growth_kib();
    eprintln!("{order:?}: resident memory grew by {growth} KiB over {ITEMS} items");
    growth
}

/// Fails unless `growth` is within the bound.
fn assert_flat(order: Order, growth: u64) {
    assert!(
        growth <= GROWTH_BOUND_KIB,
        "{order:?}: the parent's resident memory grew by {growth} KiB over an imap of {ITEMS} \
         items (bound {GROWTH_BOUND_KIB} KiB): it buffers its input or its results"
    );
}

#[test]
fn imap_over_an_endless_input_keeps_the_parents_memory_flat() {
    let _alone = alone();
    let growth = bounded::on_thread_within(TEST_BOUND, || {
        growth_over_a_long_imap(Order::Input, || 0u64..)
    });
    assert_flat(Order::Input, growth);
}

#[test]
fn imap_unordered_over_a_long_input_keeps_the_parents_memory_flat() {
    let _alone = alone();
    let growth = bounded::on_thread_within(TEST_BOUND, || {
        growth_over_a_long_imap(Order::Completion, || 0..ITEMS)
    });
    assert_flat(Order::Completion, growth);
}

/// The same measure sees buffering: an imap over the input collected first (what an imap
/// that took its whole input at once would hold) grows past the bound.
#[test]
fn an_imap_over_a_collected_input_is_seen_to_exceed_the_bound() {
    let _alone = alone();
    let growth = bounded::on_thread_within(TEST_BOUND, || {
        growth_over_a_long_imap(Order::Input, || (0..ITEMS).collect::<Vec<u64>>())
    });
    assert!(
        growth > GROWTH_BOUND_KIB,
        "a collected input of {ITEMS} items grew the resident memory by only {growth} KiB"
    );
}
