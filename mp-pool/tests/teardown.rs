//! What a pool leaves once it is joined: none of its workers' pipes, even while results it
//! gave are still held (a result that was read through its worker's pipe keeps a handle on
//! that worker's reader). Alone in this test program, since it counts the whole process's
//! descriptors and shared mappings.

use std::time::Duration;

use mp_pool::Pool;

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/leaks.rs"]
mod leaks;

use leaks::fds_and_shared_mappings;

fn square(x: u64) -> u64 {
    x * x
}

/// A Pool(2)'s round trips, whose results are returned, not dropped; the pool is joined.
fn results_of_a_joined_pool() -> Vec<mp_pool::ApplyResult<u64>> {
    let pool = Pool::new(2).unwrap();
    let results: Vec<_> = (0..8u64)
        .map(|x| pool.apply_async(square, x).unwrap())
        .collect();
    // Waited for, not taken: each waiting thread may read its worker's pipe itself.
    for result in &results {
        result.wait();
        assert_eq!(result.successful(), Ok(true));
    }
    pool.close();
    pool.join().unwrap();
    results
}

#[test]
fn results_that_outlive_their_pool_hold_none_of_its_pipes() {
    bounded::on_thread_within(Duration::from_secs(60), || {
        // What stays for good comes with the first pool (the fork server, mp-ipc's threads).
        drop(results_of_a_joined_pool());
        bounded::wait_until(|| {
            let before = fds_and_shared_mappings();
            std::thread::sleep(Duration::from_millis(100));
            fds_and_shared_mappings() == before
        });
        let settled = fds_and_shared_mappings();
        let kept = results_of_a_joined_pool();
        bounded::wait_until(|| fds_and_shared_mappings() == settled);
        drop(kept);
    });
}
