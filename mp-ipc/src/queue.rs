//! [`Queue`]: many producers and many consumers in many processes over one shared ring.
//!
//! # Segment layout and commit protocol
//!
//! One segment holds everything: `QueueHeader` (the put lock, the get lock, the positions
//! and the wake words) then a byte ring of `cap` bytes. The two robust mutexes serialize the
//! producers among themselves and the consumers among themselves, so that at any time the ring
//! has one writer and one reader, which run in parallel.
//!
//! `tail` and `head` are single 64-bit words packing `(count << 32) | position`, the position
//! in 8-byte units (every frame is a multiple of 8 bytes): one store commits both the bytes of
//! a message and the item count, and the 32-bit unit position addresses rings of up to
//! 16 GiB. A producer writes its frame past `tail` and then stores the new `tail`; a consumer
//! decodes the frame at `head` and then stores the new `head`. A process killed before its
//! store leaves no trace: the next holder of the lock gets `OwnerDied` (the robust mutex),
//! finds `tail`/`head` as they were, and goes on (a dead producer's half-written frame is
//! overwritten; a dead consumer's item is still there and goes to the next consumer). No item
//! is lost, duplicated or torn.
//!
//! # Unbounded without a byte limit
//!
//! By default the ring is a 16 GiB area of virtual memory ([`DEFAULT_QUEUE_BYTES`]): a memfd
//! mapped without reserve costs nothing until written, so `put` on an unbounded queue does not
//! block and takes any item up to 4 GiB. Memory follows what is unconsumed:
//! * producers past the first [`WARM`] bytes start the next lap at the ring's start as soon
//!   as their item fits there before the readers, so a backlog smaller than that cycles
//!   through resident pages;
//! * consumers give whole consumed chunks ([`CHUNK`]) beyond the first [`WARM`] bytes of
//!   the ring back to the kernel (`MADV_REMOVE`) before they hand the space back to producers;
//!   producers keep one chunk of slack behind the readers, so a chunk being released is never
//!   one a producer may be writing;
//! * a consumer that empties the queue past the first [`RESIDENT`] bytes moves both positions
//!   to the start of the next lap (holding both locks; a padding frame covers the jump, so a
//!   death half-way leaves a consistent queue), so a queue that keeps up reuses the same
//!   resident pages instead of faulting in fresh ones.
//!
//! A blocked `get` sleeps holding the get lock (other consumers queue on the lock), on
//! `not_empty`, which every commit bumps; a blocked `put` likewise on `not_full`.
//!
//! # Shutdown
//!
//! `shutdown` is one word of the header (0 open, then [`SHUT_DOWN`] or [`SHUT_DOWN_NOW`],
//! never back), so it holds for every process at once. The caller sets it and bumps every wake
//! word: each blocked `put`, `get` and `join`, in any process, wakes, reads the word and leaves
//! (a producer's check is under the put lock, before its commit, so none commits after a
//! shutdown it has seen). An immediate shutdown then takes both locks (put, then get, the
//! order `rewind_if_empty` keeps too) and discards the rest: `head` moves to `tail` in one
//! store and `done` counts the discarded items as done, which releases `join`.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mp_sync::raw::{Deadline, RobustMutex, WakeWord};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::{CodecError, Error, GetError, PutError};
use crate::handles::{SideChannel, TOKEN_BYTES, encoded_len_and_handles};
use crate::ring::{HEADER, PAD, Ring, WITH_HANDLES, frame_len};
use crate::sys::{Held, QueueHeader, Segment, current_cpu, lock, release_pages};
use crate::waiter;

/// Longest wait for a lock before looking whether this process closed the queue meanwhile
/// (a waiter in another thread must hear of `close`).
const SLICE: Duration = Duration::from_millis(50);

/// Default ring size of a queue: 16 GiB of address space, untouched (so free) until used.
pub const DEFAULT_QUEUE_BYTES: u64 = 1 << 34;

/// Bytes at the start of a ring that stay resident (never released): a queue that keeps up
/// cycles through them.
pub(crate) const RESIDENT: u64 = 2 << 20;

