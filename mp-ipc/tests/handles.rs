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
