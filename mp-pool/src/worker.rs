//! The loop a worker process runs: ask to die with the pool, leave Ctrl-C to it, run the
//! initializer, then run jobs item by item until told to retire or the pool is gone.
//!
//! A job's trampoline runs its items in runs ([`ItemRun`]): before each item the worker
//! records in its running-item word which item it starts, and after it that it runs none;
//! outcomes are appended to one buffer and sent as one message per *flush*: at the end of the
//! job, when its flush clock says the window passed, or once
//! [`FLUSH_BYTES`](crate::item_run::FLUSH_BYTES) are held. Tiny tasks batch (one message for thousands of
//! items), a task longer than the window is reported as soon as it ends, and a death still
//! fails exactly the running item (the pool reads the word). After a flush, a worker whose
//! resident memory is above its bound (`max_memory_per_child`) says why it leaves and exits;
//! the pool replaces it.
//!
//! It handles bytes only: each job names the trampoline that runs its items
//! ([`crate::task`]).

use mp_ipc::{Bytes, Connection};

use crate::backend::JobId;
use crate::flush_clock::{FlushClock, MAX_STRIDE};
use crate::item_run::ItemRun;
use crate::outcomes::Outcomes;
use crate::result_arena::{ArenaWriter, SHARED_MIN};
use crate::running_word::RunningWord;
use crate::sys;
use crate::wire::{FromWorker, ItemCall, JobWire, ToWorker, WorkerArgs};

/// The target of every worker process.
pub(crate) fn worker_main(args: WorkerArgs) {
    // A worker never outlives its pool, even when the pool's process is killed.
    let _ = sys::die_with_parent();
    // Armed too late if the pool's process was already gone (a replacement started as the
    // program exited): the signal never comes, and a fork worker holds copies of the pool's
    // ends of its pipes, so it would never see their end either. The parent's pidfd tells.
    if mp_process::parent_process().is_some_and(|parent| !parent.is_alive()) {
        return;
    }
    // Ctrl-C is the owner's: ignored here, so a program that handles it (to close or terminate
    // the pool, or carry on) keeps its tasks; an owner that dies of it takes the workers along.
    sys::ignore_interrupts();
    let WorkerArgs {
        mut pipe,
        init,
        max_memory,
    } = args;
    // Its running-item word is its pipe's spare word (a pipe always has one).
    let Some(running) = RunningWord::of(&pipe) else {
        return;
    };
    if let Some(init) = init
        && let Err(message) = (init.run.get())(init.function, init.args)
    {
        let _ = pipe.send(&FromWorker::InitFailed(message));
        return leave_untidied((pipe, running));
    }
    if pipe.send(&FromWorker::Ready).is_err() {
        return leave_untidied((pipe, running));
    }
    // Wait for jobs without spinning: the pool's own threads may need this CPU. A patient
    // receive sleeps on the pipe's word at once (one `futex` call; no wait set, whose watch
    // would start mp-ipc's watcher thread in every worker), and notices a vanished pool
    // between its sleep's slices. (Nothing is held back while it sleeps: a job ends with a
    // flush unless the next message was already there.)
    pipe.set_patient(true);
    let mut worker = Worker {
        jobs: &pipe,
        results: &pipe,
        max_memory,
        runs: Vec::new(),
        arena: Arena::NotYet,
    };
    // With a memory bound, a task of a window or longer is flushed (and the bound checked)
    // as soon as it ends: the clock is read after every item.
    let clock = FlushClock::new(if max_memory.is_some() { 1 } else { MAX_STRIDE });
    let run = worker.serve(ItemRun::new(clock, running));
    leave_untidied(worker);
    leave_untidied((pipe, run));
}

/// Leaves `kept` (the worker's pipes, running-item word, arena and buffers) to the process's
/// exit: what their drops would do (a `close` a descriptor, a `munmap` a mapping, a `free` a
/// buffer, a dozen system calls in all) the kernel's exit does anyway, in one sweep, and no
/// drop of theirs says anything to the pool (it learns of the end by the pipe and the
/// sentinel, which the exit closes). Called once everything the worker had to say is sent.
fn leave_untidied<T>(kept: T) {
    std::mem::forget(kept);
}

/// The loop ends: the pool is gone, or the worker leaves.
struct Stop;

/// What a worker keeps between jobs (besides its [`ItemRun`]).
struct Worker<'a> {
    /// Where its jobs arrive.
    jobs: &'a Connection,
    /// Where it reports (the same duplex end).
    results: &'a Connection,
    /// Its resident memory bound, in bytes.
    max_memory: Option<u64>,
    /// The runs of items whose outcomes are held back: job, count.
    runs: Vec<(u64, u32)>,
    /// Where large flushes go.
    arena: Arena,
}

/// A worker's result arena ([`crate::result_arena`]), made on its first large flush (kept
/// with the outcomes it takes, [`Outcomes`]).
enum Arena {
    /// No flush needed one yet.
    NotYet,
    /// Made and sent to the pool.
    Made,
    /// It could not be made: every flush goes through the pipe.
    Unavailable,
}

