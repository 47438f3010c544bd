//! `wait` over connections, queues and process sentinels.

mod common;

use std::time::{Duration, Instant};

use common::{BOUND, join_ok, start};
use mp_ipc::{Connection, JoinableQueue, Pipe, Queue, SimpleQueue, wait};
use mp_process::StartMethod;

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
    assert_eq!(wait(&[&a, &q, &sentinel], Some(BOUND)).unwrap(), vec![1]);
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert_eq!(q.get().unwrap(), 1);
    assert_eq!(wait(&[&a, &q, &sentinel], Some(BOUND)).unwrap(), vec![0]);
    assert_eq!(a.recv::<u8>().unwrap(), 2);
    // Nothing consumed by wait; now the exit.
    let ready = wait(&[&q, &sentinel], Some(BOUND)).unwrap();
    assert_eq!(ready, vec![1]);
    join_ok(&p);
}

#[test]
fn wait_times_out_with_nothing_ready_and_reports_eof_as_ready() {
    let (a, b) = Pipe(true).unwrap();
    let q = JoinableQueue::<u8>::new().unwrap();
    let s = SimpleQueue::<u8>::new().unwrap();
    let t = Instant::now();
    assert!(
        wait(&[&a, &*q, &s], Some(Duration::from_millis(60)))
            .unwrap()
            .is_empty()
    );
    assert!(t.elapsed() >= Duration::from_millis(60));
    assert!(wait(&[&a], Some(Duration::ZERO)).unwrap().is_empty());
    s.put(3).unwrap();
    assert_eq!(wait(&[&a, &q, &s], None).unwrap(), vec![2]);
    drop(b);
    assert_eq!(wait(&[&a], Some(BOUND)).unwrap(), vec![0]);
}
