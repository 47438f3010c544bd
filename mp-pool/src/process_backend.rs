//! Workers that are processes: the backend under [`Pool`](crate::Pool).
//!
//! Each worker is an `mp_process::Process` running [`worker_main`] under the pool's start
//! method, with two one-way mp-ipc pipes: jobs to it, reports from it. In the parent, each
//! worker has two threads: a writer that sends it the jobs the core gives (so the core never
//! blocks on a full pipe), and a watcher that reads its reports and turns them into events,
//! and notices its death (the end of its pipe, or its sentinel while the pipe is quiet). The
//! watcher reports the death only after every report the worker sent, and reaps the worker
//! first, so no zombie is left and the exit code or signal is in the event.
//!
//! Workers are not daemons (a task may start processes and pools of its own) but ask the
//! kernel to kill them when the pool's supervisor thread, which starts every worker, ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use mp_ipc::{Bytes, Connection, Pipe, Token, WaitSet};
use mp_process::{Process, StartMethod};

use crate::backend::{Backend, Event, JobId, Payload};
use crate::error::{TaskError, WorkerExit, WorkerId, WorkerRef, WorkerStartError};
use crate::event_channel::{EventReceiver, Message, event_channel};
use crate::exit_guard;
use crate::task::decode;
use crate::wire::{FromWorker, InitCall, ItemCall, ItemFailure, ItemOutcome, ToWorker, WorkerArgs};
use crate::worker::worker_main;

/// What a worker process reports for a run of finished items: each one's outcome.
pub(crate) type ProcessOutput = Vec<ItemOutcome>;

/// The process backend's events side.
pub(crate) type ProcessEvents = EventReceiver<ProcessOutput>;

/// The most item reports a watcher folds into one event.
const BATCH: usize = 1024;

/// Reads a [`ProcessOutput`] as the typed results of the items from task `first` on.
pub(crate) fn decode_process_output<R: serde::de::DeserializeOwned>(
    output: ProcessOutput,
    worker: WorkerRef,
    first: usize,
) -> Vec<Result<R, TaskError>> {
    let result = |(k, outcome): (usize, ItemOutcome)| {
        let task = first + k;
        match outcome {
            Ok(bytes) => decode(&bytes).map_err(|message| TaskError::ResultEncoding {
                task,
                worker,
                message: format!("the result does not decode: {message}"),
            }),
            Err(ItemFailure::Panicked(message)) => Err(TaskError::Panicked {
                task,
                worker,
                message,
            }),
            Err(ItemFailure::ResultEncoding(message)) => Err(TaskError::ResultEncoding {
                task,
                worker,
                message,
            }),
            Err(ItemFailure::Unrunnable(message)) => Err(TaskError::Panicked {
                task,
                worker,
                message: format!("the worker could not run the task: {message}"),
            }),
            Err(ItemFailure::TimedOut(limit)) => Err(TaskError::TimedOut {
                task,
                worker,
                limit,
            }),
            Err(ItemFailure::Lost { code, signal }) => Err(TaskError::WorkerLost {
                task,
                worker,
                how: match (code, signal) {
                    (_, Some(signal)) => WorkerExit::Signal(signal),
                    (Some(code), None) => WorkerExit::Code(code),
                    (None, None) => WorkerExit::Unknown,
                },
            }),
            Err(ItemFailure::Refused(reason)) => Err(TaskError::Refused { task, reason }),
        }
    };
    output.into_iter().enumerate().map(result).collect()
}

/// A job: how to run its items, and their encoded arguments.
#[derive(Clone)]
pub(crate) struct ProcessJob {
    /// The trampoline and function.
    call: ItemCall,
    /// Every item of the job as submitted.
    items: Arc<[Bytes]>,
    /// The first item this payload covers (a job split after a death covers its tail).
    start: usize,
}

impl ProcessJob {
    /// A job running `call` on each of `items`, in order.
    pub(crate) fn new(call: ItemCall, items: Vec<Bytes>) -> Self {
        ProcessJob {
            call,
            items: items.into(),
            start: 0,
        }
    }

    /// How its items run (for a broker, which sends the job as a stream entry).
    #[cfg(feature = "redis")]
    pub(crate) fn call(&self) -> ItemCall {
        self.call
    }

    /// The encoded arguments of the items this payload covers.
    #[cfg(feature = "redis")]
    pub(crate) fn items(&self) -> &[Bytes] {
        &self.items[self.start..]
    }
}

impl Payload for ProcessJob {
    fn len(&self) -> usize {
        self.items.len() - self.start
    }

    fn tail(&self, skip: usize) -> Self {
        ProcessJob {
            call: self.call,
            items: Arc::clone(&self.items),
            start: (self.start + skip).min(self.items.len()),
        }
    }
}

/// What goes to a worker's writer thread.
enum Assignment {
    /// A job to send.
    Job(JobId, ProcessJob),
    /// Send the retire message.
    Retire,
}

