//! The seam between the scheduling core and a way of running workers: how workers are started,
//! stopped and watched, and how jobs and their results travel.
//!
//! The core ([`crate::core`]) decides which job goes to which worker and keeps the books; a
//! backend only carries out its orders and reports what happened, as [`Event`]s. Threads of the
//! calling process are one backend ([`crate::thread_backend`]), worker processes another, and a
//! broker across hosts could be a third, without the core changing.
//!
//! # The contract
//!
//! - The core hands a job to one chosen worker ([`Backend::give`]); at most
//!   [`Backend::QUEUE_DEPTH`] jobs are with a worker at once. A worker runs its jobs one at a
//!   time, in the order given, and the items of a job in order.
//! - A worker reports finished items of its current job, in order, as [`Event::Output`]s of
//!   one or more items each. It may hold finished items back for a while (a process worker
//!   sends them in one message per *flush*: at the end of the job, or once ~100 us of task
//!   time passed since its last flush), and every job's last report comes before the first
//!   report of the next job.
//! - The backend knows which item a worker runs ([`Backend::held`], and [`Held`] in
//!   [`Event::Exited`]), in one of two ways: either it reports each item before its worker
//!   starts the next ([`Held::FirstUnreported`]: the first unreported item of the worker's first
//!   job is the one it runs; the thread backend), or the worker itself records, before each
//!   item, which item of which job it starts and, after it, that it runs none
//!   ([`Held::Item`] / [`Held::Nothing`]; worker processes, in a shared-memory word). With
//!   the second, a death fails exactly the item named, and the finished items before it whose
//!   report died with the worker run again: at most one flush window of finished work reruns
//!   after a crash, and no item is failed twice or lost.
//! - Per worker, events arrive in the order the worker caused them: every `Output` a worker sent
//!   comes before its [`Event::Exited`]. A backend that watches processes drains a dead worker's
//!   results before it reports the death.
//! - A worker that cannot be reached (a job it cannot be given, a kill it cannot take) is
//!   reported through `Exited`; `give`, `retire` and `kill` themselves never fail.
//! - A worker may also leave on its own between items (a process worker over its memory bound,
//!   after reporting what it finished): its `Exited` then names [`Held::Nothing`], and what it
//!   held goes to other workers.
//!
//! # A broker's backend (`crate::redis`)
//!
//! With workers on other hosts, consuming a Redis stream, the core's "workers" are *in-flight
//! slots*: a slot is ready at once, holds up to [`Backend::QUEUE_DEPTH`] jobs (each a stream
//! entry), and reports a job's results when its entry's result arrives, in the order the jobs
//! were given (a later job's early result waits for the one before). The slot count bounds the
//! tasks in flight. A slot never dies on its own: a lost host's entries are reclaimed by
//! another host, inside the broker's protocol; `kill` (terminate) ends a slot at once and its
//! late results are dropped. Time limits travel with the job
//! ([`Handover::limit`]) and the host enforces them ([`Backend::limits_at_worker`]).

use std::sync::Arc;
use std::time::Duration;

use mp_sync::Deadline;

use crate::error::{PoolError, WorkerExit, WorkerId, WorkerStartError};

/// A job's number, unique within a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct JobId(pub(crate) u64);

impl JobId {
    /// The job's low 32 bits: what a worker process records in its running-item word
    /// ([`Held::Item`]). Among the at most [`Backend::QUEUE_DEPTH`] jobs one worker holds, the
    /// tag names one (their numbers are never 2^32 apart in practice: a job would have to wait
    /// while four billion others ran).
    pub(crate) fn tag(self) -> u32 {
        self.0 as u32
    }
}

/// Which item a worker runs, as its backend knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// The backend reports each item before its worker starts the next: the first unreported
    /// item of the worker's first job is the one it runs (if it holds a job).
    FirstUnreported,
    /// The worker runs item `item` (counted from the first item of the payload it was given)
    /// of the job whose [`JobId::tag`] is `job`. A tag of none of the jobs it holds means it
    /// runs none of them.
    Item {
        /// The job's tag.
        job: u32,
        /// The item's index in the payload given.
        item: usize,
    },
    /// The worker runs no item (between items, or before its first).
    Nothing,
}

