//! Helpers shared by the integration tests: children under each start method, bounded joins.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::Duration;

use mp_process::{Process, StartMethod};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Every wait in a test is bounded by this: a bug fails instead of hanging.
pub const BOUND: Duration = Duration::from_secs(20);

/// Starts `f(args)` in a child under `method`.
pub fn start<A>(method: StartMethod, f: fn(A), args: A) -> Process
where
    A: Serialize + DeserializeOwned + Send + 'static,
{
    let mut p = Process::builder()
        .start_method(method)
        .allow_fork_with_threads(true)
        .target(f, args);
    p.start().expect("start child");
    p
}

/// Joins within [`BOUND`] (killing the child and failing otherwise); returns the exit code.
pub fn join(p: &Process) -> i32 {
    match p.join_timeout(BOUND) {
        Ok(Some(code)) => code,
        other => {
            let _ = p.kill();
            panic!("child did not exit within {BOUND:?}: {other:?}");
        }
    }
}

/// Joins and asserts a clean exit.
pub fn join_ok(p: &Process) {
    let code = join(p);
    assert_eq!(code, 0, "child failed: {:?}", p.panic_message());
}