/// The parent's handle on one worker process.
struct WorkerProcess {
    /// The process (shared with its watcher, which reaps it).
    process: Arc<Process>,
    /// Its writer thread's queue.
    assignments: Sender<Assignment>,
    /// Set by the watcher once the worker is reported gone.
    gone: Arc<AtomicBool>,
}

/// How worker processes are started.
pub(crate) struct Launch {
    /// The start method.
    pub(crate) method: StartMethod,
    /// Run in each worker before its first task.
    pub(crate) init: Option<InitCall>,
}

/// The process backend's control side.
pub(crate) struct ProcessBackend {
    /// The events channel (watchers send on clones).
    events: Sender<Message<ProcessOutput>>,
    /// The workers not yet seen gone.
    workers: HashMap<WorkerId, WorkerProcess>,
    /// How to start one.
    launch: Launch,
}

/// A process backend and its events.
pub(crate) fn process_backend(launch: Launch) -> (ProcessBackend, ProcessEvents) {
    let (tx, rx) = event_channel();
    let backend = ProcessBackend {
        events: tx,
        workers: HashMap::new(),
        launch,
    };
    (backend, rx)
}

/// A start failure of the OS kind.
fn spawn_error(error: impl std::error::Error + Send + Sync + 'static) -> WorkerStartError {
    WorkerStartError::Spawn(Arc::new(error))
}

impl ProcessBackend {
    /// Starts the process of `worker` and its two threads.
    fn launch(&mut self, worker: WorkerId) -> Result<WorkerProcess, WorkerStartError> {
        let (jobs_in, jobs_out) = Pipe(false).map_err(spawn_error)?;
        let (results_in, results_out) = Pipe(false).map_err(spawn_error)?;
        let args = WorkerArgs {
            jobs: jobs_in,
            results: results_out,
            init: self.launch.init.clone(),
        };
        let mut process = Process::builder()
            .name(format!("mp-pool worker {}", worker.0))
            .start_method(self.launch.method)
            // The pool always has its supervisor thread; the forked worker touches none of
            // the locks the other threads may hold (it runs the worker loop only).
            .allow_fork_with_threads(true)
            .target(worker_main, args);
        process.start().map_err(spawn_error)?;
        let name = WorkerRef {
            id: worker,
            pid: process.pid().and_then(|pid| u32::try_from(pid).ok()),
        };
        let process = Arc::new(process);
        exit_guard::guard(&process);
        let gone = Arc::new(AtomicBool::new(false));
        let (assignments, queue) = mpsc::channel();
        let watcher = Watcher {
            name,
            results: results_in,
            process: Arc::clone(&process),
            events: self.events.clone(),
            gone: Arc::clone(&gone),
        };
        let threads = thread::Builder::new()
            .name(format!("mp-pool writer {}", worker.0))
            .spawn(move || write_jobs(&jobs_out, &queue))
            .and_then(|_| {
                thread::Builder::new()
                    .name(format!("mp-pool watcher {}", worker.0))
                    .spawn(move || watcher.run())
            });
        if let Err(error) = threads {
            let _ = process.kill();
            let _ = process.join();
            return Err(spawn_error(error));
        }
        Ok(WorkerProcess {
            process,
            assignments,
            gone,
        })
    }
}

impl Backend for ProcessBackend {
    type Job = ProcessJob;
    type Output = ProcessOutput;
    // A worker has its next job at hand when it finishes one: no round trip between jobs. A
    // queued job that was not started goes to another worker if this one dies.
    const QUEUE_DEPTH: usize = 2;

    fn start(&mut self, worker: WorkerId) -> Result<Option<u32>, WorkerStartError> {
        self.workers.retain(|_, w| !w.gone.load(Ordering::Acquire));
        let started = self.launch(worker)?;
        let pid = started
            .process
            .pid()
            .and_then(|pid| u32::try_from(pid).ok());
        self.workers.insert(worker, started);
        Ok(pid)
    }

    fn give(&mut self, worker: WorkerId, job: JobId, payload: ProcessJob) {
        if let Some(w) = self.workers.get(&worker) {
            // A worker whose writer is gone is dead or dying: its watcher reports it.
            let _ = w.assignments.send(Assignment::Job(job, payload));
        }
    }

    fn retire(&mut self, worker: WorkerId) {
        if let Some(w) = self.workers.get(&worker) {
            let _ = w.assignments.send(Assignment::Retire);
        }
    }

    fn kill(&mut self, worker: WorkerId) {
        if let Some(w) = self.workers.get(&worker) {
            // An error means it is gone already; its watcher reports that.
            let _ = w.process.kill();
        }
    }

    fn wake(&mut self) {
        let _ = self.events.send(Message::Wake);
    }
}

/// A worker's writer thread: sends what the core gave, in order, until the backend lets go of
/// the worker or the worker is gone.
fn write_jobs(jobs: &Connection, queue: &Receiver<Assignment>) {
    while let Ok(assignment) = queue.recv() {
        let message = match assignment {
            Assignment::Job(job, payload) => ToWorker::Job {
                job: job.0,
                call: payload.call,
                items: payload.items[payload.start..].to_vec(),
            },
            Assignment::Retire => ToWorker::Retire,
        };
        if jobs.send(&message).is_err() {
            return; // the worker is gone: its watcher reports it
        }
    }
}

