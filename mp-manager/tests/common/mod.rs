//! Helpers shared by the manager tests: the workspace's shared test helpers (bounded waits,
//! children under each start method) and a registered type to serve.

#![allow(dead_code, unreachable_pub, missing_docs)]

#[path = "../../../test-support/common.rs"]
mod shared;

#[allow(unused_imports)]
pub use shared::*;

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
