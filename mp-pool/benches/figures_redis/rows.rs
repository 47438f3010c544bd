//! The figures of the pool on a Redis broker (built with the `redis` feature): a server of the
//! run's own, two worker hosts (this binary in worker mode, one local worker process each, so
//! two workers as in the local rows), and the same small task as the local rows (`square`).
//!
//! | figure | unit | ours | floor |
//! |---|---|---|---|
//! | `pool/redis/map_chunksize_1` | tasks/s, `map_chunked(square, 0..5_000, 1)` | broker `Pool`, 2 hosts | local `Pool(2)`, the same map |
//! | `pool/redis/map_chunks_100` | tasks/s, `map_chunked(square, 0..50_000, 100)` | broker `Pool`, 2 hosts | local `Pool(2)`, the same map |
//! | `pool/redis/failover` | ms from a host's SIGKILL to its task's result from the other host (lease 1 s) | broker `Pool`, 2 hosts | none |
//!
//! Python's side of the map rows is RQ (`rq` 2.x or later, default `Worker`: a fork per job)
//! doing the same work with two workers (`xtask/bench/mp_bench.py`).

use std::thread;
use std::time::{Duration, Instant};

use mp_pool::Pool;
use mp_pool::redis::RedisBroker;

use crate::protocol;
use crate::redis_server::RedisServer;
use crate::worker_host::{Host, HostConfig};

/// The broker figures.
pub(crate) const FIGURES: &[(&str, protocol::Figure)] = &[
    ("pool/redis/map_chunksize_1", |floor| {
        map_rate(floor, 5_000, 1)
    }),
    ("pool/redis/map_chunks_100", |floor| {
        map_rate(floor, 50_000, 100)
    }),
    ("pool/redis/failover", |_| failover_ms()),
];

/// Jobs in flight of the broker pool.
const IN_FLIGHT: usize = 32;

/// The lease of the failover figure's hosts.
const LEASE_MS: u64 = 1000;

fn square(x: u64) -> u64 {
    x * x
}

/// Sleeps long enough to be caught running.
fn nap(x: u64) -> u64 {
    thread::sleep(Duration::from_millis(300));
    x
}

/// The hosts of these figures: one local worker each, the lease of the failover figure.
const HOST: HostConfig = HostConfig {
    processes: 1,
    lease_ms: LEASE_MS,
    poison_after: 3,
};

/// A broker pool on `server`, warmed up (both hosts served a map).
fn broker_pool(server: &RedisServer, name: &str) -> Pool {
    let pool = Pool::builder()
        .broker(RedisBroker::new(server.url(), name))
        .processes(IN_FLIGHT)
        .build()
        .expect("broker pool");
    let _ = pool.map_chunked(square, 0..200, 1).expect("warm-up");
    pool
}

/// tasks/s of `map_chunked(square, 0..n, chunksize)`: on two hosts, or (floor) a local Pool(2).
fn map_rate(floor: bool, n: u64, chunksize: usize) -> f64 {
    let server;
    let _hosts;
    let pool = if floor {
        let pool = Pool::new(2).expect("pool");
        let _ = pool.map(square, 0..1000).expect("warm-up");
        pool
    } else {
        server = RedisServer::start();
        _hosts = [
            Host::start(&server.url(), "bench", HOST),
            Host::start(&server.url(), "bench", HOST),
        ];
        broker_pool(&server, "bench")
    };
    let t = Instant::now();
    let results = pool.map_chunked(square, 0..n, chunksize).expect("map");
    let rate = n as f64 / t.elapsed().as_secs_f64();
    let squares = results.into_iter().map(Result::unwrap);
    assert!(squares.eq((0..n).map(square)), "every square, in order");
    rate
}

/// ms from the SIGKILL of the host that holds a task to that task's result, from the other
/// host: the lease running out, the reclaim, and the task run again (300 ms).
fn failover_ms() -> f64 {
    let server = RedisServer::start();
    let mut first = Host::start(&server.url(), "failover", HOST);
    let pool = broker_pool(&server, "failover");
    let handle = pool.apply_async(nap, 7).expect("submit");
    // Wait until the first host holds it, then start the second and kill the first.
    let client = redis::Client::open(server.url()).expect("client");
    let mut con = client.get_connection().expect("connection");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
            .arg("mp-pool:failover:tasks")
            .arg("mp-pool:failover:hosts")
            .query(&mut con)
            .expect("XPENDING");
        if pending.count() > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the task was never taken");
        thread::sleep(Duration::from_millis(5));
    }
    let _second = Host::start(&server.url(), "failover", HOST);
    thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    first.kill();
    let value = handle.get_timeout(Duration::from_secs(30)).ready();
    assert_eq!(value.map(Result::unwrap), Some(7));
    t.elapsed().as_secs_f64() * 1e3
}
