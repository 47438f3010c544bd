//! Many threads sharing one fork server, each starting and joining its own children at once:
//! every start gets its own child and every join its own exit code, and none waits for a
//! message another thread read for it (the fork server's client wakes the thread a message is
//! for, whoever reads it).
//!
//! One test in this binary: it counts on being the only user of this process's fork server.

mod common;

use std::time::Instant;

use common::{BOUND, builder, join, on_thread_within};
use mp_process::StartMethod;

/// Threads that start and join at once.
const THREADS: usize = 16;

/// Start + join cycles per thread.
const CYCLES: usize = 50;

fn exit_with(code: i32) {
    std::process::exit(code)
}

/// The exit code the child of `thread`'s `cycle` exits with: distinct between neighbours, so a
/// report filed under the wrong pid shows.
fn code_of(thread: usize, cycle: usize) -> i32 {
    ((thread * CYCLES + cycle) % 250) as i32
}

#[test]
fn concurrent_starts_and_joins_each_get_their_own_answer() {
    // Starts the server before the threads race for it.
    join(&{
        let mut p = builder(StartMethod::ForkServer).target(exit_with, 0);
        p.start().unwrap();
        p
    });
    let started = Instant::now();
    on_thread_within(BOUND * 3, || {
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                scope.spawn(move || {
                    for cycle in 0..CYCLES {
                        let code = code_of(thread, cycle);
                        let mut p = builder(StartMethod::ForkServer).target(exit_with, code);
                        p.start().unwrap();
                        assert_eq!(join(&p), code, "thread {thread} cycle {cycle}");
                    }
                });
            }
        });
    });
    // Not asserted (the machine is shared): with a missed wake-up costing a 10 ms slice, this
    // took seconds; reported for whoever reads the test's output.
    let took = started.elapsed();
    eprintln!(
        "{THREADS} threads x {CYCLES} start+join cycles under the fork server: {took:?} ({:?} per cycle)",
        took / (THREADS * CYCLES) as u32
    );
}
