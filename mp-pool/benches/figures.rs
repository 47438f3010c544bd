//! Benchmark figures for `cargo xtask bench`: `figures <figure-name> <ours|floor>` prints one
//! number, the median of several repeats, in the figure's unit (anything else goes to stderr).
//!
//! | figure | unit | ours | floor |
//! |---|---|---|---|
//! | `pool/create_close_join` | ms per Pool(2) create + close + join | `Pool::new(2)`, `close`, `join` | 2 x fork + waitpid |
//! | `pool/map_default_chunks` | tasks/s, `map(square, 0..100_000)`, Python's chunk size | `Pool(2).map` | 2 scoped threads over halves |
//! | `pool/map_chunksize_1` | tasks/s, the same with chunk size 1 | `Pool(2).map_chunked(.., 1)` | one 8-byte request and reply per item over a socketpair to a forked child |
//! | `pool/apply_async_roundtrip` | round trips/s, `apply_async(square, i).get()` one at a time | `Pool(2)` | socketpair 8-byte ping-pong with a forked child |
//! | `pool/map_1mib_results` | MiB/s, `map` of 100 tasks returning 1 MiB each | `Pool(2).map` | two forked children (kept between repeats) hand 50 x 1 MiB each through a shared region to a parent thread each, which copies every one into a fresh `Vec<u8>` (its pages faulted in first, as mp-ipc's receivers do) |
//! | `pool/idle_pss_pool4` | MiB, the summed PSS of an idle Pool(4) and its parent (the parent's whole process tree: workers, fork server) after a warm-up map | `Pool(4)` and its parent (the same tree) | none |
//! | `pool/imap_scale/1e4`..`1e7` | items/s, `imap(square, 0..n)` chunk size 1,000, consumed one by one | `Pool(2).imap_chunked` | none |
//! | `pool/imap_peak_rss/1e4`..`1e7` | MiB, this process's peak RSS after that imap (lazy input keeps it flat) | `Pool(2).imap_chunked` | none |
//!
//! With the `redis` feature, also the `pool/redis/*` rows (`figures_redis/rows.rs`).
//!
//! The workloads follow `xtask/bench/mp_bench.py`: as there, the map, round-trip and imap rows
//! create one Pool(2) per figure process, warm it up once (a map of 1,000, or of 4 for the 1 MiB
//! row) and take the median of the repeats on that pool ([`with_shared_pool`]).
//! Workers use the default start method (forkserver), as Python 3.14's pool does.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::Instant;

#[cfg(feature = "redis")]
#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../xtask/bench/protocol.rs"]
mod protocol;
#[cfg(feature = "redis")]
#[path = "figures_redis/rows.rs"]
mod redis_figures;
#[cfg(feature = "redis")]
#[path = "../../test-support/redis_server.rs"]
mod redis_server;
#[cfg(feature = "redis")]
#[path = "../../test-support/worker_host.rs"]
mod worker_host;

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
    ("pool/map_1mib_results", map_1mib_results),
    ("pool/idle_pss_pool4", idle_pss_pool4),
    ("pool/imap_scale/1e4", |_| imap_rate(10_000)),
    ("pool/imap_scale/1e5", |_| imap_rate(100_000)),
    ("pool/imap_scale/1e6", |_| imap_rate(1_000_000)),
    ("pool/imap_scale/1e7", |_| imap_rate(10_000_000)),
    ("pool/imap_peak_rss/1e4", |_| imap_peak_rss(10_000)),
    ("pool/imap_peak_rss/1e5", |_| imap_peak_rss(100_000)),
    ("pool/imap_peak_rss/1e6", |_| imap_peak_rss(1_000_000)),
    ("pool/imap_peak_rss/1e7", |_| imap_peak_rss(10_000_000)),
];

fn main() {
    // The broker's rows, with the `redis` feature (`cargo xtask bench` builds with it).
    #[cfg(feature = "redis")]
    let figures = [FIGURES, redis_figures::FIGURES].concat();
    #[cfg(not(feature = "redis"))]
    let figures = FIGURES.to_vec();
    protocol::run(&figures, REPS);
    // Stop the shared pool's workers before leaving (a static is never dropped), and the 1 MiB
    // floor's children.
    drop(SHARED_POOL.lock().map(|mut pool| pool.take()));
    for lane in REGION_LANES
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default()
    {
        let _ = lane.child.kill();
        let _ = lane.child.join();
    }
}

fn square(x: u64) -> u64 {
    x * x
}

