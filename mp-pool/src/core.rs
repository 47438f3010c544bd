//! The scheduling core: which job goes to which worker, what each worker holds, what a dead or
//! overrunning worker's jobs become, and when the pool is done. Written once for every
//! [`Backend`]; it is a plain state machine (no threads, no waiting): the supervisor
//! ([`crate::supervisor`]) feeds it events and runs the [`Delivery`]s it hands back.
//!
//! The books: every job is in exactly one place at every moment: the pending queue, or the
//! queue of the one worker it was given to. The backend names the item a worker runs
//! ([`Held`]), so a death fails exactly that task; the items of that job before it whose
//! results did not arrive (finished, but their report died with the worker) and the items
//! after it, and the jobs behind it, go back to the front of the pending queue, in order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use mp_sync::Deadline;

use crate::backend::{Backend, Event, Handover, Held, JobId, Payload, Schedule};
use crate::error::{SubmitError, TaskError, WorkerExit, WorkerId, WorkerRef, WorkerStartError};
use crate::lifecycle;
use crate::pace::Pace;

/// Where the results of one job go: the state behind an `AsyncResult`, a map's list or an
/// `imap` stream, with the decoding of the backend's output.
pub(crate) trait JobSink<O>: Send + Sync {
    /// The results of the items from submission index `first` on, run by `worker`.
    fn deliver(&self, first: usize, worker: WorkerRef, output: O);
    /// The item at submission index `index` failed with `error`.
    fn fail(&self, index: usize, error: TaskError);
}

/// A result to hand to a sink once the core's lock is released (sinks run callbacks, and a
/// callback may submit more work).
pub(crate) enum Delivery<O> {
    /// Results for items from `first` on.
    Output(Arc<dyn JobSink<O>>, usize, WorkerRef, O),
    /// A failed item.
    Fail(Arc<dyn JobSink<O>>, usize, TaskError),
}

impl<O> Delivery<O> {
    /// Hands the result to its sink.
    pub(crate) fn run(self) {
        match self {
            Delivery::Output(sink, first, worker, output) => sink.deliver(first, worker, output),
            Delivery::Fail(sink, index, error) => sink.fail(index, error),
        }
    }
}

/// A job as submitted: its items, where their results go, and their time limit.
pub(crate) struct JobSpec<B: Backend> {
    /// The items.
    pub(crate) payload: B::Job,
    /// Where their results go.
    pub(crate) sink: Arc<dyn JobSink<B::Output>>,
    /// The submission index of the first item.
    pub(crate) first: usize,
    /// The time limit of each item; `None`: the pool's default.
    pub(crate) timeout: Option<Duration>,
}

/// A job the core keeps books on.
struct Job<B: Backend> {
    /// The items not yet reported (the payload shrinks when a job is split after a death).
    payload: B::Job,
    /// Where the results go.
    sink: Arc<dyn JobSink<B::Output>>,
    /// The submission index of the payload's first item.
    first: usize,
    /// How many of the payload's items have been reported.
    done: usize,
    /// The time limit of each item.
    timeout: Option<Duration>,
}

/// Why the core is stopping a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stopping {
    /// Not stopping it.
    No,
    /// It finishes what it holds, then exits (task count reached, or the pool is done).
    Retiring,
    /// Killed: the held item ran past `limit` (job, item index in the payload).
    TimedOut(JobId, usize, Duration),
    /// Killed by terminate.
    Terminated,
}

/// A worker the core keeps books on.
struct Worker {
    /// Its name in errors.
    name: WorkerRef,
    /// Whether it reported ready.
    ready: bool,
    /// Whether and why it is being stopped.
    stopping: Stopping,
    /// The jobs given to it, in the order it runs them.
    queue: VecDeque<JobId>,
    /// How many jobs it was given in all (for `max_tasks_per_child`).
    given: usize,
    /// When the item it is running runs out of time.
    deadline: Option<Deadline>,
    /// How many jobs it may hold.
    pace: Pace,
}

impl Worker {
    /// Whether it may be given another job.
    fn takes_jobs<B: Backend>(&self) -> bool {
        self.ready
            && self.stopping == Stopping::No
            && self.queue.len() < self.pace.depth(B::QUEUE_DEPTH)
    }
}

/// Whether the pool takes work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Takes submissions.
    Running,
    /// No new submissions; what was submitted completes, then the workers exit.
    Closed,
    /// Stopped at once; every unfinished task failed.
    Terminated,
}

