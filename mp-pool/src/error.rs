//! Error types: why a task has no result ([`TaskError`]), why a pool refused a submission
//! ([`SubmitError`]), could not be built ([`PoolError`]) or joined ([`JoinError`]), and who a
//! worker was and how it ended ([`WorkerRef`], [`WorkerExit`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A worker's number within its pool: unique for the pool's lifetime, never reused, so a
/// replacement has a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkerId(pub u64);

/// Who ran (or held) a task: the worker's number and, for a worker process, its pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkerRef {
    /// The worker's number within its pool.
    pub id: WorkerId,
    /// The worker's process id; `None` for a worker that is a thread of the calling process.
    pub pid: Option<u32>,
}

impl fmt::Display for WorkerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "worker {} (pid {pid})", self.id.0),
            None => write!(f, "worker thread {}", self.id.0),
        }
    }
}

/// How a worker ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WorkerExit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it (`9` is `SIGKILL`, also the pool's own kill on a timeout).
    Signal(i32),
    /// Its exit status is lost (the fork server that reported it died).
    Unknown,
    /// A worker thread the pool gave up on: a thread cannot be killed, so it runs its current
    /// task to the end and that task's result is discarded.
    Abandoned,
}

impl fmt::Display for WorkerExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerExit::Code(code) => write!(f, "exited with code {code}"),
            WorkerExit::Signal(signal) => write!(f, "was killed by signal {signal}"),
            WorkerExit::Unknown => write!(f, "ended (its exit status is lost)"),
            WorkerExit::Abandoned => write!(f, "was abandoned by the pool"),
        }
    }
}

/// Why a worker could not be started (or its initializer failed). Cheap to clone: every task a
/// pool without workers cannot run carries it.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerStartError {
    /// The operating system refused to start it.
    #[error("cannot start a worker: {0}")]
    Spawn(#[source] Arc<dyn StdError + Send + Sync>),
    /// Its initializer panicked.
    #[error("the initializer of {worker} panicked: {message}")]
    Initializer {
        /// The worker whose initializer failed.
        worker: WorkerRef,
        /// The panic message.
        message: String,
    },
    /// The worker process ended before it was ready (its initializer exited or crashed).
    #[error("{worker} {how} before it was ready")]
    Died {
        /// The worker.
        worker: WorkerRef,
        /// How it ended.
        how: WorkerExit,
    },
}

/// Why one task has no result.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked (Python's exception with its `RemoteTraceback`).
    #[error("task {task} panicked in {worker}: {message}")]
    Panicked {
        /// The task's index in its submission (0 for `apply`).
        task: usize,
        /// The worker that ran it.
        worker: WorkerRef,
        /// The panic message.
        message: String,
    },
    /// The worker died while it held the task (killed, crashed or exited).
    #[error("task {task} was lost: {worker} {how} while it held the task")]
    WorkerLost {
        /// The task's index in its submission.
        task: usize,
        /// The worker that held it.
        worker: WorkerRef,
        /// How the worker ended.
        how: WorkerExit,
    },
    /// The task ran past its time limit; its worker was stopped and replaced.
    #[error("task {task} timed out after {limit:?} in {worker}, which was stopped")]
    TimedOut {
        /// The task's index in its submission.
        task: usize,
        /// The worker that ran it.
        worker: WorkerRef,
        /// The limit it ran past.
        limit: Duration,
    },
    /// The task's result could not be encoded to travel back (Python's `MaybeEncodingError`).
    #[error("task {task} in {worker}: its result cannot be encoded: {message}")]
    ResultEncoding {
        /// The task's index in its submission.
        task: usize,
        /// The worker that ran it.
        worker: WorkerRef,
        /// What the encoder said.
        message: String,
    },
    /// The pool was terminated before the task finished.
    #[error("task {task} did not finish: the pool was terminated")]
    Terminated {
        /// The task's index in its submission.
        task: usize,
    },
    /// The pool has no worker left and cannot start one.
    #[error("task {task} cannot run: the pool has no worker and cannot start one")]
    NoWorkers {
        /// The task's index in its submission.
        task: usize,
        /// Why the last worker could not be started.
        #[source]
        cause: WorkerStartError,
    },
    /// A worker host of a broker refused the task or gave up on it: it came from another build
    /// (image fingerprint), its stream entry was malformed, or it was delivered to host after
    /// host that died holding it (a poison task).
    #[error("task {task} was refused: {reason}")]
    Refused {
        /// The task's index in its submission.
        task: usize,
        /// Why, naming the host.
        reason: String,
    },
    /// The pool refused the task (only from [`apply`](crate::ThreadPool::apply), which submits
    /// and waits in one call).
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

