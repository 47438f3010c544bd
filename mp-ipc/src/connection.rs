//! [`Connection`]: one end of a message channel, in one of two flavors (crossbeam's model: an
//! enum inside, each method a match): a [`Pipe`](crate::Pipe) end over shared-memory rings
//! ([`pipe`](crate::pipe)), or a socket speaking Python's framing
//! ([`socket_end`](crate::socket_end)).

use std::cell::RefCell;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

use mp_sync::raw::{Deadline, WakeWord};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use ipc_channel::ipc::IpcHandles;

use crate::codec;
use crate::error::{CodecError, Error};
use crate::handles::{TOKEN_BYTES, with_encoded_collecting};
use crate::pipe::{PipeEnd, PipeOptions, pipe_ends};
use crate::receive_state::ReceiveState;
use crate::ring::WITH_HANDLES;
use crate::socket_end::{SocketEnd, received_handles};
use crate::spare_word::SpareWord;

/// Python's `multiprocessing.Pipe(duplex)`: two connected [`Connection`]s.
///
/// With `duplex = true` both ends send and receive; with `false` the first end only receives
/// and the second only sends (Python's order: `r, w = Pipe(False)`).
#[allow(non_snake_case)]
pub fn Pipe(duplex: bool) -> Result<(Connection, Connection), Error> {
    pipe_with_options(PipeOptions {
        duplex,
        ..PipeOptions::default()
    })
}

/// [`Pipe`] with explicit ring size and message limit.
pub fn pipe_with_options(options: PipeOptions) -> Result<(Connection, Connection), Error> {
    let (a, b) = pipe_ends(options)?;
    Ok((Connection::from(a), Connection::from(b)))
}

/// One end of a message channel (Python's `multiprocessing.connection.Connection`): an end of
/// a [`Pipe`](crate::Pipe) (shared-memory rings) or a socket from a
/// [`Listener`](crate::Listener) or a [`Client`](crate::Client) (Python's framing, so its
/// `send_bytes`/`recv_bytes` interoperate with CPython's byte for byte; typed
/// [`send`](Self::send)/[`recv`](Self::recv) use this crate's codec, postcard, where Python
/// pickles). The methods are the same for both.
///
/// Messages keep their boundaries (empty ones included). Typed messages go through postcard;
/// [`send_bytes`](Self::send_bytes) and [`recv_bytes`](Self::recv_bytes) copy bytes straight
/// into and out of the shared ring (or the socket). A receive after every copy of the other
/// end is gone returns what is left, then [`Error::Eof`] (on a pipe, detected within 20 ms of
/// the moment the ring runs dry); a send once every copy of the other end is gone returns
/// [`Error::BrokenPipe`] (so does a send blocked for room when it goes).
///
/// Under **fork**, as in Python, the child inherits every descriptor of its parent, the
/// liveness tokens of both ends included: a forked child that waits for EOF on its end never
/// sees it while it still holds (unreachable) copies of the parent's end. Under spawn and
/// forkserver a child holds only what it was given. End such conversations with an explicit
/// message, or use spawn/forkserver.
///
/// `Send` but not `Sync`: one end is used by one thread at a time. Two processes using the
/// same end at the same time garble the stream (as in Python).
#[derive(Debug)]
pub struct Connection {
    /// The flavor and its state.
    flavor: Flavor,
}

/// The two kinds of connection.
#[derive(Debug)]
enum Flavor {
    /// An end of a shared-memory pipe.
    Pipe(PipeEnd),
    /// A stream socket.
    Socket(SocketEnd),
}

impl From<PipeEnd> for Connection {
    fn from(end: PipeEnd) -> Connection {
        Connection {
            flavor: Flavor::Pipe(end),
        }
    }
}

impl From<SocketEnd> for Connection {
    fn from(end: SocketEnd) -> Connection {
        Connection {
            flavor: Flavor::Socket(end),
        }
    }
}

