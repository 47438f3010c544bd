//! Workers that are threads of the calling process: the backend under
//! [`ThreadPool`](crate::ThreadPool).
//!
//! A job is a run of boxed closures; each result goes back as one [`Event::Output`] on the
//! events channel. A thread cannot be killed: [`Backend::kill`] abandons it instead. Under the
//! worker's own lock, the kill marks it and reports it gone, and the worker checks that mark
//! under the same lock before it takes its next task and before it reports a result, so the
//! task the core fails is the one the thread runs, nothing after it is started, and the result
//! of the abandoned task is discarded.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use crate::backend::{Backend, Event, Handover, Held, JobId, Payload};
use crate::error::{TaskError, WorkerExit, WorkerId, WorkerRef, WorkerStartError};
use crate::event_channel::{EventReceiver, EventSender, Message, event_channel};
use crate::panics::panic_message;

/// One task: a closure returning its result, boxed.
pub(crate) type ThreadTask = Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>;

/// What a worker thread sends back for one task: its result, or the panic message.
pub(crate) type ThreadOutput = Result<Box<dyn Any + Send>, String>;

/// Boxes a closure into a [`ThreadTask`].
pub(crate) fn thread_task<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> ThreadTask {
    Box::new(move || Box::new(f()) as Box<dyn Any + Send>)
}

/// Reads a [`ThreadOutput`] (one task's) as the result of type `R` of task `first`, appended
/// to `out`; returns 1 if it is an error.
pub(crate) fn decode_thread_output<R: 'static>(
    output: ThreadOutput,
    worker: WorkerRef,
    first: usize,
    out: &mut Vec<Result<R, TaskError>>,
) -> usize {
    let result = match output {
        Ok(value) => value
            .downcast::<R>()
            .map(|value| *value)
            .map_err(|_| TaskError::Panicked {
                task: first,
                worker,
                message: "the task's result is not of the submitted type".into(),
            }),
        Err(message) => Err(TaskError::Panicked {
            task: first,
            worker,
            message,
        }),
    };
    let errors = usize::from(result.is_err());
    out.push(result);
    errors
}

/// A job: its tasks, each taken out by the one worker that runs it.
#[derive(Clone)]
pub(crate) struct ThreadJob {
    /// Every task of the job as submitted.
    tasks: Arc<[Mutex<Option<ThreadTask>>]>,
    /// The first task this payload covers (a job split after a death covers its tail).
    start: usize,
    /// One past the last task it covers.
    end: usize,
}

impl ThreadJob {
    /// A job of `tasks`, run in order.
    pub(crate) fn new(tasks: Vec<ThreadTask>) -> Self {
        let end = tasks.len();
        ThreadJob {
            tasks: tasks.into_iter().map(|t| Mutex::new(Some(t))).collect(),
            start: 0,
            end,
        }
    }
}

impl Payload for ThreadJob {
    fn len(&self) -> usize {
        self.end - self.start
    }

    fn tail(&self, skip: usize) -> Self {
        ThreadJob {
            tasks: Arc::clone(&self.tasks),
            start: (self.start + skip).min(self.end),
            end: self.end,
        }
    }

    fn head(&self, take: usize) -> Self {
        ThreadJob {
            tasks: Arc::clone(&self.tasks),
            start: self.start,
            end: (self.start + take).min(self.end),
        }
    }
}

/// What travels to one worker.
enum Assignment {
    /// A job to run.
    Job(JobId, ThreadJob),
    /// Exit after the jobs before this one.
    Retire,
}

/// Locks a mutex whose holders run no user code.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where a worker thread stands, shared by the thread and the backend.
#[derive(Default)]
struct Mark {
    /// The pool gave up on it (and reported it gone).
    abandoned: bool,
    /// It reported itself gone.
    gone: bool,
}

/// The parent's handle on one worker thread.
struct WorkerThread {
    /// Where its jobs go.
    jobs: Sender<Assignment>,
    /// Its mark: whoever reports the worker gone sets it, under its lock, so only one does.
    mark: Arc<Mutex<Mark>>,
}

/// Runs each worker's initializer once, before its first task.
pub(crate) type Initializer = Arc<dyn Fn() + Send + Sync>;

/// The thread backend's control side.
pub(crate) struct ThreadBackend {
    /// The events channel (workers send on clones).
    events: EventSender<ThreadOutput>,
    /// The live workers.
    workers: HashMap<WorkerId, WorkerThread>,
    /// Run in each worker before its first task.
    initializer: Option<Initializer>,
}

/// The thread backend's events side.
pub(crate) type ThreadEvents = EventReceiver<ThreadOutput>;

/// A thread backend and its events.
pub(crate) fn thread_backend(initializer: Option<Initializer>) -> (ThreadBackend, ThreadEvents) {
    // Not direct: a worker reports under its mark's lock, which `kill` takes under the core's.
    let (tx, rx) = event_channel(false);
    let backend = ThreadBackend {
        events: tx,
        workers: HashMap::new(),
        initializer,
    };
    (backend, rx)
}

