//! Benchmark figures for `cargo xtask bench`: `figures <figure-name> <ours|floor>` prints one
//! number, the median of several repeats, in the figure's unit (anything else goes to stderr).
//!
//! | figure | unit | ours | floor |
//! |---|---|---|---|
//! | `ipc/pipe_roundtrip_bytes` | µs per 8-byte round trip | `Pipe` `send_bytes`/`recv_bytes`, echo child | socketpair ping-pong |
//! | `ipc/pipe_throughput_1mib` | MiB/s, child sends 200 x 1 MiB, first receipt to last | `Pipe` `send_bytes`/`recv_bytes` | socketpair, 1 MiB writes |
//! | `ipc/queue_small_items` | items/s, child puts 200,000 `u64`, first get to last | `Queue<u64>` | socketpair, one 8-byte write per item |
//! | `ipc/queue_1mib_items` | MiB/s, child puts 100 x 1 MiB, first get to last | `Queue<Bytes>` | socketpair, 1 MiB writes |
//! | `ipc/queue_scale/{1,2,4,8}` | items/s, N producer and N consumer children share one queue, 200,000 `u64` in all, start signal to last consumer joined | `Queue<u64>` | none |
//! | `ipc/pipe_create` | µs per create + drop | `Pipe(true)` | `socketpair` + close |
//! | `ipc/queue_create` | µs per create + drop | `Queue::<u64>::new()` | `socketpair` + close |
//! | `ipc/shm_handoff_256mib` | ms to hand a filled 256 MiB array to a waiting child, which reads one byte per 4 KiB page and answers | `SharedMemory`: the name over a `Pipe`, the child attaches | the array through a `Queue<Bytes>` (a copy) |
//! | `ipc/listener_roundtrip/{unix,tcp}` | µs per 8-byte round trip, `Client` child echoes, authkey | `Listener`/`Client` over a private Unix socket or TCP loopback | socketpair ping-pong |
//! | `ipc/listener_1mib/{unix,tcp}` | MiB/s, `Client` child sends 200 x 1 MiB, first receipt to last | `Listener`/`Client` | socketpair, 1 MiB writes |
//! | `ipc/wait_ready_sentinel` | µs per wait, 50 live children + 1 exited + a queue, the exited one ready | one `WaitSet::wait_timeout` | `poll` on the 51 pidfds |
//!
//! The workloads follow `xtask/bench/mp_bench.py`; the caller pins the process to one CPU for
//! the round trip. Children are forked with mp-process (this binary is single-threaded).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

#[path = "../../xtask/bench/protocol.rs"]
mod protocol;

use mp_ipc::{Bytes, Client, Listener, Pipe, Queue, SharedMemory, WaitSet};
use mp_process::{Process, StartMethod};

/// Repeats per figure; the median is printed.
const REPS: usize = 5;
/// Round trips per repeat.
const ROUNDS: u32 = 5000;
/// One MiB.
const MIB: usize = 1 << 20;

const FIGURES: &[(&str, protocol::Figure)] = &[
    ("ipc/pipe_roundtrip_bytes", pipe_roundtrip),
    ("ipc/pipe_throughput_1mib", pipe_throughput),
    ("ipc/queue_small_items", queue_small_items),
    ("ipc/queue_1mib_items", queue_1mib_items),
    ("ipc/queue_scale/1", |_| queue_scale(1)),
    ("ipc/queue_scale/2", |_| queue_scale(2)),
    ("ipc/queue_scale/4", |_| queue_scale(4)),
    ("ipc/queue_scale/8", |_| queue_scale(8)),
    ("ipc/pipe_create", pipe_create),
    ("ipc/queue_create", queue_create),
    ("ipc/wait_ready_sentinel", wait_ready_sentinel),
    ("ipc/shm_handoff_256mib", shm_handoff),
    ("ipc/listener_roundtrip/unix", |f| {
        listener_roundtrip(f, false)
    }),
    ("ipc/listener_roundtrip/tcp", |f| {
        listener_roundtrip(f, true)
    }),
    ("ipc/listener_1mib/unix", |f| listener_1mib(f, false)),
    ("ipc/listener_1mib/tcp", |f| listener_1mib(f, true)),
];

/// The key of the listener figures.
const KEY: &[u8] = b"figures";

/// A listener on a private Unix socket or TCP loopback, with [`KEY`].
fn listener(tcp: bool) -> Listener {
    if tcp {
        Listener::loopback(Some(KEY)).expect("listener")
    } else {
        Listener::unix(Some(KEY)).expect("listener")
    }
}