/// What a job carries to its worker: a run of items (one task each).
pub(crate) trait Payload: Clone + Send + 'static {
    /// How many items (tasks) it holds.
    fn len(&self) -> usize;
    /// The same payload without its first `skip` items: the part of a job that a dead worker
    /// never started, to be given to another worker.
    fn tail(&self, skip: usize) -> Self;
    /// The same payload with only its first `take` items: the finished items of a job whose
    /// report died with its worker, to run again.
    fn head(&self, take: usize) -> Self;
}

/// What the core knows of a job it gives, beyond its payload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Handover {
    /// The time limit of each of its items: a backend whose workers enforce limits themselves
    /// ([`Backend::limits_at_worker`]) sends it along with the job; others ignore it (the core
    /// keeps their clocks).
    // Only a broker reads it, and the broker is behind the `redis` feature.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) limit: Option<Duration>,
    /// The worker holds no other job: it is idle, and the latency of this round trip counts
    /// (one `apply_async` at a time). A backend may hand the job over from the calling thread
    /// rather than through a thread of its own.
    pub(crate) idle: bool,
}

/// A way of running workers, as the core drives it. Calls come with the core's lock held, so
/// they must not block for long.
pub(crate) trait Backend: Send + 'static {
    /// What a job carries to a worker.
    type Job: Payload;
    /// What a worker sends back for a run of finished items.
    type Output: Send + 'static;
    /// The most jobs given to one worker at once: 1 hands a worker its next job only when it
    /// is idle, more lets it start the next without a round trip. The core gives up to this
    /// many while a worker's jobs are short, two while they take a millisecond or more
    /// (`pace.rs`).
    const QUEUE_DEPTH: usize;

    /// Starts worker `worker`; it reports [`Event::Ready`] (or [`Event::StartFailed`]) once its
    /// initializer ran. Returns its pid, if it is a process.
    fn start(&mut self, worker: WorkerId) -> Result<Option<u32>, WorkerStartError>;
    /// Starts `workers` as [`start`](Self::start) does, their starts overlapping where the
    /// backend can (a pool's creation waits for the slowest, not for the sum). One result each,
    /// in order; none need follow a failure. By default, one after the other, stopping at the
    /// first failure.
    fn start_all(&mut self, workers: &[WorkerId]) -> Vec<Result<Option<u32>, WorkerStartError>> {
        let mut started = Vec::with_capacity(workers.len());
        for &worker in workers {
            let result = self.start(worker);
            let failed = result.is_err();
            started.push(result);
            if failed {
                break;
            }
        }
        started
    }
    /// Gives `job` to `worker`, behind the jobs it already holds; `how` says what else the
    /// core knows of it (its time limit, and whether the worker is idle).
    fn give(&mut self, worker: WorkerId, job: JobId, payload: Self::Job, how: Handover);
    /// Tells `worker` to exit once it has finished the jobs it holds (no more will come).
    fn retire(&mut self, worker: WorkerId);
    /// Stops `worker` now; an [`Event::Exited`] follows.
    fn kill(&mut self, worker: WorkerId);
    /// Which item `worker` runs now (the core asks when the item's time limit passed).
    fn held(&self, worker: WorkerId) -> Held;
    /// Makes a blocked [`Events::next`] return early (the core has a new, earlier deadline).
    fn wake(&mut self);

    /// Whether the workers enforce time limits themselves and report an overrun as the item's
    /// outcome, so that the core keeps no clock: a broker's hosts, whose tasks may wait in a
    /// stream the core does not see (its clock would count the wait).
    fn limits_at_worker(&self) -> bool {
        false
    }

    /// Whether a pool's creation waits until every worker is ready (reported
    /// [`Event::Ready`]), not only started. By default it does. A backend whose workers cannot
    /// fail once [`start`](Self::start) returned, short of dying as any worker may, can say no
    /// (a process pool without an initializer): creation then returns once the workers are
    /// started, as Python's `Pool` does, and jobs still go only to ready workers; a worker
    /// that fails before it is ready ([`Event::StartFailed`]) is then a start failure of a
    /// running pool (not replaced, as a replacement's is not), while one the backend reports
    /// as [`Event::Exited`] (the process backend: killed by a signal as it booted) is replaced.
    fn creation_waits_for_ready(&self) -> bool {
        true
    }

    /// What `join` waits for once every worker is gone, outside the core's lock: the works the
    /// backend ran on kept threads ended, their threads parked (quiet, so that a fork-method
    /// start right after the join is not refused for them). `None`: nothing to wait for.
    fn threads_at_rest(&self) -> Option<Arc<crate::kept_threads::Crew>> {
        None
    }
}

