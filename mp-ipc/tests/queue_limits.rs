//! A queue's limits and its closing: unbounded means unbounded (issue 8), `close` wakes this
//! process's waiters and is per process under every start method (issue 7).

#[path = "../../test-support/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{BOUND, join_ok, start};
use mp_ipc::{Bytes, GetError, PutError, Queue};
use mp_process::StartMethod;

fn echo_big((q, back): (Queue<Bytes>, Queue<Bytes>)) {
    let item = q.get_timeout(BOUND).unwrap();
    back.put(item).unwrap();
}

/// A 64 MiB item through a default queue, both ways across processes (it used to be
/// `TooLarge`: the ring was 2 MiB).
#[test]
fn a_64_mib_item_goes_through_a_default_queue() {
    let q = Queue::<Bytes>::new().unwrap();
    let back = Queue::<Bytes>::new().unwrap();
    let p = start(StartMethod::ForkServer, echo_big, (q.clone(), back.clone()));
    let item: Vec<u8> = (0..64usize << 20).map(|i| (i % 251) as u8).collect();
    q.put(Bytes(item.clone())).unwrap();
    let got = back.get_timeout(BOUND).unwrap();
    assert!(got.0 == item, "the item came back unchanged");
    join_ok(&p);
}

/// 10,000 unconsumed 1 KiB puts on an unbounded queue never block: `put_nowait` takes every
/// one (it used to stop at the 2 MiB ring), and `full()` agrees.
#[test]
fn unconsumed_puts_on_an_unbounded_queue_never_block() {
    let q = Queue::<Bytes>::new().unwrap();
    let item = Bytes(vec![1; 1024]);
    let t = Instant::now();
    for i in 0..10_000 {
        assert!(!q.full(), "full after {i} items");
        q.put_nowait(item.clone())
            .unwrap_or_else(|e| panic!("put {i}: {e:?}"));
    }
    assert!(t.elapsed() < BOUND);
    assert_eq!(q.qsize(), 10_000);
    for _ in 0..10_000 {
        assert_eq!(q.get_nowait().unwrap().len(), 1024);
    }
    assert!(q.empty());
}

/// A bounded queue still counts items, and `full()` and `put_nowait` agree.
#[test]
fn a_bounded_queue_counts_items_and_full_agrees_with_put_nowait() {
    let q = Queue::<u32>::with_maxsize(3).unwrap();
    for i in 0..3 {
        assert!(!q.full());
        q.put_nowait(i).unwrap();
    }
    assert!(q.full());
    assert!(matches!(q.put_nowait(9), Err(PutError::Full(9))));
    // Bounded by count, not by size: a large item fits once there is room.
    let big = Queue::<Bytes>::with_maxsize(1).unwrap();
    big.put(Bytes(vec![0; 8 << 20])).unwrap();
    assert_eq!(big.get().unwrap().len(), 8 << 20);
}

/// A get blocked in another thread wakes with `Closed` when this process closes the queue
/// (plain and timed); it used to sleep out its timeout, or for ever.
#[test]
fn close_wakes_a_get_blocked_in_another_thread() {
    let q = Queue::<u32>::new().unwrap();
    let t = Instant::now();
    std::thread::scope(|s| {
        let plain = s.spawn(|| q.get());
        let timed = s.spawn(|| q.get_timeout(Duration::from_secs(10)));
        // A third waits on the get lock rather than on the data.
        let third = s.spawn(|| q.get_timeout(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(100));
        q.close();
        assert_eq!(plain.join().unwrap(), Err(GetError::Closed));
        assert_eq!(timed.join().unwrap(), Err(GetError::Closed));
        assert_eq!(third.join().unwrap(), Err(GetError::Closed));
    });
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

/// A put blocked for room wakes with `Closed` too.
#[test]
fn close_wakes_a_put_blocked_for_room() {
    let q = Queue::<u32>::with_maxsize(1).unwrap();
    q.put(0).unwrap();
    std::thread::scope(|s| {
        let blocked = s.spawn(|| q.put_timeout(1, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(100));
        q.close();
        assert!(matches!(blocked.join().unwrap(), Err(PutError::Closed(1))));
    });
}

fn use_copy((q, report): (Queue<u32>, Queue<bool>)) {
    let closed = q.is_closed();
    let put = q.put(7).is_ok();
    report.put(!closed && put).unwrap();
}

/// One rule under every start method: closing is per process, so a child's copy of a queue
/// closed in the parent is open (as Python's `Queue._after_fork` resets it). Under fork it
/// used to stay closed, under spawn and forkserver it was open.
#[test]
fn a_queue_closed_in_the_parent_is_open_in_every_child() {
    for method in StartMethod::ALL {
        let q = Queue::<u32>::new().unwrap();
        let report = Queue::<bool>::new().unwrap();
        q.close();
        let p = start(method, use_copy, (q.clone(), report.clone()));
        assert_eq!(report.get_timeout(BOUND), Ok(true), "{method:?}");
        join_ok(&p);
        assert!(q.is_closed(), "still closed here");
    }
}

/// Items cycling through a default queue past its resident start (the positions rewind to
/// the next lap when the queue empties) and a backlog past it (consumed chunks are released)
/// arrive whole and in order.
#[test]
fn items_survive_rewinds_and_released_chunks() {
    let q = Queue::<(u32, Bytes)>::new().unwrap();
    let item = |i: u32, n: usize| (i, Bytes(vec![i as u8; n]));
    // Keeping up: a few in flight at a time, 24 MiB in all.
    for round in 0..6_000u32 {
        for k in 0..4 {
            q.put(item(round * 4 + k, 1000)).unwrap();
        }
        for k in 0..4 {
            assert_eq!(q.get_nowait().unwrap(), item(round * 4 + k, 1000));
        }
    }
    // Falling behind: 12 MiB unconsumed, then drained.
    for i in 0..200 {
        q.put(item(i, 60_000)).unwrap();
    }
    for i in 0..200 {
        assert_eq!(q.get_nowait().unwrap(), item(i, 60_000));
    }
    assert!(q.empty());
}

/// A steady backlog of a few large items past the warm window: producers go back to the
/// ring's start when the item fits before the readers (a padding frame to the end of the
/// lap), consumers skip that frame and release only what they consumed. Every item arrives
/// whole and in order, and a backlog larger than the window still goes through.
#[test]
fn items_survive_jumps_back_to_the_warm_window() {
    let q = Queue::<(u32, Bytes)>::new().unwrap();
    let item = |i: u32| (i, Bytes(vec![i as u8; (1 << 20) + 13 * i as usize]));
    let lag = 6;
    for i in 0..150 {
        q.put(item(i)).unwrap();
        if i >= lag {
            assert_eq!(q.get_nowait().unwrap(), item(i - lag));
        }
    }
    for i in 150 - lag..150 {
        assert_eq!(q.get_nowait().unwrap(), item(i));
    }
    // 48 large items unconsumed: more than the window.
    for i in 0..48 {
        q.put(item(i)).unwrap();
    }
    for i in 0..48 {
        assert_eq!(q.get_nowait().unwrap(), item(i));
    }
    assert!(q.empty());
}