/// The Pool(2) that one figure's repeats share (each figure runs in a process of its own).
static SHARED_POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Runs `f` on the figure's shared Pool(2), created and warmed up by `warm_up` on first use:
/// `mp_bench.py`'s `with mp.Pool(2) as pool: warm-up; median_of(once)`.
fn with_shared_pool<R>(warm_up: fn(&Pool), f: impl FnOnce(&Pool) -> R) -> R {
    let mut slot = SHARED_POOL.lock().expect("shared pool");
    let pool = slot.get_or_insert_with(|| {
        let pool = Pool::new(2).expect("pool");
        warm_up(&pool);
        pool
    });
    f(pool)
}

/// The warm-up of most rows: a map of 1,000 squares.
fn map_1000(pool: &Pool) {
    let _ = pool.map(square, 0..1000).expect("warm-up");
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
    let (rate, results) = with_shared_pool(map_1000, |pool| {
        let t = Instant::now();
        let results = match chunksize {
            Some(chunksize) => pool.map_chunked(square, 0..ITEMS, chunksize),
            None => pool.map(square, 0..ITEMS),
        }
        .expect("map");
        (ITEMS as f64 / t.elapsed().as_secs_f64(), results)
    });
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
    with_shared_pool(map_1000, |pool| {
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
    })
}

/// One MiB.
const MIB: usize = 1 << 20;

/// A task whose result is 1 MiB of bytes (as `mp_bench.py`'s `bytes(MIB)`).
fn mib_result(_: u64) -> mp_ipc::Bytes {
    mp_ipc::Bytes(vec![0u8; MIB])
}

/// MiB/s of a map of 100 tasks that return 1 MiB each, after a warm-up map of 4.
fn map_1mib_results(floor: bool) -> f64 {
    const TASKS: u64 = 100;
    if floor {
        return shared_region_rate(TASKS as usize / 2);
    }
    let warm_up = |pool: &Pool| drop(pool.map(mib_result, 0..4).expect("warm-up"));
    let (rate, results) = with_shared_pool(warm_up, |pool| {
        let t = Instant::now();
        let results = pool.map(mib_result, 0..TASKS).expect("map");
        (TASKS as f64 / t.elapsed().as_secs_f64(), results)
    });
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|b| b.0.len() == MIB))
    );
    rate
}

/// Slots of a [`shared_region_rate`] child's region.
const REGION_SLOTS: usize = 4;

/// One child of [`shared_region_rate`]: its region and its end of the socketpair.
struct RegionLane {
    /// Its slots.
    region: mp_ipc::RawArray<u8>,
    /// Slot names both ways, and the number of results a round asks for.
    socket: UnixStream,
    /// The child (killed at the end: the other child holds a copy of this one's socket).
    child: Process,
}

/// The floor's children, made on the first repeat and kept, as the pool is.
static REGION_LANES: Mutex<Vec<RegionLane>> = Mutex::new(Vec::new());

/// A child of the floor: for each round, `n` results (`mib_result`'s work), each copied into
/// a slot the parent gave and named back to it.
fn region_child(region: mp_ipc::RawArray<u8>, mut socket: UnixStream) {
    let mut round = [0u8; 4];
    while socket.read_exact(&mut round).is_ok() {
        let mut slot = [0u8; 1];
        for i in 0..u32::from_le_bytes(round) {
            let result = mib_result(u64::from(i));
            socket.read_exact(&mut slot).expect("a free slot");
            let at = usize::from(slot[0]) * MIB;
            // SAFETY: the parent gave this slot (it reads it only after the byte below names
            // it, and gives it back only once read): no one else touches it meanwhile.
            let bytes = unsafe { region.as_mut_slice() };
            bytes[at..at + MIB].copy_from_slice(&result.0);
            socket.write_all(&slot).expect("name the slot");
        }
    }
}

