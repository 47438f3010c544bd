//! [`DictProxy`]: a dict on a manager's server (Python's `manager.dict()`).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{decode, encode};
use crate::error::Error;
use crate::link::unexpected;
use crate::wire::{Op, Reply};

typed_proxy! {
    /// A map from `K` to `V` held by a manager's server, shared by every process holding a
    /// proxy of it. Keys compare by their encoding (postcard): the server never decodes them, so
    /// two keys are the same key when they encode the same (true of equal values of one type; a
    /// proxy of another key type reads its own encodings only). [`items`](Self::items) come in
    /// encoding order.
    ///
    /// A proxy is an ordinary `Process` argument (it carries the address and the authkey, and
    /// connects in the child); [`Clone`] gives one with a connection of its own, for another
    /// thread (calls through one proxy run one at a time).
    pub struct DictProxy<K, V>;
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> DictProxy<K, V> {
    /// Bounds every later call's round trip ([`Error::Timeout`] past it): for a server
    /// across a network that may be cut off.
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.handle.set_call_timeout(timeout);
    }

    /// `d.get(key)`.
    pub fn get(&self, key: &K) -> Result<Option<V>, Error> {
        self.handle.item(Op::DictGet(encode(key)?), None)
    }

    /// `d[key] = value`; the value it replaces, if any.
    pub fn insert(&self, key: &K, value: &V) -> Result<Option<V>, Error> {
        self.handle
            .item(Op::DictSet(encode(key)?, encode(value)?), None)
    }

    /// `d.pop(key, None)`.
    pub fn remove(&self, key: &K) -> Result<Option<V>, Error> {
        self.handle.item(Op::DictRemove(encode(key)?), None)
    }

    /// `key in d`.
    pub fn contains_key(&self, key: &K) -> Result<bool, Error> {
        self.handle.yes_no(Op::DictContains(encode(key)?), None)
    }

    /// `len(d)`.
    pub fn len(&self) -> Result<usize, Error> {
        self.handle.count(Op::DictLen)
    }

    /// `len(d) == 0`.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// `d.items()`, a copy, in key-encoding order.
    pub fn items(&self) -> Result<Vec<(K, V)>, Error> {
        match self.handle.call(Op::DictItems, None)? {
            Reply::Pairs(pairs) => pairs
                .iter()
                .map(|(k, v)| Ok((decode(k)?, decode(v)?)))
                .collect(),
            other => Err(unexpected(other)),
        }
    }

    /// `d.clear()`.
    pub fn clear(&self) -> Result<(), Error> {
        self.handle.done(Op::DictClear)
    }
}
