//! [`QueueProxy`]: a queue on a manager's server (Python's `manager.Queue()`).

use std::time::Duration;

use mp_sync::raw::Deadline;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::encode;
use crate::error::Error;
use crate::proxy::handle::wait_of;
use crate::wire::Op;

typed_proxy! {
    /// A FIFO of `T` held by a manager's server, bounded or not. Items are encoded by the proxy
    /// that puts them (the caller keeps its own), and decoded by the one that gets them. A
    /// client killed while it waits in `get` takes nothing: the item stays for the others.
    pub struct QueueProxy<T>;
}

impl<T: Serialize + DeserializeOwned> QueueProxy<T> {
    /// Bounds every later call's round trip ([`Error::Timeout`] past it), beyond what a
    /// timed put or get waits.
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.handle.set_call_timeout(timeout);
    }

    /// Puts `item`, waiting for room in a bounded queue.
    pub fn put(&self, item: &T) -> Result<(), Error> {
        self.put_until(item, None).map(drop)
    }

    /// Puts `item` if there is room within `timeout`; whether it did (Python's `queue.Full`
    /// when not).
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<bool, Error> {
        self.put_until(item, Some(Deadline::after(timeout)))
    }

    /// Puts `item` if there is room by `deadline`; whether it did.
    pub fn put_deadline(&self, item: &T, deadline: Deadline) -> Result<bool, Error> {
        self.put_until(item, Some(deadline))
    }

    /// Puts `item` if there is room now; whether it did.
    pub fn try_put(&self, item: &T) -> Result<bool, Error> {
        self.put_until(item, Some(Deadline::now()))
    }

    /// Takes the first item, waiting for one.
    pub fn get(&self) -> Result<T, Error> {
        loop {
            if let Some(item) = self.get_until(None)? {
                return Ok(item);
            }
        }
    }

    /// Takes the first item if one comes within `timeout` (`None`: Python's `queue.Empty`).
    pub fn get_timeout(&self, timeout: Duration) -> Result<Option<T>, Error> {
        self.get_until(Some(Deadline::after(timeout)))
    }

    /// Takes the first item if one comes by `deadline`.
    pub fn get_deadline(&self, deadline: Deadline) -> Result<Option<T>, Error> {
        self.get_until(Some(deadline))
    }

    /// Takes the first item if there is one now.
    pub fn try_get(&self) -> Result<Option<T>, Error> {
        self.get_until(Some(Deadline::now()))
    }

    /// `q.qsize()`.
    pub fn qsize(&self) -> Result<usize, Error> {
        self.handle.count(Op::QueueLen)
    }

    /// `q.empty()`.
    pub fn empty(&self) -> Result<bool, Error> {
        Ok(self.qsize()? == 0)
    }

    /// The one put.
    fn put_until(&self, item: &T, deadline: Option<Deadline>) -> Result<bool, Error> {
        let (wait, bound) = wait_of(deadline);
        self.handle.yes_no(Op::QueuePut(encode(item)?, wait), bound)
    }

    /// The one get.
    fn get_until(&self, deadline: Option<Deadline>) -> Result<Option<T>, Error> {
        let (wait, bound) = wait_of(deadline);
        self.handle.item(Op::QueueGet(wait), bound)
    }
}
