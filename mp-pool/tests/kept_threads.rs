//! The watcher threads a pool keeps for the next (`kept_threads`) in a fork child: the child
//! inherits the set's state but none of its threads, and must start its pools anyway. Alone in
//! this test program, so that no other test's thread holds a lock when the child is forked.

use std::time::Duration;

use mp_pool::{Pool, StartMethod};

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/process.rs"]
mod process;

fn square(x: u64) -> u64 {
    x * x
}

/// A Pool(2) under `method`: a map, checked, then close and join.
fn pool_round(method: StartMethod) -> bool {
    let pool = Pool::builder()
        .processes(2)
        .start_method(method)
        .build()
        .unwrap();
    let results = pool.map(square, 0..100u64).unwrap();
    pool.close();
    pool.join().unwrap();
    let expected = (0..100u64).map(square);
    results.len() == 100
        && results
            .into_iter()
            .zip(expected)
            .all(|(r, e)| r.ok() == Some(e))
}

/// In a fork child: pools one after another (the second finds its copy of the set claiming
/// parked threads, if it took the set for its own); the exit code says how it went.
fn pools_in_fork_child(_: ()) {
    let right = (0..2).all(|_| pool_round(StartMethod::Fork));
    std::process::exit(if right { 0 } else { 3 });
}

#[test]
fn a_fork_child_of_a_process_with_kept_threads_starts_pools() {
    bounded::on_thread_within(Duration::from_secs(60), || {
        // This process's watcher threads are parked once its pool is joined.
        assert!(pool_round(StartMethod::ForkServer));
        let child = process::start(StartMethod::Fork, pools_in_fork_child, ());
        assert_eq!(process::join(&child), 0);
    });
}
