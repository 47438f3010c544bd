//! The typed proxies: each one a [`handle::Handle`] (the server's address and key, the
//! object's id) and the types it encodes and decodes.

pub(crate) mod acquirer;
pub(crate) mod dict;
pub(crate) mod event;
pub(crate) mod handle;
pub(crate) mod list;
pub(crate) mod queue;
pub(crate) mod registered;
pub(crate) mod value;
