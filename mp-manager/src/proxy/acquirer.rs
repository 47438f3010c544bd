//! [`AcquirerProxy`]: a Lock, RLock or Semaphore on a manager's server (Python's
//! `AcquirerProxy`, one proxy type for the three).

use std::time::Duration;

use mp_sync::raw::Deadline;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::proxy::handle::Handle;
use crate::wire::Op;

/// A lock or semaphore held by a manager's server. What `release` means depends on what it
/// is: a Lock may be released by anyone (as `threading.Lock`), an RLock by its holder only
/// (the holder is this proxy's connection), a Semaphore always. A client whose connection
/// closes (it exited or was killed) gives back everything it held.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcquirerProxy {
    /// The object.
    handle: Handle,
}

impl AcquirerProxy {
    /// The proxy of the lock behind `handle`.
    pub(crate) fn new(handle: Handle) -> Self {
        AcquirerProxy { handle }
    }

    /// Bounds every later call's round trip ([`Error::Timeout`] past it), beyond what a
    /// timed acquire waits.
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.handle.set_call_timeout(timeout);
    }

    /// Acquires, waiting as long as it takes.
    pub fn acquire(&self) -> Result<(), Error> {
        self.acquire_until(None).map(drop)
    }

    /// Acquires within `timeout`; whether it did.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.acquire_until(Some(Deadline::after(timeout)))
    }

    /// Acquires by `deadline`; whether it did.
    pub fn acquire_deadline(&self, deadline: Deadline) -> Result<bool, Error> {
        self.acquire_until(Some(deadline))
    }

    /// Acquires if free now; whether it did.
    pub fn try_acquire(&self) -> Result<bool, Error> {
        self.acquire_until(Some(Deadline::now()))
    }

    /// Releases ([`Refusal::NotHeld`](crate::Refusal::NotHeld) if not held).
    pub fn release(&self) -> Result<(), Error> {
        self.handle.done(Op::Release)
    }

    /// The one acquire.
    fn acquire_until(&self, deadline: Option<Deadline>) -> Result<bool, Error> {
        self.handle.acquire_until(deadline)
    }
}
