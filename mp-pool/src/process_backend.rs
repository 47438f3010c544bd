//! Workers that are processes: the backend under [`Pool`](crate::Pool).
//!
//! Each worker is an `mp_process::Process` running [`worker_main`] under the pool's start
//! method, with two one-way mp-ipc pipes: jobs to it, reports from it. In the parent, each
//! worker has two threads: a writer that sends it the jobs the core gives (so the core never
//! blocks on a full pipe), and a watcher that reads its reports and turns them into events,
//! and notices its death (the end of its pipe, or its sentinel while the pipe is quiet). A
//! thread waiting for an `apply_async` result may read the reports instead, while the watcher
//! lends it the pipe and watches the sentinel alone ([`crate::results_reader`]). The watcher
//! reports the death only after every report the worker sent, and reaps the worker first, so
//! no zombie is left and the exit code or signal is in the event.
//!
//! Workers are not daemons (a task may start processes and pools of its own) but ask the
//! kernel to kill them when the thread that started them ends: their watcher, which makes its
//! worker's pipes and starts it (a pool's workers are started together, the watchers'
//! preparations and starts overlapping), frees the pipes once the worker is gone, and ends
//! (or is parked for the next pool, [`crate::kept_threads`]) only once the worker is reaped.

use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, mpsc};

use mp_ipc::{Connection, Pipe, Token, WaitSet};
use mp_process::{Process, StartMethod};

use crate::backend::{Backend, Event, Handover, Held, JobId};
use crate::error::{TaskError, WorkerExit, WorkerId, WorkerRef, WorkerStartError};
use crate::event_channel::{EventReceiver, EventSender, Message, event_channel};
use crate::exit_guard;
use crate::frames;
use crate::job_sender::{Assignment, JobSender, JobsCloser};
use crate::kept_threads;
use crate::lifecycle;
use crate::process_job::ProcessJob;
use crate::result_arena::{ArenaReader, OutcomeBytes};
use crate::results_reader::{ResultsReader, Unbooked};
use crate::running_word::RunningWord;
use crate::task::decode;
use crate::wire::{FromWorker, InitCall, ItemFailure, OUTCOME_FAILED, OUTCOME_OK, WorkerArgs};
use crate::worker::worker_main;

/// What a worker process reports for a run of finished items: how many, and their outcome
/// records ([`crate::frames`], each [`OUTCOME_OK`] and the encoded result, or
/// [`OUTCOME_FAILED`] and the encoded [`ItemFailure`]): bytes of their own, or a block of the
/// worker's result arena, given back once the output is decoded (dropped).
pub(crate) struct ProcessOutput {
    /// How many items.
    items: usize,
    /// Their outcome records, in order.
    outcomes: OutcomeBytes,
}

impl ProcessOutput {
    /// How many items.
    pub(crate) fn items(&self) -> usize {
        self.items
    }

    /// Whether its records lie in the worker's result arena (a large flush, whose block the
    /// worker may be waiting for): decoded as soon as it is delivered.
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self.outcomes, OutcomeBytes::Shared(_))
    }
}

#[cfg(feature = "redis")]
impl ProcessOutput {
    /// The output of `items` items with these outcome records (a broker's result entry).
    pub(crate) fn from_parts(items: usize, outcomes: Vec<u8>) -> Self {
        ProcessOutput {
            items,
            outcomes: OutcomeBytes::Owned(outcomes),
        }
    }

    /// How many items, and their outcome records.
    pub(crate) fn into_parts(self) -> (usize, Vec<u8>) {
        (self.items, self.outcomes.into_vec())
    }
}

/// The process backend's events side.
pub(crate) type ProcessEvents = EventReceiver<ProcessOutput>;

/// The most items a watcher folds into one event.
const BATCH: usize = 1 << 16;

