//! The Rust peers for `cargo xtask bench`: `peers <name>` prints one number, the median of
//! several repeats, in the unit of the rows that show it (protocol: `xtask/bench/protocol.rs`).
//! They are dev-dependencies of xtask only, so "ahead of every peer" is a measured ratio; the
//! workloads are those of our rows (same sizes, same timing window, same pinning).
//!
//! | peer | unit | what |
//! |---|---|---|
//! | `procspawn/spawn_join` | ms | `procspawn::spawn((), noop).join()` (re-executes this binary), mean of 20 |
//! | `procspawn/pool_roundtrip` | round trips/s | `procspawn::Pool::new(2)`, `spawn(i, square).join()` one at a time, 2000 |
//! | `ipc_channel/typed_roundtrip` | µs | `IpcSender<u64>` / `IpcReceiver<u64>` echo through a forked child, 5000 |
//! | `ipc_channel/bytes_roundtrip` | µs | 8-byte `IpcBytesSender` echo through a forked child, 5000 |
//! | `ipc_channel/bytes_1mib` | MiB/s | a forked child sends 200 x 1 MiB on an `IpcBytesSender`; first receipt to last |
//! | `rayon/map_squares` | tasks/s | `par_iter().map(x*x).collect()` over 100,000 `u64` on a 2-thread rayon pool, mean of 100 maps |
#![deny(unsafe_code)]

use std::time::Instant;

use ipc_channel::ipc;
use mp_process::{Process, StartMethod};
use rayon::prelude::*;

#[path = "../../bench/protocol.rs"]
mod protocol;

/// Repeats per peer figure; the median is printed.
const REPS: usize = 5;
/// Round trips per repeat of the round-trip figures.
const ROUNDS: u32 = 5000;
/// One MiB.
const MIB: usize = 1 << 20;
/// Items of the map figure (as the pool's map rows).
const MAP_ITEMS: u64 = 100_000;
/// Workers of the pools (as the pool's rows: `Pool(2)`).
const WORKERS: usize = 2;

const PEERS: &[(&str, protocol::Baseline)] = &[
    ("procspawn/spawn_join", procspawn_spawn_join),
    ("procspawn/pool_roundtrip", procspawn_pool_roundtrip),
    ("ipc_channel/typed_roundtrip", ipc_channel_typed_roundtrip),
    ("ipc_channel/bytes_roundtrip", ipc_channel_bytes_roundtrip),
    ("ipc_channel/bytes_1mib", ipc_channel_bytes_1mib),
    ("rayon/map_squares", rayon_map_squares),
];

fn main() {
    // procspawn's children re-execute this binary: init() runs their call and exits.
    procspawn::init();
    protocol::run_baselines(PEERS, REPS);
}

fn noop(_: ()) {}

fn square(x: u64) -> u64 {
    x * x
}

/// ms per `procspawn::spawn` + `join` of a no-op, mean of 20 after a warm-up.
fn procspawn_spawn_join() -> f64 {
    let n = 20;
    let once = || procspawn::spawn((), noop).join().expect("procspawn join");
    once();
    let t = Instant::now();
    for _ in 0..n {
        once();
    }
    t.elapsed().as_secs_f64() * 1e3 / f64::from(n)
}

/// Round trips/s of a `procspawn::Pool(2)` call, one at a time, after a warm-up.
fn procspawn_pool_roundtrip() -> f64 {
    let m = 2000;
    let pool = procspawn::Pool::new(WORKERS).expect("procspawn pool");
    for i in 0..100 {
        assert_eq!(pool.spawn(i, square).join().expect("warm-up"), i * i);
    }
    let t = Instant::now();
    for i in 0..m {
        assert_eq!(pool.spawn(i, square).join().expect("call"), i * i);
    }
    let rate = m as f64 / t.elapsed().as_secs_f64();
    pool.shutdown();
    rate
}

/// Forks a child running `f` (mp-process's fork; ipc-channel's sockets are inherited).
fn fork(f: impl FnOnce() + Send + 'static) -> Process {
    let mut p = Process::builder()
        .start_method(StartMethod::Fork)
        .closure(f);
    p.start().expect("fork a child");
    p
}

/// Joins a child and checks it succeeded.
fn join(p: Process) {
    assert_eq!(p.join().expect("join"), 0, "child failed");
}

/// µs per round trip of `ping` against a child running `echo` ROUNDS + 1 times (the first
/// round trip is a warm-up).
fn roundtrip_us(ping: impl Fn(), echo: impl Fn() + Send + 'static) -> f64 {
    let child = fork(move || (0..=ROUNDS).for_each(|_| echo()));
    ping();
    let t = Instant::now();
    (0..ROUNDS).for_each(|_| ping());
    let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    join(child);
    us
}

/// µs per typed `u64` round trip over two ipc-channel channels.
fn ipc_channel_typed_roundtrip() -> f64 {
    let (to_child, child_rx) = ipc::channel::<u64>().expect("channel");
    let (child_tx, from_child) = ipc::channel::<u64>().expect("channel");
    roundtrip_us(
        move || {
            to_child.send(7).expect("send");
            assert_eq!(from_child.recv().expect("recv"), 7);
        },
        move || child_tx.send(child_rx.recv().expect("recv")).expect("send"),
    )
}

/// µs per 8-byte round trip over two ipc-channel bytes channels.
fn ipc_channel_bytes_roundtrip() -> f64 {
    let (to_child, child_rx) = ipc::bytes_channel().expect("channel");
    let (child_tx, from_child) = ipc::bytes_channel().expect("channel");
    roundtrip_us(
        move || {
            to_child.send(&[b'x'; 8]).expect("send");
            assert_eq!(from_child.recv().expect("recv").len(), 8);
        },
        move || {
            child_tx
                .send(&child_rx.recv().expect("recv"))
                .expect("send")
        },
    )
}

/// MiB/s of 1 MiB messages on an ipc-channel bytes channel from a child, first receipt to last.
fn ipc_channel_bytes_1mib() -> f64 {
    let n = 200;
    let (tx, rx) = ipc::bytes_channel().expect("channel");
    let child = fork(move || {
        let buf = vec![7u8; MIB];
        for _ in 0..n {
            tx.send(&buf).expect("send");
        }
    });
    assert_eq!(rx.recv().expect("recv").len(), MIB);
    let t = Instant::now();
    for _ in 1..n {
        assert_eq!(rx.recv().expect("recv").len(), MIB);
    }
    let dt = t.elapsed();
    join(child);
    f64::from(n - 1) / dt.as_secs_f64()
}

/// Tasks/s of rayon's `par_iter` x*x over 100,000 items on 2 threads: the in-process bound of
/// a pool's map (no process boundary, no serialization), mean of 100 maps after a warm-up.
fn rayon_map_squares() -> f64 {
    let maps = 100;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("rayon pool");
    let items: Vec<u64> = (0..MAP_ITEMS).collect();
    let expect: Vec<u64> = items.iter().map(|&x| square(x)).collect();
    let map = || pool.install(|| items.par_iter().map(|&x| square(x)).collect::<Vec<u64>>());
    assert_eq!(map(), expect);
    let t = Instant::now();
    for _ in 0..maps {
        std::hint::black_box(map());
    }
    (maps * MAP_ITEMS) as f64 / t.elapsed().as_secs_f64()
}