/// The floor of the 1 MiB row, MiB/s: two forked children (kept between repeats, as the pool's
/// workers are) each make `per_child` results of 1 MiB (`mib_result`'s work) and copy each
/// into a free slot of a shared region of their own, naming the slot in one byte on a
/// socketpair; a parent thread per child copies each into a fresh `Vec<u8>` (kept, as `map`'s
/// results are; its pages faulted in by one call first, as mp-ipc does) and gives the slot
/// back. Two copies and the fresh pages a kept result needs, no encoding, no bookkeeping: what
/// any transport pays.
fn shared_region_rate(per_child: usize) -> f64 {
    let mut lanes = REGION_LANES.lock().expect("lanes");
    while lanes.len() < 2 {
        let region = mp_ipc::RawArray::<u8>::zeroed(REGION_SLOTS * MIB).expect("region");
        let (socket, theirs) = UnixStream::pair().expect("socketpair");
        let their_region = region.clone();
        let child = fork(move || region_child(their_region, theirs));
        lanes.push(RegionLane {
            region,
            socket,
            child,
        });
    }
    let t = Instant::now();
    let results: Vec<Vec<Vec<u8>>> = std::thread::scope(|scope| {
        let readers: Vec<_> = lanes
            .iter()
            .map(|lane| scope.spawn(move || read_region_round(lane, per_child)))
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().expect("reader"))
            .collect()
    });
    let rate = (2 * per_child) as f64 / t.elapsed().as_secs_f64();
    assert!(results.iter().flatten().all(|r| r.len() == MIB));
    rate
}

/// One round of a floor child's `n` results, each copied into a fresh vector.
fn read_region_round(lane: &RegionLane, n: usize) -> Vec<Vec<u8>> {
    let mut socket = &lane.socket;
    let count = u32::try_from(n).expect("a round's count");
    socket
        .write_all(&count.to_le_bytes())
        .expect("start a round");
    for slot in 0..REGION_SLOTS.min(n) as u8 {
        socket.write_all(&[slot]).expect("give a slot");
    }
    let mut kept = Vec::with_capacity(n);
    let mut slot = [0u8; 1];
    for i in 0..n {
        socket.read_exact(&mut slot).expect("a filled slot");
        let at = usize::from(slot[0]) * MIB;
        // SAFETY: the child named this slot after filling it and writes it again only once
        // it is given back below.
        let bytes = unsafe { lane.region.as_slice() };
        // As a receiver of mp-ipc copies a large byte string: into a new vector whose pages
        // are faulted in by one call first, not one trap a page during the copy.
        kept.push(mp_ipc::Bytes::from(&bytes[at..at + MIB]).into_vec());
        if i + REGION_SLOTS < n {
            socket.write_all(&slot).expect("give the slot back");
        }
    }
    kept
}

/// The proportional set size of process `pid`, in MiB (`smaps_rollup`); `None` once it is gone.
fn pss_mib(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kib: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(kib / 1024.0)
}

/// MiB: the summed PSS of this process and of every process below it (its children, theirs,
/// ...): the pool's workers, and the fork server they come from, with their parent.
fn tree_pss_mib() -> f64 {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // The parent is the second field after the command name, which ends at the last ')'.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue; // gone meanwhile
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut todo = vec![std::process::id()];
    let mut total = 0.0;
    while let Some(pid) = todo.pop() {
        total += pss_mib(pid).unwrap_or(0.0);
        todo.extend(children.get(&pid).into_iter().flatten());
    }
    total
}

/// MiB: the summed PSS of an idle Pool(4), its workers and everything else this process runs
/// (the fork server), and this process, after a warm-up map of 1,000.
fn idle_pss_pool4(_floor: bool) -> f64 {
    let pool = Pool::new(4).expect("pool");
    let _ = pool.map(square, 0..1000).expect("warm-up");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pss = tree_pss_mib();
    drop(pool);
    pss
}

/// Chunk size of the imap figures (as `mp_bench.py`).
const IMAP_CHUNKSIZE: usize = 1000;

/// items/s of `imap(square, 0..n)` with chunk size 1,000, consumed one by one.
fn imap_rate(n: u64) -> f64 {
    let (rate, total) = with_shared_pool(map_1000, |pool| {
        let t = Instant::now();
        let total: u64 = pool
            .imap_chunked(square, 0..n, IMAP_CHUNKSIZE)
            .expect("imap")
            .map(|r| r.expect("task"))
            .fold(0u64, u64::wrapping_add);
        (n as f64 / t.elapsed().as_secs_f64(), total)
    });
    assert_eq!(total, (0..n).map(square).fold(0u64, u64::wrapping_add));
    rate
}

/// MiB: this process's peak RSS after `imap(square, 0..n)` consumed one by one.
fn imap_peak_rss(n: u64) -> f64 {
    let pool = Pool::new(2).expect("pool");
    for r in pool
        .imap_chunked(square, 0..n, IMAP_CHUNKSIZE)
        .expect("imap")
    {
        r.expect("task");
    }
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line");
    kib / 1024.0
}
