//! The backend a [`Pool`](crate::Pool) runs on: its own worker processes, or (with the `redis`
//! feature) hosts behind a Redis broker. Both carry the same jobs and results (encoded items,
//! one outcome each), so one `Pool` type serves both and its API does not depend on where the
//! workers are.

use crate::backend::{Backend, Handover, Held, JobId};
use crate::error::{WorkerId, WorkerStartError};
use crate::process_backend::{ProcessBackend, ProcessOutput};
use crate::process_job::ProcessJob;
#[cfg(feature = "redis")]
use crate::redis::submitter::RedisBackend;

/// Where a `Pool`'s tasks run.
pub(crate) enum PoolBackend {
    /// Worker processes of this program.
    Local(ProcessBackend),
    /// Worker hosts consuming a Redis stream.
    #[cfg(feature = "redis")]
    Redis(RedisBackend),
}

/// Calls `$call` on whichever backend `$self` is.
macro_rules! either {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            PoolBackend::Local($b) => $call,
            #[cfg(feature = "redis")]
            PoolBackend::Redis($b) => $call,
        }
    };
}

impl Backend for PoolBackend {
    type Job = ProcessJob;
    type Output = ProcessOutput;
    const QUEUE_DEPTH: usize = ProcessBackend::QUEUE_DEPTH;

    fn start(&mut self, worker: WorkerId) -> Result<Option<u32>, WorkerStartError> {
        either!(self, b => b.start(worker))
    }

    fn start_all(&mut self, workers: &[WorkerId]) -> Vec<Result<Option<u32>, WorkerStartError>> {
        either!(self, b => b.start_all(workers))
    }

    fn give(&mut self, worker: WorkerId, job: JobId, payload: ProcessJob, how: Handover) {
        either!(self, b => b.give(worker, job, payload, how));
    }

    fn limits_at_worker(&self) -> bool {
        either!(self, b => b.limits_at_worker())
    }

    fn creation_waits_for_ready(&self) -> bool {
        either!(self, b => b.creation_waits_for_ready())
    }

    fn retire(&mut self, worker: WorkerId) {
        either!(self, b => b.retire(worker));
    }

    fn kill(&mut self, worker: WorkerId) {
        either!(self, b => b.kill(worker));
    }

    fn held(&self, worker: WorkerId) -> Held {
        either!(self, b => b.held(worker))
    }

    fn wake(&mut self) {
        either!(self, b => b.wake());
    }
}
