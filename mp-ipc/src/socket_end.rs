//! The socket flavor of a [`Connection`](crate::Connection): a stream socket (Unix or TCP)
//! carrying Python's framing ([`framing`](crate::framing)), from a
//! [`Listener`](crate::Listener) or a [`Client`](crate::Client).
//!
//! # Receiving
//!
//! Bytes are read into a buffer as they arrive and a message is handed out once it is whole
//! there, so a timed receive or a poll that runs out of time loses nothing (the bytes wait in
//! the buffer for the next call), and a poll never consumes. The buffer grows with the bytes
//! that actually arrived, never with what a header claims: a read asks for at most
//! [`MAX_READ`] more than is there, and a header above the connection's limit is refused at
//! once (its message is skipped as it arrives, see [`ReceiveState`]).

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use mp_sync::raw::Deadline;

use crate::error::Error;
use crate::framing::{self, Header, LONG_HEADER};
use crate::receive_state::ReceiveState;
use crate::sys::{poll_readable, socket};

/// Smallest read: a header and a small message in one system call.
const MIN_READ: usize = 4 << 10;

/// Largest read at once, and so the most we allocate ahead of bytes that arrived.
pub(crate) const MAX_READ: usize = 1 << 20;

/// Messages up to this size go out with their header in one `send` (Python's threshold, so
/// the two sides cut the stream the same way; larger ones are sent in place, after the header).
const COALESCE: usize = 16 << 10;

/// A receive buffer larger than this is given back once it empties.
const KEEP_BUFFER: usize = 4 << 20;

/// A stream whose framing was broken by the peer.
const CORRUPT_HEADER: Error = Error::Corrupt("negative message length from the socket peer");

/// What has been read and not yet handed out.
#[derive(Debug, Default)]
struct Received {
    /// Bytes read; those before `start` are handed out already.
    buf: Vec<u8>,
    /// Where the next message starts in `buf`.
    start: usize,
    /// Bytes of a refused (too long) message still to drop as they arrive.
    skip: u64,
    /// The peer closed its side (or reset the connection).
    eof: bool,
    /// The peer broke the framing: nothing more can be read.
    corrupt: bool,
}

impl Received {
    /// The bytes not yet handed out.
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Hands out `n` bytes from the front.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > KEEP_BUFFER {
                self.buf.shrink_to(MIN_READ);
            }
        }
    }

    /// The header and body lengths of a message lying whole at the front, if one does.
    fn whole_message(&self, max: usize) -> Option<(usize, usize)> {
        match framing::parse_header(self.pending()) {
            Header::Frame { header, len }
                if len <= max as u64 && self.pending().len() - header >= len as usize =>
            {
                Some((header, len as usize))
            }
            _ => None,
        }
    }
}

/// A connected stream socket speaking Python's framing.
#[derive(Debug)]
pub(crate) struct SocketEnd {
    /// The socket; `None` once closed.
    fd: Option<OwnedFd>,
    /// Read and not yet handed out.
    rx: RefCell<Received>,
    /// Largest message accepted either way.
    max_message: usize,
}

impl SocketEnd {
    /// Wraps a connected socket; messages above `max_message` bytes are refused both ways.
    pub(crate) fn new(fd: OwnedFd, max_message: usize) -> SocketEnd {
        SocketEnd {
            fd: Some(fd),
            rx: RefCell::default(),
            max_message,
        }
    }

    /// Changes the message limit (the handshake runs with a small one).
    pub(crate) fn set_max_message(&mut self, max: usize) {
        self.max_message = max;
    }

    /// The largest message accepted.
    pub(crate) fn max_message(&self) -> usize {
        self.max_message
    }