/// Reads a [`ProcessOutput`] as the typed results of its items, from task `first` on,
/// appended to `out`: always exactly as many results as items (a record missing or malformed
/// is that item's error). Returns how many are errors.
pub(crate) fn decode_process_output<R: serde::de::DeserializeOwned>(
    output: ProcessOutput,
    worker: WorkerRef,
    first: usize,
    out: &mut Vec<Result<R, TaskError>>,
) -> usize {
    let mut records = frames::records(output.outcomes.bytes());
    let mut errors = 0;
    out.reserve(output.items);
    let mut task = first;
    let end = first + output.items;
    while task < end {
        // The values of a stretch of results first, then the stretch wrapped as `Ok` in one
        // go: a result pushed as it was decoded was built on the stack and copied from there,
        // a wide reload of narrow stores that stalled (three quarters of the decoding's
        // samples, by perf).
        let mut values = Vec::with_capacity((end - task).min(STRETCH));
        let mut failed = None;
        while task + values.len() < end && values.len() < STRETCH {
            let record = records.next();
            match record {
                Some([OUTCOME_OK, bytes @ ..]) if let Ok(value) = decode(bytes) => {
                    values.push(value)
                }
                _ => {
                    failed = Some(record);
                    break;
                }
            }
        }
        task += values.len();
        out.extend(values.into_iter().map(Ok));
        if let Some(record) = failed {
            errors += 1;
            push_failure(out, record, task, worker);
            task += 1;
        }
    }
    errors
}

/// How many values are decoded before they are wrapped as results.
const STRETCH: usize = 512;

/// Appends the error of an item whose outcome record is not a result of type `R` (a push of
/// its own, out of line: merged with the results' push, it made each result a copy through
/// the stack).
#[cold]
#[inline(never)]
fn push_failure<R: serde::de::DeserializeOwned>(
    out: &mut Vec<Result<R, TaskError>>,
    record: Option<&[u8]>,
    task: usize,
    worker: WorkerRef,
) {
    out.push(Err(failure::<R>(record, task, worker)));
}

/// The error of an item from its outcome record, one that is not a result of type `R`.
#[cold]
fn failure<R: serde::de::DeserializeOwned>(
    record: Option<&[u8]>,
    task: usize,
    worker: WorkerRef,
) -> TaskError {
    let malformed = |message: String| TaskError::ResultEncoding {
        task,
        worker,
        message,
    };
    let (bytes, failed) = match record.and_then(<[u8]>::split_first) {
        Some((&OUTCOME_FAILED, bytes)) => (bytes, true),
        Some((&OUTCOME_OK, bytes)) => (bytes, false),
        _ => return malformed("the worker sent no readable outcome".into()),
    };
    if !failed {
        // A result that did not decode: what the decoder says of it.
        let message = decode::<R>(bytes).err().unwrap_or_default();
        return malformed(format!("the result does not decode: {message}"));
    }
    match decode::<ItemFailure>(bytes) {
        Ok(ItemFailure::Panicked(message)) => TaskError::Panicked {
            task,
            worker,
            message,
        },
        Ok(ItemFailure::ResultEncoding(message)) => malformed(message),
        Ok(ItemFailure::Unrunnable(message)) => TaskError::Panicked {
            task,
            worker,
            message: format!("the worker could not run the task: {message}"),
        },
        Ok(ItemFailure::TimedOut(limit)) => TaskError::TimedOut {
            task,
            worker,
            limit,
        },
        Ok(ItemFailure::Lost { code, signal }) => TaskError::WorkerLost {
            task,
            worker,
            how: match (code, signal) {
                (_, Some(signal)) => WorkerExit::Signal(signal),
                (Some(code), None) => WorkerExit::Code(code),
                (None, None) => WorkerExit::Unknown,
            },
        },
        Ok(ItemFailure::Refused(reason)) => TaskError::Refused { task, reason },
        Err(message) => malformed(format!("its failure does not decode: {message}")),
    }
}

/// The parent's handle on one worker process.
struct WorkerProcess {
    /// The process (shared with its watcher, which reaps it).
    process: Arc<Process>,
    /// Where its jobs go.
    jobs: JobSender,
    /// Set by the watcher once the worker is reported gone.
    gone: Arc<AtomicBool>,
    /// Where it records the item it runs.
    running: RunningWord,
    /// Who reads its reports.
    reader: Arc<ResultsReader>,
}

/// How worker processes are started.
#[derive(Clone)]
pub(crate) struct Launch {
    /// The start method.
    pub(crate) method: StartMethod,
    /// Run in each worker before its first task.
    pub(crate) init: Option<InitCall>,
    /// A worker leaves after a task that left its resident memory above this many bytes.
    pub(crate) max_memory: Option<u64>,
}

/// The process backend's control side.
pub(crate) struct ProcessBackend {
    /// The events channel (watchers send on clones).
    events: EventSender<ProcessOutput>,
    /// The workers not yet seen gone.
    workers: HashMap<WorkerId, WorkerProcess>,
    /// How to start one.
    launch: Launch,
    /// The watchers' works, which `join` waits to see ended.
    crew: Arc<kept_threads::Crew>,
}

