//! The item loop of a worker process: what a job's trampoline ([`crate::task`]) drives, one
//! call for a whole run of items rather than one per item, so the task function is looked up
//! and checked once per run and the loop is compiled with the task's types (decode, call and
//! encode inlined).
//!
//! Before each item the loop records it in the worker's running-item word ([`RunningWord`]),
//! after it that none runs; it stops at the job's end or when a flush is due (the
//! [`FlushClock`]'s window passed, or [`FLUSH_BYTES`] of outcomes are held), and the worker
//! loop ([`crate::worker`]) flushes and calls again.

use mp_ipc::Bytes;

use crate::encode_target::EncodeTarget;
use crate::flush_clock::FlushClock;
use crate::frames;
use crate::outcomes::Outcomes;
use crate::running_word::RunningWord;

/// The most bytes of outcomes held back: large results go at once (holding them saves no
/// message worth its copy, and a message larger than the pipe's ring costs more to send).
pub(crate) const FLUSH_BYTES: usize = 64 * 1024;

/// A worker's item loop between calls of a trampoline: the job being run and where it is in
/// it, the outcomes held back, the flush clock and the running-item word. It moves into a
/// trampoline and back out by value (a function pointer with reference arguments cannot be an
/// `FnRef`).
pub(crate) struct ItemRun {
    /// The job's argument records.
    args: Bytes,
    /// Where the next record's length starts in `args`.
    at: usize,
    /// The index of the next item in the job.
    item: usize,
    /// The job's tag in the running-item word.
    tag: u32,
    /// How many items the last call ran.
    ran: u32,
    /// Whether the last call stopped because a flush is due.
    due: bool,
    /// The outcome records held back (reused between flushes).
    outcomes: Outcomes,
    /// When to flush them.
    clock: FlushClock,
    /// Where the worker records the item it runs.
    running: RunningWord,
}

impl ItemRun {
    /// A loop with no job yet, timed by `clock`, recording in `running`.
    pub(crate) fn new(clock: FlushClock, running: RunningWord) -> Self {
        ItemRun {
            args: Bytes(Vec::new()),
            at: 0,
            item: 0,
            tag: 0,
            ran: 0,
            due: false,
            outcomes: Outcomes::new(),
            clock,
            running,
        }
    }

    /// Starts on the job tagged `tag` with these argument records, from its first item.
    pub(crate) fn begin(&mut self, tag: u32, args: Bytes) {
        self.args = args;
        self.at = 0;
        self.item = 0;
        self.tag = tag;
        self.ran = 0;
        self.due = false;
    }

    /// Runs the job's items from where it is with `one` (which decodes an argument record,
    /// calls and appends one outcome record), until the job's end or a flush is due.
    #[inline(always)]
    pub(crate) fn run(&mut self, mut one: impl FnMut(&[u8], &mut Outcomes)) {
        let word = self.running.word();
        // The position in locals (registers across the task's call), stored back at the end.
        let (mut at, mut item, tag) = (self.at, self.item, self.tag);
        let mut ran = 0;
        let mut due = false;
        while let Some(arg) = frames::range_at(&self.args, at) {
            at = arg.end;
            word.start(tag, item);
            one(&self.args[arg], &mut self.outcomes);
            word.clear();
            item += 1;
            ran += 1;
            if self.clock.due() || self.outcomes.len() >= FLUSH_BYTES {
                due = true;
                break;
            }
        }
        (self.at, self.item) = (at, item);
        self.ran = ran;
        self.due = due;
    }

    /// How many items the last [`run`](Self::run) ran.
    pub(crate) fn ran(&self) -> u32 {
        self.ran
    }

    /// Whether the job's items are all run.
    pub(crate) fn finished(&self) -> bool {
        frames::range_at(&self.args, self.at).is_none()
    }

    /// The outcome records held back.
    pub(crate) fn outcomes(&mut self) -> &mut Outcomes {
        &mut self.outcomes
    }

    /// Whether the last [`run`](Self::run) stopped because the outcomes held back are to be
    /// sent now (the window passed, or they are many).
    pub(crate) fn flush_due(&self) -> bool {
        self.due
    }

    /// A flush happened: the next window starts now.
    pub(crate) fn flushed(&mut self) {
        self.clock.restart();
    }
}
