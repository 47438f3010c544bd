//! [`Proxy`]: the proxy of an instance of a registered type ([`Served`]).

use std::time::Duration;

use mp_sync::raw::Deadline;

use crate::codec::{decode, encode};
use crate::error::Error;
use crate::link::unexpected;
use crate::proxy::handle::Handle;
use crate::registry::Served;
use crate::wire::{Op, Reply};

typed_proxy! {
    /// An instance of the registered type `T` on a manager's server: each
    /// [`call`](Self::call) sends one `T::Request` and returns `T`'s `T::Response`. It travels
    /// and clones as every proxy does (see [`DictProxy`](crate::DictProxy)).
    pub struct Proxy<T>;
}

impl<T: Served> Proxy<T> {
    /// Bounds every later [`call`](Self::call)'s round trip ([`Error::Timeout`] past it).
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.handle.set_call_timeout(timeout);
    }

    /// Calls the object with `request`. A panic in the object's call is
    /// [`Refusal::Panicked`](crate::Refusal::Panicked) here (and only here), and poisons the
    /// object.
    pub fn call(&self, request: &T::Request) -> Result<T::Response, Error> {
        self.call_request(request, |h, op| h.call(op, None))
    }

    /// [`call`](Self::call), with its answer due within `timeout` ([`Error::Timeout`] then).
    pub fn call_timeout(
        &self,
        request: &T::Request,
        timeout: Duration,
    ) -> Result<T::Response, Error> {
        self.call_deadline(request, Deadline::after(timeout))
    }

    /// [`call`](Self::call), with its answer due by `deadline`.
    pub fn call_deadline(
        &self,
        request: &T::Request,
        deadline: Deadline,
    ) -> Result<T::Response, Error> {
        self.call_request(request, |h, op| h.call_until(op, Some(deadline)))
    }

    /// Encodes, sends with `send`, decodes.
    fn call_request(
        &self,
        request: &T::Request,
        send: impl FnOnce(&Handle, Op) -> Result<Reply, Error>,
    ) -> Result<T::Response, Error> {
        match send(&self.handle, Op::Registered(encode(request)?))? {
            Reply::Item(Some(bytes)) => decode(&bytes),
            other => Err(unexpected(other)),
        }
    }
}