    /// The socket, for `wait` (readable: bytes or EOF arrived).
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(AsFd::as_fd)
    }

    /// The socket, or [`Error::Closed`].
    fn open_fd(&self) -> Result<BorrowedFd<'_>, Error> {
        self.fd().ok_or(Error::Closed)
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn closed(&self) -> bool {
        self.fd.is_none()
    }

    /// Closes the socket (the peer sees EOF); later calls fail with [`Error::Closed`].
    pub(crate) fn close(&mut self) {
        self.fd = None;
    }

    /// Whether the receiving side is skipping a refused message.
    pub(crate) fn receive_state(&self) -> ReceiveState {
        match self.rx.borrow().skip {
            0 => ReceiveState::AtMessageBoundary,
            remaining => ReceiveState::SkippingAbandoned { remaining },
        }
    }

    /// A send is allowed: the socket is open.
    pub(crate) fn check_send(&self) -> Result<(), Error> {
        self.open_fd().map(drop)
    }

    /// Sends one message with Python's header.
    pub(crate) fn send_frame(&self, payload: &[u8]) -> Result<(), Error> {
        let fd = self.open_fd()?;
        if payload.len() > self.max_message {
            return Err(Error::TooLarge {
                len: payload.len(),
                max: self.max_message,
            });
        }
        let mut header = [0; LONG_HEADER];
        let n = framing::encode_header(payload.len() as u64, &mut header);
        let sent = if payload.len() <= COALESCE {
            let mut frame = Vec::with_capacity(n + payload.len());
            frame.extend_from_slice(&header[..n]);
            frame.extend_from_slice(payload);
            socket::send_all(fd, &frame)
        } else {
            socket::send_all(fd, &header[..n]).and_then(|()| socket::send_all(fd, payload))
        };
        sent.map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Error::BrokenPipe,
            _ => Error::Io(e),
        })
    }

    /// Sends one message with the descriptors of the handles inside it.
    pub(crate) fn send_frame_with_handles(
        &self,
        _payload: &[u8],
        _handles: ipc_channel::ipc::IpcHandles,
    ) -> Result<(), Error> {
        Err(Error::HandlesNeedUnixSocket)
    }

    /// Reads once, at least one byte or EOF, if something arrives by `deadline` (`None`:
    /// blocks); false when the deadline passed first. Asks for `want` bytes, within
    /// [`MIN_READ`] and [`MAX_READ`].
    fn fill(
        &self,
        rx: &mut Received,
        want: u64,
        deadline: Option<Deadline>,
    ) -> Result<bool, Error> {
        let fd = self.open_fd()?;
        if let Some(d) = deadline
            && poll_readable(&[fd], Some(d)).map_err(Error::Io)?.is_empty()
        {
            return Ok(false);
        }
        if rx.start > 0 {
            rx.buf.drain(..rx.start);
            rx.start = 0;
        }
        let have = rx.buf.len();
        let ask = usize::try_from(want)
            .unwrap_or(MAX_READ)
            .clamp(MIN_READ, MAX_READ);
        rx.buf.resize(have + ask, 0);
        let got = socket::recv_some(fd, &mut rx.buf[have..]);
        rx.buf.truncate(have + *got.as_ref().unwrap_or(&0));
        match got {
            Ok(0) => rx.eof = true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => rx.eof = true,
            Err(e) => return Err(Error::Io(e)),
        }
        Ok(true)
    }

    /// Reads until a whole message lies at the front of the buffer: its header and body
    /// lengths, or `None` when `deadline` passed first. A header above the limit is
    /// [`Error::TooLarge`] at once (that message is skipped as it arrives).
    fn next_message(
        &self,
        rx: &mut Received,
        deadline: Option<Deadline>,
    ) -> Result<Option<(usize, usize)>, Error> {
        let max = self.max_message;
        loop {
            if rx.corrupt {
                return Err(CORRUPT_HEADER);
            }
            if rx.skip > 0 {
                let n = rx.skip.min(rx.pending().len() as u64);
                rx.consume(n as usize);
                rx.skip -= n;
            }
            let want = if rx.skip > 0 {
                rx.skip
            } else {
                match framing::parse_header(rx.pending()) {
                    Header::Bad => {
                        rx.corrupt = true;
                        return Err(CORRUPT_HEADER);
                    }
                    Header::Frame { header, len } if len > max as u64 => {
                        rx.consume(header);
                        rx.skip = len;
                        return Err(Error::TooLarge {
                            len: usize::try_from(len).unwrap_or(usize::MAX),
                            max,
                        });
                    }
                    Header::Frame { header, len } => {
                        let have = (rx.pending().len() - header) as u64;
                        if have >= len {
                            return Ok(Some((header, len as usize)));
                        }
                        len - have
                    }
                    Header::Incomplete => LONG_HEADER as u64,
                }
            };
            if rx.eof {
                return Err(Error::Eof);
            }
            if !self.fill(rx, want, deadline)? {
                return Ok(None);
            }
        }
    }

    /// Receives one message; `with_slice` gets it in the buffer, with the descriptors that
    /// came with it. [`Error::Timeout`] when none is whole by `deadline` (what arrived stays
    /// buffered).
    pub(crate) fn recv_frame<R>(
        &self,
        deadline: Option<Deadline>,
        with_slice: impl FnOnce(&[u8], Vec<OwnedFd>) -> R,
    ) -> Result<R, Error> {
        self.open_fd()?;
        let mut rx = self.rx.borrow_mut();
        let (header, len) = self
            .next_message(&mut rx, deadline)?
            .ok_or(Error::Timeout)?;
        let body = &rx.pending()[header..header + len];
        let r = with_slice(body, Vec::new());
        rx.consume(header + len);
        Ok(r)
    }

    /// Whether a whole message (or EOF, or an error to report) is there by `deadline`;
    /// consumes nothing but the rest of a refused message.
    pub(crate) fn poll_until(&self, deadline: Option<Deadline>) -> Result<bool, Error> {
        self.open_fd()?;
        let mut rx = self.rx.borrow_mut();
        loop {
            match self.next_message(&mut rx, deadline) {
                Ok(found) => return Ok(found.is_some()),
                // A refused message is being skipped: look past it.
                Err(Error::TooLarge { .. }) => continue,
                Err(Error::Eof) => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether a receive would not block now, from the buffer alone (no system call).
    pub(crate) fn ready_now(&self) -> bool {
        let Ok(rx) = self.rx.try_borrow() else {
            return false;
        };
        self.fd.is_none()
            || rx.eof
            || rx.corrupt
            || (rx.skip == 0 && rx.whole_message(self.max_message).is_some())
    }
}
