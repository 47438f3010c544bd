//! [`Queue`]: many producers and many consumers in many processes over one shared ring.
//!
//! # Segment layout and commit protocol
//!
//! `QueueHeader` then a byte ring of `cap` bytes. Two robust [`mp_sync::Lock`]s (each in its
//! own segment) serialize the producers among themselves and the consumers among themselves,
//! so that at any time the ring has one writer and one reader, which run in parallel.
//!
//! `tail` and `head` are single 64-bit words packing `(count << 32) | byte position`: one store
//! commits both the bytes of a message and the item count. A producer writes its frame past
//! `tail` and then stores the new `tail`; a consumer decodes the frame at `head` and then
//! stores the new `head`. A process killed before its store leaves no trace: the next holder
//! of the lock gets `OwnerDied` (the robust mutex), finds `tail`/`head` as they were, and goes
//! on (a dead producer's half-written frame is overwritten; a dead consumer's item is still
//! there and goes to the next consumer). No item is lost, duplicated or torn.
//!
//! A blocked `get` sleeps holding the get lock (other consumers queue on the lock), on
//! `not_empty_seq`, which every commit bumps; a blocked `put` likewise on `not_full_seq`.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use mp_sync::{Lock, LockGuard};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::{CodecError, Error, GetError, PutError, TaskError};
use crate::ring::{HEADER, PAD, Ring, frame_len};
use crate::sys::{Segment, SharedHeader, create_segment, kind, may_spin};
use crate::waiter::Signal;
use mp_sync::raw::Deadline;

/// Longest sleep before a waiter looks again (covers a wake-up lost to a process killed
/// between its commit and its wake).
const SLICE: Duration = Duration::from_millis(50);

/// Default ring size of a queue: 2 MiB (so the largest item is 2 MiB - 8 bytes).
pub const DEFAULT_QUEUE_BYTES: u32 = 2 << 20;

/// The producers' words.
#[repr(C, align(64))]
struct PutSide {
    /// `(items put << 32) | byte position after the last committed frame`.
    tail: AtomicU64,
    /// Bumped after every commit.
    not_empty_seq: AtomicU32,
    /// Consumers and `wait` callers sleeping on `not_empty_seq`.
    not_empty_waiters: AtomicU32,
}

/// The consumers' words.
#[repr(C, align(64))]
struct GetSide {
    /// `(items taken << 32) | byte position of the first unread frame`.
    head: AtomicU64,
    /// Bumped after every get.
    not_full_seq: AtomicU32,
    /// Producers sleeping on `not_full_seq`.
    not_full_waiters: AtomicU32,
    /// `task_done` calls so far (`JoinableQueue`).
    done: AtomicU32,
    /// Bumped after every `task_done`.
    done_seq: AtomicU32,
    /// `join` callers sleeping on `done_seq`.
    join_waiters: AtomicU32,
}

/// The shared header of a queue.
#[repr(C)]
pub(crate) struct QueueHeader {
    /// Written by producers.
    put: PutSide,
    /// Written by consumers.
    get: GetSide,
    /// Ring size in bytes (a power of two).
    cap: AtomicU32,
    /// Most items at once; 0 for no bound but the ring.
    maxsize: AtomicU32,
}

// SAFETY: `repr(C)`, atomics only (valid zeroed), no pointers.
unsafe impl SharedHeader for QueueHeader {
    const KIND: u32 = kind::QUEUE;
}

/// The count half of a packed position.
#[inline]
fn count(word: u64) -> u32 {
    (word >> 32) as u32
}

/// The byte-position half of a packed position.
#[inline]
fn pos(word: u64) -> u32 {
    word as u32
}

/// Packs a count and a byte position.
#[inline]
fn pack(count: u32, pos: u32) -> u64 {
    (u64::from(count) << 32) | u64::from(pos)
}