/// µs per 8-byte round trip between a `Listener`'s connection and a `Client` child (echo);
/// the floor is the socketpair ping-pong.
fn listener_roundtrip(floor: bool, tcp: bool) -> f64 {
    if floor {
        return pipe_roundtrip(true);
    }
    let mut l = listener(tcp);
    let address = l.address().clone();
    let p = fork(move || echo(&Client(&address, Some(KEY)).unwrap()));
    let a = l.accept().unwrap();
    let us = round_trip_us(&a);
    join(p);
    us
}

/// Answers `ROUNDS + 1` messages on `c` with themselves (the warm-up and the timed ones).
fn echo(c: &mp_ipc::Connection) {
    for _ in 0..=ROUNDS {
        let m = c.recv_bytes().unwrap();
        c.send_bytes(&m).unwrap();
    }
}

/// µs per 8-byte round trip on `a` with an [`echo`] at the other end, after one warm-up.
fn round_trip_us(a: &mp_ipc::Connection) -> f64 {
    let msg = [b'x'; 8];
    a.send_bytes(&msg).unwrap();
    a.recv_bytes().unwrap();
    let t = Instant::now();
    for _ in 0..ROUNDS {
        a.send_bytes(&msg).unwrap();
        a.recv_bytes().unwrap();
    }
    t.elapsed().as_secs_f64() / f64::from(ROUNDS) * 1e6
}

/// MiB/s: a `Client` child sends 200 x 1 MiB to the `Listener`'s connection, first receipt
/// to last; the floor is 1 MiB writes to a socketpair.
fn listener_1mib(floor: bool, tcp: bool) -> f64 {
    let n = 200;
    if floor {
        return socket_mib_per_s(n);
    }
    let mut l = listener(tcp);
    let address = l.address().clone();
    let p = fork(move || {
        let c = Client(&address, Some(KEY)).unwrap();
        let buf = vec![7u8; MIB];
        for _ in 0..n {
            c.send_bytes(&buf).unwrap();
        }
    });
    let r = l.accept().unwrap();
    let first = r.recv_bytes().unwrap();
    let t = Instant::now();
    let mut last = Vec::new();
    for _ in 0..n - 1 {
        last = r.recv_bytes().unwrap();
    }
    let dt = t.elapsed();
    assert_eq!((first.len(), last.len()), (MIB, MIB));
    join(p);
    (n - 1) as f64 / dt.as_secs_f64()
}

/// Waits per repeat of `ipc/wait_ready_sentinel`.
const WAITS: u32 = 2000;

/// µs per wait over 50 live children's sentinels, an exited child's and a queue, when the
/// exited one is ready: one `WaitSet` waited on again and again (what a supervisor does),
/// against one `poll` over the pidfds. The free `wait` over the same list goes to stderr.
fn wait_ready_sentinel(floor: bool) -> f64 {
    let stop = Queue::<()>::new().expect("queue");
    let live: Vec<Process> = (0..50)
        .map(|_| {
            let stop = stop.clone();
            fork(move || stop.get().expect("stop"))
        })
        .collect();
    let done = fork(|| {});
    done.join().expect("join");
    let q = Queue::<u64>::new().expect("queue");
    let mut fds: Vec<_> = live
        .iter()
        .map(|p| p.sentinel().expect("sentinel"))
        .collect();
    fds.push(done.sentinel().expect("sentinel"));
    let per_wait = |mut once: Box<dyn FnMut() -> usize + '_>| {
        assert_eq!(once(), 1);
        let t = Instant::now();
        for _ in 0..WAITS {
            assert_eq!(once(), 1);
        }
        t.elapsed().as_secs_f64() * 1e6 / f64::from(WAITS)
    };
    let timeout = std::time::Duration::from_secs(10);
    let us = if floor {
        let deadline = mp_sync::raw::Deadline::after(timeout);
        per_wait(Box::new(|| {
            mp_sync::raw::poll_readable(&fds, Some(deadline))
                .expect("poll")
                .len()
        }))
    } else {
        let mut objects: Vec<&dyn mp_ipc::Waitable> = fds.iter().map(|fd| fd as _).collect();
        objects.push(&q);
        let list = per_wait(Box::new(|| {
            mp_ipc::wait_timeout(&objects, timeout).expect("wait").len()
        }));
        eprintln!("ipc/wait_ready_sentinel: the free wait over the same list: {list:.2} us");
        let mut set = WaitSet::new();
        for fd in &fds {
            set.add(fd).expect("add");
        }
        set.add(&q).expect("add");
        per_wait(Box::new(|| set.wait_timeout(timeout).expect("wait").len()))
    };
    for _ in &live {
        stop.put(()).expect("stop");
    }
    live.into_iter().for_each(join);
    us
}

/// Creations per repeat of the creation figures.
const CREATIONS: u32 = 2000;

