//! `send_handle`/`recv_handle` (Python's `multiprocessing.reduction`): a raw descriptor over a
//! connection, to a child under every start method, and the typed errors.

#[path = "../../test-support/common.rs"]
mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use common::{BOUND, join_ok, start};
use mp_ipc::{Connection, Error, Pipe, recv_handle, recv_handle_timeout, send_handle};
use mp_process::StartMethod;

/// Receives a descriptor (the write end of a pipe(2)) and writes to it.
fn write_to_received_fd(conn: Connection) {
    let fd = recv_handle_timeout(&conn, BOUND).expect("the descriptor arrives");
    let mut w = std::io::PipeWriter::from(fd);
    w.write_all(b"written by the child").unwrap();
}

#[test]
fn a_descriptor_sent_with_send_handle_is_written_by_a_child() {
    // The issue asks for forkserver; every start method is checked.
    for method in [
        StartMethod::ForkServer,
        StartMethod::Spawn,
        StartMethod::Fork,
    ] {
        let (ours, theirs) = Pipe(true).unwrap();
        let p = start(method, write_to_received_fd, theirs);
        let (mut r, w) = std::io::pipe().unwrap();
        send_handle(&ours, &w).unwrap();
        // Our copy closes: the reader sees EOF once the child's is gone too.
        drop(w);
        join_ok(&p);
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "written by the child", "{method:?}");
    }
}

#[test]
fn recv_handle_types_its_errors() {
    let (a, b) = Pipe(true).unwrap();
    // Not a handle: consumed, and the next message is received normally.
    a.send(&(1u64, 2u64)).unwrap();
    a.send_bytes(b"plain bytes").unwrap();
    a.send(&mp_sync::Lock::new().unwrap()).unwrap();
    for _ in 0..3 {
        assert!(matches!(
            recv_handle_timeout(&b, BOUND),
            Err(Error::NotAHandle)
        ));
    }
    let (r, _w) = std::io::pipe().unwrap();
    send_handle(&a, &r).unwrap();
    let fd: OwnedFd = recv_handle(&b).unwrap();
    drop(fd);
    // Nothing there: a timeout.
    assert!(matches!(
        recv_handle_timeout(&b, std::time::Duration::from_millis(10)),
        Err(Error::Timeout)
    ));
    // A closed peer.
    drop(a);
    assert!(matches!(recv_handle_timeout(&b, BOUND), Err(Error::Eof)));
}