impl Backend for ThreadBackend {
    type Job = ThreadJob;
    type Output = ThreadOutput;
    // A worker gets its next job when it reported the last one: a queued job could not be
    // taken back from a thread that overran its limit.
    const QUEUE_DEPTH: usize = 1;

    fn start(&mut self, worker: WorkerId) -> Result<Option<u32>, WorkerStartError> {
        // Forget the threads that have exited.
        self.workers.retain(|_, thread| !lock(&thread.mark).gone);
        let (jobs, assignments) = mpsc::channel();
        let mark = Arc::new(Mutex::new(Mark::default()));
        let run = WorkerLoop {
            name: WorkerRef {
                id: worker,
                pid: None,
            },
            mark: Arc::clone(&mark),
            assignments,
            events: self.events.clone(),
        };
        let initializer = self.initializer.clone();
        thread::Builder::new()
            .name(format!("mp-pool worker {}", worker.0))
            .spawn(move || run.run(initializer))
            .map_err(|e| WorkerStartError::Spawn(Arc::new(e)))?;
        self.workers.insert(worker, WorkerThread { jobs, mark });
        Ok(None)
    }

    fn give(&mut self, worker: WorkerId, job: JobId, payload: ThreadJob, _: Handover) {
        if let Some(thread) = self.workers.get(&worker) {
            // A worker that is gone has reported it (or will): the core redispatches.
            let _ = thread.jobs.send(Assignment::Job(job, payload));
        }
    }

    fn retire(&mut self, worker: WorkerId) {
        if let Some(thread) = self.workers.get(&worker) {
            let _ = thread.jobs.send(Assignment::Retire);
        }
    }

    fn kill(&mut self, worker: WorkerId) {
        let Some(thread) = self.workers.remove(&worker) else {
            return;
        };
        let mut mark = lock(&thread.mark);
        if mark.gone {
            return; // its own report is on the way
        }
        mark.abandoned = true;
        let gone = Event::Exited {
            worker,
            how: WorkerExit::Abandoned,
            held: Held::FirstUnreported,
        };
        let _ = self.events.send(Message::Event(gone));
    }

    fn held(&self, _worker: WorkerId) -> Held {
        // Each task is reported before the worker takes the next.
        Held::FirstUnreported
    }

    fn wake(&mut self) {
        let _ = self.events.send(Message::Wake);
    }
}

/// A worker thread's side.
struct WorkerLoop {
    /// Its name in results.
    name: WorkerRef,
    /// Its mark.
    mark: Arc<Mutex<Mark>>,
    /// Its jobs.
    assignments: Receiver<Assignment>,
    /// Where its events go.
    events: EventSender<ThreadOutput>,
}

impl WorkerLoop {
    /// Sends an event unless the worker was abandoned; false if it was (then it must stop).
    /// The caller holds the lock `mark` of the mark; an event that ends the worker sets `gone`.
    fn report(&self, mark: &mut MutexGuard<'_, Mark>, event: Event<ThreadOutput>) -> bool {
        if mark.abandoned {
            return false;
        }
        if matches!(event, Event::Exited { .. } | Event::StartFailed { .. }) {
            mark.gone = true;
        }
        let _ = self.events.send(Message::Event(event));
        true
    }

    /// Runs the initializer, then jobs until retired or abandoned.
    fn run(self, initializer: Option<Initializer>) {
        let worker = self.name.id;
        if let Some(init) = initializer
            && let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| init()))
        {
            let error = WorkerStartError::Initializer {
                worker: self.name,
                message: panic_message(payload.as_ref()),
            };
            self.report(&mut lock(&self.mark), Event::StartFailed { worker, error });
            return;
        }
        if !self.report(&mut lock(&self.mark), Event::Ready { worker }) {
            return;
        }
        while let Ok(Assignment::Job(job_id, job)) = self.assignments.recv() {
            if !self.run_job(job_id, &job) {
                return;
            }
        }
        let gone = Event::Exited {
            worker,
            how: WorkerExit::Code(0),
            held: Held::FirstUnreported,
        };
        self.report(&mut lock(&self.mark), gone);
    }

    /// Runs a job's tasks in order; false if the worker was abandoned meanwhile.
    fn run_job(&self, job_id: JobId, job: &ThreadJob) -> bool {
        let mut guard = lock(&self.mark);
        for slot in &job.tasks[job.start..job.end] {
            if guard.abandoned {
                return false;
            }
            let task = lock(slot).take();
            drop(guard);
            let output = match task {
                Some(task) => panic::catch_unwind(AssertUnwindSafe(task))
                    .map_err(|payload| panic_message(payload.as_ref())),
                None => Err("the task was already taken by another worker".to_owned()),
            };
            guard = lock(&self.mark);
            let done = Event::Output {
                worker: self.name.id,
                job: job_id,
                items: 1,
                output,
            };
            // Reporting and taking the next task under one hold of the lock: a kill lands
            // either before the report (this task is the one failed) or after the next take
            // (the next task is).
            if !self.report(&mut guard, done) {
                return false;
            }
        }
        true
    }
}
