//! [`Error`]: what a manager or a proxy call can report.

use std::io;

/// Why a manager could not start, or a proxy call did not happen. Every error concerns the
/// call that returned it; the server goes on serving its other clients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server process could not be started.
    #[error("cannot start the manager's server process")]
    Start(#[source] mp_process::Error),
    /// The server could not listen (bind, the private directory, the socket).
    #[error("the manager's server cannot listen")]
    Listen(#[source] mp_ipc::Error),
    /// The server process could not listen; its description of why (the error itself stayed
    /// in that process).
    #[error("the manager's server process cannot listen: {0}")]
    ServerFailed(String),
    /// The server is gone: shut down, killed, never there (nothing listens at its address,
    /// or the connection closed), or cut off (TCP keepalive gave up on it: a call with no
    /// bound of its own ends this way within [`mp_ipc::Keepalive::detection_time`]; the next
    /// call connects anew). Every call after [`Manager::shutdown`](crate::Manager::shutdown)
    /// returns this.
    #[error("the manager's server is gone")]
    ServerGone(#[source] mp_ipc::Error),
    /// The server and this client do not share the authkey (Python's `AuthenticationError`).
    #[error("authentication with the manager's server failed")]
    Authentication(#[source] mp_ipc::AuthenticationError),
    /// Connecting or talking to the server failed otherwise (a socket error).
    #[error("cannot reach the manager's server")]
    Connection(#[source] mp_ipc::Error),
    /// The call's time bound passed before its answer came: the connection is dropped (its
    /// answer, if it comes, is discarded) and the next call opens a new one. The call may or
    /// may not have taken effect on the server.
    #[error("the call to the manager's server timed out")]
    Timeout,
    /// A value could not be encoded or an answer decoded as the type asked for.
    #[error("cannot encode or decode a value: {0}")]
    Codec(#[source] postcard::Error),
    /// The server refused the call (the reason says why).
    #[error("the server refused the call: {0}")]
    Refused(#[from] Refusal),
    /// An I/O error on this side.
    #[error("i/o error")]
    Io(#[source] io::Error),
}

/// Why the server refused a call: an error of that call only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Refusal {
    /// No object has this id on the server.
    #[error("no object {0} on the server")]
    NoSuchObject(u64),
    /// The object exists but is of another kind than the call (or a named object was asked
    /// for as another kind).
    #[error("object {0} is of another kind")]
    WrongKind(u64),
    /// No type is registered under this name (or it is registered with another type).
    #[error("no type registered as {0:?} with this type")]
    NotRegistered(String),
    /// A list index past the end.
    #[error("index {index} out of range for a list of {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The list's length.
        len: u64,
    },
    /// Releasing a lock this connection does not hold (an RLock), or one nobody holds.
    #[error("release of a lock not held")]
    NotHeld,
    /// The registered object's call (or its constructor) panicked; the message is the
    /// panic's. The object is poisoned: later calls on it get [`Refusal::Poisoned`].
    #[error("the call panicked in the server: {0}")]
    Panicked(String),
    /// An earlier call on this object panicked (its state may be half-updated, as with a
    /// poisoned `std::sync::Mutex`); make a new object.
    #[error("the object is poisoned by an earlier panic")]
    Poisoned,
    /// The barrier is broken (a party timed out, hung up, or it was aborted or reset while
    /// this caller waited): Python's `BrokenBarrierError`.
    #[error("the barrier is broken")]
    BrokenBarrier,
    /// The request could not be decoded as the object's request type.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
}

impl Error {
    /// Sorts an error of a connection to the server: gone, refused key, timed out, other.
    pub(crate) fn from_transport(e: mp_ipc::Error) -> Error {
        use mp_ipc::Error as E;
        match e {
            E::Timeout | E::PartialMessage { .. } => Error::Timeout,
            E::Authentication(a) => Error::Authentication(a),
            E::Eof | E::BrokenPipe | E::Closed => Error::ServerGone(e),
            E::Io(ref io)
                if matches!(
                    io.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::UnexpectedEof
                        // Keepalive gave up on it: cut off (link or host down); the
                        // error is the last one a probe met (a route gone, no answer).
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::NetworkUnreachable
                        | io::ErrorKind::HostUnreachable
                ) =>
            {
                Error::ServerGone(e)
            }
            E::Decode(_) | E::Encode(_) => Error::Connection(e),
            other => Error::Connection(other),
        }
    }
}
