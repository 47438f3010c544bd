//! A message with handles inside that is never received leaks no descriptor: not when both
//! ends are dropped with it unread, not when its receiver dies first. One test in this binary,
//! so no other test opens or closes descriptors while it counts them.

#[path = "../../test-support/common.rs"]
mod common;
#[path = "../../test-support/sockets.rs"]
mod sockets;

use common::{BOUND, join_ok, start};
use mp_ipc::{Connection, Pipe, Queue};
use mp_process::StartMethod;
use mp_sync::Lock;
use sockets::unix_socket_pair;

/// Descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Exits without receiving anything (after the parent's message is there).
fn exit_without_receiving(conn: Connection) {
    assert!(conn.poll_timeout(BOUND).unwrap(), "the message arrives");
}

/// Sends a message with handles (a lock, a pipe end, a queue) from `from`.
fn send_handles(from: &Connection) {
    let lock = Lock::new().unwrap();
    let (_kept, sent) = Pipe(true).unwrap();
    let q: Queue<u32> = Queue::new().unwrap();
    from.send(&(lock, sent, q, 7u32)).unwrap();
}

#[test]
fn unreceived_messages_with_handles_leak_nothing() {
    // Warm up what a process creates once (the watcher thread, thread-local buffers, a
    // start method's machinery), so that the counts below compare like with like.
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let (ours, theirs) = Pipe(true).unwrap();
        let p = start(method, exit_without_receiving, theirs);
        send_handles(&ours);
        join_ok(&p);
    }

    // Both ends dropped with the message unread.
    let before = open_fds();
    for _ in 0..10 {
        let (a, b) = Pipe(true).unwrap();
        send_handles(&a);
        send_handles(&b);
        drop((a, b));
    }
    assert_eq!(open_fds(), before, "both ends dropped: nothing left open");

    // The same over a Unix socket connection (the descriptors wait in the socket).
    let before = open_fds();
    for _ in 0..3 {
        let (server, client) = unix_socket_pair();
        send_handles(&client);
        send_handles(&server);
        drop((client, server));
    }
    assert_eq!(open_fds(), before, "socket ends dropped: nothing left open");

    // The receiver dies without receiving.
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let before = open_fds();
        let (ours, theirs) = Pipe(true).unwrap();
        let p = start(method, exit_without_receiving, theirs);
        send_handles(&ours);
        join_ok(&p);
        drop((ours, p));
        assert_eq!(
            open_fds(),
            before,
            "{method:?}: receiver died: nothing left open"
        );
    }
}
