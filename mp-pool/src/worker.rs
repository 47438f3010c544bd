//! The loop a worker process runs: ask to die with the pool, run the initializer, then run
//! jobs item by item, reporting each item before starting the next (the backend contract: the
//! first unreported item is the one it is running), until told to retire or the pool is gone.
//!
//! It handles bytes only: each job names the trampoline that runs its items
//! ([`crate::task`]).

use crate::quiet_wait::readable;
use crate::sys;
use crate::wire::{FromWorker, ToWorker, WorkerArgs};

/// The target of every worker process.
pub(crate) fn worker_main(args: WorkerArgs) {
    // A worker never outlives its pool, even when the pool's process is killed. Should the
    // pool be gone already, the first receive below sees the end of the jobs pipe.
    let _ = sys::die_with_parent();
    let WorkerArgs {
        jobs,
        results,
        init,
    } = args;
    if let Some(init) = init
        && let Err(message) = (init.run.get())(init.function, init.args)
    {
        let _ = results.send(&FromWorker::InitFailed(message));
        return;
    }
    if results.send(&FromWorker::Ready).is_err() {
        return;
    }
    // A retire message, the end of the pipe (the pool is gone) or a message that does not
    // decode ends the loop; the pool fails whatever this worker still held.
    loop {
        // Sleep until a job is there, rather than spin in the receive: the pool's own threads
        // may need this CPU.
        readable(&jobs);
        match jobs.recv() {
            Ok(ToWorker::Job { job, call, items }) => {
                let run = call.run.get();
                for item in items {
                    let outcome = run(call.function, item);
                    if results.send(&FromWorker::Done { job, outcome }).is_err() {
                        return;
                    }
                }
            }
            Ok(ToWorker::Retire) => {
                let _ = results.send(&FromWorker::Leaving);
                return;
            }
            Err(_) => return,
        }
    }
}
