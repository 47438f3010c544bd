//! [`ListProxy`]: a list on a manager's server (Python's `manager.list()`).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{decode, encode};
use crate::error::Error;
use crate::link::unexpected;
use crate::wire::{Op, Reply};

typed_proxy! {
    /// A list of `T` held by a manager's server (see [`DictProxy`](crate::DictProxy) for how
    /// proxies travel and clone).
    pub struct ListProxy<T>;
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// Bounds every later call's round trip ([`Error::Timeout`] past it).
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.handle.set_call_timeout(timeout);
    }

    /// `l.append(item)`.
    pub fn push(&self, item: &T) -> Result<(), Error> {
        self.handle.done(Op::ListPush(encode(item)?))
    }

    /// `l[index]` ([`Refusal::IndexOutOfRange`](crate::Refusal) past the end).
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.handle
            .item(Op::ListGet(index as u64), None)?
            .ok_or_else(|| unexpected(Reply::Item(None)))
    }

    /// `l[index] = item`.
    pub fn set(&self, index: usize, item: &T) -> Result<(), Error> {
        self.handle.done(Op::ListSet(index as u64, encode(item)?))
    }

    /// `l.pop()`, `None` when empty.
    pub fn pop(&self) -> Result<Option<T>, Error> {
        self.handle.item(Op::ListPop, None)
    }

    /// `len(l)`.
    pub fn len(&self) -> Result<usize, Error> {
        self.handle.count(Op::ListLen)
    }

    /// `len(l) == 0`.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// `list(l)`, a copy.
    pub fn to_vec(&self) -> Result<Vec<T>, Error> {
        match self.handle.call(Op::ListItems, None)? {
            Reply::Items(items) => items.iter().map(|i| decode(i)).collect(),
            other => Err(unexpected(other)),
        }
    }
}
