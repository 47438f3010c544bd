//! `Barrier` across processes: indices, the action, timeouts, abort, reset, n_waiting.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{BOUND, shared_counters, spawn, wait_until, within};
use ipc_channel::ipc;
use mp_sync::{Barrier, BrokenBarrier, Error};

#[test]
fn each_party_gets_a_distinct_index_every_round() {
    let barrier = Barrier::new(3).unwrap();
    assert_eq!(barrier.parties(), 3);
    let seen = shared_counters(1); // a bit per (round, index)
    let rounds = 5;
    let party = || {
        for round in 0..rounds {
            match barrier.wait_timeout(BOUND) {
                Ok(i) if i < 3 => {
                    seen[0].fetch_or(1 << (round * 3 + i), Ordering::SeqCst);
                }
                _ => return 1,
            }
        }
        0
    };
    let children: Vec<_> = (0..2).map(|_| spawn(party)).collect();
    assert_eq!(party(), 0);
    children.into_iter().for_each(common::Child::join);
    assert_eq!(seen[0].load(Ordering::SeqCst), (1 << (rounds * 3)) - 1);
    assert!(!barrier.broken());
}

static ACTIONS: AtomicU64 = AtomicU64::new(0);

fn count_action() {
    ACTIONS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn the_action_runs_once_per_round_before_anyone_leaves() {
    let barrier = Barrier::with_action(2, count_action).unwrap();
    // Each process counts its own runs; together once per round.
    let child = spawn(|| {
        for _ in 0..4 {
            if barrier.wait_timeout(BOUND).is_err() {
                return 1;
            }
        }
        ACTIONS.load(Ordering::SeqCst) as i32 + 10
    });
    for _ in 0..4 {
        barrier.wait_timeout(BOUND).unwrap();
    }
    let mine = ACTIONS.load(Ordering::SeqCst) as i32;
    let common::Exit::Code(code) = child.wait_within(BOUND) else {
        panic!("child killed")
    };
    assert!(code >= 10, "child failed");
    assert_eq!(mine + code - 10, 4);
}

fn panicking_action() {
    panic!("action failed");
}

#[test]
fn a_panicking_action_breaks_the_barrier_and_reraises() {
    let barrier = Barrier::with_action(2, panicking_action).unwrap();
    let child = spawn(|| i32::from(barrier.wait_timeout(BOUND) != Err(BrokenBarrier)));
    wait_until(|| barrier.n_waiting() == 1);
    let panicked = std::panic::catch_unwind(|| barrier.wait_timeout(BOUND)).is_err();
    assert!(panicked);
    child.join();
    assert!(barrier.broken());
}

#[test]
fn a_timeout_in_one_party_breaks_it_for_all() {
    let barrier = Barrier::new(3).unwrap();
    let child = spawn(|| i32::from(barrier.wait() != Err(BrokenBarrier)));
    wait_until(|| barrier.n_waiting() == 1);
    let r = within(Duration::from_secs(2), || {
        barrier.wait_timeout(Duration::from_millis(50))
    });
    assert_eq!(r, Err(BrokenBarrier));
    child.join();
    assert!(barrier.broken());
    assert_eq!(
        barrier.wait_timeout(BOUND),
        Err(BrokenBarrier),
        "broken until reset"
    );
    barrier.reset();
    assert!(!barrier.broken());
}

#[test]
fn abort_breaks_waiters_and_reset_makes_it_usable_again() {
    let barrier = Barrier::new(2).unwrap();
    let child = spawn(|| i32::from(barrier.wait_timeout(BOUND) != Err(BrokenBarrier)));
    wait_until(|| barrier.n_waiting() == 1);
    barrier.abort();
    child.join();
    assert!(barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
    barrier.reset();
    let child = spawn(|| i32::from(barrier.wait_timeout(BOUND).is_err()));
    barrier.wait_timeout(BOUND).unwrap();
    child.join();
}

#[test]
fn reset_with_waiters_breaks_them() {
    let barrier = Barrier::new(3).unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| spawn(|| i32::from(barrier.wait_timeout(BOUND) != Err(BrokenBarrier))))
        .collect();
    wait_until(|| barrier.n_waiting() == 2);
    barrier.reset();
    children.into_iter().for_each(common::Child::join);
    assert!(!barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
}

#[test]
fn zero_parties_is_an_error() {
    assert!(matches!(Barrier::new(0), Err(Error::NoParties)));
}

static SENT_ACTIONS: AtomicU64 = AtomicU64::new(0);

fn count_sent_action() {
    SENT_ACTIONS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn a_barrier_with_its_action_travels_in_a_message() {
    let (tx, rx) = ipc::channel::<Barrier>().unwrap();
    let child = spawn(|| {
        let Ok(barrier) = rx.recv() else { return 2 };
        // The child arrives last, so it runs the action it received.
        std::thread::sleep(Duration::from_millis(30));
        match barrier.wait_timeout(BOUND) {
            Ok(1) if SENT_ACTIONS.load(Ordering::SeqCst) == 1 => 0,
            _ => 1,
        }
    });
    let barrier = Barrier::with_action(2, count_sent_action).unwrap();
    tx.send(barrier.clone()).unwrap();
    assert_eq!(barrier.wait_timeout(BOUND), Ok(0));
    child.join();
    assert_eq!(
        SENT_ACTIONS.load(Ordering::SeqCst),
        0,
        "the action ran in the child only"
    );
}

/// A full round of `parties` (this process and forked children) after a `reset`.
fn a_full_round_works(barrier: &Barrier, parties: usize) {
    barrier.reset();
    let children: Vec<_> = (1..parties)
        .map(|_| spawn(|| i32::from(barrier.wait_timeout(BOUND).is_err())))
        .collect();
    barrier
        .wait_timeout(BOUND)
        .expect("usable again after reset");
    children.into_iter().for_each(common::Child::join);
}

/// Issue 7: a party SIGKILLed inside `wait` before the round completed breaks the barrier
/// for the others, those already waiting and those arriving.
#[test]
fn a_party_killed_inside_wait_before_the_round_completed_breaks_it() {
    let barrier = Barrier::new(3).unwrap();
    let doomed = spawn(|| {
        let _ = barrier.wait();
        0
    });
    wait_until(|| barrier.n_waiting() == 1);
    let waiting = spawn(|| i32::from(barrier.wait() != Err(BrokenBarrier)));
    wait_until(|| barrier.n_waiting() == 2);
    doomed.kill();
    doomed.wait_within(BOUND);
    // The waiter finds out by itself (untimed wait), within the bound.
    waiting.join();
    assert_eq!(
        within(BOUND, || barrier.wait_timeout(BOUND)),
        Err(BrokenBarrier)
    );
    assert!(barrier.broken());
    a_full_round_works(&barrier, 3);
}

/// Issue 7: a party SIGKILLed inside `wait` after the round completed (before it could
/// leave) no longer keeps the next round draining forever: it breaks the barrier.
#[test]
fn a_party_killed_inside_wait_after_the_round_completed_breaks_it() {
    use nix::sys::signal::{Signal, kill};
    let barrier = Barrier::new(3).unwrap();
    let doomed = spawn(|| {
        let _ = barrier.wait();
        0
    });
    wait_until(|| barrier.n_waiting() == 1);
    // Stopped, it cannot leave once the round completes.
    kill(doomed.pid(), Signal::SIGSTOP).unwrap();
    let other = spawn(|| {
        // Round 0 completes; round 1 waits for the doomed party's drain, then breaks.
        let first = barrier.wait_timeout(BOUND).is_ok();
        let second = barrier.wait();
        i32::from(!(first && second == Err(BrokenBarrier)))
    });
    barrier.wait_timeout(BOUND).expect("round 0 completes");
    std::thread::sleep(Duration::from_millis(50));
    doomed.kill();
    doomed.wait_within(BOUND);
    other.join();
    assert!(barrier.broken());
    a_full_round_works(&barrier, 3);
}