/// The scheduler's state.
pub(crate) struct Core<B: Backend> {
    /// The workers' runner.
    backend: B,
    /// Pool size, task limits.
    schedule: Schedule,
    /// Whether the pool takes work.
    phase: Phase,
    /// Every live worker (started and not yet reported gone), by id.
    workers: BTreeMap<WorkerId, Worker>,
    /// Every job not yet finished, by id (ordered: jobs are given and finished about in id
    /// order, so a map of many jobs finds its next ones in the cache, where a hash table's
    /// lookups of 100,000 jobs were a cache miss each, a sixth of a chunk-size-1 map's time).
    jobs: BTreeMap<JobId, Job<B>>,
    /// Jobs no worker holds, in the order they are to be given.
    pending: VecDeque<JobId>,
    /// Streams (lazy `imap`s) that may still submit jobs after a close.
    open_streams: usize,
    /// Set when the pool lost every worker and could not start one.
    broken: Option<WorkerStartError>,
    /// The first failure a worker reported while starting (pool creation fails on it).
    start_failure: Option<WorkerStartError>,
    /// The next worker id.
    next_worker: u64,
    /// The next job id.
    next_job: u64,
    /// Results to hand out once the lock is released.
    out: Vec<Delivery<B::Output>>,
}

impl<B: Backend> Core<B> {
    /// A core over `backend` with no workers yet.
    pub(crate) fn new(backend: B, schedule: Schedule) -> Self {
        Core {
            backend,
            schedule,
            phase: Phase::Running,
            workers: BTreeMap::new(),
            jobs: BTreeMap::new(),
            pending: VecDeque::new(),
            open_streams: 0,
            broken: None,
            start_failure: None,
            next_worker: 0,
            next_job: 0,
            out: Vec::new(),
        }
    }

    /// The deliveries collected since the last call.
    pub(crate) fn take_deliveries(&mut self) -> Vec<Delivery<B::Output>> {
        std::mem::take(&mut self.out)
    }

    /// Whether the pool takes work.
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// The pool's size.
    pub(crate) fn size(&self) -> usize {
        self.schedule.workers
    }

    /// How many workers are ready (started and not being stopped).
    pub(crate) fn ready_workers(&self) -> usize {
        let ready = |w: &&Worker| w.ready && w.stopping == Stopping::No;
        self.workers.values().filter(ready).count()
    }

    /// The live workers' names.
    pub(crate) fn worker_names(&self) -> Vec<WorkerRef> {
        self.workers.values().map(|w| w.name).collect()
    }

    /// Whether the supervisor has nothing left to watch: the pool stopped taking work and every
    /// worker is gone.
    pub(crate) fn finished(&self) -> bool {
        self.phase != Phase::Running && self.workers.is_empty()
    }

    /// The backend.
    pub(crate) fn backend(&self) -> &B {
        &self.backend
    }

    /// Why the pool is broken, if it is.
    pub(crate) fn broken(&self) -> Option<&WorkerStartError> {
        self.broken.as_ref()
    }

    /// The first failure a worker reported while starting, if any.
    pub(crate) fn start_failure(&self) -> Option<&WorkerStartError> {
        self.start_failure.as_ref()
    }

    /// Starts workers until the pool has its size, their starts overlapping where the backend
    /// can. A failure to start one is kept as the start failure (pool creation fails on it);
    /// the others that started are booked, so that they are stopped with the pool.
    pub(crate) fn fill(&mut self) {
        let missing = self.schedule.workers.saturating_sub(self.workers.len());
        let ids: Vec<WorkerId> = (0..missing).map(|_| self.next_worker_id()).collect();
        let started = self.backend.start_all(&ids);
        for (id, result) in ids.into_iter().zip(started) {
            match result {
                Ok(pid) => {
                    self.add_worker(id, pid);
                }
                Err(error) => {
                    self.start_failure.get_or_insert(error);
                }
            }
        }
    }

    /// The id of the next worker to start.
    fn next_worker_id(&mut self) -> WorkerId {
        let id = WorkerId(self.next_worker);
        self.next_worker += 1;
        id
    }

    /// Starts one worker.
    fn start_worker(&mut self) -> Result<WorkerRef, WorkerStartError> {
        let id = self.next_worker_id();
        let pid = self.backend.start(id)?;
        Ok(self.add_worker(id, pid))
    }