/// µs per call of `create` (which creates and drops one object).
fn per_creation(mut create: impl FnMut()) -> f64 {
    create(); // warm-up: first-use costs (spin policy, allocator) are not creation
    let t = Instant::now();
    for _ in 0..CREATIONS {
        create();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(CREATIONS)
}

/// µs per `Pipe(true)` created and dropped.
fn pipe_create(floor: bool) -> f64 {
    if floor {
        per_creation(|| drop(socketpair()))
    } else {
        per_creation(|| drop(Pipe(true).expect("pipe")))
    }
}

/// µs per default `Queue` created and dropped.
fn queue_create(floor: bool) -> f64 {
    if floor {
        per_creation(|| drop(socketpair()))
    } else {
        per_creation(|| drop(Queue::<u64>::new().expect("queue")))
    }
}

fn main() {
    protocol::run(FIGURES, REPS);
}

/// Forks a child running `f`.
fn fork(f: impl FnOnce() + Send + 'static) -> Process {
    // The wait figure leaves the process's descriptor watcher thread running (idle in
    // epoll_wait; the children never touch its state).
    let mut p = Process::builder()
        .start_method(StartMethod::Fork)
        .allow_fork_with_threads(true)
        .closure(f);
    p.start().expect("fork a child");
    p
}

/// Joins a child and checks it succeeded.
fn join(p: Process) {
    assert_eq!(p.join().expect("join"), 0, "child failed");
}

/// A connected stream socket pair.
fn socketpair() -> (UnixStream, UnixStream) {
    UnixStream::pair().expect("socketpair")
}

/// µs per 8-byte round trip.
fn pipe_roundtrip(floor: bool) -> f64 {
    let msg = [b'x'; 8];
    if floor {
        let (mut a, mut b) = socketpair();
        let p = fork(move || {
            let mut buf = [0u8; 8];
            for _ in 0..=ROUNDS {
                b.read_exact(&mut buf).unwrap();
                b.write_all(&buf).unwrap();
            }
        });
        let mut buf = [0u8; 8];
        a.write_all(&msg).unwrap();
        a.read_exact(&mut buf).unwrap();
        let t = Instant::now();
        for _ in 0..ROUNDS {
            a.write_all(&msg).unwrap();
            a.read_exact(&mut buf).unwrap();
        }
        let dt = t.elapsed();
        join(p);
        return dt.as_secs_f64() / f64::from(ROUNDS) * 1e6;
    }
    let (a, b) = Pipe(true).unwrap();
    let p = fork(move || echo(&b));
    let us = round_trip_us(&a);
    join(p);
    us
}

/// MiB/s for `n` messages of 1 MiB from a child, first receipt to last.
fn pipe_throughput(floor: bool) -> f64 {
    let n = 200;
    if floor {
        return socket_mib_per_s(n);
    }
    let (r, w) = Pipe(false).unwrap();
    let p = fork(move || {
        let buf = vec![7u8; MIB];
        for _ in 0..n {
            w.send_bytes(&buf).unwrap();
        }
    });
    let first = r.recv_bytes().unwrap();
    let t = Instant::now();
    let mut last = Vec::new();
    for _ in 0..n - 1 {
        last = r.recv_bytes().unwrap();
    }
    let dt = t.elapsed();
    assert_eq!((first.len(), last.len()), (MIB, MIB));
    join(p);
    (n - 1) as f64 / dt.as_secs_f64()
}

/// The floor of the 1 MiB figures: a child writes `n` MiB in 1 MiB writes to a socketpair,
/// the parent reads them (first MiB received to last).
fn socket_mib_per_s(n: usize) -> f64 {
    let (mut r, mut w) = socketpair();
    let p = fork(move || {
        let buf = vec![7u8; MIB];
        for _ in 0..n {
            w.write_all(&buf).unwrap();
        }
    });
    let mut buf = vec![0u8; MIB];
    r.read_exact(&mut buf).unwrap();
    let t = Instant::now();
    for _ in 0..n - 1 {
        r.read_exact(&mut buf).unwrap();
    }
    let dt = t.elapsed();
    join(p);
    (n - 1) as f64 / dt.as_secs_f64()
}

/// Items per second: a child puts 200,000 small items, the parent gets them.
fn queue_small_items(floor: bool) -> f64 {
    let n: u64 = 200_000;
    if floor {
        let (mut r, mut w) = socketpair();
        let p = fork(move || {
            for i in 0..n {
                w.write_all(&i.to_le_bytes()).unwrap();
            }
        });
        let mut buf = [0u8; 8];
        r.read_exact(&mut buf).unwrap();
        let t = Instant::now();
        for _ in 0..n - 1 {
            r.read_exact(&mut buf).unwrap();
        }
        let dt = t.elapsed();
        assert_eq!(u64::from_le_bytes(buf), n - 1);
        join(p);
        return (n - 1) as f64 / dt.as_secs_f64();
    }
    let q = Queue::<u64>::new().unwrap();
    let child_q = q.clone();
    let p = fork(move || {
        for i in 0..n {
            child_q.put(i).unwrap();
        }
    });
    q.get().unwrap();
    let t = Instant::now();
    let mut x = 0;
    for _ in 0..n - 1 {
        x = q.get().unwrap();
    }
    let dt = t.elapsed();
    assert_eq!(x, n - 1);
    join(p);
    (n - 1) as f64 / dt.as_secs_f64()
}

/// MiB/s: a child puts 100 items of 1 MiB, the parent gets them.
fn queue_1mib_items(floor: bool) -> f64 {
    let n = 100;
    if floor {
        return socket_mib_per_s(n);
    }
    let q = Queue::<Bytes>::new().unwrap();
    let child_q = q.clone();
    let p = fork(move || {
        let item = Bytes(vec![7u8; MIB]);
        for _ in 0..n {
            child_q.put(item.clone()).unwrap();
        }
    });
    q.get().unwrap();
    let t = Instant::now();
    for _ in 0..n - 1 {
        assert_eq!(q.get().unwrap().len(), MIB);
    }
    let dt = t.elapsed();
    join(p);
    (n - 1) as f64 / dt.as_secs_f64()
}

/// The item that tells a consumer of the scale figure to stop.
const STOP: u64 = u64::MAX;

/// Items/s through one queue shared by `procs` producer and `procs` consumer children (200,000
/// items in all), from the start signal until every consumer has joined; as `mp_bench.py`.
fn queue_scale(procs: u64) -> f64 {
    let per_producer = 200_000 / procs;
    let q = Queue::<u64>::new().unwrap();
    let go = mp_sync::Event::new().unwrap();
    let start = |f: fn(Queue<u64>, u64)| {
        let (q, go) = (q.clone(), go.clone());
        fork(move || {
            go.wait();
            f(q, per_producer);
        })
    };
    let consumers: Vec<Process> = (0..procs)
        .map(|_| start(|q, _| while q.get().unwrap() != STOP {}))
        .collect();
    let producers: Vec<Process> = (0..procs)
        .map(|_| start(|q, n| (0..n).for_each(|i| q.put(i).unwrap())))
        .collect();
    let t = Instant::now();
    go.set();
    producers.into_iter().for_each(join);
    for _ in 0..procs {
        q.put(STOP).unwrap();
    }
    consumers.into_iter().for_each(join);
    (per_producer * procs) as f64 / t.elapsed().as_secs_f64()
}

/// Bytes handed over by `ipc/shm_handoff_256mib`.
const HANDOFF_BYTES: usize = 256 * MIB;
/// The page the reader touches one byte of.
const PAGE: usize = 4096;

/// ms from handing a filled 256 MiB array to a waiting child (ours: the segment's name over a
/// pipe; floor: the array itself through a queue) to the child's answer, after it read one
/// byte of every page.
fn shm_handoff(floor: bool) -> f64 {
    let (ours, theirs) = Pipe(true).unwrap();
    let expected = (HANDOFF_BYTES / PAGE) as u64;
    let (p, t) = if floor {
        let q = Queue::<Bytes>::new().unwrap();
        let child_q = q.clone();
        let p = fork(move || {
            let data = child_q.get().unwrap();
            let sum: u64 = data.0.iter().step_by(PAGE).map(|&b| u64::from(b)).sum();
            theirs.send(&sum).unwrap();
        });
        let data = Bytes(vec![1u8; HANDOFF_BYTES]);
        let t = Instant::now();
        q.put(data).unwrap();
        (p, t)
    } else {
        let shm = SharedMemory::create(HANDOFF_BYTES).unwrap();
        let chunk = vec![1u8; MIB];
        for off in (0..HANDOFF_BYTES).step_by(MIB) {
            shm.write(off, &chunk).unwrap();
        }
        let p = fork(move || {
            let name: String = theirs.recv().unwrap();
            let shm = SharedMemory::attach(&name).unwrap();
            let sum: u64 = (0..shm.size())
                .step_by(PAGE)
                .map(|off| u64::from(shm.read_pod::<u8>(off).unwrap()))
                .sum();
            theirs.send(&sum).unwrap();
        });
        let t = Instant::now();
        ours.send(&shm.name().to_owned()).unwrap();
        // The segment lives until the answer: this process owns the name.
        let sum: u64 = ours.recv().unwrap();
        let dt = t.elapsed();
        assert_eq!(sum, expected);
        join(p);
        return dt.as_secs_f64() * 1e3;
    };
    let sum: u64 = ours.recv().unwrap();
    let dt = t.elapsed();
    assert_eq!(sum, expected);
    join(p);
    dt.as_secs_f64() * 1e3
}
