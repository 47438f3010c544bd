//! The parent side of a pool: the core behind its lock, the supervisor thread that feeds it
//! the backend's events and enforces time limits, and the calls every pool type makes on it
//! (submit, close, terminate, join).
//!
//! A backend whose threads book every event themselves (the process backend) needs the
//! supervisor only as a clock: it is then started on the first time limit, not with the pool.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use mp_sync::Deadline;

use crate::backend::{Backend, Events, Schedule};
use crate::core::{Core, Delivery, JobSpec, Phase};
use crate::error::{JoinError, PoolError, SubmitError, WorkerRef, WorkerStartError};

/// The longest `join` waits for the backend's threads to be at rest once every worker is gone.
const AT_REST_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

/// What the supervisor thread and the pool's callers share.
struct Shared<B: Backend> {
    /// The books, behind one lock.
    core: Mutex<Core<B>>,
    /// Notified after every event but an output: pool creation waits here for its workers to
    /// be ready, and `join` for them to be gone.
    changed: Condvar,
    /// The events, until the supervisor thread takes them.
    events: Mutex<Option<Box<dyn Events<B::Output>>>>,
    /// The supervisor thread, once started and until joined.
    supervisor: Mutex<Option<JoinHandle<()>>>,
    /// Whether the supervisor thread was started (read without a lock on every core call).
    supervised: AtomicBool,
}

impl<B: Backend> Shared<B> {
    /// Locks the core. A panic while it was held cannot leave the books half-written (the core
    /// does not call user code), so a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, Core<B>> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the core, then hands out what it delivered, outside the lock; starts the
    /// supervisor if a time limit now runs and it was not started yet.
    fn with_core<T>(self: &Arc<Self>, f: impl FnOnce(&mut Core<B>) -> T) -> T {
        let (value, deliveries, needs_clock) = {
            let mut core = self.lock();
            let value = f(&mut core);
            let needs_clock =
                !self.supervised.load(Ordering::Acquire) && core.next_deadline().is_some();
            (value, core.take_deliveries(), needs_clock)
        };
        if needs_clock && self.supervise().is_err() {
            // Its time limits could not be kept: the pool stops rather than let a task run
            // past its limit unseen.
            self.with_core(Core::terminate);
        }
        deliver(deliveries);
        value
    }

    /// Starts the supervisor thread, unless it was started.
    fn supervise(self: &Arc<Self>) -> std::io::Result<()> {
        let mut slot = self
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.supervised.load(Ordering::Acquire) {
            return Ok(());
        }
        let shared = Arc::clone(self);
        let handle = thread::Builder::new()
            .name("mp-pool supervisor".into())
            .spawn(move || {
                let events = shared
                    .events
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if let Some(events) = events {
                    supervise(&shared, events);
                }
            })?;
        *slot = Some(handle);
        self.supervised.store(true, Ordering::Release);
        Ok(())
    }
}

impl<B: Backend> Shared<B> {
    /// Books events a backend thread hands over (one flush's outputs, or a worker's start or
    /// exit) on the core under one lock and hands out their results, on the calling thread;
    /// wakes the supervisor when an item's time limit now runs (it may be asleep without one)
    /// or when the pool is finished (so that it ends), and the pool's creator or joiner when a
    /// worker started or ended.
    fn book_events(
        self: &Arc<Self>,
        events: &mut dyn Iterator<Item = crate::backend::Event<B::Output>>,
    ) {
        let mut output = true;
        self.with_core(|core| {
            for event in events {
                output &= matches!(event, crate::backend::Event::Output { .. });
                core.handle(event);
            }
            if core.next_deadline().is_some() || core.finished() {
                core.wake_supervisor();
            }
        });
        if !output {
            self.changed.notify_all();
        }
    }
}

/// Hands results to their sinks. A sink runs user callbacks, which catch their own panics; the
/// guard here keeps the supervisor alive whatever happens.
fn deliver<O>(deliveries: Vec<Delivery<O>>) {
    for delivery in deliveries {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| delivery.run()));
    }
}

/// A running pool of some backend: the handle the public pool types wrap.
pub(crate) struct Runner<B: Backend> {
    /// Shared with the supervisor thread.
    shared: Arc<Shared<B>>,
}

