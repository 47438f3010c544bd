//! `Pipe`/`Connection` across real processes: typed and bytes paths, boundaries, big
//! messages, poll, EOF, errors, and connections inside ipc-channel messages.

#[path = "../../test-support/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{BOUND, join_ok, start};
use mp_ipc::{Bytes, Connection, Error, Pipe, PipeOptions, pipe_with_options};
use mp_process::StartMethod;

/// Echoes every message back as bytes until `stop` or EOF. (Under fork the child inherits
/// the parent's end too, as in Python, so it would never see EOF: hence `stop`.)
fn echo(conn: Connection) {
    loop {
        match conn.recv_bytes() {
            Ok(m) if m == b"stop" => return,
            Ok(m) => conn.send_bytes(&m).unwrap(),
            Err(Error::Eof) => return,
            Err(e) => panic!("echo: {e}"),
        }
    }
}

#[test]
fn messages_keep_their_boundaries_under_every_start_method() {
    for method in StartMethod::ALL {
        let (a, b) = Pipe(true).unwrap();
        let p = start(method, echo, b);
        let sizes = [0usize, 1, 7, 8, 9, 100, 4096, 300_000, 3 << 20, 0, 5];
        for &n in &sizes {
            let msg: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
            a.send_bytes(&msg).unwrap();
            assert_eq!(a.recv_bytes().unwrap(), msg, "size {n} under {method:?}");
        }
        // Several in flight at once.
        for n in 0..50u32 {
            a.send(&(n, format!("m{n}"))).unwrap();
        }
        for n in 0..50u32 {
            let back: Vec<u8> = a.recv_bytes().unwrap();
            let (m, s): (u32, String) = postcard_free_decode(&back, &a, n);
            assert_eq!((m, s), (n, format!("m{n}")));
        }
        a.send_bytes(b"stop").unwrap();
        join_ok(&p);
    }
}

/// The echo child returns bytes; re-send them to ourselves to decode with the typed path.
fn postcard_free_decode(bytes: &[u8], _a: &Connection, _n: u32) -> (u32, String) {
    let (x, y) = Pipe(true).unwrap();
    x.send_bytes(bytes).unwrap();
    y.recv().unwrap()
}

fn typed_child(conn: Connection) {
    let v: Vec<u64> = conn.recv().unwrap();
    conn.send(&v.iter().sum::<u64>()).unwrap();
    let big: Bytes = conn.recv().unwrap();
    conn.send(&Bytes(big.iter().rev().copied().collect()))
        .unwrap();
}

#[test]
fn typed_messages_and_large_bytes_payloads() {
    for method in StartMethod::ALL {
        let (a, b) = Pipe(true).unwrap();
        let p = start(method, typed_child, b);
        a.send(&vec![1u64, 2, 3, 4]).unwrap();
        assert_eq!(a.recv::<u64>().unwrap(), 10);
        let big: Vec<u8> = (0..(2 << 20)).map(|i| i as u8).collect();
        a.send(&Bytes(big.clone())).unwrap();
        let back: Bytes = a.recv().unwrap();
        assert!(back.iter().eq(big.iter().rev()));
        join_ok(&p);
    }
}

fn send_two_and_exit(conn: Connection) {
    conn.send(&1u8).unwrap();
    conn.send(&2u8).unwrap();
}

#[test]
fn eof_once_every_copy_of_the_peer_is_gone() {
    for method in StartMethod::ALL {
        let (a, b) = Pipe(true).unwrap();
        let p = start(method, send_two_and_exit, b);
        join_ok(&p);
        drop(p); // a fork child's arguments live in the Process until it is dropped
        assert_eq!(a.recv::<u8>().unwrap(), 1);
        assert_eq!(a.recv::<u8>().unwrap(), 2);
        let t = Instant::now();
        assert!(matches!(a.recv::<u8>(), Err(Error::Eof)), "{method:?}");
        assert!(t.elapsed() < BOUND);
        assert!(a.try_poll().unwrap(), "poll reports EOF as ready");
    }
}