/// A connection as it travels in a message (as [`Wire`], by reference).
#[derive(Serialize)]
enum WireRef<'a> {
    /// A pipe end.
    Pipe(&'a PipeEnd),
    /// A socket (its descriptor, and what was read of it and not handed out yet).
    Socket(&'a SocketEnd),
}

/// A connection as it arrives from a message.
#[derive(Deserialize)]
enum Wire {
    /// A pipe end.
    Pipe(PipeEnd),
    /// A socket.
    Socket(SocketEnd),
}

impl Serialize for Connection {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.flavor {
            Flavor::Pipe(p) => WireRef::Pipe(p),
            Flavor::Socket(s) => WireRef::Socket(s),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Connection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Wire::deserialize(deserializer)? {
            Wire::Pipe(p) => Connection::from(p),
            Wire::Socket(s) => Connection::from(s),
        })
    }
}

impl Connection {
    /// The largest message this connection sends or accepts.
    pub fn max_message(&self) -> usize {
        match &self.flavor {
            Flavor::Pipe(p) => p.max_message(),
            Flavor::Socket(s) => s.max_message(),
        }
    }

    /// Where the receiving direction stands: at a message boundary, or skipping the rest of
    /// a message (see [`ReceiveState`]).
    pub fn receive_state(&self) -> ReceiveState {
        match &self.flavor {
            Flavor::Pipe(p) => p.receive_state(),
            Flavor::Socket(s) => s.receive_state(),
        }
    }

    /// Whether this end may send (a socket always may).
    pub fn writable(&self) -> bool {
        match &self.flavor {
            Flavor::Pipe(p) => p.writable(),
            Flavor::Socket(_) => true,
        }
    }

    /// Whether this end may receive (a socket always may).
    pub fn readable(&self) -> bool {
        match &self.flavor {
            Flavor::Pipe(p) => p.readable(),
            Flavor::Socket(_) => true,
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn closed(&self) -> bool {
        match &self.flavor {
            Flavor::Pipe(p) => p.closed(),
            Flavor::Socket(s) => s.closed(),
        }
    }

    /// Closes this end: the other end sees EOF once every other copy of this end is gone
    /// too. Later calls on this end fail with [`Error::Closed`].
    pub fn close(&mut self) {
        match &mut self.flavor {
            Flavor::Pipe(p) => p.close(),
            Flavor::Socket(s) => s.close(),
        }
    }

    // ------------------------------------------------------------------ sending

    /// Sends a typed message (postcard-encoded). [`Error::BrokenPipe`] once every copy of
    /// the other end is gone, as Python's `BrokenPipeError`.
    ///
    /// Every mp handle inside `value` ([`Connection`]s, queues, locks and the other
    /// primitives, shared values, any ipc-channel value) arrives usable in the receiving
    /// process: its descriptors travel beside the bytes (a pipe's side channel, or
    /// `SCM_RIGHTS` on a Unix socket; over TCP, [`Error::HandlesNeedUnixSocket`]).
    pub fn send<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), Error> {
        self.check_send()?;
        with_encoded_collecting(value, |frame, handles| {
            if handles.is_empty() {
                self.send_frame(&frame[TOKEN_BYTES..])
            } else {
                self.send_with_handles(frame, handles)
            }
        })
        .map_err(Error::Encode)
        .and_then(|r| r)
    }

    /// Sends a frame that starts with [`TOKEN_BYTES`] free for a token, and `handles`.
    fn send_with_handles(&self, frame: &mut [u8], handles: IpcHandles) -> Result<(), Error> {
        match &self.flavor {
            Flavor::Pipe(p) => {
                let tx = p.side_tx().ok_or(Error::WrongDirection("send"))?;
                // Refused before its descriptors go (they would wait for nothing).
                let max = p.max_message();
                if frame.len() > max {
                    return Err(Error::TooLarge {
                        len: frame.len(),
                        max,
                    });
                }
                tx.send(handles, frame).map_err(Error::Encode)?;
                p.send_frame(frame, WITH_HANDLES)
            }
            Flavor::Socket(s) => s.send_frame_with_handles(frame, handles),
        }
    }

    /// Sends `bytes` as one message (Python's `send_bytes`), copied straight into the shared
    /// ring or the socket. [`Error::BrokenPipe`] once every copy of the other end is gone.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), Error> {
        self.check_send()?;
        self.send_frame(bytes)
    }