impl TaskError {
    /// The index of the task in its submission, where the error concerns one task.
    pub fn task(&self) -> Option<usize> {
        match self {
            TaskError::Panicked { task, .. }
            | TaskError::WorkerLost { task, .. }
            | TaskError::TimedOut { task, .. }
            | TaskError::ResultEncoding { task, .. }
            | TaskError::Terminated { task }
            | TaskError::Refused { task, .. }
            | TaskError::NoWorkers { task, .. } => Some(*task),
            TaskError::Submit(_) => None,
        }
    }

    /// The worker the task was with, where one was.
    pub fn worker(&self) -> Option<WorkerRef> {
        match self {
            TaskError::Panicked { worker, .. }
            | TaskError::WorkerLost { worker, .. }
            | TaskError::TimedOut { worker, .. }
            | TaskError::ResultEncoding { worker, .. } => Some(*worker),
            _ => None,
        }
    }
}

/// Why a pool refused a submission. The pool is unchanged and stays usable.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The pool was closed or terminated (Python's `ValueError('Pool not running')`).
    #[error("the pool is not running (closed or terminated)")]
    NotRunning,
    /// A chunk size of zero.
    #[error("the chunk size must be at least 1")]
    ZeroChunksize,
    /// The pool lost every worker and cannot start new ones.
    #[error("the pool is broken: {0}")]
    Broken(#[source] WorkerStartError),
    /// A task's argument cannot be encoded to travel to a worker process: nothing of the
    /// submission was submitted.
    #[error("the argument of task {task} cannot be encoded: {message}")]
    ArgumentEncoding {
        /// The task's index in its submission.
        task: usize,
        /// What the encoder said.
        message: String,
    },
}

/// Why a pool could not be built. Workers already started are stopped.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A pool of zero workers (Python: `Number of processes must be at least 1`).
    #[error("a pool needs at least one worker")]
    ZeroWorkers,
    /// `max_tasks_per_child` of zero.
    #[error("max_tasks_per_child must be at least 1")]
    ZeroMaxTasks,
    /// `max_memory_per_child` of zero.
    #[error("max_memory_per_child must be at least 1 byte")]
    ZeroMaxMemory,
    /// A task time limit of zero.
    #[error("a task time limit must be longer than zero")]
    ZeroTimeout,
    /// The initializer's arguments cannot be encoded to travel to the worker processes.
    #[error("the initializer's arguments cannot be encoded: {0}")]
    InitializerArgs(String),
    /// A worker failed to start or its initializer failed.
    #[error(transparent)]
    WorkerStart(#[from] WorkerStartError),
    /// The broker cannot be used (it cannot be reached, refuses the password, or the settings
    /// do not fit a broker).
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

/// Why [`join`](crate::ThreadPool::join) refused to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// `join` before `close` or `terminate` (Python: `ValueError('Pool is still running')`).
    #[error("the pool is still running: close or terminate it before join")]
    StillRunning,
}

/// [`successful`](crate::AsyncResult::successful) asked before the result was ready (Python
/// raises `ValueError` there too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the result is not ready yet")]
pub struct NotReady;

/// Why a broker cannot be used (the `redis` feature).
#[cfg(feature = "redis")]
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The server cannot be reached, refused the password, or refused a command.
    #[error("the Redis broker: {0}")]
    Redis(#[source] std::sync::Arc<redis::RedisError>),
    /// A broker's pool takes no initializer (its hosts run the program, not a set-up call).
    #[error("a pool on a broker takes no initializer")]
    Initializer,
    /// The worker setting is not `redis://...#pool-name`.
    #[error("MP_POOL_WORKER={0:?} is not `redis://...#pool-name`")]
    WorkerSetting(String),
    /// The host's local pool of worker processes could not start.
    #[error("the worker host's local pool")]
    LocalPool(#[source] Box<PoolError>),
}

#[cfg(feature = "redis")]
impl From<redis::RedisError> for BrokerError {
    fn from(error: redis::RedisError) -> Self {
        BrokerError::Redis(std::sync::Arc::new(error))
    }
}
