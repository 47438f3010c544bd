//! The fork server's protocol: typed messages over its `SOCK_SEQPACKET` socket, one message a
//! datagram, descriptors attached with `SCM_RIGHTS`.
//!
//! | from | message | descriptor | meaning |
//! |---|---|---|---|
//! | parent | [`Request::Fork`] | the child's launch channel | fork a child that runs `trampoline` |
//! | server | [`Reply::Forked`] | the child's pidfd | the child of request `id` exists |
//! | server | [`Reply::ForkFailed`] | | request `id` failed with `errno` |
//! | server | [`Reply::Exited`] | | a child exited (the server reaped it) |
//!
//! Each message is a tag byte and fixed little-endian fields: a message of another length or
//! with an unknown tag does not decode.

/// The largest message either side sends.
pub(crate) const MAX_MESSAGE: usize = 32;

/// From the parent to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// Fork a child that enters the trampoline (an `FnRef` in wire form) with the attached
    /// launch channel.
    Fork {
        /// Matches the reply to the request.
        id: u64,
        /// Whether the child dies with the server (its parent's proxy).
        daemon: bool,
        /// `FnRef::to_wire` of the child's trampoline.
        trampoline: (u64, u64),
    },
}

/// From the server to the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Request `id`'s child exists; its pidfd is attached.
    Forked {
        /// The request.
        id: u64,
        /// The child's pid.
        pid: i32,
    },
    /// Request `id` failed.
    ForkFailed {
        /// The request.
        id: u64,
        /// Why (an errno).
        errno: i32,
    },
    /// A child of the server exited, with this exit code (as `Process::exitcode` gives it).
    Exited {
        /// The child's pid.
        pid: i32,
        /// Its exit code.
        code: i32,
    },
}

/// Little-endian fields after a tag byte.
struct Writer(Vec<u8>);

impl Writer {
    fn new(tag: u8) -> Writer {
        Writer(vec![tag])
    }
    fn u64(mut self, v: u64) -> Writer {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Writer {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// Reads the fields back; `None` past the end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_le_bytes)
    }
    /// The value read, if the message had nothing left over.
    fn end<T>(self, value: T) -> Option<T> {
        self.0.is_empty().then_some(value)
    }
}

const FORK: u8 = b'S';
const FORK_DAEMON: u8 = b'D';
const FORKED: u8 = b'P';
const FORK_FAILED: u8 = b'F';
const EXITED: u8 = b'X';

impl Request {
    /// The datagram.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let Request::Fork {
            id,
            daemon,
            trampoline: (offset, fingerprint),
        } = *self;
        Writer::new(if daemon { FORK_DAEMON } else { FORK })
            .u64(id)
            .u64(offset)
            .u64(fingerprint)
            .0
    }

    /// Decodes a datagram.
    pub(crate) fn decode(message: &[u8]) -> Option<Request> {
        let (&tag, rest) = message.split_first()?;
        let mut r = Reader(rest);
        let daemon = match tag {
            FORK => false,
            FORK_DAEMON => true,
            _ => return None,
        };
        let request = Request::Fork {
            id: r.u64()?,
            daemon,
            trampoline: (r.u64()?, r.u64()?),
        };
        r.end(request)
    }
}

impl Reply {
    /// The datagram.
    pub(crate) fn encode(&self) -> Vec<u8> {
        match *self {
            Reply::Forked { id, pid } => Writer::new(FORKED).u64(id).i32(pid).0,
            Reply::ForkFailed { id, errno } => Writer::new(FORK_FAILED).u64(id).i32(errno).0,
            Reply::Exited { pid, code } => Writer::new(EXITED).i32(pid).i32(code).0,
        }
    }

    /// Decodes a datagram.
    pub(crate) fn decode(message: &[u8]) -> Option<Reply> {
        let (&tag, rest) = message.split_first()?;
        let mut r = Reader(rest);
        let reply = match tag {
            FORKED => Reply::Forked {
                id: r.u64()?,
                pid: r.i32()?,
            },
            FORK_FAILED => Reply::ForkFailed {
                id: r.u64()?,
                errno: r.i32()?,
            },
            EXITED => Reply::Exited {
                pid: r.i32()?,
                code: r.i32()?,
            },
            _ => return None,
        };
        r.end(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_does_not_decode() {
        for daemon in [false, true] {
            let request = Request::Fork {
                id: 7,
                daemon,
                trampoline: (u64::MAX, 3),
            };
            let bytes = request.encode();
            assert!(bytes.len() <= MAX_MESSAGE);
            assert_eq!(Request::decode(&bytes), Some(request));
            assert_eq!(Request::decode(&bytes[..bytes.len() - 1]), None);
        }
        for reply in [
            Reply::Forked { id: 1, pid: 42 },
            Reply::ForkFailed { id: 2, errno: 24 },
            Reply::Exited { pid: 42, code: -9 },
        ] {
            let mut bytes = reply.encode();
            assert!(bytes.len() <= MAX_MESSAGE);
            assert_eq!(Reply::decode(&bytes), Some(reply));
            bytes.push(0);
            assert_eq!(Reply::decode(&bytes), None);
        }
        assert_eq!(Reply::decode(b""), None);
        assert_eq!(Request::decode(b"S 0 1"), None);
    }
}
