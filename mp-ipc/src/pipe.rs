//! The pipe flavor of a `Connection`: two single-producer/single-consumer byte rings in one shared
//! segment, futex wake-ups on words inside it, and one socket pair for EOF and handles.
//!
//! # Segment layout
//!
//! `PipeHeader` (the two directions' positions and futex words, each side's on its own cache
//! line), then the data area: the ring of direction 0 (end 0 sends, end 1 receives) and, for a
//! duplex pipe, the ring of direction 1. A frame is written, then committed by advancing the
//! direction's `tail`; a frame larger than the ring is streamed in chunks.
//!
//! # Waiting and EOF
//!
//! A waiting side spins briefly (only when the process may use more than one CPU), then
//! registers in `*_waiters` and sleeps on the `*_seq` word, which the other side bumps after
//! every commit or release (and wakes only when someone is registered). Sleeps last at most
//! [`SLICE`]; between slices the waiter checks whether the other end is gone.
//!
//! # The link: one socket pair per pipe
//!
//! Each end holds one socket of a `SOCK_SEQPACKET` pair (its *link*), Python's one socket pair
//! per `Pipe`. It is the end's liveness token: the other end's socket hangs up (`POLLHUP`, which
//! the kernel sets on a connected Unix socket once every copy of its peer is closed, in every
//! process, whatever is still queued) once every copy of this end is gone. It is the end's
//! watch on the other end the same way. And it carries the side channel of handles inside
//! messages, both ways: an end sends the descriptors of its messages' handles on its own
//! socket and receives the other end's on its own socket. A queued side message makes the
//! socket readable, never hung up: the liveness looks ask for the hang-up only (`poll`, and a
//! `WaitSet`'s `epoll` watch, for `POLLHUP`), so the two meanings never mix.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ipc_channel::ipc::IpcBytesSender;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::handles::{SideReceiver, SideSender};
use crate::receive_state::ReceiveState;
use crate::ring::{HEADER, Payload, Ring, frame_len};
use crate::spare_word::SpareWord;
use crate::sys::fd_passing::seqpacket_pair;
use crate::sys::{Direction, PipeHeader, Segment, create_segment, may_spin};
use crate::waiter;
use mp_sync::raw::{Deadline, WakeWord};

/// Longest sleep between two checks of the other end's liveness: the latency of EOF detection.
pub(crate) const SLICE: Duration = Duration::from_millis(20);

/// A send looks at whether the other end is gone only if the last look was longer ago than
/// this: a burst of sends makes one `poll` a millisecond, not one each (two per round trip of
/// a pool's job), and a send to an end gone longer than this is always refused.
pub(crate) const PEER_LOOK: Duration = Duration::from_millis(1);

/// A writer `tail` beyond the ring.
const CORRUPT_TAIL: Error = Error::Corrupt("pipe writer position outside the ring");

/// Default ring size per direction: 256 KiB. A larger ring (`PipeOptions::ring_bytes`) gives
/// somewhat faster bulk transfers and costs more at creation (see the crate docs, Memory).
pub const DEFAULT_RING_BYTES: u32 = 256 << 10;

/// Default largest message: 1 GiB.
pub const DEFAULT_MAX_MESSAGE: u32 = 1 << 30;

/// Sizes of a pipe, for [`pipe_with_options`](crate::pipe_with_options).
#[derive(Clone, Copy, Debug)]
pub struct PipeOptions {
    /// Both ends may send and receive (Python's `duplex=True`, the default).
    pub duplex: bool,
    /// Ring size per direction in bytes, rounded up to a power of two (64 B to 1 GiB); larger
    /// messages are streamed through it. Default [`DEFAULT_RING_BYTES`].
    pub ring_bytes: u32,
    /// Largest message in bytes; longer sends fail with [`Error::TooLarge`]. Default
    /// [`DEFAULT_MAX_MESSAGE`].
    pub max_message: u32,
}

