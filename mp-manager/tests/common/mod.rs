//! Helpers shared by the manager tests: children under each start method, bounded joins, and
//! a registered type to serve.

#![allow(dead_code, unreachable_pub, missing_docs)]

#[path = "../../../test-support/bounded.rs"]
mod bounded;
#[path = "../../../test-support/process.rs"]
mod process;

#[allow(unused_imports)]
pub use bounded::*;
#[allow(unused_imports)]
pub use process::*;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A registered type: a counter that can also sleep or panic on request.
#[derive(Default)]
pub struct Counter(pub i64);

/// What a [`Counter`] proxy asks.
#[derive(Debug, Serialize, Deserialize)]
pub enum CounterOp {
    /// Adds, answers the new total.
    Add(i64),
    /// Answers the total.
    Get,
    /// Sleeps that many milliseconds, answers the total.
    Sleep(u64),
    /// Panics.
    Panic,
}

impl mp_manager::Served for Counter {
    type Request = CounterOp;
    type Response = i64;
    fn call(&mut self, op: CounterOp) -> i64 {
        match op {
            CounterOp::Add(n) => self.0 += n,
            CounterOp::Get => {}
            CounterOp::Sleep(ms) => std::thread::sleep(Duration::from_millis(ms)),
            CounterOp::Panic => panic!("counter asked to panic"),
        }
        self.0
    }
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
