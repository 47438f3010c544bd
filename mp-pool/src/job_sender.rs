//! How jobs reach one worker process's pipe: written by the thread that gives them (the core's
//! caller: a submitter, or a watcher or the supervisor handing out the next job) when the pipe
//! has room for the whole message and nothing is queued before it, so a round trip takes no
//! extra thread hop; otherwise through a writer thread, started on first need, so that the
//! core never blocks on a full pipe. The writer sends the jobs it finds queued together as one
//! message ([`ToWorker::Jobs`](crate::wire::ToWorker::Jobs)): one send, one wake-up of the
//! worker for all of them (a `map` with chunk size 1 gives a busy worker a job per result).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::thread;

use mp_ipc::Connection;
use mp_sync::raw::QuietThread;

use crate::backend::JobId;
use crate::error::WorkerId;
use crate::kept_threads::Crew;
use crate::process_job::ProcessJob;
use crate::wire::{JobWireRef, ToWorkerRef};

/// Bytes of a job message besides its arguments, at most: the variant, the job number and
/// the two function references, as postcard varints, and the arguments' length.
const JOB_OVERHEAD: usize = 64;

/// The most bytes of jobs the writer puts in one message (more wait for the next).
const BATCH_BYTES: usize = 64 * 1024;

/// What goes to a worker.
pub(crate) enum Assignment {
    /// A job to send.
    Job(JobId, ProcessJob),
    /// Send the retire message.
    Retire,
}

impl Assignment {
    /// The most bytes its message takes.
    fn max_len(&self) -> usize {
        match self {
            Assignment::Job(_, payload) => payload.records().len() + JOB_OVERHEAD,
            Assignment::Retire => JOB_OVERHEAD,
        }
    }

    /// Sends it on `jobs`; an error means the worker is gone (its watcher reports it).
    fn send_on(&self, jobs: &Connection) -> Result<(), mp_ipc::Error> {
        let message = match self {
            Assignment::Job(job, payload) => ToWorkerRef::Job {
                job: job.0,
                call: payload.call(),
                args: payload.records(),
            },
            Assignment::Retire => ToWorkerRef::Retire,
        };
        jobs.send(&message)
    }
}

/// The pipe, shared by the sender, its writer thread and the worker's watcher, which frees it
/// (`None`) once the worker is gone ([`JobsCloser`]).
type SharedPipe = Arc<Mutex<Option<Connection>>>;

/// The parent's sending side of one worker's jobs pipe.
pub(crate) struct JobSender {
    /// The pipe, shared with the writer thread.
    jobs: SharedPipe,
    /// Assignments handed to the writer thread and not yet sent.
    queued: Arc<AtomicUsize>,
    /// The writer thread's queue, once started, and the thread (joined when this is dropped).
    writer: Option<(Sender<Assignment>, thread::JoinHandle<()>)>,
    /// Whose pipe (for the writer thread's name).
    worker: WorkerId,
    /// The pool's crew: the writer thread counts in it while it is not waiting, so that the
    /// pool's `join` returns once it is quiet.
    crew: Arc<Crew>,
}

impl JobSender {
    /// The sender of `worker`'s jobs pipe `jobs`.
    pub(crate) fn new(jobs: Connection, worker: WorkerId, crew: &Arc<Crew>) -> Self {
        JobSender {
            jobs: Arc::new(Mutex::new(Some(jobs))),
            queued: Arc::new(AtomicUsize::new(0)),
            writer: None,
            worker,
            crew: Arc::clone(crew),
        }
    }

    /// Sends `assignment` after those sent before, without blocking; `now`: from this
    /// thread if it can (the worker is idle, the latency of its round trip counts), else
    /// through the writer thread (a busy worker's next jobs: the sending stays off the
    /// thread that books results, and they reach the worker together). `false`: it cannot
    /// be sent (no writer thread could be started); the caller must stop the worker, whose
    /// watcher then reports it. A worker that is gone is not an error here: its watcher
    /// reports it.
    #[must_use]
    pub(crate) fn send(&mut self, assignment: Assignment, now: bool) -> bool {
        // Nothing queued: the writer thread (if any) is idle and has let go of the pipe
        // (it unlocks before it counts a send done), and only the core's lock holder sends.
        if now
            && self.queued.load(Ordering::Acquire) == 0
            && let Ok(jobs) = self.jobs.try_lock()
        {
            let Some(jobs) = jobs.as_ref() else {
                return true; // freed: the worker is gone, its watcher reports it
            };
            if jobs.send_room() >= assignment.max_len() {
                // The whole message fits: the send does not wait.
                let _ = assignment.send_on(jobs);
                return true;
            }
        }
        let queued = Arc::clone(&self.queued);
        let Some(writer) = self.writer() else {
            return false;
        };
        queued.fetch_add(1, Ordering::AcqRel);
        if writer.send(assignment).is_err() {
            // The writer is gone with the worker.
            queued.fetch_sub(1, Ordering::AcqRel);
        }
        true
    }