/// A process backend and its events.
pub(crate) fn process_backend(launch: Launch) -> (ProcessBackend, ProcessEvents) {
    // A watcher books its worker's outputs itself: it holds no lock while it does.
    let (tx, rx) = event_channel(true);
    let backend = ProcessBackend {
        events: tx,
        workers: HashMap::new(),
        launch,
        crew: kept_threads::Crew::new(),
    };
    (backend, rx)
}

/// A start failure of the OS kind.
fn spawn_error(error: impl std::error::Error + Send + Sync + 'static) -> WorkerStartError {
    WorkerStartError::Spawn(Arc::new(error))
}

impl ProcessBackend {
    /// Sends job `job` to `worker` (`now`: from this thread, if it can).
    fn send_job(&mut self, worker: WorkerId, job: JobId, payload: ProcessJob, now: bool) {
        let Some(w) = self.workers.get_mut(&worker) else {
            return;
        };
        if let Some(hint) = payload.hint() {
            hint.set(Arc::clone(&w.reader) as _);
        }
        if !w.jobs.send(Assignment::Job(job, payload), now) {
            // It cannot be reached: stopped, its watcher reports it (the contract).
            let _ = w.process.kill();
        }
    }

    /// Begins starting `worker`: hands its start to a watcher thread (a kept one, see
    /// [`crate::kept_threads`]), which makes the
    /// worker's pipes, starts it and then watches it. Several begun together start at once:
    /// the watchers make their pipes side by side, and the fork server forks one while another
    /// prepares. The process is started by the thread that outlives it, so the worker's
    /// parent-death signal (armed against the thread that started it) comes only with the
    /// pool's process.
    fn begin_launch(&self, worker: WorkerId) -> Result<PendingLaunch, WorkerStartError> {
        if exit_guard::exiting() {
            return Err(spawn_error(std::io::Error::other("the program is exiting")));
        }
        let gone = Arc::new(AtomicBool::new(false));
        let (started_tx, started) = mpsc::sync_channel(1);
        let watch = WatchOnceStarted {
            worker,
            launch: self.launch.clone(),
            events: self.events.clone(),
            gone: Arc::clone(&gone),
            crew: Arc::clone(&self.crew),
        };
        kept_threads::run(Box::new(move || watch.run(&started_tx)), &self.crew)
            .map_err(spawn_error)?;
        Ok(PendingLaunch { started, gone })
    }

    /// Waits until a begun start ended, and keeps the worker's handle if it started.
    fn finish_launch(
        &mut self,
        worker: WorkerId,
        pending: PendingLaunch,
    ) -> Result<Option<u32>, WorkerStartError> {
        let Started {
            process,
            jobs,
            running,
            reader,
        } = pending.started.recv().map_err(|_| {
            spawn_error(std::io::Error::other(
                "the watcher thread ended before the start",
            ))
        })??;
        exit_guard::guard(&process);
        let pid = process.pid().and_then(|pid| u32::try_from(pid).ok());
        self.workers.insert(
            worker,
            WorkerProcess {
                process,
                jobs,
                gone: pending.gone,
                running,
                reader,
            },
        );
        Ok(pid)
    }
}

/// A worker whose start was begun: its watcher thread is starting it.
struct PendingLaunch {
    /// The started worker, or why it did not start.
    started: mpsc::Receiver<Result<Started, WorkerStartError>>,
    /// Set by the watcher once the worker is reported gone.
    gone: Arc<AtomicBool>,
}

/// What a watcher hands back once its worker started.
struct Started {
    /// The process (shared with the watcher, which reaps it).
    process: Arc<Process>,
    /// Where its jobs go.
    jobs: JobSender,
    /// Where it records the item it runs.
    running: RunningWord,
    /// Who reads its reports.
    reader: Arc<ResultsReader>,
}

/// A watcher thread's work before its worker runs: make its pipes, start it, say so, then
/// watch it.
struct WatchOnceStarted {
    /// The worker.
    worker: WorkerId,
    /// How to start it.
    launch: Launch,
    /// Where events go.
    events: EventSender<ProcessOutput>,
    /// Set once it is reported gone.
    gone: Arc<AtomicBool>,
    /// The pool's crew (its writer thread counts in it).
    crew: Arc<kept_threads::Crew>,
}