/// Bytes at the start of a ring whose pages are never given back (the warm window): a
/// producer that has gone past it starts the next lap at the ring's start as soon as its item
/// fits there before the readers, so a backlog of up to this size cycles through pages that
/// are already resident (memory speed) instead of faulting in fresh ones (~1 GB/s). Only a
/// backlog beyond it reaches fresh pages, which consumers then give back.
pub(crate) const WARM: u64 = 32 << 20;

/// Granularity of releasing consumed memory, and the slack producers keep behind readers.
pub(crate) const CHUNK: u64 = 1 << 20;

/// Largest ring: the 32-bit position in 8-byte units addresses 32 GiB; used bytes must stay
/// below that, so 16 GiB.
const MAX_RING: u64 = 1 << 34;

/// Smallest ring.
const MIN_RING: u64 = 4096;

/// `shutdown` word: shut down, gets drain what is left.
const SHUT_DOWN: u32 = 1;

/// `shutdown` word: shut down immediately, what was left is discarded.
const SHUT_DOWN_NOW: u32 = 2;

/// The count half of a packed position.
#[inline]
fn count(word: u64) -> u32 {
    (word >> 32) as u32
}

/// The unit-position half of a packed position.
#[inline]
fn pos(word: u64) -> u32 {
    word as u32
}

/// Packs a count and a unit position.
#[inline]
fn pack(count: u32, pos: u32) -> u64 {
    (u64::from(count) << 32) | u64::from(pos)
}

/// The byte position of a unit position (as the ring takes it).
#[inline]
fn bytes(units: u32) -> u64 {
    u64::from(units) * 8
}

/// Options of a [`Queue`].
#[derive(Clone, Copy, Debug)]
pub struct QueueOptions {
    /// Most items in the queue at once (Python's `maxsize`); 0 (the default): no bound.
    pub maxsize: u32,
    /// Ring size in bytes, rounded up to a power of two (4 KiB to 16 GiB); it bounds the
    /// bytes unconsumed at once and the largest item. Default [`DEFAULT_QUEUE_BYTES`]
    /// (16 GiB of address space, memory used only as written, see the module docs).
    pub ring_bytes: u64,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            maxsize: 0,
            ring_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

/// How a [`RawQueue::put_with`] ended.
pub(crate) enum PutOutcome {
    /// The item is in the queue.
    Committed,
    /// No room (or the put lock stayed busy) until the deadline.
    Full,
    /// This process closed the queue.
    Closed,
    /// Some process shut the queue down; nothing was committed.
    ShutDown,
    /// The encoder failed; nothing was committed.
    EncodeFailed(CodecError),
    /// The shared positions are inconsistent; nothing was written.
    Corrupt(&'static str),
}

/// How a [`RawQueue::get_with`] ended.
pub(crate) enum GetOutcome<R> {
    /// An item, handed to the caller's function.
    Got(R),
    /// Nothing came before the deadline.
    Empty,
    /// This process closed the queue.
    Closed,
    /// Some process shut the queue down and nothing is left to drain.
    ShutDown,
    /// The shared positions or frame headers are inconsistent; nothing was taken.
    Corrupt(&'static str),
}

/// The untyped queue every flavour is built on.
#[derive(Clone, Debug)]
pub(crate) struct RawQueue {
    /// Header and ring.
    seg: Segment<QueueHeader>,
    /// Ring size in units, checked against the segment once (never re-read from shared
    /// memory, which another process could rewrite).
    cap_units: u32,
    /// The pid of the process that closed its handles (in-process clones share it); 0 while
    /// open. Closing is per process, as in Python: a child's copy is open whatever the start
    /// method, a fork child's included (its pid differs).
    closed_by: Arc<AtomicU32>,
    /// Carries the descriptors of items that hold handles (`crate::handles`).
    side: SideChannel,
}

impl Serialize for RawQueue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.seg, &self.side).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawQueue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (seg, side) = <(Segment<QueueHeader>, SideChannel)>::deserialize(deserializer)?;
        RawQueue::adopt(seg, side).map_err(serde::de::Error::custom)
    }
}

impl RawQueue {
    /// A new empty queue.
    pub(crate) fn new(options: QueueOptions) -> Result<RawQueue, Error> {
        let cap = options
            .ring_bytes
            .clamp(MIN_RING, MAX_RING)
            .next_power_of_two();
        let seg = QueueHeader::create(cap as usize, (cap / 8) as u32, options.maxsize)?;
        RawQueue::adopt(seg, SideChannel::new().map_err(Error::Os)?)
    }