    /// The largest message (its encoded bytes) a send could write now without waiting for
    /// the receiver to make room: a pipe's free ring space; 0 for a socket (unknown) or an
    /// end that does not send. A pool hands a job to its worker from the submitting thread
    /// when it fits, instead of through a writer thread.
    pub fn send_room(&self) -> usize {
        match &self.flavor {
            Flavor::Pipe(p) => p.send_room(),
            Flavor::Socket(_) => 0,
        }
    }

    /// A send is allowed now.
    fn check_send(&self) -> Result<(), Error> {
        match &self.flavor {
            Flavor::Pipe(p) => p.check_send(),
            Flavor::Socket(s) => s.check_send(),
        }
    }

    /// Sends one message of raw bytes.
    fn send_frame(&self, bytes: &[u8]) -> Result<(), Error> {
        match &self.flavor {
            Flavor::Pipe(p) => p.send_frame(bytes, 0),
            Flavor::Socket(s) => s.send_frame(bytes),
        }
    }

    // ------------------------------------------------------------------ receiving

    /// Receives one message: `with_slice` gets it in place when it lies whole in the ring
    /// or buffer, `with_vec` when it had to be copied out. A message with handles inside is
    /// handed over as it came (its descriptors, if any, are closed).
    fn recv_frame<R>(
        &self,
        deadline: Option<Deadline>,
        with_slice: impl FnOnce(&[u8]) -> R,
        with_vec: impl FnOnce(Vec<u8>) -> R,
    ) -> Result<R, Error> {
        match &self.flavor {
            Flavor::Pipe(p) => p.recv_frame(deadline, |_, s| with_slice(s), |_, v| with_vec(v)),
            Flavor::Socket(s) => s.recv_frame(deadline, |bytes, _| with_slice(bytes)),
        }
    }

