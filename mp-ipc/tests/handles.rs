//! Handles inside messages: mp handles put into a `Queue` arrive usable in a child under every
//! start method (their descriptors travel on the queue's side channel).

mod common;

use common::{BOUND, join_ok, start};
use mp_ipc::{Connection, Pipe, Queue};
use mp_process::StartMethod;
use mp_sync::Lock;

/// Takes a connection end and a lock out of `q`, and answers on the connection under the lock.
fn use_received_handles(q: Queue<(Connection, Lock, u32)>) {
    let (conn, lock, n) = q.get_timeout(BOUND).expect("the handles arrive");
    let _guard = lock.acquire().expect("no holder died");
    conn.send(&(n * 2)).expect("the connection works here");
}

#[test]
fn a_connection_end_and_a_lock_sent_through_a_queue_work_in_a_child() {
    for method in StartMethod::ALL {
        let q = Queue::new().unwrap();
        let p = start(method, use_received_handles, q.clone());
        let (ours, theirs) = Pipe(true).unwrap();
        let lock = Lock::new().unwrap();
        q.put((theirs, lock.clone(), 21)).unwrap();
        assert_eq!(
            ours.recv_timeout::<u32>(BOUND).unwrap(),
            42,
            "{method:?}: the child answered on the end it received"
        );
        join_ok(&p);
        // The lock the child used is this one: free again, and the parent can take it.
        assert!(lock.try_acquire().unwrap().is_some(), "{method:?}");
    }
}

#[test]
fn items_with_and_without_handles_keep_their_order() {
    let q = Queue::new().unwrap();
    let lock = Lock::new().unwrap();
    q.put((None, 1)).unwrap();
    q.put((Some(lock.clone()), 2)).unwrap();
    q.put((None, 3)).unwrap();
    let got: Vec<(Option<Lock>, u32)> = (0..3).map(|_| q.get_timeout(BOUND).unwrap()).collect();
    assert_eq!(got.iter().map(|x| x.1).collect::<Vec<_>>(), [1, 2, 3]);
    let received = got[1].0.as_ref().expect("the lock arrived");
    let _held = received.acquire().unwrap();
    assert!(lock.locked(), "the received lock is the same lock");
}

/// Takes a connection end out of `conn` (a pipe) and answers on it.
fn answer_on_received_end(conn: Connection) {
    let (end, n): (Connection, u32) = conn.recv_timeout(BOUND).expect("the end arrives");
    end.send(&(n + 1)).expect("the received end works here");
}

#[test]
fn a_connection_end_sent_through_a_pipe_works_in_a_child() {
    for method in StartMethod::ALL {
        let (parent, child) = Pipe(true).unwrap();
        let p = start(method, answer_on_received_end, child);
        let (ours, theirs) = Pipe(true).unwrap();
        parent.send(&(theirs, 41u32)).unwrap();
        assert_eq!(
            ours.recv_timeout::<u32>(BOUND).unwrap(),
            42,
            "{method:?}: the child answered on the end it received through the pipe"
        );
        join_ok(&p);
    }
}

#[test]
fn pipe_messages_with_and_without_handles_keep_their_order_both_ways() {
    let (a, b) = Pipe(true).unwrap();
    let lock = Lock::new().unwrap();
    for (from, to) in [(&a, &b), (&b, &a)] {
        from.send(&(None::<Lock>, 1u32)).unwrap();
        from.send(&(Some(lock.clone()), 2u32)).unwrap();
        from.send_bytes(b"raw").unwrap();
        from.send(&(Some(lock.clone()), 3u32)).unwrap();
        let first: (Option<Lock>, u32) = to.recv_timeout(BOUND).unwrap();
        let second: (Option<Lock>, u32) = to.recv_timeout(BOUND).unwrap();
        assert_eq!(to.recv_bytes_timeout(BOUND).unwrap(), b"raw");
        let third: (Option<Lock>, u32) = to.recv_timeout(BOUND).unwrap();
        assert_eq!((first.0.is_none(), second.1, third.1), (true, 2, 3));
        let received = third.0.expect("the lock arrived");
        let held = received.acquire().unwrap();
        assert!(lock.locked(), "the received lock is the same lock");
        drop(held);
    }
}

#[test]
fn a_large_streamed_message_with_a_handle_arrives() {
    let (a, b) = mp_ipc::pipe_with_options(mp_ipc::PipeOptions {
        ring_bytes: 4096,
        ..Default::default()
    })
    .unwrap();
    let lock = Lock::new().unwrap();
    let payload = mp_ipc::Bytes::from(vec![7u8; 100_000]);
    let sender = std::thread::spawn({
        let lock = lock.clone();
        move || a.send(&(lock, payload)).unwrap()
    });
    let (got, bytes): (Lock, mp_ipc::Bytes) = b.recv_timeout(BOUND).unwrap();
    sender.join().unwrap();
    assert_eq!(bytes.len(), 100_000);
    let _held = got.acquire().unwrap();
    assert!(lock.locked());
}