    /// Books worker `id`, just started.
    fn add_worker(&mut self, id: WorkerId, pid: Option<u32>) -> WorkerRef {
        let worker = Worker {
            name: WorkerRef { id, pid },
            ready: false,
            stopping: Stopping::No,
            queue: VecDeque::new(),
            given: 0,
            deadline: None,
            pace: Pace::default(),
        };
        let name = worker.name;
        self.workers.insert(id, worker);
        lifecycle::started(name);
        name
    }

    /// Accepts jobs. `from_stream`: a lazy `imap` topping up, which a close does not refuse.
    pub(crate) fn submit(
        &mut self,
        jobs: Vec<JobSpec<B>>,
        from_stream: bool,
    ) -> Result<(), SubmitError> {
        match self.phase {
            Phase::Running => {}
            Phase::Closed if from_stream => {}
            _ => return Err(SubmitError::NotRunning),
        }
        if let Some(error) = &self.broken {
            return Err(SubmitError::Broken(error.clone()));
        }
        for spec in jobs {
            let id = JobId(self.next_job);
            self.next_job += 1;
            let job = Job {
                payload: spec.payload,
                sink: spec.sink,
                first: spec.first,
                done: 0,
                timeout: spec.timeout.or(self.schedule.task_timeout),
            };
            self.jobs.insert(id, job);
            self.pending.push_back(id);
        }
        self.dispatch();
        Ok(())
    }

    /// A stream that may submit after a close opens (`true`) or ends (`false`).
    pub(crate) fn stream(&mut self, open: bool) {
        if open {
            self.open_streams += 1;
        } else {
            self.open_streams -= 1;
            self.retire_idle_if_done();
        }
    }

    /// Gives pending jobs to workers with room, the emptiest first.
    fn dispatch(&mut self) {
        while let Some(&job_id) = self.pending.front() {
            let choice = self
                .workers
                .iter()
                .filter(|(_, w)| w.takes_jobs::<B>())
                .min_by_key(|(_, w)| w.queue.len())
                .map(|(id, _)| *id);
            let Some(worker_id) = choice else {
                return;
            };
            self.pending.pop_front();
            self.give(worker_id, job_id);
        }
    }

    /// Gives one job to one worker.
    fn give(&mut self, worker_id: WorkerId, job_id: JobId) {
        let job = &self.jobs[&job_id];
        let payload = job.payload.clone();
        let timeout = job.timeout;
        let clock = !self.backend.limits_at_worker();
        let Some(worker) = self.workers.get_mut(&worker_id) else {
            return;
        };
        worker.queue.push_back(job_id);
        worker.given += 1;
        if worker.queue.len() == 1 {
            worker.pace.started();
            // It starts this job now: its clock runs from here (unless its worker keeps it).
            if clock {
                worker.deadline = timeout.map(Deadline::after);
                if timeout.is_some() {
                    self.backend.wake();
                }
            }
        }
        let how = Handover {
            limit: timeout,
            idle: worker.queue.len() == 1,
        };
        self.backend.give(worker_id, job_id, payload, how);
        let spent = self
            .schedule
            .max_tasks_per_child
            .is_some_and(|max| worker.given >= max);
        if spent {
            worker.stopping = Stopping::Retiring;
            self.backend.retire(worker_id);
        }
    }

    /// Makes the supervisor look again (a time limit it may not know of).
    pub(crate) fn wake_supervisor(&mut self) {
        self.backend.wake();
    }

    /// Takes in one event from the backend.
    pub(crate) fn handle(&mut self, event: Event<B::Output>) {
        match event {
            Event::Ready { worker } => self.on_ready(worker),
            Event::StartFailed { worker, error } => self.on_start_failed(worker, error),
            Event::Output {
                worker,
                job,
                items,
                output,
            } => self.on_output(worker, job, items, output),
            Event::Exited { worker, how, held } => self.on_exited(worker, how, held),
        }
    }

    /// A worker is ready for jobs.
    fn on_ready(&mut self, worker_id: WorkerId) {
        if let Some(worker) = self.workers.get_mut(&worker_id) {
            worker.ready = true;
            lifecycle::ready(worker.name);
        }
        self.dispatch();
        self.retire_idle_if_done();
    }

    /// A worker failed to start: the pool is broken if no worker is left.
    fn on_start_failed(&mut self, worker_id: WorkerId, error: WorkerStartError) {
        lifecycle::start_failed(worker_id, &error);
        if let Some(worker) = self.workers.remove(&worker_id) {
            debug_assert!(worker.queue.is_empty(), "jobs go only to ready workers");
        }
        self.start_failure.get_or_insert_with(|| error.clone());
        if self.workers.is_empty() {
            self.break_pool(error);
        }
    }

