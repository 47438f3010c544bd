//! A connection under faults: a writer stopped mid-message, a peer that is gone.

#[path = "../../test-support/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{BOUND, join, join_ok, start};
use mp_ipc::{Connection, Error, PipeOptions, ReceiveState, pipe_with_options};
use mp_process::StartMethod;

/// Sends one 2 MiB message, then a short one.
fn big_then_small(conn: Connection) {
    conn.send_bytes(&vec![7u8; 2 << 20]).unwrap();
    conn.send_bytes(b"after").unwrap();
}

fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid of our own child and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Issue 7: with the writer stopped after the first chunk, a timed receive returns by its
/// deadline (it used to wait until the writer resumed); the partial message is an error, the
/// connection says it is skipping the rest, and the next message arrives whole.
#[test]
fn a_timed_receive_returns_by_its_deadline_mid_message() {
    let (a, b) = pipe_with_options(PipeOptions {
        ring_bytes: 256 << 10,
        ..PipeOptions::default()
    })
    .unwrap();
    // Not fork: a fork child would hold copies of the other test's pipe ends.
    let p = start(StartMethod::Spawn, big_then_small, b);
    let pid = p.pid().unwrap();
    assert!(a.poll_timeout(BOUND).unwrap(), "the header arrives");
    // Let the writer fill the ring, then freeze it.
    std::thread::sleep(Duration::from_millis(100));
    signal(pid, libc::SIGSTOP);
    // Bound for a regression: the writer resumes after 3 s whatever happens.
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        signal(pid, libc::SIGCONT);
    });
    let t = Instant::now();
    let r = a.recv_bytes_timeout(Duration::from_millis(300));
    let took = t.elapsed();
    assert!(took < Duration::from_secs(2), "returned after {took:?}");
    match r {
        Err(Error::PartialMessage { received, len }) => {
            assert_eq!(len, 2 << 20);
            assert!(received > 0 && received < len, "{received} of {len}");
        }
        other => panic!("expected PartialMessage, got {other:?}"),
    }
    assert!(matches!(
        a.receive_state(),
        ReceiveState::SkippingAbandoned { .. }
    ));
    assert_eq!(a.recv_bytes_timeout(BOUND).unwrap(), b"after");
    assert_eq!(a.receive_state(), ReceiveState::AtMessageBoundary);
    watchdog.join().unwrap();
    join_ok(&p);
}

fn exit_at_once(_conn: Connection) {}

/// Issue 7: a send to a pipe whose peer is gone is `BrokenPipe` (it used to be `Ok` and the
/// message was lost), even when the message fits in the ring.
#[test]
fn a_send_to_a_gone_peer_is_a_broken_pipe() {
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let (a, b) = pipe_with_options(PipeOptions::default()).unwrap();
        let p = start(method, exit_at_once, b);
        assert_eq!(join(&p), 0);
        drop(p); // the Process keeps the child's arguments (our copy of `b`) until dropped
        let t = Instant::now();
        // The peer's death is noticed promptly; every later send says so.
        loop {
            match a.send_bytes(b"hello") {
                Err(Error::BrokenPipe) => break,
                Ok(()) if t.elapsed() < Duration::from_secs(1) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                other => panic!("{method:?}: {other:?}"),
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{method:?}: {:?}",
            t.elapsed()
        );
        assert!(matches!(a.send(&5u32), Err(Error::BrokenPipe)));
    }
}
