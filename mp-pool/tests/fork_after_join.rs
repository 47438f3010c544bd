//! A fork-method start without `allow_fork_with_threads` right after a pool's join: the
//! pool's watcher threads, kept parked for the next pool, are quiet (`mp_process::QuietThread`)
//! and not counted, and the join waits until they are parked. Without a harness (libtest runs
//! tests on threads of its own, which a fork would count): `main` is the only other thread,
//! bounded by an alarm rather than a watching thread.

use mp_pool::{Pool, StartMethod};
use mp_process::Process;

fn square(x: u64) -> u64 {
    x * x
}

/// A fork child's target: exits 0.
fn leave(_: ()) {}

/// A Pool(2) under `method`: a map, close, join.
fn pool_round(method: StartMethod) {
    let pool = Pool::builder()
        .processes(2)
        .start_method(method)
        .build()
        .unwrap();
    let results = pool.map(square, 0..50u64).unwrap();
    assert_eq!(results.len(), 50);
    pool.close();
    pool.join().unwrap();
}

/// A fork child without the allowance starts, exits 0, and counted as a fork of a
/// single-threaded process (its exit runs the at-exit handlers: exit 0 either way).
fn fork_starts(round: usize) {
    let mut child = Process::builder()
        .start_method(StartMethod::Fork)
        .target(leave, ());
    if let Err(error) = child.start() {
        panic!("round {round}: a fork right after a pool's join was refused: {error}");
    }
    let code = child.join_timeout(std::time::Duration::from_secs(30));
    assert!(
        matches!(code, Ok(Some(0))),
        "round {round}: the fork child: {code:?}"
    );
}

fn main() {
    // A hang fails the test (SIGALRM ends the process) instead of stalling the run.
    nix::unistd::alarm::set(120);
    for method in [
        StartMethod::ForkServer,
        StartMethod::Fork,
        StartMethod::Spawn,
    ] {
        for round in 0..10 {
            pool_round(method);
            fork_starts(round);
        }
        eprintln!("fork after a pool's join ({method:?}): ok");
    }
    println!("fork_after_join: all passed");
}
