//! The pool on a Redis broker, against a real `redis-server` of each test's own, with worker
//! hosts that are child processes running this test binary in worker mode (taken over before
//! `main` by `MP_POOL_WORKER`). Every wait is bounded.

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/netns.rs"]
mod netns;
#[path = "../../test-support/redis_server.rs"]
mod redis_server;
#[path = "../../test-support/worker_host.rs"]
mod worker_host;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mp_pool::redis::RedisBroker;
use mp_pool::{Options, Pool, PoolError, TaskError};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use bounded::BOUND;
use redis_server::RedisServer;
use worker_host::{Host, HostConfig};

/// Hosts of the tests: a short lease, so a dead host's tasks move on quickly.
const FAST: HostConfig = HostConfig {
    processes: 2,
    lease_ms: 400,
    poison_after: 3,
};

/// A pool named `name` at `url` with `in_flight` slots.
fn pool(url: &str, name: &str, in_flight: usize) -> Pool {
    Pool::builder()
        .broker(RedisBroker::new(url, name))
        .processes(in_flight)
        .build()
        .expect("pool on the broker")
}

/// Runs a test's body on a thread of its own, failing the test if it does not finish within
/// the bound (a task that is never answered must fail the test, not hang it). The server and
/// the hosts stay with the test's thread, so they are stopped whatever happens.
fn within<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    bounded::on_thread_within(BOUND * 3, body)
}

fn double(x: u64) -> u64 {
    x * 2
}

fn slow_double(x: u64) -> u64 {
    thread::sleep(Duration::from_millis(2));
    x * 2
}

fn panics_on_three(x: u64) -> u64 {
    assert_ne!(x, 3, "three!");
    x
}

fn hang(x: u64) -> u64 {
    thread::sleep(Duration::from_secs(60));
    x
}

/// Kills the whole host it runs on (its process group: the host and its local workers).
fn kill_my_host(x: u64) -> u64 {
    let _ = killpg(Pid::from_raw(0), Signal::SIGKILL);
    x
}

#[test]
fn map_imap_apply_over_two_hosts() {
    let server = RedisServer::start();
    let _hosts = [
        Host::start(&server.url(), "basic", FAST),
        Host::start(&server.url(), "basic", FAST),
    ];
    let url = server.url();
    within(move || basic_round(&url));
}

/// The body of [`map_imap_apply_over_two_hosts`].
fn basic_round(url: &str) {
    let pool = pool(url, "basic", 8);
    let results = pool.map(double, 0..300).expect("map");
    let values: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(values, (0..300).map(|x| x * 2).collect::<Vec<_>>());

    let lazy: Vec<u64> = pool
        .imap(double, 0..50)
        .expect("imap")
        .map(Result::unwrap)
        .collect();
    assert_eq!(lazy, (0..50).map(|x| x * 2).collect::<Vec<_>>());

    let seen = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&seen);
    let handle = pool
        .apply_async_with(
            double,
            21,
            Options::new().on_success(move |v: &u64| *sink.lock().unwrap() = Some(*v)),
        )
        .expect("apply_async");
    assert_eq!(
        handle.get_timeout(BOUND).ready().expect("in time").unwrap(),
        42
    );
    bounded::wait_until(|| seen.lock().unwrap().is_some());

    // A panic fails its task only, naming it.
    let results = pool.map_chunked(panics_on_three, 0..6, 2).expect("map");
    assert!(matches!(
        results[3],
        Err(TaskError::Panicked { task: 3, .. })
    ));
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
    pool.close();
    pool.join().expect("join");
}

