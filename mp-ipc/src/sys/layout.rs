//! The headers of mp-ipc's shared segments (a pipe's, a queue's, an array's) and the
//! `unsafe impl`s that declare them fit for shared memory: `repr(C)`, valid all zeroes, no
//! addresses, changed only through atomics, [`WakeWord`]s and robust mutexes. Only the layouts
//! live here; the protocols over them stay in `connection.rs`, `queue.rs` and `array.rs`.

use std::sync::atomic::{AtomicU32, AtomicU64};

use mp_sync::raw::{MutexKind, RobustMutex, WakeWord};

use super::{Segment, SharedHeader, create_segment, kind};

/// The producer's half of a direction (written by the sending end).
#[repr(C, align(64))]
pub(crate) struct ProducerSide {
    /// Position after the last committed byte.
    pub(crate) tail: AtomicU32,
    /// Bumped after every commit: the word a receiver (and `wait`) sleeps on.
    pub(crate) data: WakeWord,
}

/// The consumer's half of a direction (written by the receiving end).
#[repr(C, align(64))]
pub(crate) struct ConsumerSide {
    /// Position of the first unread byte.
    pub(crate) head: AtomicU32,
    /// Bytes of a message abandoned mid-way by a timed receive that are still to be skipped
    /// (kept here, not in the handle, so that the end can travel to another process).
    pub(crate) abandoned: AtomicU64,
    /// Bumped after every release of space: the word a blocked sender sleeps on.
    pub(crate) space: WakeWord,
}

/// One direction of the pipe.
#[repr(C)]
pub(crate) struct Direction {
    /// Written by the sender.
    pub(crate) prod: ProducerSide,
    /// Written by the receiver.
    pub(crate) cons: ConsumerSide,
}

/// The shared header of a pipe.
#[repr(C)]
pub(crate) struct PipeHeader {
    /// Direction 0 (end 0 sends) and 1 (end 1 sends; unused unless duplex).
    pub(crate) dirs: [Direction; 2],
    /// Ring size per direction (a power of two).
    pub(crate) cap: AtomicU32,
    /// Largest payload accepted.
    pub(crate) max_message: AtomicU64,
    /// The pipe's users' word ([`SpareWord`](crate::SpareWord)); the pipe never touches it.
    pub(crate) spare: AtomicU64,
}

// SAFETY: `repr(C)`, atomics only (valid zeroed), no pointers.
unsafe impl SharedHeader for PipeHeader {
    const KIND: u32 = kind::PIPE;
}

/// A value alone on its cache line(s). A queue's words are read and written by different
/// processes at different rates: a word one side changes with a locked instruction (a lock, a
/// wake word's bump) on a line the other side keeps reading stalls it for a cross-CPU transfer
/// per operation (perf annotate of `put`: half its samples on the bump of `not_empty`, while
/// `tail`, on the same line, was read by the consumer), so each sits on its own line.
#[repr(C, align(64))]
pub(crate) struct CacheLine<T>(pub(crate) T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The producers' words.
#[repr(C, align(64))]
pub(crate) struct PutSide {
    /// Serializes producers (only producers touch it).
    pub(crate) lock: CacheLine<RobustMutex>,
    /// `(items put << 32) | unit position after the last committed frame` (read by consumers).
    pub(crate) tail: CacheLine<AtomicU64>,
    /// Bumped after every commit (`wait` sleeps on it too, in one `futex_waitv`); consumers
    /// read it only before they sleep.
    pub(crate) not_empty: CacheLine<WakeWord>,
    /// The CPU of the last commit, plus one (0: none yet): a consumer that finds the queue
    /// empty yields to a producer on its own CPU instead of sleeping or spinning.
    pub(crate) producer_cpu: AtomicU32,
}

/// The consumers' words.
#[repr(C, align(64))]
pub(crate) struct GetSide {
    /// Serializes consumers (only consumers touch it).
    pub(crate) lock: CacheLine<RobustMutex>,
    /// `(items taken << 32) | unit position of the first unread frame` (read by producers).
    pub(crate) head: CacheLine<AtomicU64>,
    /// Bumped after every get; producers read it only before they sleep for room.
    pub(crate) not_full: CacheLine<WakeWord>,
    /// `task_done` calls so far (`JoinableQueue`).
    pub(crate) done: AtomicU32,
    /// Bumped after every `task_done`.
    pub(crate) all_done: WakeWord,
}

/// The shared header of a queue.
#[repr(C)]
pub(crate) struct QueueHeader {
    /// Written by producers.
    pub(crate) put: PutSide,
    /// Written by consumers.
    pub(crate) get: GetSide,
    /// Ring size in 8-byte units (a power of two).
    pub(crate) cap_units: AtomicU32,
    /// Most items at once; 0 for no bound.
    pub(crate) maxsize: AtomicU32,
    /// `Queue::shutdown`, for every process: 0 open, 1 shut down (gets drain what is left),
    /// 2 shut down immediately (what was left is discarded). It only ever grows.
    pub(crate) shutdown: AtomicU32,
}

// SAFETY: `repr(C)`, atomics and robust mutexes only (valid zeroed, initialized in `new`
// before the segment is shared), no pointers.
unsafe impl SharedHeader for QueueHeader {
    const KIND: u32 = kind::QUEUE;
}

impl QueueHeader {
    /// A new segment with a queue header (ring of `cap_units` 8-byte units, at most
    /// `maxsize` items, 0 for no bound) and a data area of `data_len` bytes, both locks set up
    /// before the segment can be shared.
    pub(crate) fn create(
        data_len: usize,
        cap_units: u32,
        maxsize: u32,
    ) -> Result<Segment<QueueHeader>, crate::Error> {
        create_segment::<QueueHeader>(data_len, |h| {
            h.cap_units
                .store(cap_units, std::sync::atomic::Ordering::Relaxed);
            h.maxsize
                .store(maxsize, std::sync::atomic::Ordering::Relaxed);
            // SAFETY: `create_segment` calls this on a fresh, zeroed segment that nobody else
            // can see yet; the mutexes are zeroed and initialized once, here.
            unsafe {
                h.put.lock.init(MutexKind::Plain)?;
                h.get.lock.init(MutexKind::Plain)
            }
        })
    }
}

/// The header of an element segment.
#[repr(C)]
pub(crate) struct ElemHeader {
    /// Number of elements.
    pub(crate) len: AtomicU64,
    /// `size_of` the element type, checked when a segment arrives in a message.
    pub(crate) elem_size: AtomicU32,
}

// SAFETY: `repr(C)`, atomics only (valid zeroed), no pointers.
unsafe impl SharedHeader for ElemHeader {
    const KIND: u32 = kind::ARRAY;
}
