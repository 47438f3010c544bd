//! `Queue`: a get that times out while a producer in another process is writing a large item
//! takes nothing and disturbs nothing; the next get sees that item whole. Items of many sizes
//! through a small ring, so that the frames wrap (padding), the ring's start is reused as soon
//! as an item fits there, and an emptied queue rewinds to the next lap, all while the reader
//! times out between and during the producer's writes. (An older note suspected a "rewind"
//! bug: a reader timing out mid-message leaving the next get a torn one. Items are written
//! whole before their commit, so a timed-out get has nothing half-read to leave behind; this
//! test holds that down.)

#[path = "../../test-support/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{BOUND, join_ok, start};
use mp_ipc::{Bytes, GetError, Queue, QueueOptions};
use mp_process::StartMethod;

/// Items the producer puts.
const ITEMS: u32 = 120;

/// The ring: 8 MiB, a few of the largest items.
const RING_BYTES: u64 = 8 << 20;

/// Item `seq`'s length: from a few bytes to 1.5 MiB, in a pattern that mixes them.
fn item_len(seq: u32) -> usize {
    match seq % 5 {
        0 => 3,
        1 => (1 << 20) + (1 << 19),
        2 => 64 << 10,
        3 => ((seq as usize) * 7919) % (1 << 20),
        _ => 600 << 10,
    }
}

/// Item `seq`'s byte at `i`.
fn item_byte(seq: u32, i: usize) -> u8 {
    (seq as usize).wrapping_mul(31).wrapping_add(i / 4096) as u8
}

/// Item `seq`.
fn item(seq: u32) -> (u32, Bytes) {
    let len = item_len(seq);
    (seq, Bytes((0..len).map(|i| item_byte(seq, i)).collect()))
}

/// Every this many items the producer waits for the reader to have emptied the queue (and
/// timed out on it), so that the emptied queue rewinds and timeouts surely happen.
const BATCH: u32 = 20;

/// Puts items `0..ITEMS` in order, each built just before its put (the reader's timed gets
/// overlap the writes), waiting for an acknowledgement on `ack` after each batch.
fn producer((q, ack): (Queue<(u32, Bytes)>, Queue<u32>)) {
    for seq in 0..ITEMS {
        q.put(item(seq)).unwrap();
        if seq % BATCH == BATCH - 1 {
            assert_eq!(ack.get_timeout(BOUND).unwrap(), seq);
        }
    }
}

#[test]
fn gets_that_time_out_during_large_puts_leave_the_next_item_whole() {
    for method in [StartMethod::Fork, StartMethod::Spawn] {
        let q: Queue<(u32, Bytes)> = Queue::with_options(QueueOptions {
            maxsize: 0,
            ring_bytes: RING_BYTES,
        })
        .unwrap();
        let ack = Queue::new().unwrap();
        let p = start(method, producer, (q.clone(), ack.clone()));
        let deadline = Instant::now() + BOUND * 3;
        let (mut next, mut timeouts, mut round) = (0u32, 0u32, 0u64);
        while next < ITEMS {
            assert!(
                Instant::now() < deadline,
                "{method:?}: only {next} of {ITEMS} items within the bound"
            );
            round += 1;
            // Timeouts from none (a try) to a few hundred microseconds: most end while the
            // producer builds or writes an item.
            let got = match round % 4 {
                0 => q.get_nowait(),
                r => q.get_timeout(Duration::from_micros(r * r * 40)),
            };
            match got {
                Ok((seq, bytes)) => {
                    assert_eq!(seq, next, "{method:?}: out of order");
                    assert_eq!(bytes.len(), item_len(seq), "{method:?}: item {seq} torn");
                    assert!(
                        bytes
                            .iter()
                            .enumerate()
                            .all(|(i, &b)| b == item_byte(seq, i)),
                        "{method:?}: item {seq} corrupt"
                    );
                    next += 1;
                    if seq % BATCH == BATCH - 1 {
                        // The producer waits: the queue is empty, the get must time out.
                        let empty = q.get_timeout(Duration::from_millis(1));
                        assert!(
                            matches!(empty, Err(GetError::Empty)),
                            "{method:?}: {empty:?}"
                        );
                        timeouts += 1;
                        ack.put(seq).unwrap();
                    }
                }
                Err(GetError::Empty) => timeouts += 1,
                Err(other) => panic!("{method:?}: get {next}: {other:?}"),
            }
        }
        join_ok(&p);
        assert!(matches!(q.get_nowait(), Err(GetError::Empty)), "{method:?}");
        eprintln!("{method:?}: {timeouts} gets timed out between {ITEMS} items");
    }
}
