//! `wait` over connections, queues and process sentinels, and Python's
//! `multiprocessing.connection.wait` behaviours (W01-W06 of the shared notes).

#[path = "../../test-support/common.rs"]
mod common;

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{BOUND, join_ok, start};
use mp_ipc::{
    Connection, Error, JoinableQueue, Pipe, Queue, SimpleQueue, WaitSet, try_wait, wait,
    wait_deadline, wait_timeout,
};
use mp_process::StartMethod;
use mp_sync::raw::Deadline;

fn later((conn, q): (Connection, Queue<u8>)) {
    std::thread::sleep(Duration::from_millis(100));
    q.put(1).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    conn.send(&2u8).unwrap();
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn wait_wakes_for_a_queue_then_a_connection_then_a_sentinel() {
    let (a, b) = Pipe(true).unwrap();
    let q = Queue::<u8>::new().unwrap();
    let p = start(StartMethod::ForkServer, later, (b, q.clone()));
    let sentinel = p.sentinel().unwrap();
    let t = Instant::now();
    assert_eq!(wait_timeout(&[&a, &q, &sentinel], BOUND).unwrap(), vec![1]);
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert_eq!(q.get().unwrap(), 1);
    assert_eq!(wait_timeout(&[&a, &q, &sentinel], BOUND).unwrap(), vec![0]);
    assert_eq!(a.recv::<u8>().unwrap(), 2);
    // Nothing consumed by wait; now the exit.
    let ready = wait_timeout(&[&q, &sentinel], BOUND).unwrap();
    assert_eq!(ready, vec![1]);
    join_ok(&p);
}

/// W03, W06: nothing ready is an empty answer after the timeout; then exactly the ready one.
/// A connection whose other end is gone is ready (its `recv` says EOF).
#[test]
fn wait_times_out_with_nothing_ready_and_reports_eof_as_ready() {
    let (a, b) = Pipe(true).unwrap();
    let q = JoinableQueue::<u8>::new().unwrap();
    let s = SimpleQueue::<u8>::new().unwrap();
    let t = Instant::now();
    assert!(
        wait_timeout(&[&a, &*q, &s], Duration::from_millis(60))
            .unwrap()
            .is_empty()
    );
    assert!(t.elapsed() >= Duration::from_millis(60));
    assert!(try_wait(&[&a]).unwrap().is_empty());
    s.put(3).unwrap();
    assert_eq!(wait(&[&a, &q, &s]).unwrap(), vec![2]);
    let t = Instant::now();
    assert!(
        wait_timeout(&[], Duration::from_millis(60))
            .unwrap()
            .is_empty()
    );
    assert!(t.elapsed() >= Duration::from_millis(60));
    drop(b);
    assert_eq!(wait_timeout(&[&a], BOUND).unwrap(), vec![0]);
    assert!(matches!(a.recv::<u8>(), Err(Error::Eof)));
}

fn send_ten((conn, i): (Connection, u32)) {
    for k in 0..10u32 {
        conn.send(&(i, k)).unwrap();
        if k % 3 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// W01: four children send ten messages each; the parent loops on a wait, receives until
/// EOF, removes a finished reader, and ends up with all forty.
#[test]
fn a_wait_loop_reads_every_message_and_every_eof() {
    let mut readers = Vec::new();
    let mut procs = Vec::new();
    for i in 0..4 {
        let (ours, theirs) = Pipe(false).unwrap();
        procs.push(start(StartMethod::Fork, send_ten, (theirs, i)));
        readers.push(ours);
    }
    let mut set = WaitSet::new();
    for r in &readers {
        set.add(r).unwrap();
    }
    let mut got = Vec::new();
    let started = Instant::now();
    while !set.is_empty() {
        assert!(started.elapsed() < BOUND, "the loop did not finish");
        let ready = set.wait_timeout(BOUND).unwrap().to_vec();
        for token in ready {
            match readers[token.index()].recv::<(u32, u32)>() {
                Ok(m) => got.push(m),
                Err(Error::Eof) => assert!(set.remove(token)),
                Err(e) => panic!("{e}"),
            }
        }
    }
    got.sort_unstable();
    let all: Vec<(u32, u32)> = (0..4).flat_map(|i| (0..10).map(move |k| (i, k))).collect();
    assert_eq!(got, all);
    procs.iter().for_each(join_ok);
}

/// W02: plain sockets (any descriptor) are waited for too.
#[test]
fn wait_takes_plain_sockets() {
    let (s1, mut s2) = UnixStream::pair().unwrap();
    assert!(
        wait_timeout(&[&s1.as_fd()], Duration::from_millis(20))
            .unwrap()
            .is_empty()
    );
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        s2.write_all(b"x").unwrap();
        s2
    });
    assert_eq!(wait_timeout(&[&s1.as_fd()], BOUND).unwrap(), vec![0]);
    drop(writer.join().unwrap());
}

fn exit_soon(_: ()) {
    std::thread::sleep(Duration::from_millis(200));
}

/// W04, W05: a sentinel among connections is reported once the child exits, and with the
/// others once they are ready; a deadline already passed answers at once.
#[test]
fn sentinels_mix_with_connections_and_a_passed_deadline_answers_at_once() {
    let p = start(StartMethod::Fork, exit_soon, ());
    let (a, b) = Pipe(true).unwrap();
    let sentinel = p.sentinel().unwrap();
    let t = Instant::now();
    assert!(
        wait_deadline(&[&a, &sentinel], Deadline::now())
            .unwrap()
            .is_empty()
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(wait_timeout(&[&a, &sentinel], BOUND).unwrap(), vec![1]);
    b.send(&()).unwrap();
    assert_eq!(wait_timeout(&[&a, &sentinel], BOUND).unwrap(), vec![0, 1]);
    join_ok(&p);
}
