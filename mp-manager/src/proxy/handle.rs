//! [`Handle`]: what every proxy is: its server's [`Link`] and the object's id. It travels
//! (serde) as the server's address, the authkey and the id, and reconnects where it arrives.

use std::time::Duration;

use mp_sync::raw::Deadline;
use serde::{Deserialize, Serialize};

use crate::codec::decode;
use crate::error::Error;
use crate::link::{Link, unexpected};
use crate::wire::{ObjectId, Op, Reply, Request, Wait};

/// An object on a server, reached through a link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Handle {
    /// The way to the server.
    link: Link,
    /// The object's id there.
    id: ObjectId,
}

impl Handle {
    /// Object `id` reached through `link`.
    pub(crate) fn new(link: Link, id: ObjectId) -> Handle {
        Handle { link, id }
    }

    /// Bounds every later call's round trip.
    pub(crate) fn set_call_timeout(&mut self, timeout: Duration) {
        self.link.set_call_timeout(timeout);
    }

    /// Applies `op`, which waits on the server no longer than `wait` (if at all).
    pub(crate) fn call(&self, op: Op, wait: Option<Duration>) -> Result<Reply, Error> {
        self.call_until(op, self.link.deadline(wait))
    }

    /// Applies `op`, with its answer due by `deadline`.
    pub(crate) fn call_until(&self, op: Op, deadline: Option<Deadline>) -> Result<Reply, Error> {
        self.link
            .call_until(&Request::Call { id: self.id, op }, deadline)
    }

    /// Applies `op` that answers nothing.
    pub(crate) fn done(&self, op: Op) -> Result<(), Error> {
        match self.call(op, None)? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Applies `op` that answers yes or no, waiting up to `wait`.
    pub(crate) fn yes_no(&self, op: Op, wait: Option<Duration>) -> Result<bool, Error> {
        match self.call(op, wait)? {
            Reply::Bool(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    /// Acquires the lock this handle is (a Lock, RLock, Semaphore or Condition) by
    /// `deadline` (`None`: as long as it takes); whether it did.
    pub(crate) fn acquire_until(&self, deadline: Option<Deadline>) -> Result<bool, Error> {
        let (wait, bound) = wait_of(deadline);
        self.yes_no(Op::Acquire(wait), bound)
    }

    /// Applies `op` that answers a count.
    pub(crate) fn count(&self, op: Op) -> Result<usize, Error> {
        match self.call(op, None)? {
            Reply::Len(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            other => Err(unexpected(other)),
        }
    }

    /// Applies `op` that answers a value or none, decoded as a `T`, waiting up to `wait`.
    pub(crate) fn item<T: serde::de::DeserializeOwned>(
        &self,
        op: Op,
        wait: Option<Duration>,
    ) -> Result<Option<T>, Error> {
        match self.call(op, wait)? {
            Reply::Item(Some(bytes)) => decode(&bytes).map(Some),
            Reply::Item(None) => Ok(None),
            other => Err(unexpected(other)),
        }
    }
}

/// The server-side wait of a blocking call bounded by `deadline` (`None`: until it can
/// happen), and the wait to add to the call's round-trip bound.
pub(crate) fn wait_of(deadline: Option<Deadline>) -> (Wait, Option<Duration>) {
    match deadline {
        None => (Wait::Forever, None),
        Some(d) => {
            let left = d.remaining();
            (Wait::For(left), Some(left))
        }
    }
}
