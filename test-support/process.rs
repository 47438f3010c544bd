//! Bounded helpers for tests that start `mp_process::Process`es (included with `#[path]` beside
//! `bounded.rs`, by the crates whose tests depend on mp-process).

#![allow(dead_code, unreachable_pub)]

use mp_process::{Process, StartMethod};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::bounded::BOUND;

/// A builder for `method` that allows fork although libtest runs tests on threads (the targets
/// of tests touch no lock another test thread may hold).
pub fn builder(method: StartMethod) -> mp_process::Builder {
    Process::builder()
        .start_method(method)
        .allow_fork_with_threads(true)
}

/// Starts `f(args)` in a child under `method`.
pub fn start<A>(method: StartMethod, f: fn(A), args: A) -> Process
where
    A: Serialize + DeserializeOwned + Send + 'static,
{
    let mut p = builder(method).target(f, args);
    p.start().expect("start child");
    p
}

/// Joins `p` within [`BOUND`] and returns its exit code, or kills it and fails the test.
pub fn join(p: &Process) -> i32 {
    match p.join_timeout(BOUND) {
        Ok(Some(code)) => code,
        other => {
            let _ = p.kill();
            panic!("{} did not exit within {BOUND:?}: {other:?}", p.name());
        }
    }
}

/// Joins `p` within [`BOUND`] and asserts a clean exit.
pub fn join_ok(p: &Process) {
    let code = join(p);
    assert_eq!(code, 0, "{} failed: {:?}", p.name(), p.panic_message());
}

/// Whether process `pid` is gone (no entry, or a zombie nobody has reaped yet).
pub fn pid_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}
