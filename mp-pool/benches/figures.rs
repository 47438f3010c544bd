//! Benchmark figures for `cargo xtask bench`: `figures <figure-name> <ours|floor>` prints one
//! number, the median of several repeats, in the figure's unit (anything else goes to stderr).
//!
//! | figure | unit | ours | floor |
//! |---|---|---|---|
//! | `pool/create_close_join` | ms per Pool(2) create + close + join | `Pool::new(2)`, `close`, `join` | 2 x fork + waitpid |
//! | `pool/map_default_chunks` | tasks/s, `map(square, 0..100_000)`, Python's chunk size | `Pool(2).map` | 2 scoped threads over halves |
//! | `pool/map_chunksize_1` | tasks/s, the same with chunk size 1 | `Pool(2).map_chunked(.., 1)` | one 8-byte request and reply per item over a socketpair to a forked child |
//! | `pool/apply_async_roundtrip` | round trips/s, `apply_async(square, i).get()` one at a time | `Pool(2)` | socketpair 8-byte ping-pong with a forked child |
//!
//! The workloads follow `xtask/bench/mp_bench.py` (Pool(2), warmed up by a map of 1,000).
//! Workers use the default start method (forkserver), as Python 3.14's pool does.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

#[path = "../../xtask/bench/protocol.rs"]
mod protocol;

use mp_pool::Pool;
use mp_process::{Process, StartMethod};

/// Repeats per figure; the median is printed.
const REPS: usize = 5;
/// Items of the map figures.
const ITEMS: u64 = 100_000;
/// Round trips per repeat.
const ROUNDS: u64 = 2000;

const FIGURES: &[(&str, protocol::Figure)] = &[
    ("pool/create_close_join", create_close_join),
    ("pool/map_default_chunks", map_default_chunks),
    ("pool/map_chunksize_1", map_chunksize_1),
    ("pool/apply_async_roundtrip", apply_async_roundtrip),
];

fn main() {
    protocol::run(FIGURES, REPS);
}

fn square(x: u64) -> u64 {
    x * x
}

/// A warmed-up Pool(2).
fn warm_pool() -> Pool {
    let pool = Pool::new(2).expect("pool");
    let _ = pool.map(square, 0..1000).expect("warm-up");
    pool
}

/// Forks a child running `f`.
fn fork(f: impl FnOnce() + Send + 'static) -> Process {
    let mut p = Process::builder()
        .start_method(StartMethod::Fork)
        .allow_fork_with_threads(true)
        .closure(f);
    p.start().expect("fork a child");
    p
}

/// ms per Pool(2) created, closed and joined.
fn create_close_join(floor: bool) -> f64 {
    const TIMES: u32 = 20;
    let once = || {
        if floor {
            let children = [fork(|| {}), fork(|| {})];
            for child in children {
                child.join().expect("join");
            }
        } else {
            let pool = Pool::new(2).expect("pool");
            pool.close();
            pool.join().expect("join");
        }
    };
    once();
    let t = Instant::now();
    for _ in 0..TIMES {
        once();
    }
    t.elapsed().as_secs_f64() * 1e3 / f64::from(TIMES)
}

/// tasks/s of a map over [`ITEMS`] with `chunksize` (`None`: Python's rule).
fn map_rate(chunksize: Option<usize>) -> f64 {
    let pool = warm_pool();
    let t = Instant::now();
    let results = match chunksize {
        Some(chunksize) => pool.map_chunked(square, 0..ITEMS, chunksize),
        None => pool.map(square, 0..ITEMS),
    }
    .expect("map");
    let rate = ITEMS as f64 / t.elapsed().as_secs_f64();
    assert!(
        results
            .iter()
            .enumerate()
            .all(|(x, r)| *r.as_ref().unwrap() == square(x as u64))
    );
    rate
}

/// tasks/s, Python's chunk size; the floor: two threads over halves.
fn map_default_chunks(floor: bool) -> f64 {
    if !floor {
        return map_rate(None);
    }
    let t = Instant::now();
    let items: Vec<u64> = (0..ITEMS).collect();
    let halves: Vec<Vec<u64>> = std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(items.len().div_ceil(2))
            .map(|part| s.spawn(move || part.iter().copied().map(square).collect::<Vec<_>>()))
            .collect();
        parts.into_iter().map(|p| p.join().unwrap()).collect()
    });
    let rate = ITEMS as f64 / t.elapsed().as_secs_f64();
    assert_eq!(halves.iter().map(Vec::len).sum::<usize>(), ITEMS as usize);
    rate
}

/// A forked child answering each 8-byte number with its square, `rounds` times.
fn square_server(rounds: u64) -> (UnixStream, Process) {
    let (a, mut b) = UnixStream::pair().expect("socketpair");
    let child = fork(move || {
        let mut buf = [0u8; 8];
        for _ in 0..rounds {
            b.read_exact(&mut buf).unwrap();
            let x = u64::from_le_bytes(buf);
            b.write_all(&square(x).to_le_bytes()).unwrap();
        }
    });
    (a, child)
}

/// Round trips per second through a [`square_server`].
fn socket_rate(rounds: u64) -> f64 {
    let (mut a, child) = square_server(rounds);
    let mut buf = [0u8; 8];
    let t = Instant::now();
    for x in 0..rounds {
        a.write_all(&x.to_le_bytes()).unwrap();
        a.read_exact(&mut buf).unwrap();
        assert_eq!(u64::from_le_bytes(buf), square(x));
    }
    let rate = rounds as f64 / t.elapsed().as_secs_f64();
    child.join().expect("join");
    rate
}

/// tasks/s with one task per job.
fn map_chunksize_1(floor: bool) -> f64 {
    if floor {
        socket_rate(ITEMS)
    } else {
        map_rate(Some(1))
    }
}

/// Round trips/s of apply_async + get, one at a time.
fn apply_async_roundtrip(floor: bool) -> f64 {
    if floor {
        return socket_rate(ROUNDS);
    }
    let pool = warm_pool();
    let t = Instant::now();
    for x in 0..ROUNDS {
        let value = pool
            .apply_async(square, x)
            .expect("submit")
            .get()
            .expect("task");
        assert_eq!(value, square(x));
    }
    ROUNDS as f64 / t.elapsed().as_secs_f64()
}
