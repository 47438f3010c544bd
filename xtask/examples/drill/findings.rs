//! What a drill found so far: the counts of its [`Outcome`] and a note for each.

use crate::drill_protocol::{NOTE_PREFIX, Outcome};

/// The counts and notes of one run.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// The counts reported on the outcome line.
    pub(crate) outcome: Outcome,
    /// One human-readable line per finding.
    notes: Vec<String>,
}

impl Findings {
    /// A wait that outlived its bound.
    pub(crate) fn hang(&mut self, note: impl Into<String>) {
        self.outcome.hangs += 1;
        self.notes.push(format!("hang: {}", note.into()));
    }

    /// `n` items missing beyond what the scenario allows.
    pub(crate) fn lost(&mut self, n: u64, note: impl Into<String>) {
        self.outcome.lost += n;
        self.notes.push(format!("lost {n}: {}", note.into()));
    }

    /// `n` items received more than once.
    pub(crate) fn duplicated(&mut self, n: u64, note: impl Into<String>) {
        self.outcome.duplicated += n;
        self.notes.push(format!("duplicated {n}: {}", note.into()));
    }

    /// `n` descriptors left open.
    pub(crate) fn leaked_fds(&mut self, n: u64, note: impl Into<String>) {
        self.outcome.leaked_fds += n;
        self.notes.push(format!("leaked {n} fds: {}", note.into()));
    }

    /// `n` processes left behind (zombies or still running).
    pub(crate) fn leaked_processes(&mut self, n: u64, note: impl Into<String>) {
        self.outcome.leaked_processes += n;
        self.notes
            .push(format!("left {n} processes: {}", note.into()));
    }

    /// Any other broken promise.
    pub(crate) fn fail(&mut self, note: impl Into<String>) {
        self.outcome.failures += 1;
        self.notes.push(format!("failure: {}", note.into()));
    }

    /// Prints the notes, then the outcome line, on stdout.
    pub(crate) fn print(&self) {
        for note in &self.notes {
            println!("{NOTE_PREFIX} {note}");
        }
        println!("{}", self.outcome);
    }
}