    /// No worker is left and none can be started: every unfinished task fails with `cause`.
    fn break_pool(&mut self, cause: WorkerStartError) {
        self.fail_all(|task| TaskError::NoWorkers {
            task,
            cause: cause.clone(),
        });
        self.broken = Some(cause);
    }

    /// Fails every unfinished task of every job with the error `error_for` makes of its index.
    fn fail_all(&mut self, error_for: impl Fn(usize) -> TaskError) {
        for (_, job) in std::mem::take(&mut self.jobs) {
            for k in job.done..job.payload.len() {
                let index = job.first + k;
                self.out
                    .push(Delivery::Fail(job.sink.clone(), index, error_for(index)));
            }
        }
        self.pending.clear();
    }

    /// A worker reported results for the next items of its current job.
    fn on_output(&mut self, worker_id: WorkerId, job_id: JobId, items: usize, output: B::Output) {
        let clock = !self.backend.limits_at_worker();
        let Some(worker) = self.workers.get_mut(&worker_id) else {
            return; // from a worker already written off (abandoned thread)
        };
        if worker.queue.front() != Some(&job_id) {
            return; // stale: the job was failed already
        }
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return;
        };
        let sink = job.sink.clone();
        let first = job.first + job.done;
        self.out
            .push(Delivery::Output(sink, first, worker.name, output));
        job.done += items;
        if job.done >= job.payload.len() {
            self.jobs.remove(&job_id);
            worker.queue.pop_front();
            worker.pace.finished_job(worker.queue.is_empty());
        }
        // Its next item, if any, starts now.
        worker.deadline = match worker.queue.front() {
            Some(next) if clock => self.jobs[next].timeout.map(Deadline::after),
            _ => None,
        };
        self.dispatch();
        self.retire_idle_if_done();
    }

    /// A worker is gone: the task it held fails, what it held but had not started (or
    /// finished without a report that arrived) goes back to the pending queue, and a
    /// replacement starts if work remains.
    fn on_exited(&mut self, worker_id: WorkerId, how: WorkerExit, held: Held) {
        let Some(worker) = self.workers.remove(&worker_id) else {
            return;
        };
        match worker.stopping {
            Stopping::No => lifecycle::died(worker.name, how),
            Stopping::Retiring => lifecycle::retired(worker.name, how),
            Stopping::TimedOut(..) | Stopping::Terminated => lifecycle::stopped(worker.name, how),
        }
        let running = running_item(&worker.queue, &self.jobs, held);
        let mut back = Vec::new();
        for job_id in worker.queue {
            match running {
                Some((running_job, item)) if running_job == job_id => {
                    back.extend(self.fail_held(job_id, item, worker.name, worker.stopping, how));
                }
                _ => {
                    self.drop_reported(job_id);
                    back.push(job_id);
                }
            }
        }
        // To the front, in their order, ahead of later submissions.
        for job_id in back.into_iter().rev() {
            self.pending.push_front(job_id);
        }
        if self.wants_replacement() {
            match self.start_worker() {
                Ok(new) => lifecycle::replaced(worker.name, new),
                Err(error) if self.workers.is_empty() => self.break_pool(error),
                Err(_) => {}
            }
        }
        self.dispatch();
        self.retire_idle_if_done();
    }

    /// Cuts the items already reported off a job that goes back to pending whole (a worker
    /// that left between items may have reported part of it).
    fn drop_reported(&mut self, job_id: JobId) {
        if let Some(job) = self.jobs.get_mut(&job_id)
            && job.done > 0
        {
            job.payload = job.payload.tail(job.done);
            job.first += job.done;
            job.done = 0;
        }
    }

    /// The job a gone worker ran: its item `item` (an index in the payload) fails; the
    /// unreported items before it (their report died with the worker) and the items after it
    /// are returned as jobs to run again, in order.
    fn fail_held(
        &mut self,
        job_id: JobId,
        item: usize,
        name: WorkerRef,
        stopping: Stopping,
        how: WorkerExit,
    ) -> Vec<JobId> {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return Vec::new();
        };
        let index = job.first + item;
        let error = match stopping {
            Stopping::TimedOut(timed_job, timed_item, limit)
                if timed_job == job_id && timed_item == item =>
            {
                TaskError::TimedOut {
                    task: index,
                    worker: name,
                    limit,
                }
            }
            Stopping::Terminated => TaskError::Terminated { task: index },
            _ => {
                lifecycle::task_lost(index, name, how);
                TaskError::WorkerLost {
                    task: index,
                    worker: name,
                    how,
                }
            }
        };
        self.out
            .push(Delivery::Fail(job.sink.clone(), index, error));
        let mut again = Vec::new();
        if item > job.done {
            let rerun = Job {
                payload: job.payload.tail(job.done).head(item - job.done),
                sink: job.sink.clone(),
                first: job.first + job.done,
                done: 0,
                timeout: job.timeout,
            };
            let id = JobId(self.next_job);
            self.next_job += 1;
            again.push(id);
            self.jobs.insert(id, rerun);
        }
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return again;
        };
        let skip = item + 1;
        if skip < job.payload.len() {
            job.payload = job.payload.tail(skip);
            job.first += skip;
            job.done = 0;
            again.push(job_id);
        } else {
            self.jobs.remove(&job_id);
        }
        again
    }

    /// Whether a gone worker should be replaced: the pool runs, or it closed with work left.
    fn wants_replacement(&self) -> bool {
        match self.phase {
            Phase::Running => true,
            Phase::Closed => !self.jobs.is_empty() || self.open_streams > 0,
            Phase::Terminated => false,
        }
    }

    /// Once the pool is closed and has nothing left to do, tells every worker to exit.
    fn retire_idle_if_done(&mut self) {
        if self.phase != Phase::Closed || !self.jobs.is_empty() || self.open_streams > 0 {
            return;
        }
        for (id, worker) in &mut self.workers {
            if worker.stopping == Stopping::No {
                worker.stopping = Stopping::Retiring;
                self.backend.retire(*id);
            }
        }
    }

    /// The earliest time limit of a running item.
    pub(crate) fn next_deadline(&self) -> Option<Deadline> {
        self.workers.values().filter_map(|w| w.deadline).min()
    }

    /// Kills every worker whose running item is past its limit.
    pub(crate) fn enforce_timeouts(&mut self) {
        let jobs = &self.jobs;
        for (id, worker) in &mut self.workers {
            let Some(deadline) = worker.deadline else {
                continue;
            };
            if !deadline.has_passed() {
                continue;
            }
            worker.deadline = None;
            let Some((job_id, item)) = running_item(&worker.queue, jobs, self.backend.held(*id))
            else {
                // Between items: the next one's clock starts now.
                let front = worker.queue.front().and_then(|j| jobs.get(j));
                worker.deadline = front.and_then(|job| job.timeout).map(Deadline::after);
                continue;
            };
            let job = &jobs[&job_id];
            let limit = job.timeout.unwrap_or_default();
            lifecycle::timed_out(job.first + item, worker.name, limit);
            worker.stopping = Stopping::TimedOut(job_id, item, limit);
            self.backend.kill(*id);
        }
    }

    /// No new submissions; what was submitted completes, then the workers exit.
    pub(crate) fn close(&mut self) {
        if self.phase == Phase::Running {
            self.phase = Phase::Closed;
        }
        self.retire_idle_if_done();
        // With no worker left to report anything, the supervisor must look again itself.
        self.backend.wake();
    }

    /// Stops at once: every unfinished task fails with [`TaskError::Terminated`] and every
    /// worker is killed.
    pub(crate) fn terminate(&mut self) {
        if self.phase == Phase::Terminated {
            return;
        }
        self.phase = Phase::Terminated;
        self.fail_all(|task| TaskError::Terminated { task });
        for (id, worker) in &mut self.workers {
            worker.queue.clear();
            worker.deadline = None;
            worker.stopping = Stopping::Terminated;
            self.backend.kill(*id);
        }
        // With no worker left to report anything, the supervisor must look again itself.
        self.backend.wake();
    }
}

/// The job and item (an index in its payload) a worker with `queue` runs, by what its backend
/// said; `None` when it runs none of them.
fn running_item<B: Backend>(
    queue: &VecDeque<JobId>,
    jobs: &BTreeMap<JobId, Job<B>>,
    held: Held,
) -> Option<(JobId, usize)> {
    match held {
        Held::FirstUnreported => {
            let front = *queue.front()?;
            Some((front, jobs.get(&front)?.done))
        }
        Held::Item { job, item } => {
            let id = *queue.iter().find(|id| id.tag() == job)?;
            let held = jobs.get(&id)?;
            // A reported item is not running (a stale word cannot fail a task twice).
            (held.done..held.payload.len())
                .contains(&item)
                .then_some((id, item))
        }
        Held::Nothing => None,
    }
}
