//! [`BarrierProxy`]: a Barrier on a manager's server (Python's `manager.Barrier(parties)`).

use std::time::Duration;

use mp_sync::raw::Deadline;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::link::unexpected;
use crate::proxy::handle::{Handle, wait_of};
use crate::wire::{Op, Reply};

/// A barrier held by a manager's server: `parties` callers, in any processes, meet at
/// [`wait`](Self::wait). A party that times out or hangs up (killed) while waiting breaks it
/// for the others ([`Refusal::BrokenBarrier`](crate::Refusal::BrokenBarrier)) until a
/// [`reset`](Self::reset).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BarrierProxy {
    /// The object.
    handle: Handle,
}

impl BarrierProxy {
    /// The proxy of the barrier behind `handle`.
    pub(crate) fn new(handle: Handle) -> Self {
        BarrierProxy { handle }
    }

    /// Bounds every later call's round trip ([`Error::Timeout`] past it), beyond what a
    /// timed wait waits.
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.handle.set_call_timeout(timeout);
    }

    /// Waits for the other parties; this caller's arrival index (0 for the first).
    pub fn wait(&self) -> Result<usize, Error> {
        self.wait_until(None)
    }

    /// Waits at most `timeout` (past it the barrier breaks, as in Python).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, Error> {
        self.wait_until(Some(Deadline::after(timeout)))
    }

    /// Waits until `deadline` (past it the barrier breaks).
    pub fn wait_deadline(&self, deadline: Deadline) -> Result<usize, Error> {
        self.wait_until(Some(deadline))
    }

    /// Breaks the barrier.
    pub fn abort(&self) -> Result<(), Error> {
        self.handle.done(Op::BarrierAbort)
    }

    /// Makes it whole and empty; parties waiting are broken off.
    pub fn reset(&self) -> Result<(), Error> {
        self.handle.done(Op::BarrierReset)
    }

    /// Parties waiting now.
    pub fn n_waiting(&self) -> Result<usize, Error> {
        self.handle.count(Op::BarrierWaiting)
    }

    /// Whether it is broken.
    pub fn broken(&self) -> Result<bool, Error> {
        self.handle.yes_no(Op::BarrierBroken, None)
    }

    /// The one wait.
    fn wait_until(&self, deadline: Option<Deadline>) -> Result<usize, Error> {
        let (wait, bound) = wait_of(deadline);
        match self.handle.call(Op::BarrierWait(wait), bound)? {
            Reply::Len(index) => Ok(usize::try_from(index).unwrap_or(usize::MAX)),
            other => Err(unexpected(other)),
        }
    }
}