    /// Wraps a segment and its side channel, checking its ring size against it.
    fn adopt(seg: Segment<QueueHeader>, side: SideChannel) -> Result<RawQueue, Error> {
        let cap_units = seg.header().cap_units.load(Ordering::Relaxed);
        let cap = bytes(cap_units);
        if !cap_units.is_power_of_two()
            || !(MIN_RING..=MAX_RING).contains(&cap)
            || cap > seg.data().1 as u64
        {
            return Err(Error::Corrupt("queue ring size does not match its segment"));
        }
        Ok(RawQueue {
            seg,
            cap_units,
            closed_by: Arc::default(),
            side,
        })
    }

    /// The header.
    fn h(&self) -> &QueueHeader {
        self.seg.header()
    }

    /// The ring.
    fn ring(&self) -> Ring<'_> {
        Ring::new(&self.seg, 0, bytes(self.cap_units))
    }

    /// Ring size in bytes.
    fn cap(&self) -> u64 {
        bytes(self.cap_units)
    }

    /// Units producers leave free behind the readers: one chunk when chunks are released.
    fn slack_units(&self) -> u32 {
        if self.cap() > WARM {
            (CHUNK / 8) as u32
        } else {
            0
        }
    }

    /// Largest encoded item.
    pub(crate) fn max_message(&self) -> usize {
        let room = bytes(self.cap_units - self.slack_units()) - u64::from(HEADER);
        room.min(u64::from(u32::MAX)) as usize
    }

    /// `maxsize` (0: unbounded).
    pub(crate) fn maxsize(&self) -> u32 {
        self.h().maxsize.load(Ordering::Relaxed)
    }

    /// Items in the queue (a snapshot).
    pub(crate) fn qsize(&self) -> usize {
        let tail = self.h().put.tail.load(Ordering::SeqCst);
        let head = self.h().get.head.load(Ordering::SeqCst);
        count(tail).wrapping_sub(count(head)) as usize
    }

    /// Whether a put of the smallest item would have to wait now (by count or by room).
    pub(crate) fn is_full(&self) -> bool {
        let tail = self.h().put.tail.load(Ordering::SeqCst);
        !self.fits(tail, 1)
    }

    /// Whether this process closed the queue.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        // Every put and get asks: look at the pid (a system call, ~150 ns) only once some
        // process closed this handle's copy.
        let by = self.closed_by.load(Ordering::Relaxed);
        by != 0 && by == std::process::id()
    }

    /// Closes the queue for this process and wakes its waiters (they return `Closed`); the
    /// other processes' waiters wake too, look, and sleep again.
    pub(crate) fn close(&self) {
        self.closed_by.store(std::process::id(), Ordering::SeqCst);
        self.h().put.not_empty.wake_all();
        self.h().get.not_full.wake_all();
    }

    /// The `shutdown` word (0: open).
    fn shutdown_state(&self) -> u32 {
        self.h().shutdown.load(Ordering::SeqCst)
    }

    /// Whether some process shut the queue down.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shutdown_state() != 0
    }

    /// Shuts the queue down for every process (see the module docs): wakes every waiter, and
    /// with `immediate` discards what is left, counting it done.
    pub(crate) fn shutdown(&self, immediate: bool) {
        let h = self.h();
        let state = if immediate { SHUT_DOWN_NOW } else { SHUT_DOWN };
        h.shutdown.fetch_max(state, Ordering::SeqCst);
        h.put.not_empty.wake_all();
        h.get.not_full.wake_all();
        h.get.all_done.wake_all();
        if immediate {
            self.discard_all();
        }
    }

    /// Drops every item in the queue, as if each had been taken and marked done.
    fn discard_all(&self) {
        let h = self.h();
        // The waiters holding these locks left when they saw the shutdown; producers that
        // take the put lock after us see it before they commit.
        let (Some(_put), Some(_get)) = (lock(&h.put.lock, None), lock(&h.get.lock, None)) else {
            return;
        };
        let head = h.get.head.load(Ordering::SeqCst);
        let tail = h.put.tail.load(Ordering::SeqCst);
        let discarded = count(tail).wrapping_sub(count(head));
        if discarded == 0 {
            return;
        }
        if pos(tail).wrapping_sub(pos(head)) <= self.cap_units {
            // Both locks held: no producer writes, so every consumed chunk may go.
            self.release_consumed(pos(head), pos(tail));
        }
        h.get.head.store(tail, Ordering::SeqCst);
        h.get.done.fetch_add(discarded, Ordering::SeqCst);
        h.get.not_full.wake_all();
        h.get.all_done.wake_all();
    }

    /// Whether `need` more units fit now after `tail` (by count and by room).
    fn fits(&self, tail: u64, need: u32) -> bool {
        let head = self.h().get.head.load(Ordering::SeqCst);
        let maxsize = self.maxsize();
        let items = count(tail).wrapping_sub(count(head));
        let used = pos(tail).wrapping_sub(pos(head));
        let limit = self.cap_units - self.slack_units();
        (maxsize == 0 || items < maxsize) && used <= limit && limit - used >= need
    }

    /// Takes `mutex` by `deadline`, in slices, giving up when this process closes the queue.
    fn lock_unless_closed<'a>(
        &self,
        mutex: &'a RobustMutex,
        deadline: Option<Deadline>,
    ) -> Result<Option<Held<'a>>, ()> {
        loop {
            if self.is_closed() {
                return Err(());
            }
            // A free lock, the usual case, is taken without reading the clock (a slice's
            // deadline costs a clock_gettime: 14% of a consumer's time on small items).
            if let Some(held) = lock(mutex, Some(Deadline::now())) {
                return Ok(Some(held));
            }
            if let Some(held) = lock(mutex, Some(Deadline::slice(deadline, SLICE))) {
                return Ok(Some(held));
            }
            if deadline.is_some_and(Deadline::has_passed) {
                return Ok(None);
            }
        }
    }

    /// Puts one item of `len` encoded bytes, written by `fill` straight into the ring
    /// (nothing is committed when `fill` fails), in a frame tagged `tag` (0, or
    /// [`WITH_HANDLES`]). `len` is at most [`Self::max_message`].
    pub(crate) fn put_with(
        &self,
        len: u32,
        tag: u32,
        deadline: Option<Deadline>,
        fill: impl FnOnce(&mut [u8]) -> Result<(), CodecError>,
    ) -> PutOutcome {
        let frame = (frame_len(len) / 8) as u32;
        let _held = match self.lock_unless_closed(&self.h().put.lock, deadline) {
            Err(()) => return PutOutcome::Closed,
            Ok(None) => return PutOutcome::Full,
            Ok(Some(held)) => held,
        };
        if self.is_shut_down() {
            return PutOutcome::ShutDown;
        }
        let h = self.h();
        let cap = self.cap_units;
        let tail = h.put.tail.load(Ordering::Relaxed);
        // A frame that would wrap is preceded by a padding frame up to the end of the ring
        // (committed together with it): items then lie in one piece, and are encoded and
        // decoded in place.
        let at = pos(tail) & (cap - 1);
        let warm = (WARM / 8) as u32;
        let pad = if u64::from(at) + u64::from(frame) > u64::from(cap)
            // Past the warm window: back to its resident pages if the item fits there now.
            || (at >= warm && frame <= warm && self.fits(tail, (cap - at).saturating_add(frame)))
        {
            cap - at
        } else {
            0
        };
        let Some(need) = frame.checked_add(pad).filter(|&n| n <= cap) else {
            // Only when the item cannot fit even after a wrap: wait for the queue to drain
            // is pointless, so it is "full" until the deadline (callers check the size).
            return PutOutcome::Full;
        };
        let room = self.not_full_wait(
            || self.is_closed() || self.is_shut_down() || self.fits(tail, need),
            deadline,
        );
        if self.is_closed() {
            return PutOutcome::Closed;
        }
        // Checked under the put lock before the commit: an immediate shutdown discards under
        // this lock, so nothing is committed after it.
        if self.is_shut_down() {
            return PutOutcome::ShutDown;
        }
        if !room {
            return PutOutcome::Full;
        }
        let head = h.get.head.load(Ordering::SeqCst);
        if pos(tail).wrapping_sub(pos(head)) > cap {
            return PutOutcome::Corrupt("queue head outside the ring");
        }
        let ring = self.ring();
        let mut at = pos(tail);
        if pad > 0 {
            ring.write_header(bytes(at), pad, PAD);
            at = at.wrapping_add(pad);
        }
        let body = bytes(at) + u64::from(HEADER);
        // These bytes are free (after `tail`, within the room checked above) and we are the
        // one producer (the put lock); no consumer reads them before the commit.
        let filled = ring.fill_free(body, len as usize, fill);
        if let Err(e) = filled {
            return PutOutcome::EncodeFailed(e);
        }
        ring.write_header(bytes(at), len, tag);
        // The commit: bytes and count become visible together.
        h.put.tail.store(
            pack(count(tail).wrapping_add(1), pos(tail).wrapping_add(need)),
            Ordering::SeqCst,
        );
        // Stored only when it changes: a store per put would move the line, which consumers
        // read at every wait, across CPUs once per item.
        if let Some(cpu) = current_cpu().map(|c| c + 1)
            && h.put.producer_cpu.load(Ordering::Relaxed) != cpu
        {
            h.put.producer_cpu.store(cpu, Ordering::Relaxed);
        }
        h.put.not_empty.wake_all();
        PutOutcome::Committed
    }

    /// Waits on `not_full` until `ready()` or `deadline`.
    fn not_full_wait(&self, ready: impl FnMut() -> bool, deadline: Option<Deadline>) -> bool {
        self.h().get.not_full.wait_for(ready, deadline)
    }

    /// Takes one item, handing its frame's tag and bytes to `f` in place.
    pub(crate) fn get_with<R>(
        &self,
        deadline: Option<Deadline>,
        f: impl FnOnce(u32, &[u8]) -> R,
    ) -> GetOutcome<R> {
        let _held = match self.lock_unless_closed(&self.h().get.lock, deadline) {
            Err(()) => return GetOutcome::Closed,
            Ok(None) => return GetOutcome::Empty,
            Ok(Some(held)) => held,
        };
        let h = self.h();
        let cap = self.cap_units;
        let head = h.get.head.load(Ordering::Relaxed);
        let nonempty = || count(h.put.tail.load(Ordering::SeqCst)) != count(head);
        let got = waiter::wait_until(
            self.data_word(),
            || self.is_closed() || self.is_shut_down() || nonempty(),
            deadline,
            SLICE,
            waiter::Before::Guess(Some(&h.put.producer_cpu)),
            || Ok::<(), ()>(()),
        );
        if self.is_closed() {
            return GetOutcome::Closed;
        }
        // After a plain shutdown, gets drain what is left; after an immediate one, nothing.
        match self.shutdown_state() {
            SHUT_DOWN_NOW => return GetOutcome::ShutDown,
            SHUT_DOWN if !nonempty() => return GetOutcome::ShutDown,
            _ => {}
        }
        if got != Ok(true) {
            return GetOutcome::Empty;
        }
        let tail = h.put.tail.load(Ordering::SeqCst);
        // Everything below comes from other processes' writes: each length is checked
        // against the committed bytes before it is used.
        let mut left = pos(tail).wrapping_sub(pos(head));
        if left > cap {
            return GetOutcome::Corrupt("queue tail outside the ring");
        }
        let ring = self.ring();
        let mut at = pos(head);
        // Where the consumed bytes to release begin: a padding frame's span (to the end of
        // the ring) holds nothing written, so it is skipped, not walked.
        let mut from = pos(head);
        let (len, tag, frame) = loop {
            let (len, tag) = ring.read_header(bytes(at));
            if tag == PAD {
                // Padding (in units) to the end of the ring or to the next lap.
                if len == 0 || len >= left {
                    return GetOutcome::Corrupt("queue padding frame longer than the data");
                }
                self.release_consumed(from, at.wrapping_add(units_to_chunk_end(at)));
                from = at.wrapping_add(len);
                at = at.wrapping_add(len);
                left -= len;
                continue;
            }
            let frame = (frame_len(len) / 8) as u32;
            if u64::from(frame) * 8 != frame_len(len) || frame > left {
                return GetOutcome::Corrupt("queue frame longer than the data");
            }
            break (len, tag, frame);
        };
        let body = bytes(at) + u64::from(HEADER);
        // The frame is committed (before `tail`) and we are the one consumer (the get lock);
        // producers do not write it until `head` moves past it below.
        let r = ring.read_committed(body, len as usize, |payload| f(tag, &payload));
        let new_pos = at.wrapping_add(frame);
        self.release_consumed(from, new_pos);
        // The release: the item is gone for everyone only now.
        let taken = count(head).wrapping_add(1);
        h.get.head.store(pack(taken, new_pos), Ordering::SeqCst);
        h.get.not_full.wake_all();
        self.rewind_if_empty(taken, new_pos);
        GetOutcome::Got(r)
    }

    /// Gives the whole chunks consumed between unit positions `from` and `to` (beyond the
    /// resident start of the ring) back to the kernel. Called before `head` moves to `to`:
    /// producers stay one chunk of slack behind `from`, so none writes these bytes now.
    fn release_consumed(&self, from: u32, to: u32) {
        let cap = self.cap();
        if cap <= WARM {
            return;
        }
        let start = bytes(from);
        let end = start + bytes(to.wrapping_sub(from));
        // Chunks whose end lies in (start, end].
        let first = (start / CHUNK) * CHUNK;
        let last = (end / CHUNK) * CHUNK;
        let ring = self.ring();
        let mut c = first;
        while c < last {
            // One chunk at a time keeps the ring-end and resident splits trivial; a big item
            // spans few chunks per megabyte.
            let off = ring.offset(c) as u64;
            if off >= WARM {
                // `off + CHUNK <= cap` (cap is a multiple of CHUNK): inside the ring.
                release_pages(ring.base().wrapping_add(off as usize), CHUNK as usize);
            }
            c += CHUNK;
        }
    }

    /// After a get left the queue empty at unit position `at` past the resident start,
    /// moves both positions to the start of the next lap (if no producer is busy), so that
    /// the queue reuses its resident pages.
    fn rewind_if_empty(&self, taken: u32, at: u32) {
        let h = self.h();
        let cap = self.cap_units;
        let off = at & (cap - 1);
        if bytes(off) < RESIDENT || count(h.put.tail.load(Ordering::SeqCst)) != taken {
            return;
        }
        // We hold the get lock; with the put lock too, nobody else touches the positions.
        let Some(_put) = lock(&h.put.lock, Some(Deadline::now())) else {
            return;
        };
        let tail = h.put.tail.load(Ordering::SeqCst);
        if tail != pack(taken, at) {
            return;
        }
        let jump = cap - off;
        let lap = at.wrapping_add(jump);
        // The padding frame makes the new `tail` valid on its own: a consumer at `at` skips
        // to the next lap even if we die before moving `head`.
        self.ring().write_header(bytes(at), jump, PAD);
        h.put.tail.store(pack(taken, lap), Ordering::SeqCst);
        h.get.head.store(pack(taken, lap), Ordering::SeqCst);
    }

    /// Marks one taken item done (`JoinableQueue`); `false` when more calls than items taken.
    pub(crate) fn task_done(&self) -> bool {
        let g = &self.h().get;
        let mut done = g.done.load(Ordering::SeqCst);
        loop {
            let taken = count(g.head.load(Ordering::SeqCst));
            if done == taken {
                return false;
            }
            match g.done.compare_exchange(
                done,
                done.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(now) => done = now,
            }
        }
        g.all_done.wake_all();
        true
    }

    /// Items put and not yet marked done.
    pub(crate) fn unfinished(&self) -> u32 {
        let put = count(self.h().put.tail.load(Ordering::SeqCst));
        put.wrapping_sub(self.h().get.done.load(Ordering::SeqCst))
    }

    /// Waits until every item put has been marked done, or `deadline` (`false`).
    pub(crate) fn join_until(&self, deadline: Option<Deadline>) -> bool {
        self.h()
            .get
            .all_done
            .wait_for(|| self.unfinished() == 0, deadline)
    }

    /// The wake word `wait` sleeps on: bumped by every put.
    pub(crate) fn data_word(&self) -> &WakeWord {
        &self.h().put.not_empty
    }
}