/// The parent's ends of what a worker is given.
struct ParentEnds {
    /// Its reports.
    results: Connection,
    /// Where its jobs go.
    jobs: Connection,
    /// Where it records the item it runs.
    running: RunningWord,
}

impl WatchOnceStarted {
    /// The worker's process, not yet started, and the slot where the parent's ends of its
    /// pipes and running-item word land when its start makes them (under forkserver while
    /// the server forks it).
    fn prepare(&self) -> (Process, Arc<Mutex<Option<ParentEnds>>>) {
        let ends = Arc::new(Mutex::new(None));
        let (init, max_memory) = (self.launch.init.clone(), self.launch.max_memory);
        let slot = Arc::clone(&ends);
        let make = move || -> std::io::Result<WorkerArgs> {
            // One duplex pipe (one segment, its tokens and one side channel) rather than a
            // one-way pipe each way: the pool's end splits, so its jobs sender and its
            // results reader still run on their own threads.
            let (ours, theirs) = Pipe(true).map_err(std::io::Error::other)?;
            let (results_in, jobs_out) = ours.split().map_err(std::io::Error::other)?;
            // The running-item word is the pipe's spare word: the worker finds it there.
            let running = RunningWord::of(&results_in)
                .ok_or_else(|| std::io::Error::other("a pipe without its spare word"))?;
            let args = WorkerArgs {
                pipe: theirs,
                init,
                max_memory,
            };
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(ParentEnds {
                results: results_in,
                jobs: jobs_out,
                running,
            });
            Ok(args)
        };
        let process = Process::builder()
            .name(format!("mp-pool worker {}", self.worker.0))
            .start_method(self.launch.method)
            // The pool always has its supervisor thread; the forked worker touches none of
            // the locks the other threads may hold (it runs the worker loop only).
            .allow_fork_with_threads(true)
            // A worker leaves through `_exit` (after flushing stdout and joining the children
            // its tasks left), as CPython's pool workers leave through `os._exit` under fork
            // and forkserver: libc's at-exit path (`_dl_fini`, stdio clean-up, the handlers)
            // touched pages first in the worker, a page fault each, ~15% of a Pool(2) create
            // + close + join's CPU (perf stat task-clock marginal, 4 alternating runs: 1.14 ->
            // 0.97 ms median).
            .exit_handlers(false)
            .target_made(worker_main, make);
        (process, ends)
    }

    /// Starts the worker, sends the outcome on `started`, and watches the worker if it runs.
    fn run(self, started: &mpsc::SyncSender<Result<Started, WorkerStartError>>) {
        let (mut process, ends) = self.prepare();
        let started_ends = process.start().map_err(spawn_error).and_then(|()| {
            ends.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .ok_or_else(|| {
                    spawn_error(std::io::Error::other("the worker's pipes were not made"))
                })
        });
        let ParentEnds {
            results,
            jobs,
            running,
        } = match started_ends {
            Ok(ends) => ends,
            Err(error) => {
                let _ = process.kill();
                let _ = started.send(Err(error));
                return;
            }
        };
        let jobs = JobSender::new(jobs, self.worker, &self.crew);
        let jobs_closer = jobs.closer();
        let (worker, events) = (self.worker, self.events.clone());
        let arena = ArenaSlot::new();
        let reader = Arc::new(ResultsReader::new(
            results,
            Box::new(move |conn: &Connection| drain(worker, &events, &arena, conn)),
        ));
        let process = Arc::new(process);
        let handle = Started {
            process: Arc::clone(&process),
            jobs,
            running: running.clone(),
            reader: Arc::clone(&reader),
        };
        if started.send(Ok(handle)).is_err() {
            // Nobody took it: it must not run unseen.
            let _ = process.kill();
            let _ = process.join();
            return;
        }
        let unready_death_replaced = self.launch.init.is_none();
        let watcher = Watcher {
            unready_death_replaced,
            name: WorkerRef {
                id: self.worker,
                pid: process.pid().and_then(|pid| u32::try_from(pid).ok()),
            },
            reader,
            process,
            events: self.events,
            gone: self.gone,
            running,
            jobs: jobs_closer,
        };
        watcher.run();
    }
}