/// Books [`Event`]s on the core from the thread that has them, under one lock for all
/// (installed by the pool with [`Events::hand_outputs_to`]).
pub(crate) type OutputHandler<O> = Arc<dyn Fn(&mut dyn Iterator<Item = Event<O>>) + Send + Sync>;

/// The supervisor's side of a backend: where events come from.
pub(crate) trait Events<O>: Send + 'static {
    /// The next event; `None` once `deadline` passed or after a [`Backend::wake`].
    fn next(&mut self, deadline: Option<Deadline>) -> Option<Event<O>>;

    /// From now on, the backend may hand its events to `handler` on its own threads instead
    /// of through [`next`](Self::next) (one thread hop less per report, per start and per
    /// exit; a worker's events must still be booked in order, so a backend hands over one
    /// worker's events from one thread, or sends them all through `next`). Returns whether
    /// every event will be handed over (`next` then returns only at a wake-up or a deadline).
    /// By default every event comes through `next`.
    fn hand_outputs_to(&mut self, handler: OutputHandler<O>) -> bool {
        let _ = handler;
        false
    }
}

/// Something that happened to a worker.
pub(crate) enum Event<O> {
    /// The worker ran its initializer and takes jobs.
    Ready {
        /// Which worker.
        worker: WorkerId,
    },
    /// The worker could not start or its initializer failed; it is gone (no `Exited` follows).
    StartFailed {
        /// Which worker.
        worker: WorkerId,
        /// Why.
        error: WorkerStartError,
    },
    /// The worker finished the next `items` items of its current job.
    Output {
        /// Which worker.
        worker: WorkerId,
        /// Its current job.
        job: JobId,
        /// How many items `output` covers.
        items: usize,
        /// Their results, as the backend encodes them.
        output: O,
    },
    /// The worker is gone (and reaped).
    Exited {
        /// Which worker.
        worker: WorkerId,
        /// How it ended.
        how: WorkerExit,
        /// The item it ran when it ended: the one its death fails.
        held: Held,
    },
}

/// The scheduling settings the core applies, whatever the backend.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    /// How many workers the pool keeps.
    pub(crate) workers: usize,
    /// Jobs a worker runs before it is replaced.
    pub(crate) max_tasks_per_child: Option<usize>,
    /// The default time limit of a task.
    pub(crate) task_timeout: Option<Duration>,
}

impl Schedule {
    /// The settings a builder asked for, refused as Python refuses them: no workers, a task
    /// count of zero, a time limit of zero.
    pub(crate) fn checked(
        workers: usize,
        max_tasks_per_child: Option<usize>,
        task_timeout: Option<Duration>,
    ) -> Result<Self, PoolError> {
        if workers == 0 {
            return Err(PoolError::ZeroWorkers);
        }
        if max_tasks_per_child == Some(0) {
            return Err(PoolError::ZeroMaxTasks);
        }
        if task_timeout == Some(Duration::ZERO) {
            return Err(PoolError::ZeroTimeout);
        }
        Ok(Schedule {
            workers,
            max_tasks_per_child,
            task_timeout,
        })
    }
}