impl Worker<'_> {
    /// Runs jobs until a retire message, the end of the pipe (the pool is gone), a failed send
    /// or a message that does not decode; the pool fails whatever this worker still held.
    /// Returns the item loop, for the exit to free.
    fn serve(&mut self, mut run: ItemRun) -> ItemRun {
        loop {
            match self.jobs.recv() {
                Ok(ToWorker::Job { job, call, args }) => {
                    let ran;
                    (run, ran) = self.run_job(run, job, call, args, false);
                    if let Err(Stop) = ran {
                        return run;
                    }
                }
                Ok(ToWorker::Jobs(jobs)) => {
                    let last = jobs.len().saturating_sub(1);
                    for (i, JobWire { job, call, args }) in jobs.into_iter().enumerate() {
                        let ran;
                        (run, ran) = self.run_job(run, job, call, args, i < last);
                        if let Err(Stop) = ran {
                            return run;
                        }
                    }
                }
                Ok(ToWorker::Retire) => {
                    if self.flush(run.outcomes()).is_ok() {
                        let _ = self.results.send(&FromWorker::Leaving(None));
                    }
                    return run;
                }
                Err(_) => return run,
            }
        }
    }

    /// Runs the items of job `job` through its trampoline, a run at a time, flushing as it
    /// goes; at its end, flushes unless the next job is already there (`more`: in the same
    /// message; or the next message arrived): its results then share the message.
    fn run_job(
        &mut self,
        mut run: ItemRun,
        job: u64,
        call: ItemCall,
        args: Bytes,
        more: bool,
    ) -> (ItemRun, Result<(), Stop>) {
        let run_items = call.run.get();
        run.begin(JobId(job).tag(), args);
        loop {
            run = run_items(call.function, run);
            if run.ran() > 0 {
                match self.runs.last_mut() {
                    Some((j, n)) if *j == job => *n += run.ran(),
                    _ => self.runs.push((job, run.ran())),
                }
            }
            let finished = run.finished();
            if run.flush_due() || (finished && !more && !self.jobs.ready_now()) {
                let flushed = self
                    .flush(run.outcomes())
                    .and_then(|()| self.leave_if_over_memory());
                if flushed.is_err() {
                    return (run, flushed);
                }
                run.flushed();
            }
            if finished {
                return (run, Ok(()));
            }
        }
    }

    /// Sends the outcomes held back (`outcomes`, then emptied), if any: a large flush through
    /// the arena (already there if its large string went there as it was encoded), any other
    /// (or one larger than the arena) through the pipe.
    fn flush(&mut self, outcomes: &mut Outcomes) -> Result<(), Stop> {
        if self.runs.is_empty() {
            return Ok(());
        }
        let shared = match outcomes.take_placed() {
            Some(placed) => Some(placed),
            None if outcomes.bytes().len() >= SHARED_MIN => self.put_shared(outcomes)?,
            None => None,
        };
        if let Some((at, len)) = shared {
            let report = FromWorker::DoneShared {
                runs: std::mem::take(&mut self.runs),
                at,
                len,
            };
            let sent = self.results.send(&report);
            if let FromWorker::DoneShared { runs, .. } = report {
                self.runs = runs;
                self.runs.clear();
            }
            outcomes.bytes().clear();
            return sent.map_err(|_| Stop);
        }
        let bytes = outcomes.bytes();
        let report = FromWorker::Done {
            runs: std::mem::take(&mut self.runs),
            outcomes: Bytes(std::mem::take(bytes)),
        };
        let sent = self.results.send(&report);
        if let FromWorker::Done {
            runs,
            outcomes: sent_outcomes,
        } = report
        {
            self.runs = runs;
            self.runs.clear();
            *bytes = sent_outcomes.0;
            bytes.clear();
        }
        sent.map_err(|_| Stop)
    }

    /// Copies the records of `outcomes` into the arena (made and sent to the pool first, if
    /// this is the first large flush; from then on large strings go there as they are
    /// encoded), once it has room; where they lie, or `None` if there is no arena or they are
    /// larger than it.
    fn put_shared(&mut self, outcomes: &mut Outcomes) -> Result<Option<(u64, u64)>, Stop> {
        if let Arena::NotYet = self.arena {
            self.arena = match ArenaWriter::new() {
                Ok((writer, handle)) => {
                    self.results
                        .send(&FromWorker::Arena(handle))
                        .map_err(|_| Stop)?;
                    outcomes.set_arena(writer);
                    Arena::Made
                }
                Err(_) => Arena::Unavailable,
            };
        }
        let bytes = std::mem::take(outcomes.bytes());
        let at = outcomes.arena().and_then(|arena| arena.put(&bytes));
        let len = bytes.len() as u64;
        *outcomes.bytes() = bytes;
        Ok(at.map(|at| (at, len)))
    }

    /// Leaves (says why, then ends the loop) if the resident memory is above the bound.
    fn leave_if_over_memory(&self) -> Result<(), Stop> {
        let Some(bound) = self.max_memory else {
            return Ok(());
        };
        match sys::resident_bytes() {
            Ok(resident) if resident > bound => {
                let reason =
                    format!("its resident memory, {resident} bytes, is above its bound of {bound}");
                let _ = self.results.send(&FromWorker::Leaving(Some(reason)));
                Err(Stop)
            }
            _ => Ok(()),
        }
    }
}