impl Backend for ProcessBackend {
    type Job = ProcessJob;
    type Output = ProcessOutput;
    // A worker has its next jobs at hand when it finishes one: no round trip between jobs
    // (the core gives as many as cover about a millisecond, see `pace`). A queued job that was
    // not started goes to another worker if this one dies.
    const QUEUE_DEPTH: usize = 64;

    fn start(&mut self, worker: WorkerId) -> Result<Option<u32>, WorkerStartError> {
        self.workers.retain(|_, w| !w.gone.load(Ordering::Acquire));
        let pending = self.begin_launch(worker)?;
        self.finish_launch(worker, pending)
    }

    fn creation_waits_for_ready(&self) -> bool {
        // What can fail between a worker's start and its ready is its initializer; without
        // one, waiting for the ready hop (worker, watcher, creator) only delays the pool.
        self.launch.init.is_some()
    }

    fn start_all(&mut self, workers: &[WorkerId]) -> Vec<Result<Option<u32>, WorkerStartError>> {
        self.workers.retain(|_, w| !w.gone.load(Ordering::Acquire));
        // Every start is under way before the first is waited for.
        let pending: Vec<_> = workers.iter().map(|&w| self.begin_launch(w)).collect();
        workers
            .iter()
            .zip(pending)
            .map(|(&worker, pending)| self.finish_launch(worker, pending?))
            .collect()
    }

    fn give(&mut self, worker: WorkerId, job: JobId, payload: ProcessJob, how: Handover) {
        // The core keeps this backend's clocks: the limit does not travel.
        self.send_job(worker, job, payload, how.idle);
    }

    fn retire(&mut self, worker: WorkerId) {
        if let Some(w) = self.workers.get_mut(&worker)
            && !w.jobs.send(Assignment::Retire, true)
        {
            let _ = w.process.kill();
        }
    }

    fn kill(&mut self, worker: WorkerId) {
        if let Some(w) = self.workers.get(&worker) {
            // An error means it is gone already; its watcher reports that.
            let _ = w.process.kill();
        }
    }

    fn held(&self, worker: WorkerId) -> Held {
        self.workers
            .get(&worker)
            .map_or(Held::Nothing, |w| w.running.held())
    }

    fn wake(&mut self) {
        let _ = self.events.send(Message::Wake);
    }

    fn threads_at_rest(&self) -> Option<Arc<kept_threads::Crew>> {
        Some(Arc::clone(&self.crew))
    }
}

/// Appends the runs of one flush to `outputs`, one per job (a run of the job `outputs` ends
/// with is folded into it when both have bytes of their own).
fn push_runs(
    outputs: &mut Vec<(u64, ProcessOutput)>,
    runs: Vec<(u64, u32)>,
    outcomes: OutcomeBytes,
) {
    if let [(job, items)] = runs[..] {
        return push_run(outputs, job, items as usize, outcomes);
    }
    let bytes = outcomes.bytes();
    let mut at = 0;
    for (job, items) in runs {
        let end = at + frames::skip(&bytes[at..], items as usize);
        let part = match &outcomes {
            OutcomeBytes::Owned(_) => OutcomeBytes::Owned(bytes[at..end].to_vec()),
            OutcomeBytes::Shared(block) => OutcomeBytes::Shared(block.part(at..end)),
        };
        at = end;
        push_run(outputs, job, items as usize, part);
    }
}

/// Appends one run of `items` outcomes of job `job` to `outputs`.
fn push_run(
    outputs: &mut Vec<(u64, ProcessOutput)>,
    job: u64,
    items: usize,
    outcomes: OutcomeBytes,
) {
    if let (Some((last, output)), OutcomeBytes::Owned(more)) = (outputs.last_mut(), &outcomes)
        && *last == job
        && let OutcomeBytes::Owned(held) = &mut output.outcomes
    {
        output.items += items;
        held.extend_from_slice(more);
        return;
    }
    outputs.push((job, ProcessOutput { items, outcomes }));
}

/// A worker's result arena, once it sent it ([`crate::result_arena`]): shared by whoever reads
/// its reports (one at a time, in order).
type ArenaSlot = OnceLock<Arc<ArenaReader>>;

/// A block a worker named that its arena cannot hold (or an arena of another build): its
/// outcomes cannot be read, and the worker is killed as for a report that does not decode.
const BAD_BLOCK: mp_ipc::Error = mp_ipc::Error::Corrupt("a result block outside its arena");

