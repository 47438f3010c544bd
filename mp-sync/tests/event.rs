//! `Event` across processes.

mod common;

use std::time::{Duration, Instant};

use common::{BOUND, spawn};
use mp_sync::Event;

#[test]
fn set_clear_is_set() {
    let ev = Event::new().unwrap();
    assert!(!ev.is_set());
    ev.set();
    assert!(ev.is_set());
    assert!(ev.wait_timeout(Duration::ZERO));
    assert!(ev.wait());
    ev.clear();
    assert!(!ev.is_set());
}

#[test]
fn wait_times_out_with_false() {
    let ev = Event::new().unwrap();
    let start = Instant::now();
    assert!(!ev.wait_timeout(Duration::from_millis(100)));
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn set_wakes_every_waiting_process() {
    let ev = Event::new().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| spawn(|| i32::from(!ev.wait_timeout(BOUND))))
        .collect();
    std::thread::sleep(Duration::from_millis(30));
    ev.set();
    children.into_iter().for_each(common::Child::join);
}

#[test]
fn a_set_from_another_process_is_seen() {
    let ev = Event::new().unwrap();
    let child = spawn(|| {
        std::thread::sleep(Duration::from_millis(30));
        ev.set();
        0
    });
    assert!(ev.wait_timeout(BOUND));
    child.join();
}

/// Issue 7: a `set` at once followed by a `clear` wakes everyone waiting at that moment (as
/// CPython's `multiprocessing.Event` does); each then returns the flag as it finds it, most
/// often `false`, `true` if it looked before the `clear`.
#[test]
fn set_then_clear_at_once_wakes_a_waiting_thread_and_process() {
    const PATIENCE: Duration = Duration::from_secs(5);
    let ev = Event::new().unwrap();
    let woke_in_time = || {
        let start = Instant::now();
        ev.wait_timeout(PATIENCE);
        start.elapsed() < PATIENCE
    };
    let child = spawn(|| i32::from(!woke_in_time()));
    std::thread::scope(|s| {
        let thread = s.spawn(woke_in_time);
        common::wait_until_asleep(child.pid());
        // The thread had the same time to fall asleep.
        std::thread::sleep(Duration::from_millis(50));
        ev.set();
        ev.clear();
        assert!(thread.join().unwrap(), "the thread slept out its timeout");
    });
    child.join();
}
