//! [`ValueProxy`]: one value on a manager's server (Python's `manager.Value(typecode, v)`).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::encode;
use crate::error::Error;
use crate::link::unexpected;
use crate::wire::{Op, Reply};

typed_proxy! {
    /// A `T` held by a manager's server: [`get`](Self::get) and [`set`](Self::set) (Python's
    /// `v.value`), each one call (a read-modify-write needs a lock beside it, as in Python).
    pub struct ValueProxy<T>;
}

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// Bounds every later call's round trip ([`Error::Timeout`] past it).
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.handle.set_call_timeout(timeout);
    }

    /// `v.value`.
    pub fn get(&self) -> Result<T, Error> {
        self.handle
            .item(Op::ValueGet, None)?
            .ok_or_else(|| unexpected(Reply::Item(None)))
    }

    /// `v.value = value`.
    pub fn set(&self, value: &T) -> Result<(), Error> {
        self.handle.done(Op::ValueSet(encode(value)?))
    }
}
