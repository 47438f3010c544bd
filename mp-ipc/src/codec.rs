//! The one serialization seam: typed messages are postcard bytes. `send_bytes`/`recv_bytes`
//! never come here, and [`Bytes`] (or [`serde_bytes`]-style fields) keeps large byte payloads
//! inside typed messages at memory speed.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::CodecError;
use crate::fresh_buffer::fresh_copy;

thread_local! {
    /// Reused encode buffer: no allocation per message once warm.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's reused encode buffer, emptied (a re-entrant call, from a
/// `Serialize` impl that sends, gets a fresh one).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut owned;
        let mut guard = cell.try_borrow_mut();
        let buf: &mut Vec<u8> = match guard.as_deref_mut() {
            Ok(b) => b,
            Err(_) => {
                owned = Vec::new();
                &mut owned
            }
        };
        buf.clear();
        f(buf)
    })
}

/// Appends the encoding of `value` to `buf`.
pub(crate) fn encode_extend<T: Serialize + ?Sized>(
    value: &T,
    buf: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let taken = std::mem::take(buf);
    *buf = postcard::to_extend(value, taken).map_err(CodecError::Postcard)?;
    Ok(())
}

/// The encoded length of `value` (a pass that counts without writing).
pub(crate) fn encoded_len<T: Serialize + ?Sized>(value: &T) -> Result<usize, CodecError> {
    postcard::serialize_with_flavor(value, Counter(0)).map_err(CodecError::Postcard)
}

/// Encodes `value` into `buf`, which must be exactly [`encoded_len`] bytes long.
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    buf: &mut [u8],
) -> Result<(), CodecError> {
    let counted = buf.len();
    match postcard::to_slice(value, buf) {
        Ok(out) if out.len() == counted => Ok(()),
        Ok(out) => Err(CodecError::LengthChanged {
            counted,
            written: out.len(),
        }),
        Err(e) => Err(CodecError::Postcard(e)),
    }
}

/// A postcard flavor that only counts bytes.
struct Counter(usize);

impl postcard::ser_flavors::Flavor for Counter {
    type Output = usize;

    fn try_push(&mut self, _data: u8) -> postcard::Result<()> {
        self.0 += 1;
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0 += data.len();
        Ok(())
    }

    fn finalize(self) -> postcard::Result<usize> {
        Ok(self.0)
    }
}

/// Decodes one message; trailing bytes are an error (the message was not a `T`).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(CodecError::TrailingBytes(rest.len())),
        Err(e) => Err(CodecError::Postcard(e)),
    }
}

/// A byte vector that serializes as one block of bytes (like `serde_bytes::ByteBuf`), not
/// element by element: put large payloads in typed messages as `Bytes` (or a field with
/// [`serde_bytes`]) and they move at memory speed.
///
/// ```
/// use mp_ipc::{Bytes, Pipe};
///
/// let (a, b) = Pipe(true)?;
/// a.send(&(7u32, Bytes::from(vec![1u8; 100_000])))?; // fits in the ring: no reader needed yet
/// let (n, payload): (u32, Bytes) = b.recv()?;
/// assert_eq!((n, payload.len()), (7, 100_000));
/// # Ok::<(), mp_ipc::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// The bytes, as a vector.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(fresh_copy(v))
    }
}

impl Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_bytes::deserialize(deserializer).map(Bytes)
    }
}

/// `#[serde(with = "mp_ipc::serde_bytes")]` on a `Vec<u8>` field: one block of bytes instead
/// of element by element (what the `serde_bytes` crate does, for `Vec<u8>` only).
pub mod serde_bytes {
    use std::fmt;

    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;

    /// Serializes `bytes` as one block.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    /// Deserializes one block of bytes (or, from formats without one, a sequence of `u8`).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }

    /// Accepts a byte block or a sequence of bytes.
    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(crate::fresh_buffer::fresh_copy(v))
        }

        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
            while let Some(b) = seq.next_element()? {
                v.push(b);
            }
            Ok(v)
        }
    }
}