    /// Receives a typed message, blocking. A message that does not decode as `T` is consumed
    /// and reported as [`Error::Decode`]; the next one is received normally.
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.recv_until(None)
    }

    /// [`recv`](Self::recv) for at most `timeout`: [`Error::Timeout`] when no message began
    /// in time (nothing consumed), [`Error::PartialMessage`] when one began and did not end
    /// in time on a pipe (see [`ReceiveState`]).
    pub fn recv_timeout<T: DeserializeOwned>(&self, timeout: Duration) -> Result<T, Error> {
        self.recv_until(Some(Deadline::after(timeout)))
    }

    /// [`recv_timeout`](Self::recv_timeout) until an absolute `deadline`.
    pub fn recv_deadline<T: DeserializeOwned>(&self, deadline: Deadline) -> Result<T, Error> {
        self.recv_until(Some(deadline))
    }

    /// The one typed receive.
    pub(crate) fn recv_until<T: DeserializeOwned>(
        &self,
        deadline: Option<Deadline>,
    ) -> Result<T, Error> {
        match &self.flavor {
            Flavor::Pipe(p) => {
                // The side channel's receiving half is looked at (and made, the first time)
                // only for a frame that carries handles.
                let decode = |tag, bytes: &[u8]| match tag {
                    WITH_HANDLES => match p.side_rx() {
                        Some(Ok(rx)) => rx.decode::<T>(bytes),
                        Some(Err(e)) => Err(CodecError::SideChannel(e.raw_os_error())),
                        None => Err(CodecError::HandlesMissing),
                    },
                    _ => codec::decode::<T>(bytes),
                };
                p.recv_frame(deadline, decode, |tag, v| decode(tag, &v))?
            }
            Flavor::Socket(s) => s.recv_frame(deadline, decode_with_fds::<T>)?,
        }
        .map_err(Error::Decode)
    }

    /// Receives one message as bytes, blocking (Python's `recv_bytes`).
    pub fn recv_bytes(&self) -> Result<Vec<u8>, Error> {
        self.recv_frame(None, crate::fresh_buffer::fresh_copy, |v| v)
    }

    /// [`recv_bytes`](Self::recv_bytes) for at most `timeout` (errors as for
    /// [`recv_timeout`](Self::recv_timeout)).
    pub fn recv_bytes_timeout(&self, timeout: Duration) -> Result<Vec<u8>, Error> {
        self.recv_frame(
            Some(Deadline::after(timeout)),
            crate::fresh_buffer::fresh_copy,
            |v| v,
        )
    }

    /// [`recv_bytes_timeout`](Self::recv_bytes_timeout) until an absolute `deadline`.
    pub fn recv_bytes_deadline(&self, deadline: Deadline) -> Result<Vec<u8>, Error> {
        self.recv_frame(Some(deadline), crate::fresh_buffer::fresh_copy, |v| v)
    }

    /// Receives one message into `buf`, returning its length (Python's `recv_bytes_into`).
    /// A message longer than `buf` is consumed and returned in [`Error::BufferTooShort`].
    pub fn recv_bytes_into(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = buf.len();
        // Only one of the two closures runs; both reach `buf` through the cell.
        let buf = RefCell::new(buf);
        let copy = |s: &[u8]| {
            if s.len() <= n {
                buf.borrow_mut()[..s.len()].copy_from_slice(s);
                Ok(s.len())
            } else {
                Err(Error::BufferTooShort(s.to_vec()))
            }
        };
        self.recv_frame(None, copy, |v| {
            if v.len() <= n {
                copy(&v)
            } else {
                Err(Error::BufferTooShort(v))
            }
        })?
    }

    /// Waits until a message (or EOF) is ready to receive (Python's `poll(None)`). Never
    /// consumes a message (it does skip the rest of an abandoned one, see [`ReceiveState`]).
    pub fn poll(&self) -> Result<(), Error> {
        self.poll_until(None).map(|_| ())
    }

    /// Whether a message (or EOF) is ready now, without waiting (Python's `poll()`).
    pub fn try_poll(&self) -> Result<bool, Error> {
        self.poll_until(Some(Deadline::now()))
    }

    /// Whether a message (or EOF) becomes ready within `timeout` (Python's `poll(timeout)`).
    pub fn poll_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.poll_until(Some(Deadline::after(timeout)))
    }

    /// Whether a message (or EOF) becomes ready by `deadline`.
    pub fn poll_deadline(&self, deadline: Deadline) -> Result<bool, Error> {
        self.poll_until(Some(deadline))
    }

    /// The one poll.
    fn poll_until(&self, deadline: Option<Deadline>) -> Result<bool, Error> {
        match &self.flavor {
            Flavor::Pipe(p) => p.poll_until(deadline),
            Flavor::Socket(s) => s.poll_until(deadline),
        }
    }

    /// The one 64-bit word of a [`Pipe`]'s shared segment that the pipe leaves to its users
    /// (see [`SpareWord`]): both ends, their halves and their copies in other processes reach
    /// the same word; `None` for a socket connection.
    pub fn spare_word(&self) -> Option<SpareWord> {
        match &self.flavor {
            Flavor::Pipe(p) => Some(p.spare_word()),
            Flavor::Socket(_) => None,
        }
    }

    /// Splits the end of a duplex [`Pipe`] into a receiving half and a sending half (in
    /// that order, as `Pipe(false)` gives its ends), so that one thread can receive while
    /// another sends. Both halves are still this one end to the other end: it sees EOF (and
    /// its sends `BrokenPipe`) once both halves, and every copy of them, are gone. Each half
    /// travels in messages like any end. It costs one descriptor (a duplicate), where a
    /// second one-way pipe costs a shared segment and three socket pairs: a pool gives each
    /// worker one duplex pipe and splits its own end.
    ///
    /// [`Error::WrongDirection`] for an end that only sends or only receives,
    /// [`Error::Invalid`] for a socket connection, [`Error::Closed`] for a closed end.
    pub fn split(self) -> Result<(Connection, Connection), Error> {
        match self.flavor {
            Flavor::Pipe(p) => {
                let (receiver, sender) = p.split()?;
                Ok((Connection::from(receiver), Connection::from(sender)))
            }
            Flavor::Socket(_) => Err(Error::Invalid("only a pipe's end splits")),
        }
    }

    /// Makes this end's receives and polls sleep at once when nothing is there (`true`),
    /// rather than spin briefly first (`false`, the default). For a process that expects to
    /// wait long, such as an idle pool worker: its spin would take a CPU the other side may
    /// need, and a sleeping receive costs one `futex` call and no thread. Only a pipe's end
    /// spins (a socket's waits sleep in the kernel anyway); the setting stays with this copy
    /// of the end (an end sent in a message arrives with the default).
    pub fn set_patient(&mut self, patient: bool) {
        if let Flavor::Pipe(p) = &mut self.flavor {
            p.set_patient(patient);
        }
    }

    // ------------------------------------------------------------------ for the waits

    /// Whether a receive would not block right now (a message, or EOF known), from what this
    /// end knows without a system call (unlike [`try_poll`](Self::try_poll), which asks the
    /// kernel whether the peer is gone when no message is there). A pool worker asks it after
    /// each job, to keep its results for one message when its next job is already there.
    pub fn ready_now(&self) -> bool {
        match &self.flavor {
            Flavor::Pipe(p) => p.ready_now(),
            Flavor::Socket(s) => s.ready_now(),
        }
    }

    /// The futex word a wait sleeps on (a pipe's).
    pub(crate) fn data_word(&self) -> Option<&WakeWord> {
        match &self.flavor {
            Flavor::Pipe(p) => Some(p.data_word()),
            Flavor::Socket(_) => None,
        }
    }

    /// A descriptor that becomes readable when the pipe's other end is gone.
    pub(crate) fn peer_watch_fd(&self) -> Option<io::Result<OwnedFd>> {
        match &self.flavor {
            Flavor::Pipe(p) => p.peer_watch_fd(),
            Flavor::Socket(s) => s.fd().map(|fd| fd.try_clone_to_owned()),
        }
    }

    /// The socket, whose readability is a socket connection's readiness.
    pub(crate) fn socket_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.flavor {
            Flavor::Pipe(_) => None,
            Flavor::Socket(s) => s.fd(),
        }
    }
}

