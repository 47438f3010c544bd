//! Handles inside messages: mp handles put into a `Queue` arrive usable in a child under every
//! start method (their descriptors travel on the queue's side channel).

#[path = "../../test-support/common.rs"]
mod common;
#[path = "../../test-support/sockets.rs"]
mod sockets;

use common::{BOUND, join_ok, start};
use mp_ipc::{Connection, Pipe, Queue};
use mp_process::StartMethod;
use mp_sync::Lock;
use sockets::unix_socket_pair;

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

/// A pipe made with `options`, and a lock to send through it.
fn pipe_and_lock(options: mp_ipc::PipeOptions) -> ((Connection, Connection), Lock) {
    let pipe = mp_ipc::pipe_with_options(options).unwrap();
    (pipe, Lock::new().unwrap())
}

#[test]
fn a_large_streamed_message_with_a_handle_arrives() {
    let ((a, b), lock) = pipe_and_lock(mp_ipc::PipeOptions {
        ring_bytes: 4096,
        ..Default::default()
    });
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

/// Every kind of mp handle, in one message.
type AllHandles = (
    (mp_ipc::SimpleQueue<u32>, mp_ipc::JoinableQueue<u32>),
    (
        mp_sync::Semaphore,
        mp_sync::Event,
        mp_sync::Condition,
        mp_sync::Barrier,
    ),
    (
        mp_sync::RLock,
        mp_ipc::Value<u64>,
        mp_ipc::Array<u32>,
        mp_ipc::SharedMemory,
    ),
);

/// Uses every handle received on `conn`, then says so on `conn`.
fn use_every_handle(conn: Connection) {
    let ((sq, jq), (sem, event, cond, barrier), (rlock, value, array, shm)): AllHandles =
        conn.recv_timeout(BOUND).expect("the handles arrive");
    sq.put(1).unwrap();
    jq.put(2).unwrap();
    sem.release().unwrap();
    {
        let _g = cond.acquire().unwrap();
        cond.notify_all();
    }
    barrier
        .wait_timeout(BOUND)
        .expect("the parent meets the child");
    {
        let _g = rlock.acquire().unwrap();
        let _again = rlock.acquire().unwrap();
    }
    value.set(7);
    array.set(2, 9);
    shm.write(0, b"shm").unwrap();
    event.set();
    conn.send(&"done").unwrap();
}

/// Sends every kind of handle on `ours` to a child holding the other end, and checks that
/// the child used each.
fn every_handle_works_in_the_child(ours: &Connection) {
    let sq = mp_ipc::SimpleQueue::new().unwrap();
    let jq = mp_ipc::JoinableQueue::new().unwrap();
    let sem = mp_sync::Semaphore::new(0).unwrap();
    let event = mp_sync::Event::new().unwrap();
    let cond = mp_sync::Condition::new().unwrap();
    let barrier = mp_sync::Barrier::new(2).unwrap();
    let rlock = mp_sync::RLock::new().unwrap();
    let value = mp_ipc::Value::new(0u64).unwrap();
    let array = mp_ipc::Array::<u32>::zeroed(4).unwrap();
    let shm = mp_ipc::SharedMemory::create(16).unwrap();
    let all: AllHandles = (
        (sq.clone(), jq.clone()),
        (sem.clone(), event.clone(), cond.clone(), barrier.clone()),
        (rlock.clone(), value.clone(), array.clone(), shm.clone()),
    );
    ours.send(&all).unwrap();
    barrier
        .wait_timeout(BOUND)
        .expect("the child meets the parent");
    assert_eq!(ours.recv_timeout::<String>(BOUND).unwrap(), "done");
    assert!(event.wait_timeout(BOUND));
    assert_eq!(sq.get().unwrap(), 1);
    assert_eq!(jq.get_timeout(BOUND).unwrap(), 2);
    assert!(sem.acquire_timeout(BOUND));
    assert!(!rlock.locked());
    assert_eq!((value.get(), array.get(2)), (7, Some(9)));
    let mut got = [0u8; 3];
    shm.read(0, &mut got).unwrap();
    assert_eq!(&got, b"shm");
}

#[test]
fn every_kind_of_handle_sent_through_a_pipe_or_a_unix_socket_works_in_a_child() {
    for method in StartMethod::ALL {
        // A pipe, then a Unix socket connection: its end goes to the child (itself inside a
        // message), then the handles go over the socket.
        for (ours, theirs) in [Pipe(true).unwrap(), unix_socket_pair()] {
            let p = start(method, use_every_handle, theirs);
            every_handle_works_in_the_child(&ours);
            join_ok(&p);
        }
    }
}

#[test]
fn a_too_large_message_with_handles_is_refused_and_the_next_one_arrives() {
    let ((a, b), lock) = pipe_and_lock(mp_ipc::PipeOptions {
        max_message: 64,
        ..Default::default()
    });
    let big = mp_ipc::Bytes::from(vec![0u8; 100]);
    assert!(matches!(
        a.send(&(lock.clone(), big)),
        Err(mp_ipc::Error::TooLarge { .. })
    ));
    a.send(&(lock.clone(), 1u8)).unwrap();
    let (got, n): (Lock, u8) = b.recv_timeout(BOUND).unwrap();
    let _held = got.acquire().unwrap();
    assert_eq!((n, lock.locked()), (1, true));
}

/// A region received by other means must be a file open for reading and writing that maps:
/// a read-only or write-only file, a pipe or a bad descriptor is an error, not a panic (the
/// receive checks the kind with one `fstat`, the access mode by the mapping itself).
#[test]
fn only_a_read_write_file_is_taken_as_a_shared_memory_region() {
    use ipc_channel::ipc::IpcReceivedHandles;
    use std::io::Write;
    use std::os::fd::OwnedFd;
    let path = std::env::temp_dir().join(format!("mp-ipc-region-{}", std::process::id()));
    let empty = path.with_extension("empty");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&[1u8; 4096])
        .unwrap();
    let region =
        |file: std::fs::File| IpcReceivedHandles::from_fds(vec![], vec![OwnedFd::from(file)]);
    let read_only = std::fs::File::open(&path).unwrap();
    let write_only = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let read_write = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    std::fs::File::create(&empty).unwrap();
    let empty_read_only = std::fs::File::open(&empty).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&empty).unwrap();
    assert!(region(read_only).is_err(), "read-only");
    assert!(region(empty_read_only).is_err(), "empty and read-only");
    assert!(region(write_only).is_err(), "write-only");
    assert!(region(read_write).is_ok(), "read-write");
    let (r, w) = std::io::pipe().unwrap();
    assert!(
        IpcReceivedHandles::from_fds(vec![], vec![OwnedFd::from(r), OwnedFd::from(w)]).is_err(),
        "a pipe"
    );
}