/// Python's `multiprocessing.Queue`: a FIFO of `T` for any number of producer and consumer
/// processes. Clones (in-process) and copies sent to other processes all name one queue.
///
/// There is no feeder thread: a `put` that returned `Ok` has committed the item to shared
/// memory, where it stays until some process gets it, even if the producer exits or is
/// killed right after. A producer or consumer killed in the middle of its call leaves the
/// queue intact (see the module docs of the crate for the protocol).
///
/// Items are encoded with postcard. An unbounded queue (the default) takes items of any size
/// up to 4 GiB and its `put` does not block (memory grows with what is unconsumed, as in
/// Python); a bounded one counts items as Python does. With an explicit, smaller
/// [`QueueOptions::ring_bytes`], an item larger than the ring is refused with
/// [`PutError::TooLarge`] and a put waits while the ring is full.
///
/// **Closing is per process**, as in Python: [`close`](Self::close) affects this process's
/// handles (and wakes their waiters with `Closed`); a copy of the queue in a child, under
/// any start method (fork too), starts open.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Queue<T> {
    /// The shared queue.
    raw: RawQueue,
    /// The item type.
    #[serde(skip)]
    _item: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            raw: self.raw.clone(),
            _item: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("qsize", &self.raw.qsize())
            .field("maxsize", &self.raw.maxsize())
            .finish_non_exhaustive()
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// An unbounded queue: any number of items of any size (see the type's docs).
    pub fn new() -> Result<Self, Error> {
        Self::with_options(QueueOptions::default())
    }

    /// A queue of at most `maxsize` items (Python's `Queue(maxsize)`; 0: unbounded).
    pub fn with_maxsize(maxsize: u32) -> Result<Self, Error> {
        Self::with_options(QueueOptions {
            maxsize,
            ..QueueOptions::default()
        })
    }

    /// A queue with explicit options.
    pub fn with_options(options: QueueOptions) -> Result<Self, Error> {
        Ok(Queue {
            raw: RawQueue::new(options)?,
            _item: PhantomData,
        })
    }

    /// The one put: waits until `deadline` (`None`: for good).
    fn put_until(&self, item: T, deadline: Option<Deadline>) -> Result<(), PutError<T>> {
        if self.raw.is_closed() {
            return Err(PutError::Closed(item));
        }
        if self.raw.is_shut_down() {
            return Err(PutError::ShutDown(item));
        }
        let max = self.raw.max_message();
        // A dry run counts the bytes and the descriptors of the handles inside (if any, they
        // travel on the side channel and the frame starts with their token).
        let (len, handles) = encoded_len_and_handles(&item);
        let extra = if handles > 0 { TOKEN_BYTES } else { 0 };
        let len = match len.map(|len| len + extra) {
            Ok(len) if len > max => return Err(PutError::TooLarge { item, len, max }),
            Ok(len) => len as u32,
            Err(e) => return Err(PutError::Encode(item, e)),
        };
        let side = &self.raw.side;
        let outcome = if handles > 0 {
            self.raw.put_with(len, WITH_HANDLES, deadline, |slot| {
                side.sender().encode_into(&item, slot)
            })
        } else {
            self.raw
                .put_with(len, 0, deadline, |slot| codec::encode_into(&item, slot))
        };
        match outcome {
            PutOutcome::Committed => Ok(()),
            PutOutcome::Full => Err(PutError::Full(item)),
            PutOutcome::Closed => Err(PutError::Closed(item)),
            PutOutcome::ShutDown => Err(PutError::ShutDown(item)),
            PutOutcome::EncodeFailed(e) => Err(PutError::Encode(item, e)),
            PutOutcome::Corrupt(what) => Err(PutError::Corrupt(item, what)),
        }
    }

    /// Puts `item`, waiting while the queue is full (Python's `put(item)`; an unbounded
    /// queue is never full).
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_until(item, None)
    }

    /// Puts `item`, waiting up to `timeout` for room ([`PutError::Full`] after that).
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_until(item, Some(Deadline::after(timeout)))
    }

    /// Puts `item`, waiting for room until `deadline` ([`PutError::Full`] after that).
    pub fn put_deadline(&self, item: T, deadline: Deadline) -> Result<(), PutError<T>> {
        self.put_until(item, Some(deadline))
    }

    /// Puts `item` only if there is room now (Python's `put_nowait`): fails exactly when
    /// [`full`](Self::full) says so (races with other processes aside).
    pub fn put_nowait(&self, item: T) -> Result<(), PutError<T>> {
        self.put_until(item, Some(Deadline::now()))
    }

    /// The one get.
    fn get_until(&self, deadline: Option<Deadline>) -> Result<T, GetError> {
        if self.raw.is_closed() {
            return Err(GetError::Closed);
        }
        let side = &self.raw.side;
        let decode = |tag, bytes: &[u8]| match tag {
            WITH_HANDLES => side.receiver().decode::<T>(bytes),
            _ => codec::decode::<T>(bytes),
        };
        match self.raw.get_with(deadline, decode) {
            GetOutcome::Got(r) => r.map_err(GetError::Decode),
            GetOutcome::Empty => Err(GetError::Empty),
            GetOutcome::Closed => Err(GetError::Closed),
            GetOutcome::ShutDown => Err(GetError::ShutDown),
            GetOutcome::Corrupt(what) => Err(GetError::Corrupt(what)),
        }
    }

    /// Takes the oldest item, waiting for one (Python's `get()`); [`GetError::Closed`] when
    /// this process closes the queue meanwhile, [`GetError::ShutDown`] when it is shut down
    /// and empty.
    pub fn get(&self) -> Result<T, GetError> {
        self.get_until(None)
    }

    /// Takes the oldest item, waiting up to `timeout` ([`GetError::Empty`] after that).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_until(Some(Deadline::after(timeout)))
    }

    /// Takes the oldest item, waiting until `deadline` ([`GetError::Empty`] after that).
    pub fn get_deadline(&self, deadline: Deadline) -> Result<T, GetError> {
        self.get_until(Some(deadline))
    }

    /// Takes the oldest item if there is one now (Python's `get_nowait`).
    pub fn get_nowait(&self) -> Result<T, GetError> {
        self.get_until(Some(Deadline::now()))
    }
}

