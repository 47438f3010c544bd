//! The machine's floors for `cargo xtask bench`: `floors <name>` prints one number, the median
//! of several repeats, in the unit of the rows that use it (protocol: `xtask/bench/protocol.rs`).
//! They are what the hardware and kernel allow, so "ours / floor" says how close we are to the
//! limit, not to a weaker mechanism (the crates' own `floor` sides keep the socketpair figures,
//! what a socket-based design would get).
//!
//! | floor | unit | what |
//! |---|---|---|
//! | `spsc_ring_items` | items/s | a forked child puts 200,000 8-byte items into a lock-free single-producer/single-consumer ring (4096 slots) in a memfd; the parent takes them; a side that finds it empty (full) sleeps on a futex, woken by the other; first item to last |
//! | `memcpy_1mib` | MiB/s | one `memcpy` of 1 MiB between two warm buffers |
//! | `memcpy_1mib_two_copies` | MiB/s | a copy in and a copy out per MiB (what a shared-memory channel must do at least) |
//! | `robust_mutex_pair` | ns | lock + unlock of an uncontended robust process-shared pthread mutex |
#![deny(unsafe_code)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::time::Instant;

#[path = "../../bench/protocol.rs"]
mod protocol;
mod shm;

/// Repeats per floor; the median is printed.
const REPS: usize = 5;
/// Items moved per repeat of `spsc_ring_items` (as the queue's small-item figure).
const ITEMS: u64 = 200_000;
/// Slots of the ring.
const SLOTS: usize = 4096;
/// One MiB.
const MIB: usize = 1 << 20;
/// Copies per repeat of the memcpy floors.
const COPIES: u32 = 2000;
/// Pairs per repeat of `robust_mutex_pair`.
const PAIRS: u64 = 5_000_000;

const FLOORS: &[(&str, protocol::Baseline)] = &[
    ("spsc_ring_items", spsc_ring_items),
    ("memcpy_1mib", || memcpy_mib_per_s(1)),
    ("memcpy_1mib_two_copies", || memcpy_mib_per_s(2)),
    ("robust_mutex_pair", robust_mutex_pair),
];

fn main() {
    protocol::run_baselines(FLOORS, REPS);
}

/// One value on a cache line of its own (no false sharing between the two sides).
#[repr(C, align(64))]
struct Line<T>(T);

/// The ring in shared memory: the producer owns `tail`, the consumer `head`; each side's
/// `*_sleeps` word is 1 while it sleeps (or is about to) on that word.
#[repr(C)]
struct Ring {
    tail: Line<AtomicU64>,
    head: Line<AtomicU64>,
    consumer_sleeps: Line<AtomicU32>,
    producer_sleeps: Line<AtomicU32>,
    slots: [AtomicU64; SLOTS],
}

impl Ring {
    /// A ring in a fresh memfd mapping, inherited by children forked after this.
    fn new() -> &'static Ring {
        shm::atomics_at(shm::memfd_shared(size_of::<Ring>()), 0)
    }
}

/// The producer's end: its own index, and the consumer's as last read (re-read only when the
/// ring looks full, so the index lines do not bounce between CPUs on every item).
struct Producer {
    ring: &'static Ring,
    tail: u64,
    head_seen: u64,
}

impl Producer {
    /// Appends `v`, sleeping while the ring is full.
    fn put(&mut self, v: u64) {
        let ring = self.ring;
        while self.tail - self.head_seen == SLOTS as u64 {
            let tail = self.tail;
            let has_room = || tail - ring.head.0.load(Ordering::Acquire) < SLOTS as u64;
            if !has_room() {
                wait_until(&ring.producer_sleeps.0, has_room);
            }
            self.head_seen = ring.head.0.load(Ordering::Acquire);
        }
        ring.slots[self.tail as usize % SLOTS].store(v, Ordering::Relaxed);
        self.tail += 1;
        ring.tail.0.store(self.tail, Ordering::Release);
        wake(&ring.consumer_sleeps.0);
    }
}

