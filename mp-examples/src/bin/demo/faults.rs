//! Surviving failures: the job's ranges again on the pool, with one task that crashes its
//! worker (an abort) and one that hangs past its time limit. The pool fails exactly those two,
//! saying how, replaces the two workers, and every other count comes back right.

use std::ops::Range;
use std::time::Duration;

use mp_pool::{Options, Pool, TaskError};
use serde::{Deserialize, Serialize};

use crate::primes::count_primes;

/// The time limit of each task here: far beyond what a range takes (milliseconds), so only
/// the hanging task reaches it.
pub(crate) const TASK_LIMIT: Duration = Duration::from_secs(2);

/// Which task crashes and which hangs, by index (both among the job's first ranges).
const CRASHING: usize = 2;
/// See [`CRASHING`].
const HANGING: usize = 5;

/// One task of this part.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Task {
    /// Count the primes in this range, as the job does.
    Count(Range<u32>),
    /// Abort the worker process (SIGABRT), as a crash in native code would.
    Crash,
    /// Sleep for an hour, as a task stuck on a lock or a dead server would.
    Hang,
}

/// Runs one task in a worker.
fn run_task(task: Task) -> u64 {
    match task {
        Task::Count(range) => count_primes(range),
        Task::Crash => std::process::abort(),
        Task::Hang => {
            std::thread::sleep(Duration::from_secs(3600));
            0
        }
    }
}

/// Runs the job's `ranges` on `pool` with the crashing and the hanging task in their places,
/// prints what became of each, and checks every other count against `expected` (the
/// sequential counts of the same ranges). Errors if a count is wrong or a bad task succeeded.
pub(crate) fn run(
    pool: &Pool,
    ranges: Vec<Range<u32>>,
    expected: &[u64],
) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "\nSurviving failures: the ranges again, task {CRASHING} aborts its worker and task {HANGING} hangs past its {TASK_LIMIT:?} limit"
    );
    let tasks: Vec<Task> = ranges
        .into_iter()
        .enumerate()
        .map(|(i, range)| match i {
            CRASHING => Task::Crash,
            HANGING => Task::Hang,
            _ => Task::Count(range),
        })
        .collect();
    let total = tasks.len();
    // One task a job, so that the limit is each task's and a failure is one task's.
    let options = Options::new().chunksize(1).timeout(TASK_LIMIT);
    let results = pool.map_async_with(run_task, tasks, options)?.get();
    let mut right = 0;
    for (i, (result, want)) in results.iter().zip(expected).enumerate() {
        match (i, result) {
            (CRASHING, Err(error @ TaskError::WorkerLost { .. }))
            | (HANGING, Err(error @ TaskError::TimedOut { .. })) => {
                println!("  task {i} failed, as it should: {error}");
            }
            (CRASHING | HANGING, other) => {
                return Err(format!("task {i} should have failed, got {other:?}").into());
            }
            (_, Ok(count)) if count == want => right += 1,
            (_, other) => {
                return Err(format!("task {i}: {other:?}, sequentially {want}").into());
            }
        }
    }
    println!(
        "  the other {right} of {total} tasks: every count right; the pool goes on with {} workers, the two lost ones replaced",
        pool.size()
    );
    Ok(())
}