/// Reads the reports of `worker` ready in `conn` (no system call to learn there are none),
/// folds their runs into at most one output per job and books them through `events`, up to
/// [`BATCH`] items at a time; returns the first report of another kind, or the receive error,
/// with nothing read after it. A report whose outcomes lie in the worker's arena (`arena`) is
/// booked at once, so its block is given back at once: the worker may be waiting for its room.
fn drain(
    worker: WorkerId,
    events: &EventSender<ProcessOutput>,
    arena: &ArenaSlot,
    conn: &Connection,
) -> Option<Unbooked> {
    let mut outputs = Vec::new();
    let mut items = 0;
    let mut unbooked = None;
    while items < BATCH && conn.ready_now() {
        match conn.recv::<FromWorker>() {
            Ok(FromWorker::Done { runs, outcomes }) => {
                items += runs.iter().map(|&(_, n)| n as usize).sum::<usize>();
                push_runs(&mut outputs, runs, OutcomeBytes::Owned(outcomes.0));
            }
            Ok(FromWorker::DoneShared { runs, at, len }) => {
                let Some(block) = arena.get().and_then(|arena| arena.take(at, len)) else {
                    unbooked = Some(Err(BAD_BLOCK));
                    break;
                };
                items += runs.iter().map(|&(_, n)| n as usize).sum::<usize>();
                push_runs(&mut outputs, runs, OutcomeBytes::Shared(block));
                book(worker, events, &mut outputs);
            }
            Ok(FromWorker::Arena(handle)) => {
                let installed = ArenaReader::new(handle).is_some_and(|a| arena.set(a).is_ok());
                if !installed {
                    unbooked = Some(Err(BAD_BLOCK));
                    break;
                }
            }
            other => {
                unbooked = Some(other);
                break;
            }
        }
    }
    book(worker, events, &mut outputs);
    unbooked
}

/// Books `outputs` (emptied) through `events`, under one lock.
fn book(
    worker: WorkerId,
    events: &EventSender<ProcessOutput>,
    outputs: &mut Vec<(u64, ProcessOutput)>,
) {
    if !outputs.is_empty() {
        let _ = events.send_outputs(outputs.drain(..).map(|(job, output)| Event::Output {
            worker,
            job: JobId(job),
            items: output.items,
            output,
        }));
    }
}

/// What a watcher's wait found.
enum Received {
    /// The reports that were there are booked.
    Booked,
    /// A report only the watcher handles.
    Report(FromWorker),
    /// Nothing yet; the worker lives.
    Quiet,
    /// The worker is gone, and every report it sent was read.
    Gone,
}

/// How a watcher's reading ended.
enum Reading {
    /// A waiting thread wants the pipe: lend it.
    Lend,
    /// The worker is gone (or must be: it is killed): reap it.
    Reap,
    /// The worker's initializer failed (it ends): reap it and report that.
    InitFailed(String),
}

/// A worker's watcher thread.
struct Watcher {
    /// The worker.
    name: WorkerRef,
    /// Who reads its reports (this thread, unless it lent the pipe).
    reader: Arc<ResultsReader>,
    /// Its process, reaped here.
    process: Arc<Process>,
    /// Where events go.
    events: EventSender<ProcessOutput>,
    /// Set once it is reported gone.
    gone: Arc<AtomicBool>,
    /// Where it records the item it runs: read once it is gone.
    running: RunningWord,
    /// Frees its jobs pipe once it is gone.
    jobs: JobsCloser,
    /// Whether the pool's creation did not wait for the worker's ready (no initializer): a
    /// death by a signal before the ready is then a death like any, and the worker is
    /// replaced, not a start failure (a Ctrl-C or a kill while it booted, after the pool was
    /// returned).
    unready_death_replaced: bool,
}

impl Watcher {
    /// Sends an event to the supervisor (gone only with the pool).
    fn emit(&self, event: Event<ProcessOutput>) {
        let _ = self.events.send(Message::Event(event));
    }

