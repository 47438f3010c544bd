//! The encoding of keys, values, items and registered requests as the server holds them
//! (postcard, as mp-ipc's typed messages): equal values of one type encode equally, so a
//! dict's keys compare by their encoding.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::wire::Bytes;

/// `value`'s encoding.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, Error> {
    postcard::to_allocvec(value).map_err(Error::Codec)
}

/// Decodes a `T` from `bytes`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(Error::Codec)
}
