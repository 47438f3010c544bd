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
//!
//! A parked thread holds an [`QuietThread`] while it waits, so that a fork-method
//! start after a pool's join is not refused for it (and its child still counts as a fork of a
//! single-threaded process). Work is run for a [`Crew`] (a pool's): the pool's `join` waits
//! until every work of its crew returned and its thread is parked again, so that a fork right
//! after the join sees only quiet threads.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use mp_sync::raw::{Deadline, QuietThread, futex_wait, futex_wake};

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
    /// Work handed over that no parked thread took yet, with its crew.
    work: VecDeque<(Work, Arc<Crew>)>,
}

/// The works run for one owner (a pool): how many did not end yet, an end being the work's
/// return and its thread parked again (or ending).
pub(crate) struct Crew {
    /// Works not ended; a futex word the owner waits on.
    busy: AtomicU32,
}

impl Crew {
    /// A crew with no work.
    pub(crate) fn new() -> Arc<Crew> {
        Arc::new(Crew {
            busy: AtomicU32::new(0),
        })
    }

    /// Waits until every work run for the crew ended (its thread parked, quiet, or ending), or
    /// `deadline` passes; whether they all ended.
    pub(crate) fn wait_ended(&self, deadline: Deadline) -> bool {
        if thread::current().name() == Some(NAME) {
            // A kept thread's own work (a pool dropped by it) cannot end while it waits.
            return self.busy.load(Ordering::Acquire) == 0;
        }
        loop {
            let busy = self.busy.load(Ordering::Acquire);
            if busy == 0 {
                return true;
            }
            if !futex_wait(&self.busy, busy, Some(deadline)) {
                return self.busy.load(Ordering::Acquire) == 0;
            }
        }
    }

    /// One more work under way (run by [`run`], or a thread of the owner's own that counts
    /// itself while it is not quiet).
    pub(crate) fn began(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
    }

    /// One work ended.
    pub(crate) fn ended(&self) {
        if self.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            futex_wake(&self.busy, u32::MAX);
        }
    }
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

/// Runs `work` for `crew` on a parked thread, or on a new thread (kept once the work returns)
/// if none is parked. An error if no thread could be started (`work` is then dropped, unrun).
pub(crate) fn run(work: Work, crew: &Arc<Crew>) -> io::Result<()> {
    crew.began();
    let crew = Arc::clone(crew);
    if !served_here() {
        return spawn(work, crew, false);
    }
    let mut parked = lock();
    if parked.idle == 0 {
        drop(parked);
        return spawn(work, crew, true);
    }
    parked.idle -= 1;
    parked.work.push_back((work, crew));
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

/// Starts a thread that runs `work` for `crew`, then (`keep`) parks.
fn spawn(work: Work, crew: Arc<Crew>, keep: bool) -> io::Result<()> {
    let ours = Arc::clone(&crew);
    let started = thread::Builder::new().name(NAME.into()).spawn(move || {
        if run_caught(work) && keep {
            park(crew);
        } else {
            crew.ended();
        }
    });
    if let Err(error) = started {
        // The work went with the thread that did not start.
        ours.ended();
        return Err(error);
    }
    Ok(())
}

/// Runs `work`; `false` if it panicked (its thread then ends rather than keep a state the
/// panic may have left).
fn run_caught(work: Work) -> bool {
    panic::catch_unwind(AssertUnwindSafe(work)).is_ok()
}

/// A kept thread's life once its first work (for `crew`) returned: wait for work, run it,
/// again, until [`IDLE`] passes without work or [`MOST_PARKED`] others are parked. While it
/// waits it is quiet ([`QuietThread`]: it holds the set's lock at most, which a fork child
/// never takes), and its last work's crew learns then that the work ended.
fn park(mut crew: Arc<Crew>) {
    let mut parked = lock();
    loop {
        if parked.idle >= MOST_PARKED {
            drop(parked);
            crew.ended();
            return;
        }
        parked.idle += 1;
        let quiet = QuietThread::enter();
        crew.ended();
        let next = loop {
            // Work queued was counted off `idle` by whoever queued it: take it as is.
            if let Some(next) = parked.work.pop_front() {
                break next;
            }
            let (guard, waited) = WORK_CAME
                .wait_timeout(parked, IDLE)
                .unwrap_or_else(PoisonError::into_inner);
            parked = guard;
            if waited.timed_out() && parked.work.is_empty() {
                parked.idle -= 1;
                drop(parked);
                drop(quiet);
                return;
            }
        };
        // Through the fork gate before anything else runs.
        drop(quiet);
        let (work, next_crew) = next;
        let more = !parked.work.is_empty();
        drop(parked);
        crew = next_crew;
        if more {
            // Another parked thread may have been woken for work this one took.
            WORK_CAME.notify_one();
        }
        if !run_caught(work) {
            crew.ended();
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
        run(
            Box::new(move || {
                let _ = tx.send(thread::current().id());
            }),
            &Crew::new(),
        )
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
        // Many at once all run, each to its end, and their crew sees them all end.
        let crew = Crew::new();
        let (tx, rx) = mpsc::channel();
        for i in 0..20 {
            let tx = tx.clone();
            run(
                Box::new(move || {
                    thread::sleep(Duration::from_millis(5));
                    let _ = tx.send(i);
                }),
                &crew,
            )
            .unwrap();
        }
        let mut got: Vec<i32> = (0..20)
            .map(|_| rx.recv_timeout(Duration::from_secs(30)).unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        assert!(crew.wait_ended(Deadline::after(Duration::from_secs(30))));
        assert_eq!(crew.busy.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_panicking_work_leaves_the_set_working() {
        let crew = Crew::new();
        run(Box::new(|| panic!("a test panic in kept work")), &crew).unwrap();
        assert!(crew.wait_ended(Deadline::after(Duration::from_secs(30))));
        for _ in 0..5 {
            let _ = thread_of_work();
        }
    }
}