    /// Turns the worker's reports into events until it is gone, then reaps it and reports how
    /// it ended. While waiting threads read the reports (see [`crate::results_reader`]), it
    /// watches the worker's sentinel only, and takes the pipe back when they stop.
    fn run(self) {
        let mut ready = false;
        let Ok(sentinel) = self.process.sentinel() else {
            // It cannot be watched: it must not run unseen.
            let _ = self.process.kill();
            return self.reap(ready);
        };
        // Its sentinel, alone while the pipe is lent (made on the first lending): a death
        // shows at once, also when a process the task started holds a copy of the worker's
        // end of the pipe.
        let mut lent: Option<WaitSet<'_>> = None;
        let mut conn = self.reader.take();
        // The pipe is freed (`None`) only once the worker is gone.
        while let Some(pipe) = conn.as_ref() {
            match self.read(pipe, sentinel, &mut ready) {
                Reading::Lend => {}
                Reading::Reap => break,
                Reading::InitFailed(message) => {
                    drop(conn);
                    return self.init_failed(message);
                }
            }
            if lent.is_none() {
                let mut set = WaitSet::new();
                if set.add(sentinel).is_err() {
                    let _ = self.process.kill();
                    break;
                }
                lent = Some(set);
            }
            drop(conn);
            // Readiness (any token) means the sentinel: the worker ended.
            conn = self.reader.lend(|tick| {
                lent.as_mut()
                    .is_none_or(|set| set.wait_timeout(tick).map_or(true, |t| !t.is_empty()))
            });
        }
        drop(conn);
        drop(lent);
        self.reap(ready);
    }

    /// Frees the worker's pipes once it is gone (or must be: it is killed) and every report
    /// it sent was read, before the reaping: beside the worker's exit and the fork server's
    /// wait, instead of on the pool's thread after `join` (a dozen `close`s and two `munmap`s
    /// a worker). Waiting threads stop reading first.
    fn free_pipes(&self) {
        self.reader.close();
        self.jobs.close();
    }

    /// The worker's initializer failed (`message`): frees its pipes, reaps it and books the
    /// start failure.
    fn init_failed(&self, message: String) {
        self.free_pipes();
        let _ = self.process.join();
        self.gone.store(true, Ordering::Release);
        let error = WorkerStartError::Initializer {
            worker: self.name,
            message,
        };
        self.emit(Event::StartFailed {
            worker: self.name.id,
            error,
        });
    }

    /// Reads the worker's reports from `conn` (which this thread holds) until the worker is
    /// gone or, once it is ready, a waiting thread wants the pipe. A report a waiting thread
    /// could not book comes first. Reports come before the death (every report left in the
    /// pipe is read first); anything but a report (the end of the pipe, a message that does
    /// not decode) ends the watch, and a worker still running then is killed, so that it cannot
    /// hold a task unseen.
    fn read(&self, conn: &Connection, sentinel: BorrowedFd<'_>, ready: &mut bool) -> Reading {
        // Its pipe and its sentinel, waited for together.
        let mut set = WaitSet::new();
        let Ok(sentinel) = set.add(conn).and_then(|_| set.add(sentinel)) else {
            let _ = self.process.kill();
            return Reading::Reap;
        };
        let mut next = self.reader.take_stash();
        loop {
            let report = match next.take() {
                Some(Ok(report)) => report,
                Some(Err(_)) => {
                    let _ = self.process.kill();
                    return Reading::Reap;
                }
                None => match self.receive(conn, &mut set, sentinel) {
                    Received::Booked => {
                        if *ready && self.reader.take_wanted() {
                            return Reading::Lend;
                        }
                        continue;
                    }
                    Received::Report(report) => report,
                    Received::Quiet => continue,
                    Received::Gone => return Reading::Reap,
                },
            };
            match report {
                // A worker leaving on its own (over its memory bound) ran no item: the
                // core replaces it and gives what it held to others.
                FromWorker::Leaving(reason) => {
                    if let Some(reason) = reason {
                        lifecycle::leaving(self.name, &reason);
                    }
                    return Reading::Reap;
                }
                FromWorker::Ready => {
                    *ready = true;
                    self.emit(Event::Ready {
                        worker: self.name.id,
                    });
                }
                FromWorker::InitFailed(message) => return Reading::InitFailed(message),
                // Folded by `drain`: never returned as a report.
                FromWorker::DoneShared { .. } | FromWorker::Arena(_) => {
                    let _ = self.process.kill();
                    return Reading::Reap;
                }
                // Folded by `drain`: never returned as a report.
                FromWorker::Done { runs, outcomes } => {
                    let mut outputs = Vec::new();
                    push_runs(&mut outputs, runs, OutcomeBytes::Owned(outcomes.0));
                    for (job, output) in outputs {
                        self.emit(Event::Output {
                            worker: self.name.id,
                            job: JobId(job),
                            items: output.items,
                            output,
                        });
                    }
                }
            }
        }
    }

