//! `WaitSet` for a supervisor: many sentinels of real children with a queue and a connection,
//! and waits in a forked child.

#[path = "../../test-support/common.rs"]
mod common;

use std::collections::HashSet;
use std::io::Write;
use std::os::fd::AsFd;
use std::time::Duration;

use common::{BOUND, join_ok, start};
use mp_ipc::{Error, Pipe, Queue, Token, WaitSet, wait_timeout};
use mp_process::{Process, StartMethod};

fn take_go_and_report((go, results): (Queue<u32>, Queue<u32>)) {
    let i = go.get_timeout(BOUND).unwrap();
    results.put(i).unwrap();
}

/// Fifty children each take one "go" item, report it on a queue and exit: the set reports
/// the queue and then exactly that child's sentinel, one child at a time; a message on the
/// connection and its EOF are reported in between and at the end.
#[test]
fn a_wait_set_follows_50_children_a_queue_and_a_connection() {
    let go = Queue::<u32>::new().unwrap();
    let results = Queue::<u32>::new().unwrap();
    let procs: Vec<Process> = (0..50)
        .map(|_| {
            start(
                StartMethod::Fork,
                take_go_and_report,
                (go.clone(), results.clone()),
            )
        })
        .collect();
    // Made after the children, so that none holds a copy of `b`.
    let (a, b) = Pipe(true).unwrap();
    let mut set = WaitSet::new();
    let mut alive: HashSet<Token> = procs
        .iter()
        .map(|p| set.add(p.sentinel().unwrap()).unwrap())
        .collect();
    let tq = set.add(&results).unwrap();
    let ta = set.add(&a).unwrap();
    assert!(
        set.wait_timeout(Duration::from_millis(30))
            .unwrap()
            .is_empty()
    );
    for i in 0..50 {
        go.put(i).unwrap();
        let (mut got, mut exited) = (None, None);
        while got.is_none() || exited.is_none() {
            let ready = set.wait_timeout(BOUND).unwrap().to_vec();
            assert!(!ready.is_empty(), "nothing ready within {BOUND:?} (go {i})");
            for t in ready {
                if t == tq {
                    assert!(got.is_none(), "one report per go");
                    got = Some(results.get_nowait().unwrap());
                } else {
                    assert_ne!(t, ta, "nothing was sent yet");
                    assert!(alive.remove(&t), "a sentinel reported twice");
                    assert!(exited.is_none(), "two children exited for one go");
                    exited = Some(t);
                    assert!(set.remove(t));
                }
            }
        }
        assert_eq!(got, Some(i));
        if i == 25 {
            b.send(&25u32).unwrap();
            assert_eq!(set.wait_timeout(BOUND).unwrap(), [ta]);
            assert_eq!(a.recv::<u32>().unwrap(), 25);
        }
    }
    assert!(alive.is_empty());
    procs.iter().for_each(join_ok);
    assert!(set.try_wait().unwrap().is_empty());
    drop(b);
    assert_eq!(set.wait_timeout(BOUND).unwrap(), [ta]);
    assert!(matches!(a.recv::<u32>(), Err(Error::Eof)));
}

/// A forked child inherits the parent's watcher state but not its thread: its waits on
/// descriptors start a watcher of its own (and leave the parent's alone).
#[test]
fn a_forked_child_waits_with_its_own_watcher() {
    let (r, mut w) = std::io::pipe().unwrap();
    // The parent's watcher runs, with `r` armed in it.
    assert!(
        wait_timeout(&[&r.as_fd()], Duration::from_millis(10))
            .unwrap()
            .is_empty()
    );
    let mut p = Process::builder()
        .start_method(StartMethod::Fork)
        .allow_fork_with_threads(true)
        .closure(|| {
            let (r2, mut w2) = std::io::pipe().unwrap();
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                w2.write_all(b"x").unwrap();
                w2
            });
            let ready = wait_timeout(&[&r2.as_fd()], Duration::from_secs(5)).unwrap();
            assert_eq!(ready, vec![0], "the child's wait was not woken");
            drop(writer.join().unwrap());
        });
    p.start().unwrap();
    join_ok(&p);
    // The parent's watcher still works.
    w.write_all(b"y").unwrap();
    assert_eq!(wait_timeout(&[&r.as_fd()], BOUND).unwrap(), vec![0]);
}
