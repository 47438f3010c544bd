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
//!
//! # Handles
//!
//! On a Unix socket, a message with handles inside goes in one `sendmsg` whose descriptors
//! (`SCM_RIGHTS`) ride on its first bytes, and its payload starts with the number of channels
//! and of shared memory regions among them ([`HandleCounts`]). The kernel hands descriptors
//! over with the read that reaches the bytes they rode on, and ends that read right after
//! them, so the last byte of such a read belongs to their message: each batch is kept with
//! the stream position of that byte and given to the message whose bytes cover it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use ipc_channel::ipc::{IpcHandles, IpcReceivedHandles, IpcReceiver};
use serde::{Deserialize, Serialize};

use mp_sync::raw::Deadline;

use crate::envelope::{open_envelope, seal_envelope};
use crate::error::{CodecError, Error};
use crate::framing::{self, Header, LONG_HEADER};
use crate::handles::TOKEN_BYTES;
use crate::receive_state::ReceiveState;
use crate::sys::fd_passing::{MAX_FDS, fd_space, recv_with_fds, send_all_with_fds};
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
    /// Stream position of `buf[0]`.
    base: u64,
    /// Descriptors received, each batch with the stream position of a byte of its message.
    fds: VecDeque<(u64, Vec<OwnedFd>)>,
    /// Room for the descriptors of one read (allocated by the first read, then reused).
    fd_space: Vec<u8>,
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
            self.base += self.buf.len() as u64;
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > KEEP_BUFFER {
                self.buf.shrink_to(MIN_READ);
            }
        }
    }

    /// The descriptors that came with the `len` bytes at the front (any batch before them
    /// belonged to messages handed out as bytes, and is closed).
    fn take_fds(&mut self, len: usize) -> Vec<OwnedFd> {
        let from = self.base + self.start as u64;
        let mut taken = Vec::new();
        while let Some((at, _)) = self.fds.front()
            && *at < from + len as u64
        {
            let (at, batch) = self.fds.pop_front().unwrap_or_default();
            if at >= from {
                taken.extend(batch);
            }
        }
        taken
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

/// What travels in a message for a socket connection: the socket and the receiving state
/// (bytes read and not handed out, with their descriptors), so the receiver goes on where
/// the sender stood.
#[derive(Serialize, Deserialize)]
struct Wire {
    /// A duplicate of the socket (ipc-channel moves it as the socket it is).
    socket: IpcReceiver<()>,
    /// Bytes read and not yet handed out.
    #[serde(with = "crate::codec::serde_bytes")]
    pending: Vec<u8>,
    /// Descriptors read and not yet handed out: each batch's position in `pending`, and an
    /// envelope holding it.
    fds: Vec<(u64, IpcReceiver<()>)>,
    /// Bytes of a refused message still to drop.
    skip: u64,
    /// The peer closed its side.
    eof: bool,
    /// The peer broke the framing.
    corrupt: bool,
    /// Largest message accepted either way.
    max_message: u64,
}

impl Serialize for SocketEnd {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let fd = self
            .fd()
            .ok_or_else(|| S::Error::custom("a closed connection cannot be sent"))?;
        let rx = self
            .rx
            .try_borrow()
            .map_err(|_| S::Error::custom("the connection is receiving"))?;
        let from = rx.base + rx.start as u64;
        let mut fds = Vec::new();
        for (at, batch) in rx.fds.iter().filter(|(at, _)| *at >= from) {
            let borrowed: Vec<BorrowedFd<'_>> = batch.iter().map(AsFd::as_fd).collect();
            let envelope = seal_envelope(&borrowed).map_err(S::Error::custom)?;
            fds.push((at - from, IpcReceiver::from_owned_fd(envelope)));
        }
        Wire {
            socket: IpcReceiver::from_owned_fd(fd.try_clone_to_owned().map_err(S::Error::custom)?),
            pending: rx.pending().to_vec(),
            fds,
            skip: rx.skip,
            eof: rx.eof,
            corrupt: rx.corrupt,
            max_message: self.max_message as u64,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SocketEnd {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(deserializer)?;
        let mut end = SocketEnd::new(
            w.socket.into_owned_fd(),
            usize::try_from(w.max_message).unwrap_or(usize::MAX),
        );
        let rx = end.rx.get_mut();
        rx.fds = w
            .fds
            .into_iter()
            .map(|(at, envelope)| {
                (
                    at,
                    open_envelope(envelope.into_owned_fd()).unwrap_or_default(),
                )
            })
            .collect();
        (rx.buf, rx.skip, rx.eof, rx.corrupt) = (w.pending, w.skip, w.eof, w.corrupt);
        Ok(end)
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
    /// A Unix socket: descriptors may travel.
    unix: bool,
}

/// How many of a message's descriptors are channels and how many shared memory regions: the
/// first [`TOKEN_BYTES`] of the payload of a message with handles (two little-endian `u32`).
struct HandleCounts {
    /// Channels (sockets), which come first.
    channels: u32,
    /// Shared memory regions.
    regions: u32,
}

impl HandleCounts {
    /// Writes the counts into the first [`TOKEN_BYTES`] of `frame`.
    fn write(&self, frame: &mut [u8]) {
        frame[..4].copy_from_slice(&self.channels.to_le_bytes());
        frame[4..TOKEN_BYTES].copy_from_slice(&self.regions.to_le_bytes());
    }

    /// The counts at the start of `payload`, and the bytes after them.
    fn read(payload: &[u8]) -> Option<(HandleCounts, &[u8])> {
        let (counts, body) = payload.split_first_chunk::<TOKEN_BYTES>()?;
        let (c, r) = counts.split_at(4);
        Some((
            HandleCounts {
                channels: u32::from_le_bytes(c.try_into().ok()?),
                regions: u32::from_le_bytes(r.try_into().ok()?),
            },
            body,
        ))
    }
}

/// The handles of a message received with `fds`: [`CodecError::HandlesMissing`] when they do
/// not match its counts (a corrupt or hostile peer; every descriptor is closed).
pub(crate) fn received_handles(
    payload: &[u8],
    mut fds: Vec<OwnedFd>,
) -> Result<(IpcReceivedHandles, &[u8]), CodecError> {
    let (counts, body) = HandleCounts::read(payload).ok_or(CodecError::HandlesMissing)?;
    if counts.channels as usize + counts.regions as usize != fds.len() {
        return Err(CodecError::HandlesMissing);
    }
    let regions = fds.split_off(counts.channels as usize);
    let handles =
        IpcReceivedHandles::from_fds(fds, regions).map_err(|_| CodecError::HandlesMissing)?;
    Ok((handles, body))
}

impl SocketEnd {
    /// Wraps a connected socket; messages above `max_message` bytes are refused both ways.
    pub(crate) fn new(fd: OwnedFd, max_message: usize) -> SocketEnd {
        SocketEnd {
            unix: socket::is_unix(fd.as_fd()),
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
        self.send_frame_with_fds(payload, &[])
    }

    /// Sends one message whose payload starts with [`TOKEN_BYTES`] free for the counts of
    /// `handles`, with their descriptors. Over TCP: [`Error::HandlesNeedUnixSocket`].
    pub(crate) fn send_frame_with_handles(
        &self,
        payload: &mut [u8],
        handles: IpcHandles,
    ) -> Result<(), Error> {
        self.open_fd()?;
        if !self.unix {
            return Err(Error::HandlesNeedUnixSocket);
        }
        let fds = handles.fds();
        if fds.len() > MAX_FDS {
            return Err(Error::Invalid("more than 253 descriptors in one message"));
        }
        HandleCounts {
            channels: handles.channel_count() as u32,
            regions: (fds.len() - handles.channel_count()) as u32,
        }
        .write(payload);
        self.send_frame_with_fds(payload, &fds)
    }

    /// Sends one message with Python's header, `fds` riding on its first bytes.
    fn send_frame_with_fds(&self, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), Error> {
        let fd = self.open_fd()?;
        if payload.len() > self.max_message {
            return Err(Error::TooLarge {
                len: payload.len(),
                max: self.max_message,
            });
        }
        let mut header = [0; LONG_HEADER];
        let n = framing::encode_header(payload.len() as u64, &mut header);
        let send_first = |bytes: &[u8]| match fds {
            [] => socket::send_all(fd, bytes),
            fds => send_all_with_fds(fd, bytes, fds),
        };
        let sent = if payload.len() <= COALESCE {
            let mut frame = Vec::with_capacity(n + payload.len());
            frame.extend_from_slice(&header[..n]);
            frame.extend_from_slice(payload);
            send_first(&frame)
        } else {
            send_first(&header[..n]).and_then(|()| socket::send_all(fd, payload))
        };
        sent.map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Error::BrokenPipe,
            _ => Error::Io(e),
        })
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
            rx.base += rx.start as u64;
            rx.start = 0;
        }
        let have = rx.buf.len();
        let ask = usize::try_from(want)
            .unwrap_or(MAX_READ)
            .clamp(MIN_READ, MAX_READ);
        rx.buf.resize(have + ask, 0);
        let got = if self.unix {
            if rx.fd_space.capacity() == 0 {
                rx.fd_space = fd_space();
            }
            let rx = &mut *rx;
            recv_with_fds(fd, &mut rx.buf[have..], false, &mut rx.fd_space).map(|got| {
                if !got.fds.is_empty() && got.bytes > 0 {
                    // The last byte read belongs to the message they rode on (module docs).
                    let at = rx.base + (have + got.bytes) as u64 - 1;
                    rx.fds.push_back((at, got.fds));
                }
                got.bytes
            })
        } else {
            socket::recv_some(fd, &mut rx.buf[have..])
        };
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
        let fds = match rx.fds.is_empty() {
            true => Vec::new(),
            false => rx.take_fds(header + len),
        };
        let body = &rx.pending()[header..header + len];
        let r = with_slice(body, fds);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Connection;

    /// Both ends of a Unix socket pair.
    fn pair() -> (SocketEnd, SocketEnd) {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        (
            SocketEnd::new(a.into(), 1 << 20),
            SocketEnd::new(b.into(), 1 << 20),
        )
    }

    #[test]
    fn descriptors_that_do_not_match_their_counts_are_an_error_not_a_panic() {
        let (a, b) = pair();
        let any_fd = std::fs::File::open("/proc/self/stat").unwrap();
        // No counts at all; counts that claim another number; a "region" that is a
        // read-only file (it cannot be mapped as shared memory).
        a.send_frame_with_fds(&[1], &[any_fd.as_fd()]).unwrap();
        let mut claims_two = [0u8; TOKEN_BYTES + 1];
        claims_two[0] = 2;
        a.send_frame_with_fds(&claims_two, &[any_fd.as_fd()])
            .unwrap();
        let mut one_region = [0u8; TOKEN_BYTES + 1];
        one_region[4] = 1;
        a.send_frame_with_fds(&one_region, &[any_fd.as_fd()])
            .unwrap();
        a.send_frame(&[7]).unwrap();
        let (a, b) = (Connection::from(a), Connection::from(b));
        let bound = std::time::Duration::from_secs(20);
        for _ in 0..3 {
            let got = b.recv_timeout::<u8>(bound);
            assert!(
                matches!(got, Err(Error::Decode(CodecError::HandlesMissing))),
                "{got:?}"
            );
        }
        assert_eq!(b.recv_timeout::<u8>(bound).unwrap(), 7);
        drop(a);
    }
}