/// The consumer's end: its own index, and the producer's as last read.
struct Consumer {
    ring: &'static Ring,
    head: u64,
    tail_seen: u64,
}

impl Consumer {
    /// Takes the oldest item, sleeping while the ring is empty.
    fn take(&mut self) -> u64 {
        let ring = self.ring;
        while self.head == self.tail_seen {
            let head = self.head;
            let has_item = || ring.tail.0.load(Ordering::Acquire) != head;
            if !has_item() {
                wait_until(&ring.consumer_sleeps.0, has_item);
            }
            self.tail_seen = ring.tail.0.load(Ordering::Acquire);
        }
        let v = ring.slots[self.head as usize % SLOTS].load(Ordering::Relaxed);
        self.head += 1;
        ring.head.0.store(self.head, Ordering::Release);
        wake(&ring.producer_sleeps.0);
        v
    }
}

/// Announces itself on `sleeps` and sleeps until woken, unless `ready` already holds. The
/// SeqCst fences pair with [`wake`]'s: either the waker sees `sleeps == 1`, or this side's
/// re-check sees what the waker published. No spinning first: measured here, polling the other
/// side's index (200 or 20,000 polls) cut the rate 3-30x (the polls contend for the line the
/// other side writes), while sleeping at once lets each side work through a ring's worth.
fn wait_until(sleeps: &AtomicU32, ready: impl Fn() -> bool) {
    sleeps.store(1, Ordering::Relaxed);
    fence(Ordering::SeqCst);
    if !ready() {
        shm::futex_wait(sleeps, 1);
    }
    sleeps.store(0, Ordering::Relaxed);
}

/// Wakes the other side if it sleeps (or is about to) on `sleeps`; called after publishing.
fn wake(sleeps: &AtomicU32) {
    fence(Ordering::SeqCst);
    if sleeps.load(Ordering::Relaxed) == 1 {
        sleeps.store(0, Ordering::Relaxed);
        shm::futex_wake(sleeps);
    }
}

/// Items/s through the ring from a forked producer, first item received to last.
fn spsc_ring_items() -> f64 {
    let ring = Ring::new();
    let child = shm::fork_child(|| {
        let mut producer = Producer {
            ring,
            tail: 0,
            head_seen: 0,
        };
        (0..ITEMS).for_each(|i| producer.put(i));
    });
    let mut consumer = Consumer {
        ring,
        head: 0,
        tail_seen: 0,
    };
    assert_eq!(consumer.take(), 0);
    let t = Instant::now();
    for i in 1..ITEMS {
        assert_eq!(consumer.take(), i, "the ring lost or reordered an item");
    }
    let dt = t.elapsed();
    shm::wait_child(child);
    (ITEMS - 1) as f64 / dt.as_secs_f64()
}

/// MiB/s moving 1 MiB through `copies` memcpy calls per MiB (1: src to dst; 2: src to a
/// middle buffer to dst), between warm buffers.
fn memcpy_mib_per_s(copies: usize) -> f64 {
    let src = vec![7u8; MIB];
    let mut bufs = vec![vec![0u8; MIB]; copies];
    let mut once = || {
        let mut from: &[u8] = black_box(&src);
        for b in bufs.iter_mut() {
            b.copy_from_slice(from);
            from = black_box(b);
        }
    };
    once();
    let t = Instant::now();
    for _ in 0..COPIES {
        once();
    }
    f64::from(COPIES) / t.elapsed().as_secs_f64()
}

/// ns per uncontended lock + unlock of a robust process-shared pthread mutex.
fn robust_mutex_pair() -> f64 {
    let m = shm::RobustMutex::new();
    let t = Instant::now();
    for _ in 0..PAIRS {
        m.pair();
    }
    t.elapsed().as_nanos() as f64 / PAIRS as f64
}