#[test]
fn eof_when_the_peer_is_killed_while_we_wait() {
    fn sleeper(conn: Connection) {
        let _keep = conn;
        std::thread::sleep(Duration::from_secs(60));
    }
    let (a, b) = Pipe(true).unwrap();
    let p = start(StartMethod::Spawn, sleeper, b);
    let killer = std::thread::spawn({
        let pid = p.pid().unwrap();
        move || {
            std::thread::sleep(Duration::from_millis(200));
            // SAFETY-free: plain kill of our own child.
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
        }
    });
    let t = Instant::now();
    assert!(matches!(a.recv_bytes(), Err(Error::Eof)));
    assert!(t.elapsed() < Duration::from_secs(5));
    killer.join().unwrap();
    assert_eq!(common::join(&p), -9);
}

#[test]
fn a_patient_end_receives_what_comes_later_and_sees_its_peer_die() {
    fn late_sender(conn: Connection) {
        std::thread::sleep(Duration::from_millis(50));
        conn.send(&7u32).unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }
    let (mut a, b) = Pipe(true).unwrap();
    a.set_patient(true);
    let p = start(StartMethod::Spawn, late_sender, b);
    assert!(a.poll_timeout(BOUND).unwrap(), "the message arrives");
    assert_eq!(a.recv::<u32>().unwrap(), 7);
    let pid = nix::unistd::Pid::from_raw(p.pid().unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    // A patient receive sleeps on the pipe's word alone: the death shows between its slices.
    let t = Instant::now();
    assert!(matches!(a.recv::<u32>(), Err(Error::Eof)));
    assert!(t.elapsed() < BOUND);
    assert_eq!(common::join(&p), -9);
}

#[test]
fn a_blocked_send_to_a_dead_reader_is_a_broken_pipe() {
    fn drop_it(conn: Connection) {
        drop(conn);
    }
    let (a, b) = Pipe(true).unwrap();
    let p = start(StartMethod::ForkServer, drop_it, b);
    join_ok(&p);
    let big = vec![0u8; 1 << 20]; // larger than the ring: cannot complete
    assert!(matches!(a.send_bytes(&big), Err(Error::BrokenPipe)));
}

#[test]
fn one_way_pipes_refuse_the_wrong_direction() {
    let (r, w) = Pipe(false).unwrap();
    assert!(r.readable() && !r.writable() && w.writable() && !w.readable());
    assert!(matches!(r.send(&1u8), Err(Error::WrongDirection(_))));
    assert!(matches!(w.recv::<u8>(), Err(Error::WrongDirection(_))));
    assert!(matches!(w.poll(), Err(Error::WrongDirection(_))));
    w.send_bytes(b"hello").unwrap();
    assert_eq!(r.recv_bytes().unwrap(), b"hello");
}

#[test]
fn poll_waits_and_never_consumes() {
    let (a, b) = Pipe(true).unwrap();
    assert!(!a.try_poll().unwrap());
    let t = Instant::now();
    assert!(!a.poll_timeout(Duration::from_millis(50)).unwrap());
    assert!(t.elapsed() >= Duration::from_millis(50));
    b.send_bytes(b"").unwrap();
    assert!(a.try_poll().unwrap());
    a.poll().unwrap();
    assert_eq!(a.recv_bytes().unwrap(), b"");
    assert!(!a.try_poll().unwrap());
    assert!(matches!(
        a.recv_timeout::<u8>(Duration::from_millis(10)),
        Err(Error::Timeout)
    ));
}

#[test]
fn recv_bytes_into_a_short_buffer_returns_the_message() {
    let (a, b) = Pipe(true).unwrap();
    b.send_bytes(b"0123456789").unwrap();
    b.send_bytes(b"abc").unwrap();
    let mut buf = [0u8; 4];
    match a.recv_bytes_into(&mut buf) {
        Err(Error::BufferTooShort(m)) => assert_eq!(m, b"0123456789"),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.recv_bytes_into(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"abc");
}

#[test]
fn a_message_that_does_not_decode_is_consumed_and_the_stream_goes_on() {
    let (a, b) = Pipe(true).unwrap();
    b.send_bytes(&[0xff, 0xff, 0xff]).unwrap(); // not a String
    b.send(&(1u8, 2u8)).unwrap(); // a (u8, u8): trailing byte for a u8
    b.send(&"fine").unwrap();
    assert!(matches!(a.recv::<String>(), Err(Error::Decode(_))));
    assert!(matches!(a.recv::<u8>(), Err(Error::Decode(_))));
    assert_eq!(a.recv::<String>().unwrap(), "fine");
}

#[test]
fn messages_over_the_limit_are_refused_and_nothing_else_is_lost() {
    let (a, b) = pipe_with_options(PipeOptions {
        ring_bytes: 4096,
        max_message: 10_000,
        ..PipeOptions::default()
    })
    .unwrap();
    b.send_bytes(b"before").unwrap();
    assert!(matches!(
        b.send_bytes(&[1; 10_001]),
        Err(Error::TooLarge {
            len: 10_001,
            max: 10_000
        })
    ));
    b.send_bytes(b"after").unwrap();
    assert_eq!(a.recv_bytes().unwrap(), b"before");
    assert_eq!(a.recv_bytes().unwrap(), b"after");
}

#[test]
fn a_closed_end_is_an_error_and_eof_for_the_peer() {
    let (mut a, b) = Pipe(true).unwrap();
    a.send(&5u32).unwrap();
    a.close();
    assert!(a.closed());
    assert!(matches!(a.send(&1u8), Err(Error::Closed)));
    assert!(matches!(a.recv::<u8>(), Err(Error::Closed)));
    assert_eq!(b.recv::<u32>().unwrap(), 5);
    assert!(matches!(b.recv::<u32>(), Err(Error::Eof)));
}

#[test]
fn a_connection_travels_inside_an_ipc_channel_message() {
    let (a, b) = Pipe(true).unwrap();
    let (tx, rx) = ipc_channel::ipc::channel::<Connection>().unwrap();
    tx.send(b).unwrap();
    let b2 = rx.recv().unwrap();
    a.send(&"through ipc-channel").unwrap();
    assert_eq!(b2.recv::<String>().unwrap(), "through ipc-channel");
    b2.send(&3u8).unwrap();
    assert_eq!(a.recv::<u8>().unwrap(), 3);
    drop(b2);
    assert!(matches!(a.recv::<u8>(), Err(Error::Eof)));
}

/// Stores the message it gets into the pipe's spare word, then says so.
fn store_in_spare_word(conn: Connection) {
    let n: u64 = conn.recv().unwrap();
    let word = conn.spare_word().expect("a pipe has a spare word");
    word.word().store(n, std::sync::atomic::Ordering::Release);
    conn.send(&()).unwrap();
}

/// A pipe's spare word is one word for both ends, their halves, and a child's copy of an end,
/// under every start method; zero in a new pipe.
#[test]
fn the_spare_word_is_shared_by_both_ends_in_every_process() {
    use std::sync::atomic::Ordering;
    for method in StartMethod::ALL {
        let (ours, theirs) = Pipe(true).unwrap();
        let word = ours.spare_word().unwrap();
        assert_eq!(word.word().load(Ordering::Acquire), 0);
        let p = start(method, store_in_spare_word, theirs);
        let (rx, tx) = ours.split().unwrap();
        tx.send(&(0xfeed_0000_u64 + method as u64)).unwrap();
        rx.recv_timeout::<()>(BOUND).unwrap();
        let expected = 0xfeed_0000_u64 + method as u64;
        assert_eq!(word.word().load(Ordering::Acquire), expected, "{method:?}");
        assert_eq!(
            rx.spare_word().unwrap().word().load(Ordering::Acquire),
            expected
        );
        join_ok(&p);
    }
}
