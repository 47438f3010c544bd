//! `Queue::shutdown` across real processes under every start method: blocked producers and
//! consumers in other processes wake with `ShutDown`, gets drain what is left, an immediate
//! shutdown discards it and releases `join`.

#[path = "../../test-support/common.rs"]
mod common;

use std::time::Duration;

use common::{BOUND, join_ok, start};
use mp_ipc::{GetError, JoinableQueue, PutError, Queue, SimpleQueue};
use mp_process::StartMethod;
use mp_sync::Event;

/// Says it is about to block, then blocks in `put` on a full queue until the shutdown.
fn blocked_producer((q, about_to_block): (Queue<u32>, Event)) {
    about_to_block.set();
    match q.put_timeout(7, BOUND) {
        Err(PutError::ShutDown(7)) => {}
        other => panic!("expected ShutDown with the item back, got {other:?}"),
    }
}

/// Says it is about to block, then blocks in `get` on an empty queue until the shutdown.
fn blocked_consumer((q, about_to_block): (Queue<u32>, Event)) {
    about_to_block.set();
    assert_eq!(q.get_timeout(BOUND), Err(GetError::ShutDown));
}

#[test]
fn a_shutdown_wakes_producers_and_consumers_blocked_in_other_processes() {
    let full = Queue::with_maxsize(1).unwrap();
    full.put(1).unwrap();
    let empty = Queue::<u32>::new().unwrap();
    let mut children = Vec::new();
    let mut events = Vec::new();
    for method in StartMethod::ALL {
        let (p, c) = (Event::new().unwrap(), Event::new().unwrap());
        children.push(start(method, blocked_producer, (full.clone(), p.clone())));
        children.push(start(method, blocked_consumer, (empty.clone(), c.clone())));
        events.extend([p, c]);
    }
    for e in &events {
        assert!(e.wait_timeout(BOUND), "every child reached its call");
    }
    // Let them get into their waits (one holds each lock and sleeps on a wake word, the others
    // wait for the lock); a child that is late sees the shutdown on entry, which is right too.
    std::thread::sleep(Duration::from_millis(200));
    full.shutdown(false);
    empty.shutdown(false);
    for p in &children {
        join_ok(p);
    }
    // A plain shutdown leaves what was put to be drained, then says ShutDown.
    assert!(full.is_shut_down());
    assert_eq!(full.get_nowait(), Ok(1));
    assert_eq!(full.get_nowait(), Err(GetError::ShutDown));
    assert_eq!(empty.get_timeout(BOUND), Err(GetError::ShutDown));
}

#[test]
fn after_a_shutdown_gets_drain_then_fail_and_puts_fail() {
    let q = Queue::new().unwrap();
    q.put("a".to_string()).unwrap();
    q.put("b".to_string()).unwrap();
    q.shutdown(false);
    assert!(matches!(q.put("c".to_string()), Err(PutError::ShutDown(c)) if c == "c"));
    assert_eq!(q.get().as_deref(), Ok("a"));
    assert_eq!(q.get_timeout(BOUND).as_deref(), Ok("b"));
    assert_eq!(q.get(), Err(GetError::ShutDown), "no wait once drained");
    // An immediate shutdown after a plain one still discards.
    let q = SimpleQueue::new().unwrap();
    q.put(1u8).unwrap();
    q.shutdown(false);
    q.shutdown(true);
    assert!(q.empty());
    assert_eq!(q.get(), Err(GetError::ShutDown));
}

/// Joins the queue (bounded): exits 0 when every item was done in time.
fn joiner(q: JoinableQueue<u32>) {
    assert!(q.join_timeout(BOUND), "join released");
}

#[test]
fn an_immediate_shutdown_discards_what_is_left_and_releases_join() {
    let q = JoinableQueue::new().unwrap();
    for i in 0..5 {
        q.put(i).unwrap();
    }
    let taken = q.get().unwrap();
    assert_eq!(taken, 0);
    let joiners: Vec<_> = StartMethod::ALL
        .iter()
        .map(|&m| start(m, joiner, q.clone()))
        .collect();
    q.shutdown(true);
    assert_eq!(q.qsize(), 0, "the four left were discarded");
    assert_eq!(q.get_nowait(), Err(GetError::ShutDown));
    assert!(matches!(q.put(9), Err(PutError::ShutDown(9))));
    // The discarded items count as done; the one taken before still waits for its task_done.
    assert_eq!(q.unfinished_tasks(), 1);
    assert!(!q.join_timeout(Duration::from_millis(50)));
    q.task_done().unwrap();
    for p in &joiners {
        join_ok(p);
    }
    assert_eq!(q.unfinished_tasks(), 0);
}
