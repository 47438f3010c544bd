//! The loop a worker process runs: ask to die with the pool, leave Ctrl-C to it, run the
//! initializer, then run jobs item by item until told to retire or the pool is gone.
//!
//! Before each item the worker records in its running-item word ([`RunningWord`]) which item
//! it starts, and after it that it runs none; outcomes are appended to one buffer and sent as
//! one message per *flush*: at the end of the job, when its [`FlushClock`] says the window
//! passed, or once [`FLUSH_BYTES`] are held. Tiny tasks batch (one message for thousands of
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
use crate::frames;
use crate::quiet_wait::QuietWait;
use crate::result_arena::{ArenaWriter, SHARED_MIN};
use crate::running_word::RunningWord;
use crate::sys;
use crate::wire::{FromWorker, ItemCall, ItemIo, ToWorker, WorkerArgs};

/// The most bytes of outcomes held back: large results go at once (holding them saves no
/// message worth its copy, and a message larger than the pipe's ring costs more to send).
const FLUSH_BYTES: usize = 64 * 1024;

/// The target of every worker process.
pub(crate) fn worker_main(args: WorkerArgs) {
    // A worker never outlives its pool, even when the pool's process is killed. Should the
    // pool be gone already, the first receive below sees the end of the jobs pipe.
    let _ = sys::die_with_parent();
    // Ctrl-C is the owner's: ignored here, so a program that handles it (to close or terminate
    // the pool, or carry on) keeps its tasks; an owner that dies of it takes the workers along.
    sys::ignore_interrupts();
    let WorkerArgs {
        jobs,
        results,
        init,
        running,
        max_memory,
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
    let mut quiet = QuietWait::new(&jobs);
    let mut worker = Worker {
        jobs: &jobs,
        results,
        running,
        max_memory,
        runs: Vec::new(),
        outcomes: Vec::new(),
        arena: Arena::NotYet,
        // With a memory bound, a task of a window or longer is flushed (and the bound checked)
        // as soon as it ends: the clock is read after every item.
        clock: FlushClock::new(if max_memory.is_some() { 1 } else { MAX_STRIDE }),
    };
    // A retire message, the end of the pipe (the pool is gone), a failed send or a message
    // that does not decode ends the loop; the pool fails whatever this worker still held.
    loop {
        // Sleep until a job is there, rather than spin in the receive: the pool's own threads
        // may need this CPU. (Nothing is held back here: a job ends with a flush unless the
        // next message was already there.)
        quiet.readable();
        match worker.jobs.recv() {
            Ok(ToWorker::Job { job, call, args }) => {
                if let Err(Stop) = worker.run_job(job, call, args) {
                    return;
                }
            }
            Ok(ToWorker::Retire) => {
                if worker.flush().is_ok() {
                    let _ = worker.results.send(&FromWorker::Leaving(None));
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// The loop ends: the pool is gone, or the worker leaves.
struct Stop;

/// What a worker keeps between jobs.
struct Worker<'a> {
    /// Where its jobs arrive.
    jobs: &'a Connection,
    /// Where it reports.
    results: Connection,
    /// Where it records the item it runs.
    running: RunningWord,
    /// Its resident memory bound, in bytes.
    max_memory: Option<u64>,
    /// The runs of items whose outcomes are held back: job, count.
    runs: Vec<(u64, u32)>,
    /// Their outcomes (reused between flushes).
    outcomes: Vec<u8>,
    /// When to flush them.
    clock: FlushClock,
    /// Where large flushes go.
    arena: Arena,
}

/// A worker's result arena ([`crate::result_arena`]), made on its first large flush.
enum Arena {
    /// No flush needed one yet.
    NotYet,
    /// Made and sent to the pool.
    Made(ArenaWriter),
    /// It could not be made: every flush goes through the pipe.
    Unavailable,
}

impl Worker<'_> {
    /// Runs the items of job `job`, flushing as it goes; at its end, flushes unless the next
    /// message is already there (its results then share the message).
    fn run_job(&mut self, job: u64, call: ItemCall, args: Bytes) -> Result<(), Stop> {
        let run = call.run.get();
        let tag = JobId(job).tag();
        let mut next = frames::range_at(&args, 0);
        let mut io = ItemIo {
            args,
            arg: 0..0,
            outcomes: std::mem::take(&mut self.outcomes),
        };
        let mut item = 0;
        while let Some(arg) = next.take() {
            next = frames::range_at(&io.args, arg.end);
            io.arg = arg;
            self.running.start(tag, item);
            io = run(call.function, io);
            self.running.clear();
            match self.runs.last_mut() {
                Some((j, n)) if *j == job => *n += 1,
                _ => self.runs.push((job, 1)),
            }
            item += 1;
            let due = self.clock.due() || io.outcomes.len() >= FLUSH_BYTES;
            let last = next.is_none();
            if due || (last && !self.jobs.ready_now()) {
                self.outcomes = std::mem::take(&mut io.outcomes);
                self.flush()?;
                io.outcomes = std::mem::take(&mut self.outcomes);
                self.leave_if_over_memory()?;
                self.clock.restart();
            }
        }
        self.outcomes = io.outcomes;
        Ok(())
    }

    /// Sends the outcomes held back, if any: a large flush through the arena when it has
    /// room, any other through the pipe.
    fn flush(&mut self) -> Result<(), Stop> {
        if self.runs.is_empty() {
            return Ok(());
        }
        if self.outcomes.len() >= SHARED_MIN
            && let Some(at) = self.put_shared()?
        {
            let report = FromWorker::DoneShared {
                runs: std::mem::take(&mut self.runs),
                at,
                len: self.outcomes.len() as u64,
            };
            let sent = self.results.send(&report);
            if let FromWorker::DoneShared { runs, .. } = report {
                self.runs = runs;
                self.runs.clear();
            }
            self.outcomes.clear();
            return sent.map_err(|_| Stop);
        }
        let report = FromWorker::Done {
            runs: std::mem::take(&mut self.runs),
            outcomes: Bytes(std::mem::take(&mut self.outcomes)),
        };
        let sent = self.results.send(&report);
        if let FromWorker::Done { runs, outcomes } = report {
            self.runs = runs;
            self.runs.clear();
            self.outcomes = outcomes.0;
            self.outcomes.clear();
        }
        sent.map_err(|_| Stop)
    }

    /// Copies the outcomes held back into the arena (made and sent to the pool first, if
    /// this is the first large flush); where they lie, or `None` if there is no room.
    fn put_shared(&mut self) -> Result<Option<u64>, Stop> {
        if let Arena::NotYet = self.arena {
            self.arena = match ArenaWriter::new() {
                Ok((writer, handle)) => {
                    self.results
                        .send(&FromWorker::Arena(handle))
                        .map_err(|_| Stop)?;
                    Arena::Made(writer)
                }
                Err(_) => Arena::Unavailable,
            };
        }
        Ok(match &mut self.arena {
            Arena::Made(writer) => writer.put(&self.outcomes),
            Arena::NotYet | Arena::Unavailable => None,
        })
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