/// Locks `lock` until `deadline` (`None`: for good); `None` if it stayed busy. A holder that
/// died left nothing to repair (commits are single stores), so the death is acknowledged.
fn lock_until(lock: &Lock, deadline: Option<Deadline>) -> Option<LockGuard<'_>> {
    let r = match deadline {
        None => lock.acquire().map(Some),
        Some(d) if d.has_passed() => lock.try_acquire(),
        Some(d) => lock.acquire_timeout(d.remaining()),
    };
    match r {
        Ok(g) => g,
        Err(died) => Some(died.into_inner()),
    }
}

/// How a [`RawQueue::put_with`] ended.
pub(crate) enum PutOutcome {
    /// The item is in the queue.
    Committed,
    /// No room (or the put lock stayed busy) until the deadline.
    Full,
    /// The encoder failed; nothing was committed.
    EncodeFailed(CodecError),
}

/// Options of a [`Queue`].
#[derive(Clone, Copy, Debug)]
pub struct QueueOptions {
    /// Most items in the queue at once (Python's `maxsize`); 0 (the default) bounds the queue
    /// only by its ring.
    pub maxsize: u32,
    /// Ring size in bytes, rounded up to a power of two (4 KiB to 1 GiB); also the largest
    /// item (minus 8 bytes). Default [`DEFAULT_QUEUE_BYTES`]. Memory is touched as used.
    pub ring_bytes: u32,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            maxsize: 0,
            ring_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

/// The untyped queue every flavour is built on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RawQueue {
    /// Header and ring.
    seg: Segment<QueueHeader>,
    /// Serializes producers.
    put_lock: Lock,
    /// Serializes consumers.
    get_lock: Lock,
    /// Closed by this process (shared by in-process clones, not sent).
    #[serde(skip)]
    closed: Arc<AtomicBool>,
}

impl RawQueue {
    /// A new empty queue.
    pub(crate) fn new(options: QueueOptions) -> Result<RawQueue, Error> {
        let cap = options
            .ring_bytes
            .clamp(4096, 1 << 30)
            .checked_next_power_of_two()
            .unwrap_or(1 << 30);
        may_spin();
        let seg = create_segment::<QueueHeader>(cap as usize, |h| {
            h.cap.store(cap, Ordering::Relaxed);
            h.maxsize.store(options.maxsize, Ordering::Relaxed);
        })?;
        Ok(RawQueue {
            seg,
            put_lock: Lock::new()?,
            get_lock: Lock::new()?,
            closed: Arc::default(),
        })
    }

    /// The header.
    fn h(&self) -> &QueueHeader {
        self.seg.header()
    }

