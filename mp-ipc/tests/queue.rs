//! `Queue`, `JoinableQueue` and `SimpleQueue` across real processes: many producers and
//! consumers, bounds, timeouts, close, limits, decode failures, and processes killed mid-call.

#[path = "../../test-support/common.rs"]
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{BOUND, join, join_ok, start};
use mp_ipc::{
    Bytes, GetError, JoinableQueue, PutError, Queue, QueueOptions, SimpleQueue, TaskError,
};
use mp_process::StartMethod;

/// An item: `Some((producer, seq))`, or `None` to stop a consumer.
type Item = Option<(u32, u32)>;

/// Puts `n` items `(id, seq)` for seq in 0..n.
fn producer((q, id, n): (Queue<Item>, u32, u32)) {
    for seq in 0..n {
        q.put(Some((id, seq))).unwrap();
    }
}

/// Gets until `None`, then reports everything it got on `out`.
fn consumer((q, out): (Queue<Item>, Queue<Vec<(u32, u32)>>)) {
    let mut got = Vec::new();
    while let Some(item) = q.get_timeout(BOUND).unwrap() {
        got.push(item);
    }
    out.put(got).unwrap();
}

#[test]
fn many_producers_and_consumers_lose_and_duplicate_nothing() {
    let q = Queue::with_maxsize(64).unwrap(); // small bound: producers block often
    let out = Queue::new().unwrap();
    let n = 3000;
    let producers: Vec<_> = StartMethod::ALL
        .iter()
        .enumerate()
        .map(|(id, &m)| start(m, producer, (q.clone(), id as u32, n)))
        .collect();
    let consumers: Vec<_> = [StartMethod::Fork, StartMethod::ForkServer]
        .iter()
        .map(|&m| start(m, consumer, (q.clone(), out.clone())))
        .collect();
    producers.iter().for_each(join_ok);
    for _ in &consumers {
        q.put(None).unwrap();
    }
    let mut all = HashMap::new();
    for _ in &consumers {
        let got = out.get_timeout(BOUND).unwrap();
        // FIFO per producer, as each consumer sees it.
        let mut last: HashMap<u32, u32> = HashMap::new();
        for &(id, seq) in &got {
            if let Some(&prev) = last.get(&id) {
                assert!(seq > prev, "producer {id}: {seq} after {prev}");
            }
            last.insert(id, seq);
            assert!(all.insert((id, seq), ()).is_none(), "duplicate {id}/{seq}");
        }
    }
    consumers.iter().for_each(join_ok);
    assert_eq!(all.len(), 3 * n as usize);
    assert!(q.empty());
}

#[test]
fn bounds_timeouts_and_the_errors_that_hand_the_item_back() {
    let q = Queue::<String>::with_maxsize(2).unwrap();
    assert_eq!(q.maxsize(), 2);
    assert!(q.empty() && !q.full());
    assert_eq!(q.get_nowait(), Err(GetError::Empty));
    let t = Instant::now();
    assert_eq!(
        q.get_timeout(Duration::from_millis(50)),
        Err(GetError::Empty)
    );
    assert!(t.elapsed() >= Duration::from_millis(50));
    q.put("a".into()).unwrap();
    q.put_nowait("b".into()).unwrap();
    assert!(q.full());
    assert_eq!(q.qsize(), 2);
    match q.put_nowait("c".into()) {
        Err(PutError::Full(item)) => assert_eq!(item, "c"),
        other => panic!("{other:?}"),
    }
    let t = Instant::now();
    assert!(matches!(
        q.put_timeout("c".into(), Duration::from_millis(50)),
        Err(PutError::Full(_))
    ));
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert_eq!(q.get().unwrap(), "a");
    q.put_timeout("c".into(), Duration::from_millis(50))
        .unwrap();
    assert_eq!(q.get_nowait().unwrap(), "b");
    assert_eq!(q.get_nowait().unwrap(), "c");
}

fn slow_getter(q: Queue<u32>) {
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..10 {
        assert_eq!(q.get_timeout(BOUND).unwrap(), i);
    }
}

#[test]
fn a_bounded_put_blocks_until_a_consumer_makes_room() {
    let q = Queue::<u32>::with_maxsize(1).unwrap();
    let p = start(StartMethod::Spawn, slow_getter, q.clone());
    let t = Instant::now();
    for i in 0..10 {
        q.put(i).unwrap();
    }
    assert!(t.elapsed() >= Duration::from_millis(90));
    join_ok(&p);
}

#[test]
fn a_closed_queue_refuses_put_and_get_in_this_process_only() {
    let q = Queue::<u8>::new().unwrap();
    q.put(1).unwrap();
    let other = q.clone();
    q.close();
    assert!(
        q.is_closed() && other.is_closed(),
        "in-process clones share close"
    );
    assert!(matches!(q.put(2), Err(PutError::Closed(2))));
    assert_eq!(q.get(), Err(GetError::Closed));
    // Another process's copy is unaffected and still sees the item.
    let (tx, rx) = ipc_channel::ipc::channel::<Queue<u8>>().unwrap();
    tx.send(q.clone()).unwrap();
    let remote = rx.recv().unwrap();
    assert_eq!(remote.get_nowait().unwrap(), 1);
}