/// Decodes a socket message with the descriptors that came with it.
fn decode_with_fds<T: DeserializeOwned>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<T, CodecError> {
    if fds.is_empty() {
        return codec::decode(bytes);
    }
    let (handles, body) = received_handles(bytes, fds)?;
    ipc_channel::ipc::with_received_handles(handles, || codec::decode(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_whose_token_has_no_side_message_is_an_error_not_a_hang() {
        let (a, b) = pipe_ends(PipeOptions::default()).unwrap();
        // A hostile (or dead) peer's frame: tagged as carrying handles, no side message sent.
        let mut frame = vec![0u8; TOKEN_BYTES];
        frame.extend_from_slice(&codec_bytes(&5u32));
        a.send_frame(&frame, WITH_HANDLES).unwrap();
        let (a, b) = (Connection::from(a), Connection::from(b));
        let got = b.recv_timeout::<u32>(Duration::from_secs(20));
        assert!(
            matches!(got, Err(Error::Decode(CodecError::HandlesMissing))),
            "{got:?}"
        );
        // The connection goes on.
        a.send(&6u32).unwrap();
        assert_eq!(b.recv_timeout::<u32>(Duration::from_secs(20)).unwrap(), 6);
    }

    #[test]
    fn a_side_message_whose_frame_never_came_is_dropped_by_the_next_one() {
        let (a, b) = pipe_ends(PipeOptions::default()).unwrap();
        // A sender that died between sending its descriptors and committing its frame.
        // Its descriptors (a lock's segment, a pipe end's channels) are closed unused.
        let orphan_value = (mp_sync::Lock::new().unwrap(), Pipe(true).unwrap().0);
        let (_, lock_handles) = ipc_channel::ipc::collect_handles(|| codec_bytes(&orphan_value));
        let mut orphan = [0u8; TOKEN_BYTES];
        a.side_tx()
            .unwrap()
            .send(lock_handles, &mut orphan)
            .unwrap();
        let (a, b) = (Connection::from(a), Connection::from(b));
        let lock = mp_sync::Lock::new().unwrap();
        a.send(&(lock.clone(), 9u32)).unwrap();
        let (got, n): (mp_sync::Lock, u32) = b.recv_timeout(Duration::from_secs(20)).unwrap();
        let _held = got.acquire().unwrap();
        assert_eq!((n, lock.locked()), (9, true));
    }

    /// The link (one socket pair per pipe) carries side messages and tells that the other end
    /// is gone: a side message waiting on it (its sender died before its frame was committed)
    /// is no EOF and no readiness, for a receive, a poll and a wait; EOF is still seen with it
    /// waiting.
    #[test]
    fn a_side_message_waiting_on_the_link_is_neither_eof_nor_readiness() {
        let (a, b) = pipe_ends(PipeOptions::default()).unwrap();
        let (_, handles) =
            ipc_channel::ipc::collect_handles(|| codec_bytes(&mp_sync::Lock::new().unwrap()));
        let mut orphan = [0u8; TOKEN_BYTES];
        a.side_tx().unwrap().send(handles, &mut orphan).unwrap();
        let (a, b) = (Connection::from(a), Connection::from(b));
        let short = Duration::from_millis(100);
        assert!(!b.poll_timeout(short).unwrap(), "no message, no EOF");
        assert!(matches!(b.recv_timeout::<u32>(short), Err(Error::Timeout)));
        assert_eq!(
            crate::wait_timeout(&[&b], short).unwrap(),
            Vec::<usize>::new()
        );
        let mut set = crate::WaitSet::new();
        set.add(&b).unwrap();
        assert!(
            set.wait_timeout(short).unwrap().is_empty(),
            "a wait set agrees"
        );
        a.send(&1u32).unwrap();
        assert_eq!(crate::wait_timeout(&[&b], short).unwrap(), vec![0]);
        assert_eq!(b.recv_timeout::<u32>(short).unwrap(), 1);
        // Gone with the side message still waiting: EOF, and the waits say so.
        drop(a);
        assert_eq!(
            crate::wait_timeout(&[&b], Duration::from_secs(20)).unwrap(),
            vec![0]
        );
        assert_eq!(set.wait_timeout(Duration::from_secs(20)).unwrap().len(), 1);
        assert!(matches!(
            b.recv_timeout::<u32>(Duration::from_secs(20)),
            Err(Error::Eof)
        ));
    }

    /// Messages without handles make no receiving half of the side channel (a duplicate of
    /// the link): a pipe that never carries handles keeps one socket per end.
    #[test]
    fn only_a_message_with_handles_makes_the_side_receiver() {
        let (a, b) = pipe_with_options(PipeOptions::default()).unwrap();
        let made = |c: &Connection| match &c.flavor {
            Flavor::Pipe(p) => p.side_rx_made(),
            Flavor::Socket(_) => unreachable!(),
        };
        a.send(&1u32).unwrap();
        a.send_bytes(b"plain").unwrap();
        assert_eq!(b.recv_timeout::<u32>(Duration::from_secs(20)).unwrap(), 1);
        assert_eq!(
            b.recv_bytes_timeout(Duration::from_secs(20)).unwrap(),
            b"plain"
        );
        assert!(!made(&b), "plain messages made it");
        a.send(&mp_sync::Lock::new().unwrap()).unwrap();
        let _lock: mp_sync::Lock = b.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(made(&b));
    }

    /// `value` encoded as a message without handles.
    fn codec_bytes<T: Serialize>(value: &T) -> Vec<u8> {
        codec::with_scratch(|buf| {
            codec::encode_extend(value, buf).unwrap();
            buf.clone()
        })
    }
}