#[test]
fn a_host_killed_mid_map_loses_no_task() {
    let server = RedisServer::start();
    let doomed = Arc::new(Mutex::new(Host::start(&server.url(), "kill", FAST)));
    let _survivor = Host::start(&server.url(), "kill", FAST);
    let (url, target) = (server.url(), Arc::clone(&doomed));
    let values = within(move || {
        let pool = pool(&url, "kill", 16);
        let mut values = Vec::new();
        for (i, result) in pool.imap(slow_double, 0..1000).expect("imap").enumerate() {
            values.push(result.expect("every task has its result"));
            if i == 200 {
                target.lock().unwrap().kill();
            }
        }
        values
    });
    assert_eq!(values, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
}

#[test]
fn a_task_past_its_limit_times_out_and_the_host_lives_on() {
    let server = RedisServer::start();
    let mut host = Host::start(&server.url(), "hang", FAST);
    let url = server.url();
    within(move || {
        let pool = pool(&url, "hang", 4);
        let limit = Duration::from_millis(300);
        let handle = pool
            .apply_async_with(hang, 1, Options::new().timeout(limit))
            .expect("apply_async");
        let outcome = handle.get_timeout(BOUND).ready().expect("in time");
        assert!(
            matches!(outcome, Err(TaskError::TimedOut { task: 0, limit: l, .. }) if l == limit),
            "{outcome:?}"
        );
        assert_eq!(pool.apply(double, 5).expect("the host lives on"), 10);
    });
    assert!(host.alive());
}

#[test]
fn a_poison_task_fails_naming_itself_after_killing_its_hosts() {
    let server = RedisServer::start();
    let config = HostConfig {
        processes: 2,
        lease_ms: 300,
        poison_after: 2,
    };
    let url = server.url();
    let stop = Arc::new(AtomicBool::new(false));
    let starts = Arc::new(AtomicUsize::new(0));
    // The fleet: a dead host is replaced, as a cluster manager would.
    let fleet = {
        let (stop, starts) = (Arc::clone(&stop), Arc::clone(&starts));
        thread::spawn(move || {
            let mut host = Host::start(&url, "poison", config);
            starts.fetch_add(1, Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) {
                if !host.alive() {
                    host = Host::start(&url, "poison", config);
                    starts.fetch_add(1, Ordering::SeqCst);
                }
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let pool = pool(&server.url(), "poison", 4);
    let handle = pool.apply_async(kill_my_host, 7).expect("apply_async");
    let outcome = handle.get_timeout(BOUND).ready().expect("in time");
    stop.store(true, Ordering::SeqCst);
    fleet.join().expect("fleet");
    match outcome {
        Err(TaskError::Refused { task: 0, reason }) => {
            assert!(reason.contains("poison"), "{reason}")
        }
        other => panic!("expected a poison refusal, got {other:?}"),
    }
    // Delivered to host after host: the first two died, the third gave it up.
    assert!(starts.load(Ordering::SeqCst) >= 3);
}

/// Adds a raw task entry to pool `name`'s stream and returns the result entry's `out` field
/// (read from the result stream `reply`), failing after the bound.
fn raw_round_trip(server: &RedisServer, name: &str, fields: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let tasks = format!("mp-pool:{name}:tasks");
    let mut cmd = redis::cmd("XADD");
    cmd.arg(&tasks).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(v.as_slice());
    }
    cmd.query::<String>(&mut con).unwrap();
    let deadline = Instant::now() + BOUND;
    loop {
        let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(100)
            .arg("STREAMS")
            .arg("test-reply")
            .arg("0-0")
            .query(&mut con)
            .unwrap();
        if let Some(entry) = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .next()
        {
            let _: () = redis::cmd("DEL").arg("test-reply").query(&mut con).unwrap();
            match entry.map.get("out") {
                Some(redis::Value::BulkString(bytes)) => return bytes.clone(),
                other => panic!("a result entry without `out`: {other:?}"),
            }
        }
        assert!(
            Instant::now() < deadline,
            "no result entry within {BOUND:?}"
        );
    }
}

#[test]
fn malformed_and_foreign_entries_are_their_tasks_errors_never_a_crash() {
    let server = RedisServer::start();
    let mut host = Host::start(&server.url(), "odd", FAST);
    // The pool creates the stream and group, and is the proof at the end that the host serves.
    let pool = pool(&server.url(), "odd", 4);
    let base = |fp: &str| {
        vec![
            ("v", b"1".to_vec()),
            ("task", b"99".to_vec()),
            ("reply", b"test-reply".to_vec()),
            ("fp", fp.as_bytes().to_vec()),
        ]
    };
    // Not even a task id: dropped (nothing to answer), the host lives.
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: String = redis::cmd("XADD")
        .arg("mp-pool:odd:tasks")
        .arg("*")
        .arg("junk")
        .arg("junk")
        .query(&mut con)
        .unwrap();
    // A task id but no call: its error.
    let out = raw_round_trip(&server, "odd", &base("1"));
    assert!(
        String::from_utf8_lossy(&out).contains("malformed"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // A call and items of garbage with another build's fingerprint: refused as foreign.
    let mut foreign = base("12345");
    foreign.push(("call", vec![0xff; 8]));
    foreign.push(("args", vec![0xff; 8]));
    foreign.push(("len", b"1".to_vec()));
    let out = raw_round_trip(&server, "odd", &foreign);
    assert!(
        String::from_utf8_lossy(&out).contains("another build"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(host.alive());
    let handle = pool.apply_async(double, 4).expect("apply_async");
    let outcome = handle
        .get_timeout(BOUND)
        .ready()
        .expect("the host still serves");
    assert_eq!(outcome.unwrap(), 8);
}

#[test]
fn a_password_goes_in_the_url() {
    let server = RedisServer::start_on("127.0.0.1", Some("s3cret"));
    let _host = Host::start(&server.url(), "auth", FAST);
    let (url, port) = (server.url(), server.port);
    within(move || {
        let pool = pool(&url, "auth", 4);
        assert_eq!(pool.apply(double, 3).expect("apply"), 6);

        let wrong = format!("redis://:wrong@127.0.0.1:{port}/");
        let refused = Pool::builder()
            .broker(RedisBroker::new(wrong, "auth"))
            .build();
        assert!(matches!(refused, Err(PoolError::Broker(_))));
    });
}

#[cfg(feature = "redis-tls")]
#[test]
fn tls_through_the_client() {
    let server = RedisServer::start_tls();
    let _host = Host::start(&server.url(), "tls", FAST);
    let url = server.url();
    within(move || {
        let pool = pool(&url, "tls", 4);
        assert_eq!(pool.map(double, 0..20).expect("map").len(), 20);
        assert_eq!(pool.apply(double, 3).expect("apply"), 6);
    });
}

/// A TCP relay to the server that can be cut (it stops moving bytes, both ways, and tells no
/// one, as a link that went down: no reset, no close) and restored (what was held moves on, as
/// TCP retransmits after the link is back). Until the namespaces helper is on main, this puts a
/// host "behind a link" on loopback.
struct Link {
    /// The relay's port.
    port: u16,
    /// Set while the link is down.
    down: Arc<AtomicBool>,
}

impl Link {
    /// A relay to `127.0.0.1:target`.
    fn to(target: u16) -> Link {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("relay port");
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&down);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let flag = Arc::clone(&flag);
                    thread::spawn(move || relay(from, to, &flag));
                }
            }
        });
        Link { port, down }
    }

    /// A URL through the relay.
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

/// Moves bytes from `from` to `to` while the link is up; holds them while it is down.
fn relay(mut from: std::net::TcpStream, mut to: std::net::TcpStream, down: &AtomicBool) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 16 * 1024];
    loop {
        while down.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while down.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

#[test]
fn a_host_cut_off_mid_map_and_back_doubles_no_result() {
    let server = RedisServer::start();
    let link = Link::to(server.port);
    let _cut_off = Host::start(&link.url(), "cut", FAST);
    let _other = Host::start(&server.url(), "cut", FAST);
    let (url, down) = (server.url(), Arc::clone(&link.down));
    within(move || cut_off_round(&url, "cut", &|cut| down.store(cut, Ordering::SeqCst)));
}

/// The body of the cut-off tests: a map of 1,000 tasks over pool `name` at `url`, with
/// `set_down(true)` (the link of one host goes down) at task 200 and `set_down(false)` after
/// more than a lease; then a second map, during which any late results arrive.
fn cut_off_round(url: &str, name: &str, set_down: &dyn Fn(bool)) {
    let pool = pool(url, name, 16);
    let mut values = Vec::new();
    let mut down_since: Option<Instant> = None;
    for (i, result) in pool.imap(slow_double, 0..1000).expect("imap").enumerate() {
        values.push(result.expect("every task has its result"));
        if i == 200 {
            set_down(true);
            down_since = Some(Instant::now());
        }
        // Back after more than a lease: its tasks were taken over and answered meanwhile, and
        // what it finished while cut off arrives late, to be dropped.
        if down_since.is_some_and(|t| t.elapsed() > Duration::from_millis(1500)) {
            set_down(false);
            down_since = None;
        }
    }
    assert_eq!(values, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
    // Back (if the map finished first): the late results of what it held arrive during the
    // next map, and none is taken for one of its tasks.
    set_down(false);
    let more: Vec<u64> = pool
        .map_chunked(slow_double, 0..300, 1)
        .expect("map")
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(more, (0..300).map(|x| x * 2).collect::<Vec<_>>());
}

/// Moves the calling thread into network namespace `name` (processes and threads it starts
/// from now on, and the sockets it makes, are there).
fn enter(name: &str) {
    let ns = std::fs::File::open(format!("/var/run/netns/{name}")).expect("namespace file");
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
}

/// Across network namespaces: Redis in namespace A, reachable from B only over the veth pair;
/// one host in B (behind the link), one in A; the submitter in A. B's link goes down mid-map
/// and comes back: every task has exactly one result, and the cut-off host's late results are
/// dropped.
#[test]
fn across_namespaces_a_host_behind_a_downed_link_loses_and_doubles_nothing() {
    use netns::{NetnsPair, Side};
    let Some(pair) = NetnsPair::skip_unless_root("across_namespaces") else {
        return;
    };
    let pair = Arc::new(pair);
    let a = pair.name(Side::A).to_owned();
    let server = {
        let a = a.clone();
        let bind = format!("{} 127.0.0.1", pair.addr(Side::A));
        thread::spawn(move || {
            enter(&a);
            RedisServer::start_in(&["ip", "netns", "exec", &a], &bind)
        })
        .join()
        .expect("a server in namespace A")
    };
    let over_veth = format!("redis://{}:{}/", pair.addr(Side::A), server.port);
    let local = format!("redis://127.0.0.1:{}/", server.port);
    let host_in = |side: Side, url: &str| {
        let exe = std::env::current_exe().expect("test binary");
        let command = pair.command(side, exe.to_str().expect("a UTF-8 path"), &[]);
        Host::start_with(command, url, "netns", FAST)
    };
    let mut behind_link = host_in(Side::B, &over_veth);
    let _beside_server = host_in(Side::A, &local);
    let link = Arc::clone(&pair);
    within(move || {
        enter(&a);
        let set_down = |down: bool| {
            let set = if down {
                link.link_down(Side::B)
            } else {
                link.link_up(Side::B)
            };
            set.expect("set B's link");
        };
        cut_off_round(&local, "netns", &set_down);
    });
    assert!(behind_link.alive(), "the cut-off host lives on");
}

fn sleep_two_seconds(x: u64) -> u64 {
    thread::sleep(Duration::from_secs(2));
    x
}

#[test]
fn a_task_longer_than_the_lease_is_not_taken_from_its_live_host() {
    let server = RedisServer::start();
    // Without lease renewal, the entry would be reclaimed every half lease (200 ms) and given
    // up as poison after its third delivery, long before its 2 s are over.
    let _hosts = [
        Host::start(&server.url(), "long", FAST),
        Host::start(&server.url(), "long", FAST),
    ];
    let url = server.url();
    within(move || {
        let pool = pool(&url, "long", 4);
        assert_eq!(pool.apply(sleep_two_seconds, 9).expect("not stolen"), 9);
    });
}
