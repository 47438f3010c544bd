//! Handles inside the messages of a socket connection (`SCM_RIGHTS` on a Unix socket; a
//! typed error over TCP), and socket connections themselves inside messages: their
//! descriptor travels, and the receiver goes on with the framing state the sender had.

#[path = "../../test-support/common.rs"]
mod common;
#[path = "../../test-support/sockets.rs"]
mod sockets;

use std::io::{Read, Write};

use common::{BOUND, join_ok, start};
use mp_ipc::{Bytes, Connection, Error, Listener, Pipe, Queue, recv_handle_timeout, send_handle};
use mp_process::StartMethod;
use mp_sync::Lock;
use sockets::socket_pair;

#[test]
fn handles_inside_unix_socket_messages_arrive_in_order_with_their_own_descriptors() {
    let (a, b) = socket_pair(Listener::unix(None).unwrap());
    let lock = Lock::new().unwrap();
    let (near, far) = Pipe(true).unwrap();
    let big = Bytes::from(vec![3u8; 100_000]);
    // Interleaved: plain, with handles, raw bytes, a large message with a handle (sent
    // after its header), and again, so batches of descriptors sit in one read beside
    // other messages.
    a.send(&(None::<Lock>, 1u32)).unwrap();
    a.send(&(Some(lock.clone()), 2u32)).unwrap();
    a.send_bytes(b"raw").unwrap();
    let writer = std::thread::spawn(move || {
        a.send(&(far, big)).unwrap();
        a.send(&(Some(Lock::new().unwrap()), 3u32)).unwrap();
        a
    });
    let first: (Option<Lock>, u32) = b.recv_timeout(BOUND).unwrap();
    let second: (Option<Lock>, u32) = b.recv_timeout(BOUND).unwrap();
    assert_eq!(b.recv_bytes_timeout(BOUND).unwrap(), b"raw");
    let (end, payload): (Connection, Bytes) = b.recv_timeout(BOUND).unwrap();
    let third: (Option<Lock>, u32) = b.recv_timeout(BOUND).unwrap();
    let _a = writer.join().unwrap();
    assert!(first.0.is_none());
    assert_eq!((second.1, payload.len(), third.1), (2, 100_000, 3));
    let second_lock = second.0.unwrap();
    let held = second_lock.acquire().unwrap();
    assert!(lock.locked(), "the received lock is the same lock");
    drop(held);
    assert!(third.0.unwrap().try_acquire().unwrap().is_some());
    end.send(&5u8).unwrap();
    assert_eq!(
        near.recv_timeout::<u8>(BOUND).unwrap(),
        5,
        "the pipe end works"
    );
}

#[test]
fn send_handle_works_over_a_unix_socket() {
    let (a, b) = socket_pair(Listener::unix(None).unwrap());
    let (mut r, w) = std::io::pipe().unwrap();
    send_handle(&a, &w).unwrap();
    drop(w);
    let got = recv_handle_timeout(&b, BOUND).unwrap();
    std::io::PipeWriter::from(got)
        .write_all(b"via socket")
        .unwrap();
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    assert_eq!(s, "via socket");
}

#[test]
fn handles_over_tcp_are_a_typed_error() {
    let (a, b) = socket_pair(Listener::loopback(None).unwrap());
    let lock = Lock::new().unwrap();
    assert!(matches!(a.send(&lock), Err(Error::HandlesNeedUnixSocket)));
    let (_r, w) = std::io::pipe().unwrap();
    assert!(matches!(
        send_handle(&a, &w),
        Err(Error::HandlesNeedUnixSocket)
    ));
    // Nothing was sent; the connection goes on.
    a.send(&1u32).unwrap();
    assert_eq!(b.recv_timeout::<u32>(BOUND).unwrap(), 1);
}

/// Receives a socket connection through a queue, reads what was left for it, answers on it.
fn answer_on_received_socket(q: Queue<Connection>) {
    let conn = q.get_timeout(BOUND).expect("the socket connection arrives");
    let n: u32 = conn
        .recv_timeout(BOUND)
        .expect("the buffered message is here");
    conn.send(&(n * 10)).expect("the socket works here");
}

/// Receives a socket connection through a pipe and answers on it.
fn answer_on_socket_from_pipe(pipe: Connection) {
    let conn: Connection = pipe
        .recv_timeout(BOUND)
        .expect("the socket connection arrives");
    let n: u32 = conn
        .recv_timeout(BOUND)
        .expect("the buffered message is here");
    conn.send(&(n * 10)).expect("the socket works here");
}

#[test]
fn a_socket_connection_sent_through_a_queue_or_a_pipe_works_in_a_child() {
    for method in StartMethod::ALL {
        for through_queue in [true, false] {
            let (ours, theirs) = socket_pair(Listener::unix(None).unwrap());
            // Two messages in one read: the second waits in `theirs`'s buffer, and must go
            // with it (its framing state travels).
            ours.send(&1u32).unwrap();
            ours.send(&4u32).unwrap();
            assert!(theirs.poll_timeout(BOUND).unwrap());
            assert_eq!(theirs.recv_timeout::<u32>(BOUND).unwrap(), 1);
            let p = if through_queue {
                let q = Queue::new().unwrap();
                let p = start(method, answer_on_received_socket, q.clone());
                q.put(theirs).unwrap();
                p
            } else {
                let (parent, child) = Pipe(true).unwrap();
                let p = start(method, answer_on_socket_from_pipe, child);
                parent.send(&theirs).unwrap();
                drop(theirs);
                p
            };
            assert_eq!(
                ours.recv_timeout::<u32>(BOUND).unwrap(),
                40,
                "{method:?}, through a queue: {through_queue}"
            );
            join_ok(&p);
        }
    }
}
