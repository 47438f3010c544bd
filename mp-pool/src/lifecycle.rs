//! Worker lifecycle events through the `log` facade (Python's `multiprocessing.get_logger()`):
//! a worker started, ready, retired, replaced and why, a task lost with its worker or past its
//! time limit. Off by default: nothing is printed unless the program installs a logger (for
//! instance `env_logger` with `RUST_LOG=mp_pool=debug`).
//!
//! Levels: `debug` for the expected (started, ready, retired), `warn` for what cost a task (a
//! worker that died while it held one, a time limit, a worker that could not start), `info`
//! for a replacement. Every record's target is `mp_pool`.

use std::time::Duration;

use log::{debug, info, warn};

use crate::error::{WorkerExit, WorkerId, WorkerRef, WorkerStartError};

/// Every record of this crate goes to this target.
const TARGET: &str = "mp_pool";

/// A worker was started (not yet ready).
pub(crate) fn started(worker: WorkerRef) {
    debug!(target: TARGET, "{worker} started");
}

/// A worker ran its initializer and takes jobs.
pub(crate) fn ready(worker: WorkerRef) {
    debug!(target: TARGET, "{worker} is ready");
}

/// A worker could not be started, or its initializer failed.
pub(crate) fn start_failed(worker: WorkerId, error: &WorkerStartError) {
    warn!(target: TARGET, "worker {} could not start: {error}", worker.0);
}

/// A worker the pool asked to leave (task count reached, or nothing left to do) is gone.
pub(crate) fn retired(worker: WorkerRef, how: WorkerExit) {
    debug!(target: TARGET, "{worker} retired and {how}");
}

/// A worker the pool killed (a time limit, or terminate) is gone.
pub(crate) fn stopped(worker: WorkerRef, how: WorkerExit) {
    debug!(target: TARGET, "{worker} was stopped by the pool and {how}");
}

/// A worker leaves on its own after a task (its resident memory passed its bound), for
/// `reason`; the pool replaces it.
pub(crate) fn leaving(worker: WorkerRef, reason: &str) {
    info!(target: TARGET, "{worker} leaves: {reason}");
}

/// A worker ended that the pool did not ask to leave.
pub(crate) fn died(worker: WorkerRef, how: WorkerExit) {
    warn!(target: TARGET, "{worker} {how}");
}

/// The task a dead worker held failed with it.
pub(crate) fn task_lost(task: usize, worker: WorkerRef, how: WorkerExit) {
    warn!(target: TARGET, "task {task} failed: {worker}, which ran it, {how}");
}

/// A task ran past its time limit: its worker is being killed.
pub(crate) fn timed_out(task: usize, worker: WorkerRef, limit: Duration) {
    warn!(target: TARGET, "task {task} ran past its limit of {limit:?} on {worker}: killing it");
}

/// A replacement for a gone worker was started.
pub(crate) fn replaced(gone: WorkerRef, by: WorkerRef) {
    info!(target: TARGET, "{by} replaces {gone}");
}