impl<B: Backend> Runner<B> {
    /// Starts the pool's workers (and its supervisor, if its backend's events come through
    /// it), and waits until every worker is ready, if the backend asks for that
    /// ([`Backend::creation_waits_for_ready`]). On a failure, the workers already started are
    /// stopped.
    pub(crate) fn start<E: Events<B::Output>>(
        backend: B,
        mut events: E,
        schedule: Schedule,
    ) -> Result<Self, PoolError> {
        let shared = Arc::new(Shared {
            core: Mutex::new(Core::new(backend, schedule)),
            changed: Condvar::new(),
            events: Mutex::new(None),
            supervisor: Mutex::new(None),
            supervised: AtomicBool::new(false),
        });
        // Events are booked by the backend thread that has them (a watcher), not handed to
        // the supervisor first. Weak: the handler lives in the backend, inside the core.
        let weak = Arc::downgrade(&shared);
        let direct = events.hand_outputs_to(Arc::new(move |events| {
            if let Some(shared) = weak.upgrade() {
                shared.book_events(events);
            }
        }));
        *shared.events.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(events));
        // The workers' starts begin on this thread, at once.
        shared.with_core(Core::fill);
        // A backend that books its own events needs the supervisor only as a clock, started
        // on the first time limit.
        if !direct && let Err(e) = shared.supervise() {
            // Without a supervisor nothing would watch them: stop them.
            shared.with_core(Core::terminate);
            return Err(WorkerStartError::Spawn(Arc::new(e)).into());
        }
        let until_ready = shared.lock().backend().creation_waits_for_ready();
        let runner = Runner { shared };
        if let Err(error) = runner.wait_started(until_ready) {
            runner.terminate();
            let _ = runner.join();
            return Err(error.into());
        }
        Ok(runner)
    }

    /// Whether a worker failed to start; with `until_ready`, waits until each worker is ready
    /// or one failed.
    fn wait_started(&self, until_ready: bool) -> Result<(), WorkerStartError> {
        let mut core = self.shared.lock();
        loop {
            if let Some(error) = core.start_failure() {
                return Err(error.clone());
            }
            if !until_ready || core.ready_workers() >= core.size() {
                return Ok(());
            }
            core = self
                .shared
                .changed
                .wait(core)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The pool's size.
    pub(crate) fn size(&self) -> usize {
        self.shared.lock().size()
    }

    /// The live workers.
    pub(crate) fn workers(&self) -> Vec<WorkerRef> {
        self.shared.lock().worker_names()
    }

    /// Whether the pool still takes submissions.
    pub(crate) fn check_running(&self) -> Result<(), SubmitError> {
        let core = self.shared.lock();
        if core.phase() != Phase::Running {
            return Err(SubmitError::NotRunning);
        }
        match core.broken() {
            Some(error) => Err(SubmitError::Broken(error.clone())),
            None => Ok(()),
        }
    }

    /// Submits jobs (`from_stream`: a lazy `imap` topping up, which a close does not refuse).
    pub(crate) fn submit(
        &self,
        jobs: Vec<JobSpec<B>>,
        from_stream: bool,
    ) -> Result<(), SubmitError> {
        self.shared.with_core(|core| core.submit(jobs, from_stream))
    }

    /// A lazy stream that may submit after a close opens or ends.
    pub(crate) fn stream(&self, open: bool) {
        self.shared.with_core(|core| core.stream(open));
    }

    /// No new submissions; what was submitted completes.
    pub(crate) fn close(&self) {
        self.shared.with_core(Core::close);
    }

    /// Stops at once; unfinished tasks fail with `Terminated`.
    pub(crate) fn terminate(&self) {
        self.shared.with_core(Core::terminate);
    }

    /// Waits until every worker is gone, after `close` or `terminate`.
    pub(crate) fn join(&self) -> Result<(), JoinError> {
        let at_rest = {
            let mut core = self.shared.lock();
            if core.phase() == Phase::Running {
                return Err(JoinError::StillRunning);
            }
            // The last worker's exit may be booked by its own backend thread, which wakes us
            // and the supervisor (if there is one) at once: the supervisor's end overlaps ours.
            while !core.finished() {
                core = self
                    .shared
                    .changed
                    .wait(core)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            core.backend().threads_at_rest()
        };
        let handle = self
            .shared
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // The supervisor catches every panic of user code; a panic of its own is a bug
            // already reported on stderr, and the pool is finished either way.
            let _ = handle.join();
        }
        if let Some(crew) = at_rest {
            // The watchers' last steps after the workers' exits were booked: microseconds.
            // Bounded all the same: a join never hangs on them.
            let _ = crew.wait_ended(Deadline::after(AT_REST_BOUND));
        }
        Ok(())
    }
}

impl<B: Backend> Drop for Runner<B> {
    /// Dropping a running pool terminates it, as Python's `with Pool()` does.
    fn drop(&mut self) {
        self.terminate();
        let _ = self.join();
    }
}

/// The supervisor thread: waits for the next event or time limit, books it, hands out the
/// results, until the pool has stopped and every worker is gone. (The first workers are started
/// by the pool's creator; replacements by the thread that books the event that calls for one.)
fn supervise<B: Backend>(shared: &Arc<Shared<B>>, mut events: Box<dyn Events<B::Output>>) {
    loop {
        let deadline = {
            let core = shared.lock();
            if core.finished() {
                break;
            }
            core.next_deadline()
        };
        let event = events.next(deadline);
        shared.with_core(|core| {
            if let Some(event) = event {
                core.handle(event);
            }
            core.enforce_timeouts();
        });
        shared.changed.notify_all();
    }
    shared.changed.notify_all();
}
