//! The one set of bounded-wait helpers every crate's tests share (included with `#[path]`, not a
//! crate: the workspace keeps its six crates). Every wait in a test is bounded, so that a bug
//! fails the test instead of hanging CI; the bound is generous, for a loaded 2-core machine, and
//! no test asserts a timing tighter than it.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

/// How long anything a test waits for may take before the test fails.
pub const BOUND: Duration = Duration::from_secs(20);

/// Sleeps until `cond` holds, failing the test after [`BOUND`].
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "condition not reached within {BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f` on a thread of its own and returns its result, failing the test if it does not
/// finish within `bound` (or panics). The thread is left behind if it hangs: the test fails
/// either way, and the test process ends with it.
pub fn on_thread_within<T: Send + 'static>(
    bound: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(bound)
        .unwrap_or_else(|_| panic!("did not finish within {bound:?} (hung or panicked)"))
}
