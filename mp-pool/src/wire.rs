//! What travels between the pool and a worker process: jobs one way; readiness and the items'
//! outcomes the other. Everything is postcard-encoded bytes on two one-way mp-ipc pipes, so the
//! worker loop knows no task types: each job names a monomorphized trampoline
//! ([`crate::task`]) that decodes an argument, calls the task's function and encodes its
//! result. A job's arguments are one buffer of [`frames`](crate::frames) records (one per item),
//! and so are the outcomes of one flush: one message per run of items, not per item.

use mp_ipc::{Bytes, Connection};
use mp_sync::raw::FnRef;
use serde::{Deserialize, Serialize};

use crate::item_run::ItemRun;
use crate::result_arena::ArenaHandle;

/// A plain function's wire form ([`FnRef::to_wire`]): its offset and the image fingerprint.
pub(crate) type FunctionWire = (u64, u64);

/// Runs items of a job in a worker: the task function and the item loop's state, moved in
/// and out by value (a function pointer with reference arguments cannot be an `FnRef`); runs
/// from where the loop is to the job's end or a due flush, appending each item's outcome
/// record (see [`OUTCOME_OK`]).
pub(crate) type RunItems = fn(FunctionWire, ItemRun) -> ItemRun;

/// The first byte of an outcome record whose rest is the encoded result.
pub(crate) const OUTCOME_OK: u8 = 0;
/// The first byte of an outcome record whose rest is an encoded [`ItemFailure`].
pub(crate) const OUTCOME_FAILED: u8 = 1;

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

/// How to run the items of a job: the trampoline for the task's types and the task function.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct ItemCall {
    /// The trampoline, monomorphized for the task's argument and result types.
    pub(crate) run: FnRef<RunItems>,
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
    /// A job: run its items, in order, and report them.
    Job {
        /// The job's number.
        job: u64,
        /// How to run its items.
        call: ItemCall,
        /// The encoded arguments, one record each.
        args: Bytes,
    },
    /// Exit once the jobs before this message are done.
    Retire,
    /// Several jobs, in order (those a busy worker was given together: one message, one
    /// wake-up).
    Jobs(Vec<JobWire>),
}

/// One job of a [`ToWorker::Jobs`] message.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct JobWire {
    /// The job's number.
    pub(crate) job: u64,
    /// How to run its items.
    pub(crate) call: ItemCall,
    /// The encoded arguments, one record each.
    pub(crate) args: Bytes,
}

/// [`JobWire`] as the pool sends it, borrowing the arguments (the same encoding).
#[derive(Serialize)]
pub(crate) struct JobWireRef<'a> {
    /// The job's number.
    pub(crate) job: u64,
    /// How to run its items.
    pub(crate) call: ItemCall,
    /// The encoded arguments, one record each.
    #[serde(serialize_with = "mp_ipc::serde_bytes::serialize")]
    pub(crate) args: &'a [u8],
}

/// [`ToWorker`] as the pool sends it, borrowing the arguments (the same encoding).
#[derive(Serialize)]
pub(crate) enum ToWorkerRef<'a> {
    /// [`ToWorker::Job`].
    Job {
        /// The job's number.
        job: u64,
        /// How to run its items.
        call: ItemCall,
        /// The encoded arguments, one record each.
        #[serde(serialize_with = "mp_ipc::serde_bytes::serialize")]
        args: &'a [u8],
    },
    /// [`ToWorker::Retire`].
    Retire,
    /// [`ToWorker::Jobs`].
    Jobs(Vec<JobWireRef<'a>>),
}

/// From a worker to the pool.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    /// The initializer ran; jobs are welcome.
    Ready,
    /// The initializer panicked with this message; the worker exits.
    InitFailed(String),
    /// Items are done: for each run `(job, items)`, in order, the next `items` items of job
    /// `job` (a flush covers the end of one job and the next ones when they were at hand).
    Done {
        /// The runs: a job's number and how many of its items.
        runs: Vec<(u64, u32)>,
        /// Their outcomes, one record each, run after run.
        outcomes: Bytes,
    },
    /// [`FromWorker::Done`] whose outcomes lie in the worker's result arena: the block of
    /// `len` bytes at position `at` ([`crate::result_arena`]).
    DoneShared {
        /// The runs: a job's number and how many of its items.
        runs: Vec<(u64, u32)>,
        /// The block's position.
        at: u64,
        /// Its length.
        len: u64,
    },
    /// The worker's result arena, sent once before the first block in it is named.
    Arena(ArenaHandle),
    /// The worker exits now (its watcher reaps it at once, rather than noticing the end of
    /// the pipe): retired, or leaving on its own for the reason given.
    Leaving(Option<String>),
}

/// What a worker process starts with.
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerArgs {
    /// Its end of its duplex pipe: jobs arrive on it, it reports on it.
    pub(crate) pipe: Connection,
    /// Run once before the first job.
    pub(crate) init: Option<InitCall>,
    /// Leave after a task that left its resident memory above this many bytes.
    pub(crate) max_memory: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_jobs_decode_as_jobs() {
        let call = crate::task::item_call(u64::wrapping_add as fn(u64, u64) -> u64);
        let sent = postcard::to_allocvec(&ToWorkerRef::Job {
            job: 7,
            call,
            args: &[1, 2, 3],
        })
        .unwrap();
        match postcard::from_bytes::<ToWorker>(&sent).unwrap() {
            ToWorker::Job { job, args, .. } => {
                assert_eq!(job, 7);
                assert_eq!(args.0, vec![1, 2, 3]);
            }
            other => panic!("a job was sent: {other:?}"),
        }
        let retire = postcard::to_allocvec(&ToWorkerRef::Retire).unwrap();
        assert!(matches!(
            postcard::from_bytes::<ToWorker>(&retire).unwrap(),
            ToWorker::Retire
        ));
        let jobs = [(8, &[4u8][..]), (9, &[5, 6][..])];
        let sent = postcard::to_allocvec(&ToWorkerRef::Jobs(
            (jobs.iter())
                .map(|&(job, args)| JobWireRef { job, call, args })
                .collect(),
        ))
        .unwrap();
        match postcard::from_bytes::<ToWorker>(&sent).unwrap() {
            ToWorker::Jobs(got) => {
                let got: Vec<_> = got.into_iter().map(|j| (j.job, j.args.0)).collect();
                assert_eq!(got, [(8, vec![4]), (9, vec![5, 6])]);
            }
            other => panic!("jobs were sent: {other:?}"),
        }
    }
}
