//! Threads kept between pools for the workers' watchers, as rayon keeps its threads: a pool's
//! creation hands each worker's start and watch to a parked thread instead of spawning one,
//! and a watch that ended parks its thread instead of ending it.
//!
//! A spawned thread costs more than its `clone3`: the stack glibc hands it back was released
//! with `madvise` when its last thread ended, so each page it touches faults again; Rust's
//! standard library maps and unmaps a signal stack for it (an `munmap` in a threaded process
//! interrupts every CPU that runs one of its threads); and a pool's creator spawned its
//! watchers one after the other. A parked thread is woken instead (one `futex` call).
//!
//! A parked thread ends after [`IDLE`] with nothing to do, and no more than [`MOST_PARKED`]
//! are kept. A thread is parked only once its work returned, so a worker started by it (whose
//! parent-death signal, under the fork start method, is armed against that thread) is reaped
//! before the thread can end. The set serves the process that first used it only: a fork
//! child inherits its state but none of its threads (and perhaps a lock held at the fork), so
//! it never touches it and spawns a thread for each piece of work, as before.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// Work for a kept thread: it runs to its end before the thread takes other work.
pub(crate) type Work = Box<dyn FnOnce() + Send>;

/// How long a parked thread waits for work before it ends.
pub(crate) const IDLE: Duration = Duration::from_secs(10);

/// The most threads kept parked; a thread whose work ended beyond them ends.
const MOST_PARKED: usize = 64;

/// The name of every kept thread.
const NAME: &str = "mp-pool watcher";

/// The parked threads and the work handed to them.
struct Parked {
    /// Threads parked and not promised work: parked threads less the work queued.
    idle: usize,
    /// Work handed over that no parked thread took yet.
    work: VecDeque<Work>,
}

/// This process's parked threads.
static PARKED: Mutex<Parked> = Mutex::new(Parked {
    idle: 0,
    work: VecDeque::new(),
});

/// Signalled when work is queued.
static WORK_CAME: Condvar = Condvar::new();

/// The process that the set serves (0: none yet).
static OWNER: AtomicU32 = AtomicU32::new(0);

/// Locks the set; a panic while it was held left nothing half-done (no user code runs under
/// the lock).
fn lock() -> MutexGuard<'static, Parked> {
    PARKED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `work` on a parked thread, or on a new thread (kept once the work returns) if none is
/// parked. An error if no thread could be started (`work` is then dropped, unrun).
pub(crate) fn run(work: Work) -> io::Result<()> {
    if !served_here() {
        return spawn(work, false);
    }
    let mut parked = lock();
    if parked.idle == 0 {
        drop(parked);
        return spawn(work, true);
    }
    parked.idle -= 1;
    parked.work.push_back(work);
    drop(parked);
    WORK_CAME.notify_one();
    Ok(())
}

/// Whether the set serves this process (it does the first process that asks, and only it).
fn served_here() -> bool {
    let here = std::process::id();
    match OWNER.compare_exchange(0, here, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => true,
        Err(owner) => owner == here,
    }
}

/// Starts a thread that runs `work`, then (`keep`) parks.
fn spawn(work: Work, keep: bool) -> io::Result<()> {
    thread::Builder::new()
        .name(NAME.into())
        .spawn(move || {
            if run_caught(work) && keep {
                park();
            }
        })
        .map(drop)
}

/// Runs `work`; `false` if it panicked (its thread then ends rather than keep a state the
/// panic may have left).
fn run_caught(work: Work) -> bool {
    panic::catch_unwind(AssertUnwindSafe(work)).is_ok()
}

/// A kept thread's life once its first work returned: wait for work, run it, again, until
/// [`IDLE`] passes without work or [`MOST_PARKED`] others are parked.
fn park() {
    let mut parked = lock();
    loop {
        if parked.idle >= MOST_PARKED {
            return;
        }
        parked.idle += 1;
        let work = loop {
            // Work queued was counted off `idle` by whoever queued it: take it as is.
            if let Some(work) = parked.work.pop_front() {
                break work;
            }
            let (guard, waited) = WORK_CAME
                .wait_timeout(parked, IDLE)
                .unwrap_or_else(PoisonError::into_inner);
            parked = guard;
            if waited.timed_out() && parked.work.is_empty() {
                parked.idle -= 1;
                return;
            }
        };
        let more = !parked.work.is_empty();
        drop(parked);
        if more {
            // Another parked thread may have been woken for work this one took.
            WORK_CAME.notify_one();
        }
        if !run_caught(work) {
            return;
        }
        parked = lock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// The thread that runs a piece of work, as seen from it.
    fn thread_of_work() -> thread::ThreadId {
        let (tx, rx) = mpsc::channel();
        run(Box::new(move || {
            let _ = tx.send(thread::current().id());
        }))
        .unwrap();
        rx.recv_timeout(Duration::from_secs(30)).unwrap()
    }

    #[test]
    fn work_runs_on_a_kept_thread_and_one_at_a_time_per_thread() {
        // Work in a row: a thread parked by the first takes the next (the tests of this
        // crate run beside each other and share the set, so ask a few times).
        let first = thread_of_work();
        let reused = (0..50).any(|_| {
            thread::sleep(Duration::from_millis(2));
            thread_of_work() == first
        });
        assert!(reused, "no work ran on the thread kept from the first");
        // Many at once all run, each to its end.
        let (tx, rx) = mpsc::channel();
        for i in 0..20 {
            let tx = tx.clone();
            run(Box::new(move || {
                thread::sleep(Duration::from_millis(5));
                let _ = tx.send(i);
            }))
            .unwrap();
        }
        let mut got: Vec<i32> = (0..20)
            .map(|_| rx.recv_timeout(Duration::from_secs(30)).unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_work_leaves_the_set_working() {
        run(Box::new(|| panic!("a test panic in kept work"))).unwrap();
        for _ in 0..5 {
            let _ = thread_of_work();
        }
    }
}
