//! Property tests across processes: with P producer and C consumer processes, random item
//! sizes, bounds and ring sizes, the multiset of items received equals the one sent and each
//! producer's items arrive in order; a pipe carries random messages unchanged.

#[path = "../../test-support/common.rs"]
mod common;

use std::collections::HashMap;

use common::{BOUND, join_ok, start};
use mp_ipc::{Bytes, Connection, PipeOptions, Queue, QueueOptions, pipe_with_options};
use mp_process::StartMethod;
use proptest::prelude::*;

/// `Some((producer, seq, payload))`, or `None` to stop a consumer.
type Item = Option<(u32, u32, Bytes)>;

/// What a consumer reports: `(producer, seq, payload length)` of each item it got.
type Report = Vec<(u32, u32, u32)>;

/// The byte every payload byte of item `(id, seq)` holds.
fn fill(id: u32, seq: u32) -> u8 {
    (id.wrapping_mul(31).wrapping_add(seq)) as u8
}

fn producer((q, id, sizes, yield_every): (Queue<Item>, u32, Vec<u32>, u32)) {
    for (seq, &n) in sizes.iter().enumerate() {
        let seq = seq as u32;
        q.put(Some((id, seq, Bytes(vec![fill(id, seq); n as usize]))))
            .unwrap();
        if seq.is_multiple_of(yield_every) {
            std::thread::yield_now();
        }
    }
}

fn consumer((q, out): (Queue<Item>, Queue<Report>)) {
    let mut got = Vec::new();
    while let Some((id, seq, b)) = q.get_timeout(BOUND).unwrap() {
        assert!(b.iter().all(|&x| x == fill(id, seq)), "corrupt {id}/{seq}");
        got.push((id, seq, b.len() as u32));
    }
    out.put(got).unwrap();
}

fn method(i: usize) -> StartMethod {
    [StartMethod::Fork, StartMethod::ForkServer][i % 2]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn queue_items_arrive_once_and_in_order_per_producer(
        sizes in prop::collection::vec(prop::collection::vec(0u32..6000, 0..150), 1..4),
        consumers in 1usize..4,
        maxsize in 0u32..6,
        ring_kib in prop::sample::select(vec![16u32, 64, 4096]),
        yield_every in 1u32..20,
    ) {
        let q: Queue<Item> = Queue::with_options(QueueOptions {
            maxsize,
            ring_bytes: u64::from(ring_kib) << 10,
        })
        .unwrap();
        let out = Queue::new().unwrap();
        let cons: Vec<_> = (0..consumers)
            .map(|i| start(method(i + 1), consumer, (q.clone(), out.clone())))
            .collect();
        let prods: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(id, s)| start(method(id), producer, (q.clone(), id as u32, s.clone(), yield_every)))
            .collect();
        prods.iter().for_each(join_ok);
        for _ in 0..consumers {
            q.put(None).unwrap();
        }
        let mut received: HashMap<(u32, u32), u32> = HashMap::new();
        for _ in 0..consumers {
            let got = out.get_timeout(BOUND).unwrap();
            let mut last: HashMap<u32, u32> = HashMap::new();
            for (id, seq, len) in got {
                if let Some(prev) = last.insert(id, seq) {
                    prop_assert!(seq > prev, "producer {} out of order: {} after {}", id, seq, prev);
                }
                prop_assert!(received.insert((id, seq), len).is_none(), "duplicate {}/{}", id, seq);
            }
        }
        cons.iter().for_each(join_ok);
        let sent: HashMap<(u32, u32), u32> = sizes
            .iter()
            .enumerate()
            .flat_map(|(id, s)| s.iter().enumerate().map(move |(seq, &n)| ((id as u32, seq as u32), n)))
            .collect();
        prop_assert_eq!(received, sent);
        prop_assert!(q.empty());
    }
}

fn echo(conn: Connection) {
    loop {
        let m = conn.recv_bytes().unwrap();
        if m == b"stop" {
            return;
        }
        conn.send_bytes(&m).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn a_pipe_carries_random_messages_unchanged(
        sizes in prop::collection::vec(0usize..20_000, 1..60),
        ring in prop::sample::select(vec![64u32, 1024, 8192]),
        window in 1usize..5,
    ) {
        let (a, b) = pipe_with_options(PipeOptions { ring_bytes: ring, ..PipeOptions::default() }).unwrap();
        let p = start(StartMethod::Fork, echo, b);
        // Up to `window` messages in flight; the echo child streams them back.
        let msgs: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 13 + j) as u8).collect())
            .collect();
        let mut sent = 0;
        for (i, m) in msgs.iter().enumerate() {
            if i >= sent + window {
                prop_assert_eq!(&a.recv_bytes().unwrap(), &msgs[sent]);
                sent += 1;
            }
            // Only small messages may be in flight together (the ring must not deadlock
            // both directions); big ones go one at a time.
            while sent < i && m.len() + msgs[sent..i].iter().map(Vec::len).sum::<usize>() > ring as usize / 2 {
                prop_assert_eq!(&a.recv_bytes().unwrap(), &msgs[sent]);
                sent += 1;
            }
            a.send_bytes(m).unwrap();
        }
        while sent < msgs.len() {
            prop_assert_eq!(&a.recv_bytes().unwrap(), &msgs[sent]);
            sent += 1;
        }
        a.send_bytes(b"stop").unwrap();
        join_ok(&p);
    }
}