impl<T> Queue<T> {
    /// The shared core.
    pub(crate) fn raw(&self) -> &RawQueue {
        &self.raw
    }

    /// Items in the queue at this instant.
    pub fn qsize(&self) -> usize {
        self.raw.qsize()
    }

    /// Whether the queue is empty at this instant.
    pub fn empty(&self) -> bool {
        self.raw.qsize() == 0
    }

    /// Whether a put would have to wait at this instant: `maxsize` items are in it, or (only
    /// with a small explicit ring) its ring has no room left. Never for a default unbounded
    /// queue short of 16 GiB unconsumed.
    pub fn full(&self) -> bool {
        self.raw.is_full()
    }

    /// The bound given at creation (0: unbounded).
    pub fn maxsize(&self) -> u32 {
        self.raw.maxsize()
    }

    /// The largest encoded item this queue accepts.
    pub fn max_message(&self) -> usize {
        self.raw.max_message()
    }

    /// Closes the queue in this process (and its in-process clones): later puts and gets here
    /// fail with `Closed`, and those blocked in other threads of this process wake with
    /// `Closed`. Other processes are unaffected (children's copies are open, see the type's
    /// docs); items already put stay available to them. Nothing needs flushing.
    pub fn close(&self) {
        self.raw.close();
    }

    /// Whether [`close`](Self::close) was called in this process.
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }

    /// Shuts the queue down for every process that holds it (Python 3.13's
    /// `shutdown(immediate)`): later puts fail with [`PutError::ShutDown`]; gets take what is
    /// left, then fail with [`GetError::ShutDown`]. With `immediate`, what is left is
    /// discarded instead (for a [`JoinableQueue`](crate::JoinableQueue), counted as done, so
    /// that `join` returns once the items taken before are done). Every put, get and join
    /// blocked in the queue, in any process, wakes and returns. It cannot be undone; a second
    /// call only turns a plain shutdown into an immediate one.
    pub fn shutdown(&self, immediate: bool) {
        self.raw.shutdown(immediate);
    }

    /// Whether some process shut the queue down ([`shutdown`](Self::shutdown)).
    pub fn is_shut_down(&self) -> bool {
        self.raw.is_shut_down()
    }
}

/// Units from unit position `at` to the end of its chunk (0 at a chunk boundary).
fn units_to_chunk_end(at: u32) -> u32 {
    let into = bytes(at) % CHUNK;
    (((CHUNK - into) % CHUNK) / 8) as u32
}