#[test]
fn items_over_the_limit_and_items_that_do_not_decode_are_errors_for_that_call_only() {
    let q = Queue::<Bytes>::with_options(QueueOptions {
        ring_bytes: 4096,
        ..QueueOptions::default()
    })
    .unwrap();
    assert_eq!(q.max_message(), 4088);
    match q.put(Bytes(vec![0; 5000])) {
        Err(PutError::TooLarge { item, len, max }) => {
            assert_eq!((item.len(), max), (5000, 4088));
            assert!(len > 5000);
        }
        other => panic!("{other:?}"),
    }
    q.put(Bytes(vec![0xff; 3])).unwrap(); // not a String
    q.put(Bytes(b"ok".to_vec())).unwrap();
    // The same queue seen as a queue of Strings (the wire form does not carry the type).
    let (tx, rx) = ipc_channel::ipc::channel::<Queue<Bytes>>().unwrap();
    tx.send(q.clone()).unwrap();
    let strings: Queue<String> = rx.to_opaque().to().recv().unwrap();
    assert!(matches!(strings.get_nowait(), Err(GetError::Decode(_))));
    assert_eq!(strings.get_nowait().unwrap(), "ok");
    assert!(strings.empty());
}

fn worker(q: JoinableQueue<u32>) {
    while let Ok(Some(_)) = q.get_timeout(BOUND).map(Some) {
        std::thread::sleep(Duration::from_millis(1));
        q.task_done().unwrap();
        if q.unfinished_tasks() == 0 {
            break;
        }
    }
}

#[test]
fn joinable_queue_join_waits_for_every_task_done() {
    let q = JoinableQueue::<u32>::new().unwrap();
    assert_eq!(q.task_done(), Err(TaskError::TooManyTaskDone));
    for i in 0..20 {
        q.put(i).unwrap();
    }
    assert_eq!(q.unfinished_tasks(), 20);
    assert!(!q.join_timeout(Duration::from_millis(20)));
    let p = start(StartMethod::ForkServer, worker, q.clone());
    assert!(q.join_timeout(BOUND));
    assert_eq!(q.unfinished_tasks(), 0);
    assert_eq!(q.task_done(), Err(TaskError::TooManyTaskDone));
    join_ok(&p);
}

fn simple_child(q: SimpleQueue<String>) {
    let s = q.get().unwrap();
    q.put(s.to_uppercase()).unwrap();
}

#[test]
fn simple_queue_put_get_empty_close() {
    for method in StartMethod::ALL {
        let q = SimpleQueue::<String>::new().unwrap();
        assert!(q.empty());
        q.put("hi".into()).unwrap();
        let p = start(method, simple_child, q.clone());
        join_ok(&p);
        assert_eq!(q.get().unwrap(), "HI");
        q.close();
        assert!(matches!(q.put("x".into()), Err(PutError::Closed(_))));
        assert_eq!(q.get(), Err(GetError::Closed));
    }
}

/// Puts 64 KiB items, each filled with one byte derived from its sequence, forever.
fn flooder((q, id): (Queue<(u32, u32, Bytes)>, u32)) {
    for seq in 0.. {
        q.put((id, seq, Bytes(vec![seq as u8; 64 << 10]))).unwrap();
    }
}

/// Gets items forever, recording how many it got in `count`.
fn eater((q, count): (Queue<(u32, u32, Bytes)>, mp_ipc::Value<u64>)) {
    loop {
        let (_, seq, b) = q.get().unwrap();
        assert!(b.iter().all(|&x| x == seq as u8));
        *count.lock() += 1;
    }
}

fn check_item((id, seq, b): &(u32, u32, Bytes)) {
    assert_eq!(b.len(), 64 << 10, "torn item {id}/{seq}");
    assert!(
        b.iter().all(|&x| x == *seq as u8),
        "corrupt item {id}/{seq}"
    );
}

#[test]
fn a_producer_and_a_consumer_killed_mid_call_corrupt_nothing() {
    // 1 MiB ring: the flooder spends its time inside put (waiting, writing).
    let q = Queue::<(u32, u32, Bytes)>::with_options(QueueOptions {
        ring_bytes: 1 << 20,
        ..QueueOptions::default()
    })
    .unwrap();
    for round in 0..3u32 {
        let p = start(StartMethod::Fork, flooder, (q.clone(), round));
        // Drain a little so that it is mid-put, then kill it.
        let mut got = 0;
        let t = Instant::now();
        while got < 20 || t.elapsed() < Duration::from_millis(30) {
            check_item(&q.get_timeout(BOUND).unwrap());
            got += 1;
        }
        p.kill().unwrap();
        assert_eq!(join(&p), -9);
    }
    // Drain what the dead producers committed: every item whole.
    while let Ok(item) = q.get_nowait() {
        check_item(&item);
    }
    // Now a consumer killed mid-get: a live producer puts numbered items, the eater takes some.
    let count = mp_ipc::Value::new(0u64).unwrap();
    let eater_p = start(StartMethod::Fork, eater, (q.clone(), count.clone()));
    let n = 200u32;
    let feeder = std::thread::spawn({
        let q = q.clone();
        move || {
            for seq in 0..n {
                q.put((9, seq, Bytes(vec![seq as u8; 64 << 10]))).unwrap();
            }
        }
    });
    let t = Instant::now();
    while count.get() < 20 {
        assert!(t.elapsed() < BOUND, "eater made no progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    eater_p.kill().unwrap();
    assert_eq!(join(&eater_p), -9);
    let eaten = count.get() as u32;
    // The survivors take the rest: consecutive, whole, none twice, none lost except the one
    // item the eater may have taken but not yet counted.
    let mut seqs = Vec::new();
    while seqs.last() != Some(&(n - 1)) {
        let item = q.get_timeout(BOUND).unwrap();
        check_item(&item);
        seqs.push(item.1);
    }
    feeder.join().unwrap();
    assert!(q.empty());
    let first = seqs[0];
    assert!(
        first == eaten || first == eaten + 1,
        "first {first}, eaten {eaten}"
    );
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gap or duplicate"
    );
}
