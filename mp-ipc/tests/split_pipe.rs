//! `Connection::split`: a duplex pipe end as a receiving half and a sending half, used from two
//! threads, passed to children under every start method; the other end sees EOF (and
//! `BrokenPipe`) only once both halves are gone; each half sees the other end's death; nothing
//! is left open.

#[path = "../../test-support/common.rs"]
mod common;

use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use common::{BOUND, join, join_ok, on_thread_within, start};
use mp_ipc::{Connection, Error, Pipe};
use mp_process::StartMethod;

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];

/// The descriptor count test writes; the others read (they open and close descriptors).
static FDS: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    FDS.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Echoes every message back, doubled, until a 0 (a fork child holds copies of the other end,
/// so it would never see EOF) or EOF.
fn echo_doubled(conn: Connection) {
    while let Ok(n) = conn.recv::<u64>() {
        if n == 0 {
            return;
        }
        conn.send(&(n * 2)).unwrap();
    }
}

/// Sends 1..=n on a sending half.
fn count_to(args: (Connection, u64)) {
    let (conn, n) = args;
    for i in 1..=n {
        conn.send(&i).unwrap();
    }
}

/// [`echo_doubled`] on the halves of one end.
fn echo_on_halves(halves: (Connection, Connection)) {
    let (rx, tx) = halves;
    while let Ok(n) = rx.recv::<u64>() {
        if n == 0 {
            return;
        }
        tx.send(&(n * 2)).unwrap();
    }
}

fn exit_at_once(_conn: Connection) {}

#[test]
fn the_halves_talk_to_a_child_from_two_threads_under_every_method() {
    let _g = shared();
    for method in METHODS {
        let (ours, theirs) = Pipe(true).unwrap();
        let (rx, tx) = ours.split().unwrap();
        assert!(rx.readable() && !rx.writable());
        assert!(tx.writable() && !tx.readable());
        let p = start(method, echo_doubled, theirs);
        let sender = std::thread::spawn(move || {
            for i in 1..=1000u64 {
                tx.send(&i).unwrap();
            }
            tx.send(&0u64).unwrap();
            tx
        });
        let got = on_thread_within(BOUND, move || {
            (1..=1000)
                .map(|_| rx.recv::<u64>().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(
            got,
            (1..=1000).map(|i| i * 2).collect::<Vec<_>>(),
            "{method:?}"
        );
        drop(sender.join().unwrap());
        join_ok(&p);
    }
}

#[test]
fn the_halves_travel_to_children_under_every_method() {
    let _g = shared();
    for method in METHODS {
        // The child gets the other end's halves; we keep a whole end.
        let (ours, theirs) = Pipe(true).unwrap();
        let (rx, tx) = theirs.split().unwrap();
        let p = start(method, echo_on_halves, (rx, tx));
        for i in 1..=100u64 {
            ours.send(&i).unwrap();
            assert_eq!(
                ours.recv_timeout::<u64>(BOUND).unwrap(),
                i * 2,
                "{method:?}"
            );
        }
        ours.send(&0u64).unwrap();
        join_ok(&p);
    }
    // A sending half travels and is used over there.
    for method in METHODS {
        let (ours, theirs) = Pipe(true).unwrap();
        let (_rx, tx) = theirs.split().unwrap();
        let p = start(method, count_to, (tx, 50));
        let sum: u64 = (0..50)
            .map(|_| ours.recv_timeout::<u64>(BOUND).unwrap())
            .sum();
        assert_eq!(sum, 50 * 51 / 2, "{method:?}");
        join_ok(&p);
    }
}

/// Sends on `tx` until a send is `BrokenPipe` (the reader's hang-up is noticed within a
/// millisecond of a send), which must come within [`BOUND`]; `what` names the case.
fn sends_until_broken_pipe(tx: &Connection, what: &str) {
    let t = Instant::now();
    loop {
        match tx.send(&1u32) {
            Err(Error::BrokenPipe) => return,
            Ok(()) if t.elapsed() < BOUND => std::thread::sleep(Duration::from_millis(1)),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn the_other_end_sees_eof_only_once_both_halves_are_gone() {
    let _g = shared();
    let (ours, theirs) = Pipe(true).unwrap();
    let (rx, tx) = ours.split().unwrap();
    tx.send(&1u32).unwrap();
    drop(tx);
    // The receiving half is still this end: no EOF, and sends still reach it.
    assert_eq!(theirs.recv_timeout::<u32>(BOUND).unwrap(), 1);
    assert!(!theirs.poll_timeout(Duration::from_millis(100)).unwrap());
    theirs.send(&2u32).unwrap();
    assert_eq!(rx.recv_timeout::<u32>(BOUND).unwrap(), 2);
    drop(rx);
    assert!(matches!(theirs.recv_timeout::<u32>(BOUND), Err(Error::Eof)));
    sends_until_broken_pipe(&theirs, "the other end");
}

#[test]
fn each_half_sees_the_other_end_die() {
    let _g = shared();
    // Not fork: a fork child would hold copies of our halves' other end.
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let (ours, theirs) = Pipe(true).unwrap();
        let (rx, tx) = ours.split().unwrap();
        let p = start(method, exit_at_once, theirs);
        assert_eq!(join(&p), 0);
        drop(p); // the Process keeps our copy of the child's argument until dropped
        assert!(
            matches!(rx.recv_timeout::<u32>(BOUND), Err(Error::Eof)),
            "{method:?}"
        );
        sends_until_broken_pipe(&tx, &format!("{method:?}"));
    }
}

#[test]
fn only_a_whole_open_pipe_end_splits() {
    let _g = shared();
    let (r, w) = Pipe(false).unwrap();
    assert!(matches!(r.split(), Err(Error::WrongDirection(_))));
    assert!(matches!(w.split(), Err(Error::WrongDirection(_))));
    let (mut a, _b) = Pipe(true).unwrap();
    a.close();
    assert!(matches!(a.split(), Err(Error::Closed)));
}

#[test]
fn a_split_pipe_leaves_no_descriptor() {
    let _g = FDS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Warm up what a process makes once (the start method's machinery).
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let (ours, theirs) = Pipe(true).unwrap();
        let (rx, _tx) = ours.split().unwrap();
        let p = start(method, echo_doubled, theirs);
        drop(_tx);
        drop(rx);
        join_ok(&p);
    }
    let before = open_fds();
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let (ours, theirs) = Pipe(true).unwrap();
        let (rx, tx) = ours.split().unwrap();
        let p = start(method, echo_doubled, theirs);
        tx.send(&21u64).unwrap();
        assert_eq!(rx.recv_timeout::<u64>(BOUND).unwrap(), 42);
        drop((rx, tx));
        join_ok(&p);
        drop(p);
    }
    assert_eq!(
        open_fds(),
        before,
        "halves, child and its pipe gone: nothing left open"
    );
}
