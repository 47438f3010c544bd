//! [`ConditionProxy`]: a Condition on a manager's server (Python's `manager.Condition()`).

use std::time::Duration;

use mp_sync::raw::Deadline;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::proxy::handle::{Handle, wait_of};
use crate::wire::Op;

/// A condition variable held by a manager's server, over a re-entrant lock of its own: hold
/// the lock ([`acquire`](Self::acquire)) to [`wait`](Self::wait) or
/// [`notify`](Self::notify). The holder is this proxy's connection (a clone is another
/// holder); a holder that disconnects frees the lock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConditionProxy {
    /// The object.
    handle: Handle,
}

impl ConditionProxy {
    /// The proxy of the condition behind `handle`.
    pub(crate) fn new(handle: Handle) -> Self {
        ConditionProxy { handle }
    }

    /// Bounds every later call's round trip ([`Error::Timeout`] past it), beyond what a
    /// timed wait waits.
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.handle.set_call_timeout(timeout);
    }

    /// Acquires the condition's lock, waiting as long as it takes.
    pub fn acquire(&self) -> Result<(), Error> {
        self.handle.acquire_until(None).map(drop)
    }

    /// Acquires the lock within `timeout`; whether it did.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.handle.acquire_until(Some(Deadline::after(timeout)))
    }

    /// Acquires the lock by `deadline`; whether it did.
    pub fn acquire_deadline(&self, deadline: Deadline) -> Result<bool, Error> {
        self.handle.acquire_until(Some(deadline))
    }

    /// Acquires the lock if it is free now; whether it did.
    pub fn try_acquire(&self) -> Result<bool, Error> {
        self.handle.acquire_until(Some(Deadline::now()))
    }

    /// Releases one level of the lock.
    pub fn release(&self) -> Result<(), Error> {
        self.handle.done(Op::Release)
    }

    /// Waits for a notify (the caller holds the lock; it is released meanwhile and held
    /// again on return).
    pub fn wait(&self) -> Result<(), Error> {
        self.wait_until(None).map(drop)
    }

    /// Waits up to `timeout`; whether it was notified (the lock is held again either way).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.wait_until(Some(Deadline::after(timeout)))
    }

    /// Waits until `deadline`; whether it was notified.
    pub fn wait_deadline(&self, deadline: Deadline) -> Result<bool, Error> {
        self.wait_until(Some(deadline))
    }

    /// Wakes up to `n` waiters (the caller holds the lock).
    pub fn notify(&self, n: usize) -> Result<(), Error> {
        self.handle.done(Op::ConditionNotify(n as u64))
    }

    /// Wakes every waiter (the caller holds the lock).
    pub fn notify_all(&self) -> Result<(), Error> {
        self.handle.done(Op::ConditionNotify(u64::MAX))
    }

    /// The one wait.
    fn wait_until(&self, deadline: Option<Deadline>) -> Result<bool, Error> {
        let (wait, bound) = wait_of(deadline);
        self.handle.yes_no(Op::ConditionWait(wait), bound)
    }
}