    /// A handle that frees the pipe, for the worker's watcher.
    pub(crate) fn closer(&self) -> JobsCloser {
        JobsCloser(Arc::clone(&self.jobs))
    }

    /// The writer thread's queue, started on first need.
    fn writer(&mut self) -> Option<&Sender<Assignment>> {
        if self.writer.is_none() {
            let (tx, rx) = mpsc::channel();
            let jobs = Arc::clone(&self.jobs);
            let queued = Arc::clone(&self.queued);
            let crew = Arc::clone(&self.crew);
            crew.began();
            let spawned = thread::Builder::new()
                .name(format!("mp-pool writer {}", self.worker.0))
                .spawn(move || {
                    write_jobs(&jobs, &queued, &rx, &crew);
                    crew.ended();
                });
            let Ok(handle) = spawned else {
                self.crew.ended();
                return None;
            };
            self.writer = Some((tx, handle));
        }
        self.writer.as_ref().map(|(tx, _)| tx)
    }
}

impl Drop for JobSender {
    /// Ends the writer thread and, if it has nothing queued, waits for it (it is then waiting
    /// for its queue, which is now closed): no idle writer outlives its pool's backend, and a
    /// fork-method start after the pool is dropped does not find it.
    fn drop(&mut self) {
        if let Some((queue, writer)) = self.writer.take() {
            drop(queue);
            // Only a writer with nothing queued: one still sending may be blocked on a pipe
            // that a process the task started keeps open; it ends on its own (detached).
            let idle = self.queued.load(Ordering::Acquire) == 0;
            if idle && writer.thread().id() != thread::current().id() {
                let _ = writer.join();
            }
        }
    }
}

/// Frees a worker's jobs pipe (its descriptors and mapping) once the worker is gone: its
/// watcher does, beside the worker's exit, rather than the pool's last handle on the worker
/// after `join`. Sends after it are dropped as sends to a gone worker are.
pub(crate) struct JobsCloser(SharedPipe);

impl JobsCloser {
    /// Frees the pipe, unless the writer thread is sending on it (its send fails soon, the
    /// worker being gone): then the pipe goes with the last handle on it, not waited for.
    pub(crate) fn close(&self) {
        let pipe = match self.0.try_lock() {
            Ok(mut pipe) => pipe.take(),
            Err(TryLockError::Poisoned(pipe)) => pipe.into_inner().take(),
            Err(TryLockError::WouldBlock) => None,
        };
        drop(pipe);
    }
}

/// Waits for the next assignment, quiet ([`QuietThread`]: parked, holding no lock a fork
/// child could need), so that a fork-method start after the pool's join is not refused for
/// a writer still waiting for its worker's next job.
fn recv_quietly(queue: &Receiver<Assignment>, crew: &Crew) -> Result<Assignment, mpsc::RecvError> {
    let quiet = QuietThread::enter();
    crew.ended();
    let next = queue.recv();
    drop(quiet);
    crew.began();
    next
}

/// A worker's writer thread: sends what it is given, in order, until the backend lets go of
/// the worker or the worker is gone; the jobs already queued behind a job go with it.
fn write_jobs(
    jobs: &Mutex<Option<Connection>>,
    queued: &AtomicUsize,
    queue: &Receiver<Assignment>,
    crew: &Crew,
) {
    let mut next = None;
    loop {
        let first = match next.take().map_or_else(|| recv_quietly(queue, crew), Ok) {
            Ok(first) => first,
            Err(_) => return, // the backend let go of the worker
        };
        let mut bytes = first.max_len();
        let joins = matches!(first, Assignment::Job(..));
        let mut batch = vec![first];
        while joins && bytes < BATCH_BYTES {
            match queue.try_recv() {
                Ok(job @ Assignment::Job(..)) => {
                    bytes += job.max_len();
                    batch.push(job);
                }
                // A retire goes on its own, after the jobs before it.
                Ok(retire) => {
                    next = Some(retire);
                    break;
                }
                Err(_) => break,
            }
        }
        let sent = send_batch(jobs, &batch);
        queued.fetch_sub(batch.len(), Ordering::AcqRel);
        if sent.is_err() {
            return; // the worker is gone: its watcher reports it
        }
    }
}

/// Sends `batch` (one assignment, or several jobs) on `jobs`: one message for several jobs.
fn send_batch(jobs: &Mutex<Option<Connection>>, batch: &[Assignment]) -> Result<(), mp_ipc::Error> {
    let jobs = jobs.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(jobs) = jobs.as_ref() else {
        return Err(mp_ipc::Error::Closed); // freed: the worker is gone
    };
    if let [one] = batch {
        return one.send_on(jobs);
    }
    let wire: Vec<JobWireRef<'_>> = batch
        .iter()
        .filter_map(|assignment| match assignment {
            Assignment::Job(job, payload) => Some(JobWireRef {
                job: job.0,
                call: payload.call(),
                args: payload.records(),
            }),
            Assignment::Retire => None,
        })
        .collect();
    jobs.send(&ToWorkerRef::Jobs(wire))
}
