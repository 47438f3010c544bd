//! No thread per wait (alone in its binary: other tests' threads would blur the count).

#[path = "../../test-support/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{BOUND, join_ok, start};
use mp_ipc::{Queue, WaitSet, wait_timeout};
use mp_process::StartMethod;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn wait_for_stop(stop: Queue<()>) {
    stop.get_timeout(BOUND).unwrap();
}

/// 1,000 waits that sleep on a live child's sentinel and a queue (500 through `wait`, 500
/// through one `WaitSet`) start no thread: the count of this process's threads, sampled all
/// along, never exceeds what it was before (the process's one watcher included).
#[test]
fn waits_start_no_thread() {
    let stop = Queue::<()>::new().unwrap();
    let p = start(StartMethod::Fork, wait_for_stop, stop.clone());
    let sentinel = p.sentinel().unwrap();
    let q = Queue::<u8>::new().unwrap();
    let short = Duration::from_micros(300);
    // The first wait that sleeps on a descriptor starts the process's watcher: one long
    // enough to be sure to sleep (a 300 us one may end while it still spins, leaving the
    // watcher to start during the waits counted below).
    assert!(
        wait_timeout(&[&sentinel, &q], Duration::from_millis(50))
            .unwrap()
            .is_empty()
    );
    let (done, most) = (AtomicBool::new(false), AtomicUsize::new(0));
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(threads(), Ordering::SeqCst);
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        let before = threads();
        let mut set = WaitSet::new();
        set.add(sentinel).unwrap();
        set.add(&q).unwrap();
        for _ in 0..500 {
            assert!(wait_timeout(&[&sentinel, &q], short).unwrap().is_empty());
            assert!(set.wait_timeout(short).unwrap().is_empty());
        }
        let after = threads();
        done.store(true, Ordering::SeqCst);
        assert_eq!(after, before);
        assert!(
            most.load(Ordering::SeqCst) <= before,
            "a thread was started during the waits: {} > {before}",
            most.load(Ordering::SeqCst)
        );
    });
    stop.put(()).unwrap();
    join_ok(&p);
}