    /// The ring.
    fn ring(&self) -> Ring<'_> {
        Ring::new(&self.seg, 0, self.h().cap.load(Ordering::Relaxed))
    }

    /// Largest encoded item.
    pub(crate) fn max_message(&self) -> usize {
        (self.h().cap.load(Ordering::Relaxed) - HEADER) as usize
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

    /// Whether this process closed the queue.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Closes the queue for this process.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Whether an item of `frame` bytes fits now (by count and by room).
    fn fits(&self, tail: u64, frame: u64) -> bool {
        let head = self.h().get.head.load(Ordering::SeqCst);
        let maxsize = self.maxsize();
        let items = count(tail).wrapping_sub(count(head));
        let used = pos(tail).wrapping_sub(pos(head));
        (maxsize == 0 || items < maxsize)
            && u64::from(self.h().cap.load(Ordering::Relaxed) - used) >= frame
    }

    /// Puts one item of `len` encoded bytes, written by `fill` straight into the ring
    /// (nothing is committed when `fill` fails).
    pub(crate) fn put_with(
        &self,
        len: u32,
        deadline: Option<Deadline>,
        fill: impl FnOnce(&mut [u8]) -> Result<(), CodecError>,
    ) -> PutOutcome {
        let frame = frame_len(len);
        let Some(_guard) = lock_until(&self.put_lock, deadline) else {
            return PutOutcome::Full;
        };
        let h = self.h();
        let cap = h.cap.load(Ordering::Relaxed);
        let tail = h.put.tail.load(Ordering::Relaxed);
        // A frame that would wrap is preceded by a padding frame up to the end of the ring
        // (committed together with it), when both fit: items then lie in one piece, and are
        // encoded and decoded in place.
        let at = u64::from(pos(tail) & (cap - 1));
        let pad = if at + frame > u64::from(cap) && frame + (u64::from(cap) - at) <= u64::from(cap)
        {
            u64::from(cap) - at
        } else {
            0
        };
        let need = frame + pad;
        let room = self.not_full().wait_until(
            || self.fits(tail, need),
            deadline,
            SLICE,
            || Ok::<(), ()>(()),
        );
        if room != Ok(true) {
            return PutOutcome::Full;
        }
        let ring = self.ring();
        let mut at = pos(tail);
        if pad > 0 {
            ring.write_header(at, pad as u32 - HEADER, PAD);
            at = at.wrapping_add(pad as u32);
        }
        let body = at.wrapping_add(HEADER);
        let filled = match ring.contiguous_mut(body, len) {
            Some(slot) => fill(slot),
            None => {
                let mut v = vec![0; len as usize];
                fill(&mut v).map(|()| ring.write(body, &v))
            }
        };
        if let Err(e) = filled {
            return PutOutcome::EncodeFailed(e);
        }
        ring.write_header(at, len, 0);
        // The commit: bytes and count become visible together.
        h.put.tail.store(
            pack(
                count(tail).wrapping_add(1),
                pos(tail).wrapping_add(need as u32),
            ),
            Ordering::SeqCst,
        );
        self.not_empty().notify();
        PutOutcome::Committed
    }

    /// Takes one item, handing its bytes to `f` in place; `None` when it stayed empty until
    /// `deadline`.
    pub(crate) fn get_with<R>(
        &self,
        deadline: Option<Deadline>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Option<R> {
        let _guard = lock_until(&self.get_lock, deadline)?;
        let h = self.h();
        let head = h.get.head.load(Ordering::Relaxed);
        let nonempty = || count(h.put.tail.load(Ordering::SeqCst)) != count(head);
        let got = self
            .not_empty()
            .wait_until(nonempty, deadline, SLICE, || Ok::<(), ()>(()));
        if got != Ok(true) {
            return None;
        }
        let ring = self.ring();
        let (mut len, tag) = ring.read_header(pos(head));
        let mut at = pos(head);
        if tag == PAD {
            // Padding to the end of the ring, committed with the item after it.
            at = at.wrapping_add(HEADER + len);
            len = ring.read_header(at).0;
        }
        let body = at.wrapping_add(HEADER);
        let r = match ring.contiguous(body, len) {
            Some(s) => f(s),
            None => {
                let mut v = vec![0; len as usize];
                ring.read(body, &mut v);
                f(&v)
            }
        };
        // The release: the item is gone for everyone only now.
        h.get.head.store(
            pack(
                count(head).wrapping_add(1),
                at.wrapping_add(frame_len(len) as u32),
            ),
            Ordering::SeqCst,
        );
        self.not_full().notify();
        Some(r)
    }

    /// Marks one taken item done (`JoinableQueue`).
    pub(crate) fn task_done(&self) -> Result<(), TaskError> {
        let g = &self.h().get;
        let mut done = g.done.load(Ordering::SeqCst);
        loop {
            let taken = count(g.head.load(Ordering::SeqCst));
            if done == taken {
                return Err(TaskError::TooManyTaskDone);
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
        Signal {
            seq: &g.done_seq,
            waiters: &g.join_waiters,
        }
        .notify();
        Ok(())
    }

    /// Items put and not yet marked done.
    pub(crate) fn unfinished(&self) -> u32 {
        let put = count(self.h().put.tail.load(Ordering::SeqCst));
        put.wrapping_sub(self.h().get.done.load(Ordering::SeqCst))
    }

    /// Waits until every item put has been marked done.
    pub(crate) fn join(&self, deadline: Option<Deadline>) -> Result<(), TaskError> {
        let g = &self.h().get;
        let signal = Signal {
            seq: &g.done_seq,
            waiters: &g.join_waiters,
        };
        match signal.wait_until(
            || self.unfinished() == 0,
            deadline,
            SLICE,
            || Ok::<(), ()>(()),
        ) {
            Ok(true) => Ok(()),
            _ => Err(TaskError::Timeout),
        }
    }

    /// The signal of "an item was put".
    fn not_empty(&self) -> Signal<'_> {
        Signal {
            seq: &self.h().put.not_empty_seq,
            waiters: &self.h().put.not_empty_waiters,
        }
    }

    /// The signal of "an item was taken".
    fn not_full(&self) -> Signal<'_> {
        Signal {
            seq: &self.h().get.not_full_seq,
            waiters: &self.h().get.not_full_waiters,
        }
    }

    /// The futex word and waiter count `wait` sleeps on.
    pub(crate) fn data_word(&self) -> (&AtomicU32, &AtomicU32) {
        (&self.h().put.not_empty_seq, &self.h().put.not_empty_waiters)
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
/// Items are encoded with postcard; one encoded item may take at most the ring size minus 8
/// bytes (2 MiB by default, [`QueueOptions::ring_bytes`]); larger ones are refused with
/// [`PutError::TooLarge`].
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
    /// An unbounded queue (bounded only by its 2 MiB ring).
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
    fn put_deadline(&self, item: T, deadline: Option<Deadline>) -> Result<(), PutError<T>> {
        if self.raw.is_closed() {
            return Err(PutError::Closed(item));
        }
        let max = self.raw.max_message();
        let len = match codec::encoded_len(&item) {
            Ok(len) if len > max => return Err(PutError::TooLarge { item, len, max }),
            Ok(len) => len as u32,
            Err(e) => return Err(PutError::Encode(item, e)),
        };
        match self
            .raw
            .put_with(len, deadline, |slot| codec::encode_into(&item, slot))
        {
            PutOutcome::Committed => Ok(()),
            PutOutcome::Full => Err(PutError::Full(item)),
            PutOutcome::EncodeFailed(e) => Err(PutError::Encode(item, e)),
        }
    }

    /// Puts `item`, waiting while the queue is full (Python's `put(item)`).
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_deadline(item, None)
    }

    /// Puts `item`, waiting up to `timeout` for room ([`PutError::Full`] after that).
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_deadline(item, Some(Deadline::after(timeout)))
    }

    /// Puts `item` only if there is room now (Python's `put_nowait`).
    pub fn put_nowait(&self, item: T) -> Result<(), PutError<T>> {
        self.put_deadline(item, Some(Deadline::now()))
    }

    /// The one get.
    fn get_deadline(&self, deadline: Option<Deadline>) -> Result<T, GetError> {
        if self.raw.is_closed() {
            return Err(GetError::Closed);
        }
        match self.raw.get_with(deadline, codec::decode::<T>) {
            None => Err(GetError::Empty),
            Some(r) => r.map_err(GetError::Decode),
        }
    }

    /// Takes the oldest item, waiting for one (Python's `get()`).
    pub fn get(&self) -> Result<T, GetError> {
        self.get_deadline(None)
    }

    /// Takes the oldest item, waiting up to `timeout` ([`GetError::Empty`] after that).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_deadline(Some(Deadline::after(timeout)))
    }

    /// Takes the oldest item if there is one now (Python's `get_nowait`).
    pub fn get_nowait(&self) -> Result<T, GetError> {
        self.get_deadline(Some(Deadline::now()))
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

    /// Whether the queue holds `maxsize` items at this instant (never for an unbounded one).
    pub fn full(&self) -> bool {
        let m = self.raw.maxsize();
        m != 0 && self.raw.qsize() >= m as usize
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
    /// fail with `Closed`. Other processes are unaffected; items already put stay available
    /// to them. Nothing needs flushing (there is no feeder thread).
    pub fn close(&self) {
        self.raw.close();
    }

    /// Whether [`close`](Self::close) was called in this process.
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }
}
