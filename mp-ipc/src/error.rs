//! Error types: [`Error`] for connections, shared values and `wait`; [`PutError`] (which hands
//! the item back) and [`GetError`] for the queues.

use std::fmt;
use std::io;

/// What can go wrong with a [`Connection`](crate::Connection), a shared value or
/// [`wait`](crate::wait). Every error concerns only the call that returned it: the connection
/// keeps working (except after [`Eof`](Error::Eof) and [`BrokenPipe`](Error::BrokenPipe)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused to set the object up (memfd, mapping, channel, eventfd).
    #[error("cannot create the shared object")]
    Os(#[source] io::Error),
    /// `len` elements of `elem_size` bytes do not fit in memory (their byte size overflows):
    /// nothing was created.
    #[error("{len} elements of {elem_size} bytes exceed the address space")]
    TooManyElements {
        /// Elements asked for.
        len: usize,
        /// `size_of` one element.
        elem_size: usize,
    },
    /// A shared header or frame written by another process is inconsistent (a corrupt or
    /// hostile peer): nothing was read or written out of bounds; the object should not be
    /// used any more.
    #[error("corrupt shared state: {0}")]
    Corrupt(&'static str),
    /// The connection was closed by this process (Python's `OSError: handle is closed`).
    #[error("the connection is closed")]
    Closed,
    /// A send on the receiving end or a receive on the sending end of a one-way pipe.
    #[error("this end of a one-way pipe cannot {0}")]
    WrongDirection(&'static str),
    /// Every copy of the other end is closed (or its processes died) and nothing is left to
    /// read (Python's `EOFError`).
    #[error("end of file: the other end of the connection is gone")]
    Eof,
    /// Every copy of the other end is gone: a send is refused (Python's `BrokenPipeError`).
    #[error("broken pipe: the other end of the connection is gone")]
    BrokenPipe,
    /// A message longer than the connection's or queue's limit (nothing was sent; on receive,
    /// the message was consumed and dropped).
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The message's length.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The value could not be encoded (nothing was sent).
    #[error("cannot encode the message")]
    Encode(#[source] CodecError),
    /// The message could not be decoded as the type asked for; it was consumed.
    #[error("cannot decode the message")]
    Decode(#[source] CodecError),
    /// `recv_bytes_into` with a buffer shorter than the message: the message, consumed, is
    /// here (Python's `BufferTooShort`).
    #[error("buffer too short for a message of {} bytes", .0.len())]
    BufferTooShort(Vec<u8>),
    /// A timeout passed (nothing was consumed).
    #[error("timed out")]
    Timeout,
    /// A timed receive's deadline passed in the middle of a message streaming through the
    /// ring (its writer is slow or stopped): the message is abandoned, and the connection
    /// skips its rest as it arrives ([`ReceiveState`](crate::ReceiveState)); the next message
    /// arrives whole.
    #[error("timed out after {received} of the {len} bytes of a message; the rest is skipped")]
    PartialMessage {
        /// Payload bytes that had arrived (dropped).
        received: usize,
        /// The message's length.
        len: usize,
    },
    /// A bad argument (Python's `ValueError`), e.g. too many objects for `wait`.
    #[error("invalid argument: {0}")]
    Invalid(&'static str),
    /// The lock of a shared value could not be created or used.
    #[error(transparent)]
    Sync(#[from] mp_sync::Error),
    /// A socket call failed (bind, connect, accept, send, receive).
    #[error("socket error")]
    Io(#[source] io::Error),
    /// A message with handles inside (or [`send_handle`](crate::send_handle)) on a TCP
    /// connection: descriptors only travel between processes of one machine, over a Unix
    /// socket or a [`Pipe`](crate::Pipe). Nothing was sent.
    #[error("handles (descriptors) travel only over a Unix socket or a pipe, not TCP")]
    HandlesNeedUnixSocket,
    /// [`recv_handle`](crate::recv_handle) received a message that is not a descriptor sent
    /// by [`send_handle`](crate::send_handle); it was consumed (its descriptors closed).
    #[error("the message received is not a handle")]
    NotAHandle,
    /// The authkey handshake of a [`Listener`](crate::Listener) or
    /// [`Client`](crate::Client) failed (Python's `AuthenticationError`).
    #[error(transparent)]
    Authentication(#[from] AuthenticationError),
}

/// Why the authkey handshake failed (Python's `multiprocessing.AuthenticationError`). The
/// connection is closed; a listener goes on serving others.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthenticationError {
    /// The peer's answer to our challenge was wrong: it has another key (or none).
    #[error("digest received was wrong")]
    WrongDigest,
    /// The peer refused our answer (`#FAILURE#`): we have another key.
    #[error("digest sent was rejected")]
    Rejected,
    /// The peer did not follow the protocol (no challenge, a message too long or too short
    /// for the handshake, EOF in the middle).
    #[error("authentication protocol error: {0}")]
    Protocol(&'static str),
    /// The peer asked for a digest we do not compute (we have md5, sha256, sha384, sha512).
    #[error("unsupported digest {0:?}")]
    UnsupportedDigest(String),
    /// The handshake did not finish within the listener's or client's handshake timeout.
    #[error("the authentication handshake timed out")]
    TimedOut,
}

/// Why a `put` did not happen; the item is handed back where it was not consumed.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum PutError<T> {
    /// The queue is full (bounded `maxsize`, or no room in its ring) and the put did not wait
    /// or its timeout passed (Python's `queue.Full`).
    #[error("the queue is full")]
    Full(T),
    /// The queue was closed by this process.
    #[error("the queue is closed")]
    Closed(T),
    /// The queue was shut down, by any process ([`Queue::shutdown`](crate::Queue::shutdown);
    /// Python's `queue.ShutDown`): it takes no more items.
    #[error("the queue is shut down")]
    ShutDown(T),
    /// The encoded item is larger than the queue's maximum message size.
    #[error("item of {len} bytes exceeds the queue's limit of {max} bytes")]
    TooLarge {
        /// The item.
        item: T,
        /// Its encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The item could not be encoded.
    #[error("cannot encode the item")]
    Encode(T, #[source] CodecError),
    /// The queue's shared positions are inconsistent (a corrupt or hostile process wrote
    /// them); nothing was written.
    #[error("corrupt queue: {1}")]
    Corrupt(T, &'static str),
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(t)
            | PutError::Closed(t)
            | PutError::ShutDown(t)
            | PutError::Encode(t, _)
            | PutError::Corrupt(t, _) => t,
            PutError::TooLarge { item, .. } => item,
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::Closed(_) => f.write_str("Closed(..)"),
            PutError::ShutDown(_) => f.write_str("ShutDown(..)"),
            PutError::TooLarge { len, max, .. } => f
                .debug_struct("TooLarge")
                .field("len", len)
                .field("max", max)
                .finish_non_exhaustive(),
            PutError::Encode(_, e) => f.debug_tuple("Encode").field(e).finish(),
            PutError::Corrupt(_, e) => f.debug_tuple("Corrupt").field(e).finish(),
        }
    }
}

/// Why a `get` returned no item.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GetError {
    /// The queue stayed empty (no wait, or the timeout passed; Python's `queue.Empty`).
    #[error("the queue is empty")]
    Empty,
    /// The queue was closed by this process.
    #[error("the queue is closed")]
    Closed,
    /// The queue was shut down ([`Queue::shutdown`](crate::Queue::shutdown), by any process;
    /// Python's `queue.ShutDown`) and nothing is left in it: every item put before was taken,
    /// or discarded by an immediate shutdown.
    #[error("the queue is shut down and empty")]
    ShutDown,
    /// The item could not be decoded as the queue's type; it was consumed.
    #[error("cannot decode the item")]
    Decode(#[source] CodecError),
    /// The queue's shared positions or frame headers are inconsistent (a corrupt or hostile
    /// process wrote them); nothing was taken.
    #[error("corrupt queue: {0}")]
    Corrupt(&'static str),
}

/// The error of [`JoinableQueue::task_done`](crate::JoinableQueue::task_done).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// `task_done` called more times than items were taken (Python's `ValueError`).
    #[error("task_done() called too many times")]
    TooManyTaskDone,
}

/// Why a message could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// postcard refused the value or the bytes.
    #[error("postcard")]
    Postcard(#[source] postcard::Error),
    /// The bytes decoded as a value with bytes left over: the message was not a `T`.
    #[error("{0} bytes left over after the value")]
    TrailingBytes(usize),
    /// The descriptors of a message's handles could not be sent beside it (the OS error
    /// code, if any); nothing was sent.
    #[error("cannot send the descriptors of the message's handles (os error {0:?})")]
    SideChannel(Option<i32>),
    /// A message with handles arrived without its descriptors (its side message is missing:
    /// a corrupt or hostile peer); the message was consumed.
    #[error("the descriptors of the message's handles are missing")]
    HandlesMissing,
    /// A `Serialize` implementation wrote a different number of bytes on the second pass than
    /// it counted on the first (it is not deterministic).
    #[error("encoded to {written} bytes, {counted} counted")]
    LengthChanged {
        /// Bytes counted first.
        counted: usize,
        /// Bytes written then.
        written: usize,
    },
}