/// What a watcher's receive found.
enum Received {
    /// A report.
    Report(FromWorker),
    /// Nothing yet; the worker lives.
    Quiet,
    /// The worker is gone, and every report it sent was read.
    Gone,
}

/// A worker's watcher thread.
struct Watcher {
    /// The worker.
    name: WorkerRef,
    /// Its reports.
    results: Connection,
    /// Its process, reaped here.
    process: Arc<Process>,
    /// Where events go.
    events: Sender<Message<ProcessOutput>>,
    /// Set once it is reported gone.
    gone: Arc<AtomicBool>,
}

impl Watcher {
    /// Sends an event to the supervisor (gone only with the pool).
    fn emit(&self, event: Event<ProcessOutput>) {
        let _ = self.events.send(Message::Event(event));
    }

    /// Turns the worker's reports into events until it is gone, then reaps it and reports how
    /// it ended.
    fn run(self) {
        let worker = self.name.id;
        let mut ready = false;
        // Its pipe and its sentinel, waited for together: a death shows at once, also when a
        // process the task started holds a copy of the worker's end of the pipe.
        let mut set = WaitSet::new();
        let sentinel = self.process.sentinel().ok();
        let watching = set
            .add(&self.results)
            .and_then(|_| sentinel.map_or(Ok(None), |fd| set.add(fd).map(Some)));
        let Ok(sentinel) = watching else {
            // It cannot be watched: it must not run unseen.
            let _ = self.process.kill();
            return self.reap(ready);
        };
        let mut next = None;
        loop {
            let report = match next.take() {
                Some(report) => report,
                None => match self.receive(&mut set, sentinel) {
                    Received::Report(report) => report,
                    Received::Quiet => continue,
                    Received::Gone => break,
                },
            };
            match report {
                FromWorker::Leaving => break,
                FromWorker::Ready => {
                    ready = true;
                    self.emit(Event::Ready { worker });
                }
                FromWorker::InitFailed(message) => {
                    let _ = self.process.join();
                    self.gone.store(true, Ordering::Release);
                    let error = WorkerStartError::Initializer {
                        worker: self.name,
                        message,
                    };
                    self.emit(Event::StartFailed { worker, error });
                    return;
                }
                FromWorker::Done { job, outcome } => {
                    let (output, after) = self.batch(job, outcome);
                    next = after;
                    self.emit(Event::Output {
                        worker,
                        job: JobId(job),
                        items: output.len(),
                        output,
                    });
                }
            }
        }
        self.reap(ready);
    }

    /// Reaps the worker and reports how it ended (as a start failure if it never was ready).
    fn reap(&self, ready: bool) {
        let worker = self.name.id;
        let how = match self.process.join() {
            Ok(code) if code < 0 => WorkerExit::Signal(-code),
            Ok(code) => WorkerExit::Code(code),
            Err(_) => WorkerExit::Unknown,
        };
        self.gone.store(true, Ordering::Release);
        if ready {
            self.emit(Event::Exited { worker, how });
        } else {
            let error = WorkerStartError::Died {
                worker: self.name,
                how,
            };
            self.emit(Event::StartFailed { worker, error });
        }
    }

    /// The next report, or news that the worker is quiet or gone. Reports come before the
    /// death (every report left in the pipe is read first). Anything but a report (the end
    /// of the pipe, a message that does not decode) ends the watch; a worker still running
    /// then is killed, so that it cannot hold a task unseen.
    ///
    /// A report is received only once one is there, and then whole (a receive with a deadline
    /// could abandon a large report half-way, and the core counts reports by position).
    fn receive(&self, set: &mut WaitSet<'_>, sentinel: Option<Token>) -> Received {
        let died = match set.wait() {
            Ok(ready) => sentinel.is_some_and(|s| ready.contains(&s)),
            Err(_) => true,
        };
        if self.results.try_poll().unwrap_or(true) {
            return self.take();
        }
        if died {
            let _ = self.process.kill(); // a no-op for the dead; a broken wait ends the watch
            Received::Gone
        } else {
            Received::Quiet
        }
    }

    /// Receives the report that is there (or the end of the pipe).
    fn take(&self) -> Received {
        match self.results.recv::<FromWorker>() {
            Ok(report) => Received::Report(report),
            Err(_) => {
                let _ = self.process.kill();
                Received::Gone
            }
        }
    }

    /// The outcomes of job `job` that are already in the pipe, after `first`; and the report
    /// after them, if it is of another kind or job.
    fn batch(&self, job: u64, first: ItemOutcome) -> (ProcessOutput, Option<FromWorker>) {
        let mut output = vec![first];
        while output.len() < BATCH && self.results.try_poll().unwrap_or(false) {
            match self.results.recv::<FromWorker>() {
                Ok(FromWorker::Done { job: j, outcome }) if j == job => output.push(outcome),
                Ok(other) => return (output, Some(other)),
                Err(_) => break, // the end of the pipe: the next receive sees it
            }
        }
        (output, None)
    }
}