impl Default for PipeOptions {
    fn default() -> Self {
        PipeOptions {
            duplex: true,
            ring_bytes: DEFAULT_RING_BYTES,
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

/// The two ends of a new pipe, in Python's order (see [`Pipe`](crate::Pipe)).
pub(crate) fn pipe_ends(options: PipeOptions) -> Result<(PipeEnd, PipeEnd), Error> {
    let cap = options
        .ring_bytes
        .clamp(64, 1 << 30)
        .checked_next_power_of_two()
        .unwrap_or(1 << 30);
    let rings = if options.duplex { 2 } else { 1 };
    let seg = create_segment::<PipeHeader>(cap as usize * rings, |h| {
        h.cap.store(cap, Ordering::Relaxed);
        h.max_message
            .store(u64::from(options.max_message), Ordering::Relaxed);
        Ok(())
    })?;
    let (link0, link1) = seqpacket_pair().map_err(Error::Os)?;
    let (link0, link1) = (
        IpcBytesSender::from_owned_fd(link0),
        IpcBytesSender::from_owned_fd(link1),
    );
    // End 0 sends on direction 0; end 1 receives it. In a one-way pipe Python returns the
    // reading end first.
    let end0 = PipeEnd::from_parts(seg.clone(), 0, options.duplex, true, link0)?;
    let end1 = PipeEnd::from_parts(seg, 1, true, options.duplex, link1)?;
    Ok(if options.duplex {
        (end0, end1)
    } else {
        (end1, end0)
    })
}

/// The pipe flavor of a [`Connection`](crate::Connection): one end of a
/// [`Pipe`](crate::Pipe) (shared rings).
#[derive(Debug)]
pub(crate) struct PipeEnd {
    /// The shared rings.
    seg: Segment<PipeHeader>,
    /// Which end: sends on `dirs[side]`, receives on `dirs[1 - side]`.
    side: u8,
    /// May receive.
    readable: bool,
    /// May send.
    writable: bool,
    /// Our socket of the pipe's pair (see the module docs, The link): our liveness token,
    /// our watch on the other end, our side channel's socket; `None` once closed.
    link: Option<IpcBytesSender>,
    /// The other end is known gone (sticky).
    peer_gone: std::cell::Cell<bool>,
    /// When a send last looked at whether the other end is gone (see [`PEER_LOOK`]).
    peer_looked: std::cell::Cell<Option<Instant>>,
    /// Closed by [`close`](Self::close).
    closed: bool,
    /// Receives sleep at once rather than spin first ([`set_patient`](Self::set_patient)).
    patient: bool,
    /// Ring size per direction, checked once against the segment (never re-read from shared
    /// memory, which the other end could rewrite).
    cap: u32,
    /// Largest message, read once.
    max_message: usize,
    /// Sends the descriptors of handles inside our messages (a writable end; on the link).
    side_tx: Option<SideSender>,
    /// Receives the descriptors of handles inside the other end's messages (a readable end;
    /// on a duplicate of the link, made when the first message with handles arrives).
    side_rx: std::cell::OnceCell<SideReceiver>,
}

/// What travels in a message.
#[derive(Serialize, Deserialize)]
struct Wire {
    /// The segment.
    seg: Segment<PipeHeader>,
    /// Which end.
    side: u8,
    /// May receive.
    readable: bool,
    /// May send.
    writable: bool,
    /// A copy of our link (the sender's copy stays a whole end: the socket is shared).
    link: IpcBytesSender,
}

/// [`Wire`] as a sender writes it, by reference.
#[derive(Serialize)]
struct WireRef<'a> {
    /// The segment.
    seg: &'a Segment<PipeHeader>,
    /// Which end.
    side: u8,
    /// May receive.
    readable: bool,
    /// May send.
    writable: bool,
    /// Our link.
    link: &'a IpcBytesSender,
}

impl Serialize for PipeEnd {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(link) = &self.link else {
            return Err(serde::ser::Error::custom(
                "a closed connection cannot be sent",
            ));
        };
        WireRef {
            seg: &self.seg,
            side: self.side,
            readable: self.readable,
            writable: self.writable,
            link,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PipeEnd {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(deserializer)?;
        if w.side > 1 {
            return Err(serde::de::Error::custom("bad connection side"));
        }
        PipeEnd::from_parts(w.seg, w.side, w.readable, w.writable, w.link)
            .map_err(serde::de::Error::custom)
    }
}

impl PipeEnd {
    /// Assembles an end, checking the sizes in the shared header against the segment (a
    /// segment from another process may hold anything).
    fn from_parts(
        seg: Segment<PipeHeader>,
        side: u8,
        readable: bool,
        writable: bool,
        link: IpcBytesSender,
    ) -> Result<PipeEnd, Error> {
        may_spin();
        let h = seg.header();
        let cap = h.cap.load(Ordering::Relaxed);
        let data_len = seg.data().1;
        // Every ring this end uses must lie inside the data area.
        let ring_fits = |d: usize| {
            (d + 1)
                .checked_mul(cap as usize)
                .is_some_and(|end| end <= data_len)
        };
        if !cap.is_power_of_two()
            || !(64..=1 << 30).contains(&cap)
            || (writable && !ring_fits(side as usize))
            || (readable && !ring_fits(1 - side as usize))
        {
            return Err(Error::Corrupt("pipe ring size does not match its segment"));
        }
        let max_message = usize::try_from(h.max_message.load(Ordering::Relaxed))
            .unwrap_or(usize::MAX)
            .min(u32::MAX as usize);
        Ok(PipeEnd {
            seg,
            side,
            readable,
            writable,
            side_tx: writable.then(|| SideSender::on_link(&link)),
            link: Some(link),
            peer_gone: std::cell::Cell::new(false),
            peer_looked: std::cell::Cell::new(None),
            closed: false,
            patient: false,
            cap,
            max_message,
            side_rx: std::cell::OnceCell::new(),
        })
    }

    /// Sends the descriptors of handles inside this end's messages (`None`: a read-only end).
    pub(crate) fn side_tx(&self) -> Option<&SideSender> {
        self.side_tx.as_ref()
    }

    /// Receives the descriptors of handles inside the other end's messages (`None`: a
    /// write-only end, or a closed one); made on first use (a duplicate of the link), so a
    /// pipe whose messages carry no handles never makes it.
    pub(crate) fn side_rx(&self) -> Option<std::io::Result<&SideReceiver>> {
        if !self.readable {
            return None;
        }
        if let Some(rx) = self.side_rx.get() {
            return Some(Ok(rx));
        }
        let made = SideReceiver::on_link(self.link.as_ref()?);
        Some(made.map(|rx| self.side_rx.get_or_init(|| rx)))
    }

    /// The direction this end sends on.
    fn out(&self) -> &Direction {
        &self.seg.header().dirs[self.side as usize]
    }

    /// The direction this end receives on.
    fn inc(&self) -> &Direction {
        &self.seg.header().dirs[1 - self.side as usize]
    }

    /// The ring of direction `d` (checked to lie in the segment by `from_parts`).
    fn ring(&self, d: usize) -> Ring<'_> {
        Ring::new(&self.seg, d * self.cap as usize, u64::from(self.cap))
    }

    /// Whether the side channel's receiving half was made (for tests).
    #[cfg(test)]
    pub(crate) fn side_rx_made(&self) -> bool {
        self.side_rx.get().is_some()
    }

    /// The spare word of this pipe's segment.
    pub(crate) fn spare_word(&self) -> SpareWord {
        SpareWord::of(&self.seg)
    }

    /// The largest message this pipe accepts.
    pub(crate) fn max_message(&self) -> usize {
        self.max_message
    }

    /// Where the receiving direction stands: at a message boundary, or skipping the rest of
    /// a message that a timed receive abandoned (see [`ReceiveState`]).
    pub(crate) fn receive_state(&self) -> ReceiveState {
        match self.inc().cons.abandoned.load(Ordering::Relaxed) {
            0 => ReceiveState::AtMessageBoundary,
            remaining => ReceiveState::SkippingAbandoned { remaining },
        }
    }

    /// Whether this end may send.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// Whether this end may receive.
    pub(crate) fn readable(&self) -> bool {
        self.readable
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn closed(&self) -> bool {
        self.closed
    }

    /// Closes this end: the other end sees EOF once every other copy of this end is gone
    /// too. Later calls on this end fail with [`Error::Closed`].
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.link = None;
        self.side_tx = None;
        self.side_rx.take();
    }

    /// Splits a duplex end into a receiving half and a sending half (in that order), each
    /// usable by its own thread. Both halves are this end to the other end: they share its
    /// link (the other end sees EOF and `BrokenPipe` once both halves, and every copy of
    /// them, are gone; each half sees the other end go), and each takes its half of the side
    /// channel. Nothing is made.
    pub(crate) fn split(mut self) -> Result<(PipeEnd, PipeEnd), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if !(self.readable && self.writable) {
            return Err(Error::WrongDirection("split (a one-way end)"));
        }
        let sender = PipeEnd {
            seg: self.seg.clone(),
            side: self.side,
            readable: false,
            writable: true,
            link: self.link.clone(),
            peer_gone: std::cell::Cell::new(self.peer_gone.get()),
            peer_looked: std::cell::Cell::new(None),
            closed: false,
            patient: self.patient,
            cap: self.cap,
            max_message: self.max_message,
            side_tx: self.side_tx.take(),
            side_rx: std::cell::OnceCell::new(),
        };
        self.writable = false;
        Ok((self, sender))
    }

    /// Makes this end's receives and polls sleep at once when nothing is there (`true`), or
    /// spin briefly first (`false`, the default).
    pub(crate) fn set_patient(&mut self, patient: bool) {
        self.patient = patient;
    }

    /// Whether every copy of the other end is gone (one `poll` for the link's hang-up,
    /// sticky).
    pub(crate) fn peer_gone(&self) -> bool {
        if self.peer_gone.get() {
            return true;
        }
        let gone = self
            .link
            .as_ref()
            .is_some_and(|link| crate::sys::socket::peer_hung_up(link.as_fd()));
        self.peer_gone.set(gone);
        gone
    }

    /// A duplicate of the link's descriptor, for a `WaitSet` to watch for its hang-up (once
    /// every copy of the other end is gone; it is readable whenever a side message waits, so
    /// it is watched for the hang-up only); `None` once closed.
    pub(crate) fn peer_watch_fd(&self) -> Option<std::io::Result<std::os::fd::OwnedFd>> {
        Some(self.link.as_ref()?.as_fd().try_clone_to_owned())
    }

    /// Checks that the end is open and points the right way.
    fn check(&self, send: bool) -> Result<(), Error> {
        if self.closed {
            Err(Error::Closed)
        } else if send && !self.writable {
            Err(Error::WrongDirection("send"))
        } else if !send && !self.readable {
            Err(Error::WrongDirection("receive"))
        } else {
            Ok(())
        }
    }

    // ------------------------------------------------------------------ sending

    /// A send is allowed: the end is open, writable, and the other end is not known gone
    /// (a non-blocking look at its link's hang-up unless a send looked less than
    /// [`PEER_LOOK`] ago: a message to an end gone longer is an error, as on a socket with no
    /// reader, not a silent loss; one to an end that died since the last look may be lost with
    /// it, as a message already in the ring is).
    pub(crate) fn check_send(&self) -> Result<(), Error> {
        self.check(true)?;
        if self.peer_gone.get() {
            return Err(Error::BrokenPipe);
        }
        let now = Instant::now();
        let due = self
            .peer_looked
            .get()
            .is_none_or(|looked| now.saturating_duration_since(looked) >= PEER_LOOK);
        if due {
            self.peer_looked.set(Some(now));
            if self.peer_gone() {
                return Err(Error::BrokenPipe);
            }
        }
        Ok(())
    }

    /// Writes one frame with `tag` in its header (`WITH_HANDLES`: it starts with a side
    /// message's token), waiting for room (streaming it when larger than the ring).
    pub(crate) fn send_frame(&self, payload: &[u8], tag: u32) -> Result<(), Error> {
        let max = self.max_message();
        if payload.len() > max {
            return Err(Error::TooLarge {
                len: payload.len(),
                max,
            });
        }
        let d = self.out();
        let ring = self.ring(self.side as usize);
        let cap = self.cap;
        // `payload.len() <= max <= u32::MAX` (checked above and in `from_parts`).
        let total = frame_len(payload.len() as u32);
        let tail = d.prod.tail.load(Ordering::Relaxed);
        if total <= u64::from(cap) {
            // Whole frame at once: the reader sees all of it or none.
            self.wait_space(total as u32)?;
            ring.write_header(tail.into(), payload.len() as u32, tag);
            ring.write(tail.wrapping_add(HEADER).into(), payload);
            self.commit(tail.wrapping_add(total as u32));
            return Ok(());
        }
        // Streamed: header first, then chunks of whatever room there is (at least a quarter
        // ring, so both sides move in large steps).
        self.wait_space(HEADER)?;
        ring.write_header(tail.into(), payload.len() as u32, tag);
        let mut pos = tail.wrapping_add(HEADER);
        self.commit(pos);
        let padded = total - u64::from(HEADER);
        let mut done: u64 = 0;
        while done < padded {
            let want = (padded - done).min(u64::from(cap / 4)) as u32;
            let free = self.wait_space(want)?;
            let chunk = u64::from(free & !7).min(padded - done);
            let data_end = (done + chunk).min(payload.len() as u64);
            if data_end > done {
                ring.write(pos.into(), &payload[done as usize..data_end as usize]);
            }
            pos = pos.wrapping_add(chunk as u32);
            done += chunk;
            self.commit(pos);
        }
        Ok(())
    }

    /// The largest payload a send could write now without waiting for room (0 on an end that
    /// does not send).
    pub(crate) fn send_room(&self) -> usize {
        if self.closed || !self.writable {
            return 0;
        }
        let d = self.out();
        let tail = d.prod.tail.load(Ordering::Relaxed);
        let used = tail.wrapping_sub(d.cons.head.load(Ordering::SeqCst));
        let free = self.cap.saturating_sub(used);
        // `frame_len(room) <= free`: a header and the payload padded to 8.
        (free.saturating_sub(HEADER) / 8 * 8) as usize
    }

    /// Publishes everything before `tail` and wakes a sleeping receiver.
    fn commit(&self, tail: u32) {
        let d = self.out();
        d.prod.tail.store(tail, Ordering::SeqCst);
        d.prod.data.wake_all();
    }

    /// Waits until the outgoing ring has at least `need` free bytes; returns the free bytes.
    fn wait_space(&self, need: u32) -> Result<u32, Error> {
        let d = self.out();
        let cap = self.cap;
        let tail = d.prod.tail.load(Ordering::Relaxed);
        // The reader's `head` comes from another process: more in use than the ring holds is
        // corruption, reported instead of wrapping the free count.
        let free = || cap.checked_sub(tail.wrapping_sub(d.cons.head.load(Ordering::SeqCst)));
        waiter::wait_until(
            &d.cons.space,
            || free().is_none_or(|f| f >= need),
            None,
            SLICE,
            waiter::Before::Guess(None),
            || {
                if self.peer_gone() {
                    Err(Error::BrokenPipe)
                } else {
                    Ok(())
                }
            },
        )?;
        free().ok_or(Error::Corrupt("pipe reader position outside the ring"))
    }

    // ------------------------------------------------------------------ receiving

    /// Bytes committed and not yet read in the incoming ring; `None` when the writer's `tail`
    /// (another process's word) claims more than the ring holds.
    fn available(&self) -> Option<u32> {
        let d = self.inc();
        let n = d
            .prod
            .tail
            .load(Ordering::SeqCst)
            .wrapping_sub(d.cons.head.load(Ordering::Relaxed));
        (n <= self.cap).then_some(n)
    }

    /// Waits until at least `need` bytes are readable; `Eof` if the other end is gone first,
    /// `Timeout` when `deadline` passes.
    fn wait_data(&self, need: u32, deadline: Option<Deadline>) -> Result<u32, Error> {
        let d = self.inc();
        let ready = waiter::wait_until(
            &d.prod.data,
            || self.available().is_none_or(|n| n >= need),
            deadline,
            SLICE,
            if self.patient {
                waiter::Before::Sleep
            } else {
                waiter::Before::Guess(None)
            },
            // A full slice without news: is anyone left to write? (The last commit may have
            // landed just before the exit, hence the second look.)
            || {
                if self.peer_gone() && self.available().is_some_and(|n| n < need) {
                    Err(Error::Eof)
                } else {
                    Ok(())
                }
            },
        )?;
        match self.available() {
            None => Err(CORRUPT_TAIL),
            Some(n) if ready => Ok(n),
            Some(_) => Err(Error::Timeout),
        }
    }

    /// Skips what is left of a message a timed receive abandoned, until `deadline`
    /// (`Timeout`: some is still left).
    fn skip_abandoned(&self, deadline: Option<Deadline>) -> Result<(), Error> {
        let cons = &self.inc().cons;
        let mut left = cons.abandoned.load(Ordering::Relaxed);
        while left > 0 {
            let want = left.min(u64::from(self.cap / 4)) as u32;
            let avail = self.wait_data(want, deadline)?;
            let n = u64::from(avail).min(left);
            left -= n;
            cons.abandoned.store(left, Ordering::Relaxed);
            self.release(cons.head.load(Ordering::Relaxed).wrapping_add(n as u32));
        }
        Ok(())
    }

    /// Tells a blocked sender that room was released up to `head`.
    fn release(&self, head: u32) {
        let d = self.inc();
        d.cons.head.store(head, Ordering::SeqCst);
        d.cons.space.wake_all();
    }

    /// Receives one frame: `with_slice` gets its tag and the payload in place when the whole
    /// frame is in the ring without wrapping; otherwise `with_vec` gets it copied into a vector.
    pub(crate) fn recv_frame<R>(
        &self,
        deadline: Option<Deadline>,
        with_slice: impl FnOnce(u32, &[u8]) -> R,
        with_vec: impl FnOnce(u32, Vec<u8>) -> R,
    ) -> Result<R, Error> {
        self.check(false)?;
        self.skip_abandoned(deadline)?;
        let ring = self.ring(1 - self.side as usize);
        let cap = self.cap;
        self.wait_data(HEADER, deadline)?;
        let d = self.inc();
        let head = d.cons.head.load(Ordering::Relaxed);
        // `len` comes from the writer: it is only ever compared and used to count bytes as
        // they arrive, never to reach past what is committed in the ring.
        let (len, tag) = ring.read_header(head.into());
        let total = frame_len(len);
        let max = self.max_message();
        if total <= u64::from(cap) {
            // The writer commits such a frame at once: it is all here already.
            if u64::from(self.available().ok_or(CORRUPT_TAIL)?) >= total {
                let body = head.wrapping_add(HEADER);
                let r = if len as usize > max {
                    Err(Error::TooLarge {
                        len: len as usize,
                        max,
                    })
                } else {
                    // The frame is committed and we are its one reader until the `release`
                    // below; the writer does not touch committed bytes.
                    Ok(
                        ring.read_committed(body.into(), len as usize, |payload| match payload {
                            Payload::InPlace(slice) => with_slice(tag, slice),
                            Payload::Copied(v) => with_vec(tag, v),
                        }),
                    )
                };
                self.release(head.wrapping_add(total as u32));
                return r;
            }
        }
        // Streamed (or a torn frame from a writer that died): read chunk by chunk.
        let keep = len as usize <= max;
        let mut v = crate::fresh_buffer::fresh_vec(if keep { len as usize } else { 0 });
        let mut pos = head.wrapping_add(HEADER);
        self.release(pos);
        let padded = total - u64::from(HEADER);
        let mut done: u64 = 0;
        while done < padded {
            let want = (padded - done).min(u64::from(cap / 4)) as u32;
            // The deadline holds mid-message too: a stopped writer does not hold us past it.
            // The message is then abandoned and its rest skipped as it comes.
            let avail = match self.wait_data(want, deadline) {
                Ok(avail) => avail,
                Err(Error::Timeout) => {
                    d.cons.abandoned.store(padded - done, Ordering::Relaxed);
                    return Err(Error::PartialMessage {
                        received: done.min(u64::from(len)) as usize,
                        len: len as usize,
                    });
                }
                Err(e) => return Err(e),
            };
            let chunk = u64::from(avail).min(padded - done);
            let data_end = (done + chunk).min(u64::from(len));
            if keep && data_end > done {
                ring.extend_vec(pos.into(), (data_end - done) as usize, &mut v);
            }
            pos = pos.wrapping_add(chunk as u32);
            done += chunk;
            self.release(pos);
        }
        if keep {
            Ok(with_vec(tag, v))
        } else {
            Err(Error::TooLarge {
                len: len as usize,
                max,
            })
        }
    }

    /// The one poll.
    pub(crate) fn poll_until(&self, deadline: Option<Deadline>) -> Result<bool, Error> {
        self.check(false)?;
        let waited = self
            .skip_abandoned(deadline)
            .and_then(|()| self.wait_data(HEADER, deadline));
        match waited {
            Ok(_) | Err(Error::Eof) => Ok(true),
            Err(Error::Timeout) => Ok(self.peer_gone()),
            Err(e) => Err(e),
        }
    }

    /// Whether a receive would not block right now (data, or EOF known).
    pub(crate) fn ready_now(&self) -> bool {
        let pending = self.inc().cons.abandoned.load(Ordering::Relaxed);
        self.closed
            || !self.readable
            || self.peer_gone.get()
            // Corrupt counts as ready: the receive reports it.
            || self
                .available()
                .is_none_or(|n| u64::from(n) >= pending + u64::from(HEADER))
    }

    /// The futex word and waiter count `wait` sleeps on.
    pub(crate) fn data_word(&self) -> &WakeWord {
        &self.inc().prod.data
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        self.close();
    }
}