    /// Reaps the worker and reports how it ended (as a start failure if it never was ready,
    /// unless a signal ended it and the pool did not wait for its ready).
    fn reap(&self, ready: bool) {
        self.free_pipes();
        let worker = self.name.id;
        let how = match self.process.join() {
            Ok(code) if code < 0 => WorkerExit::Signal(-code),
            Ok(code) => WorkerExit::Code(code),
            Err(_) => WorkerExit::Unknown,
        };
        self.gone.store(true, Ordering::Release);
        if ready {
            // Read after the reaping: the worker wrote its last word.
            let held = self.running.held();
            self.emit(Event::Exited { worker, how, held });
        } else if self.unready_death_replaced && matches!(how, WorkerExit::Signal(_)) {
            // It held no job (jobs go to ready workers only).
            let held = Held::Nothing;
            self.emit(Event::Exited { worker, how, held });
        } else {
            let error = WorkerStartError::Died {
                worker: self.name,
                how,
            };
            self.emit(Event::StartFailed { worker, error });
        }
    }

    /// Waits for reports or news that the worker is quiet or gone, and books the reports that
    /// are there. Reports come before the death (every report left in the pipe is read first).
    ///
    /// A report is received only once one is there, and then whole (a receive with a deadline
    /// could abandon a large report half-way, and the core counts reports by position).
    fn receive(&self, conn: &Connection, set: &mut WaitSet<'_>, sentinel: Token) -> Received {
        // Reports already there need no wait (a wait makes a system call even when it
        // returns at once: its set checks that it runs in the process that armed it).
        if !conn.ready_now() {
            let died = match set.wait() {
                Ok(ready) => ready.contains(&sentinel),
                Err(_) => true,
            };
            if !conn.try_poll().unwrap_or(true) {
                if died {
                    let _ = self.process.kill(); // a no-op for the dead; a broken wait ends the watch
                    return Received::Gone;
                }
                return Received::Quiet;
            }
        }
        match self.reader.drain(conn) {
            None => Received::Booked,
            Some(Ok(report)) => Received::Report(report),
            Some(Err(_)) => {
                // The end of the pipe, or a message that does not decode.
                let _ = self.process.kill();
                Received::Gone
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{encode_into, push_failure as push_failure_record};

    /// An outcome record of the result `value`.
    fn ok(out: &mut Vec<u8>, value: u64) {
        frames::push(
            out,
            |out| {
                out.push(OUTCOME_OK);
                encode_into(&value, out)
            },
            |_| String::new(),
        )
        .unwrap();
    }

    #[test]
    fn every_item_gets_exactly_one_result_in_order_whatever_its_record() {
        let mut outcomes = Vec::new();
        let values = 0..1500u64;
        for v in values.clone() {
            ok(&mut outcomes, v * v);
        }
        push_failure_record(&mut outcomes, &ItemFailure::Panicked("boom".into()));
        ok(&mut outcomes, 7);
        // A result record that does not decode as a u64 (a varint that never ends).
        frames::push(
            &mut outcomes,
            |out| {
                out.extend_from_slice(&[OUTCOME_OK, 0xff, 0xff]);
                Ok::<(), ()>(())
            },
            |_| (),
        )
        .unwrap();
        // One item more than there are records.
        let output = ProcessOutput {
            items: 1500 + 4,
            outcomes: OutcomeBytes::Owned(outcomes),
        };
        let worker = WorkerRef {
            id: WorkerId(3),
            pid: Some(9),
        };
        let mut out: Vec<Result<u64, TaskError>> = vec![Ok(42)];
        let errors = decode_process_output(output, worker, 10, &mut out);
        assert_eq!(errors, 3);
        assert_eq!(out.len(), 1 + 1504);
        for (k, v) in values.enumerate() {
            assert_eq!(out[1 + k].as_ref().ok(), Some(&(v * v)));
        }
        assert!(
            matches!(&out[1501], Err(TaskError::Panicked { task: 1510, message, .. }) if message == "boom")
        );
        assert_eq!(out[1502].as_ref().ok(), Some(&7));
        assert!(
            matches!(&out[1503], Err(TaskError::ResultEncoding { task: 1512, message, .. }) if message.contains("does not decode"))
        );
        assert!(matches!(
            &out[1504],
            Err(TaskError::ResultEncoding { task: 1513, .. })
        ));
    }
}
