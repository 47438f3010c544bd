//! [`EventProxy`]: an Event on a manager's server (Python's `manager.Event()`).

use std::time::Duration;

use mp_sync::raw::Deadline;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::proxy::handle::{Handle, wait_of};
use crate::wire::Op;

/// A flag held by a manager's server, that clients set, clear and wait for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventProxy {
    /// The object.
    handle: Handle,
}

impl EventProxy {
    /// The proxy of the event behind `handle`.
    pub(crate) fn new(handle: Handle) -> Self {
        EventProxy { handle }
    }

    /// Bounds every later call's round trip ([`Error::Timeout`] past it), beyond what a
    /// timed wait waits.
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.handle.set_call_timeout(timeout);
    }

    /// Sets the flag, waking every waiter.
    pub fn set(&self) -> Result<(), Error> {
        self.handle.done(Op::EventSet)
    }

    /// Clears the flag.
    pub fn clear(&self) -> Result<(), Error> {
        self.handle.done(Op::EventClear)
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> Result<bool, Error> {
        self.handle.yes_no(Op::EventIsSet, None)
    }

    /// Waits until the flag is set.
    pub fn wait(&self) -> Result<(), Error> {
        self.wait_until(None).map(drop)
    }

    /// Waits up to `timeout`; whether the flag is set.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.wait_until(Some(Deadline::after(timeout)))
    }

    /// Waits until `deadline`; whether the flag is set.
    pub fn wait_deadline(&self, deadline: Deadline) -> Result<bool, Error> {
        self.wait_until(Some(deadline))
    }

    /// The one wait.
    fn wait_until(&self, deadline: Option<Deadline>) -> Result<bool, Error> {
        let (wait, bound) = wait_of(deadline);
        self.handle.yes_no(Op::EventWait(wait), bound)
    }
}
