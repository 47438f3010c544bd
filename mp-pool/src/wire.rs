//! What travels between the pool and a worker process: jobs one way; readiness and each item's
//! outcome the other. Everything is postcard-encoded bytes on two one-way mp-ipc pipes, so the
//! worker loop knows no task types: each job names a monomorphized trampoline
//! ([`crate::task`]) that decodes the argument, calls the task's function and encodes its
//! result.

use mp_ipc::{Bytes, Connection};
use mp_sync::raw::FnRef;
use serde::{Deserialize, Serialize};

/// A plain function's wire form ([`FnRef::to_wire`]): its offset and the image fingerprint.
pub(crate) type FunctionWire = (u64, u64);

/// Runs one item in a worker: the task function and the encoded argument, to the outcome.
pub(crate) type RunItem = fn(FunctionWire, Bytes) -> ItemOutcome;

/// Runs an initializer in a worker with its encoded arguments; `Err` carries a panic message.
pub(crate) type RunInit = fn(FunctionWire, Bytes) -> Result<(), String>;

/// Why one item has no result, as the worker saw it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum ItemFailure {
    /// The function panicked, with this message.
    Panicked(String),
    /// The result could not be encoded (Python's `MaybeEncodingError`).
    ResultEncoding(String),
    /// The task could not be run at all (its argument did not decode, or its function is not
    /// of this image).
    Unrunnable(String),
    /// The item ran past this time limit at a broker's host, whose local pool stopped it.
    TimedOut(std::time::Duration),
    /// The process that ran the item at a broker's host died while it held it: its exit code,
    /// or the signal that killed it (neither: unknown).
    Lost {
        /// Its exit code.
        code: Option<i32>,
        /// The signal that killed it.
        signal: Option<i32>,
    },
    /// A broker's host refused the item or gave up on it (another build, a malformed entry, a
    /// poison task): why, naming the host.
    Refused(String),
}

/// One item's outcome: its encoded result, or why there is none.
pub(crate) type ItemOutcome = Result<Bytes, ItemFailure>;

/// How to run the items of a job: the trampoline for the task's types and the task function.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct ItemCall {
    /// The trampoline, monomorphized for the task's argument and result types.
    pub(crate) run: FnRef<RunItem>,
    /// The task's own function, as the trampoline reads it back.
    pub(crate) function: FunctionWire,
}

/// The initializer a worker runs before its first task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct InitCall {
    /// The trampoline for the initializer's argument type.
    pub(crate) run: FnRef<RunInit>,
    /// The initializer.
    pub(crate) function: FunctionWire,
    /// Its encoded arguments.
    pub(crate) args: Bytes,
}

/// From the pool to a worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    /// A job: run `items`, in order, and report each.
    Job {
        /// The job's number.
        job: u64,
        /// How to run its items.
        call: ItemCall,
        /// The encoded arguments, one per item.
        items: Vec<Bytes>,
    },
    /// Exit once the jobs before this message are done.
    Retire,
}

/// From a worker to the pool.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    /// The initializer ran; jobs are welcome.
    Ready,
    /// The initializer panicked with this message; the worker exits.
    InitFailed(String),
    /// The next item of job `job` is done (sent before the next item starts).
    Done {
        /// The job's number.
        job: u64,
        /// The item's outcome.
        outcome: ItemOutcome,
    },
    /// Retired: the worker exits now (its watcher reaps it at once, rather than noticing the
    /// end of the pipe).
    Leaving,
}

/// What a worker process starts with.
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerArgs {
    /// Where its jobs arrive (the receiving end).
    pub(crate) jobs: Connection,
    /// Where it reports (the sending end).
    pub(crate) results: Connection,
    /// Run once before the first job.
    pub(crate) init: Option<InitCall>,
}
