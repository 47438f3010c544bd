//! Runnable examples of the mp crates: `cargo run -p mp-examples --bin demo` is the main demo,
//! and `cargo run -p mp-examples --example NAME` runs one program of the Python
//! `multiprocessing` article this project grew from (`examples/`, one file a program, each
//! with the article's Python beside the Rust in its header).
//!
//! This library holds the little the examples share: starting and joining a list of
//! processes, as the article's `for p in processes: p.start()` / `p.join()` loops do.

use mp_process::Process;

/// Why an example could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Starting or joining a process failed.
    #[error(transparent)]
    Process(#[from] mp_process::Error),
    /// A child ended with a non-zero exit code (a panic is 1, a signal its negated number).
    #[error("{name} ended with exit code {code}")]
    ChildFailed {
        /// The child's name (`Process-N`).
        name: String,
        /// Its exit code.
        code: i32,
    },
}

/// Starts every process in turn and hands them back (Python's
/// `processes.append(p); p.start()` loop).
pub fn start_all(processes: impl IntoIterator<Item = Process>) -> Result<Vec<Process>, Error> {
    processes
        .into_iter()
        .map(|mut process| {
            process.start()?;
            Ok(process)
        })
        .collect()
}

/// Joins every process in turn (Python's `for p in processes: p.join()`) and fails if one
/// of them did not exit cleanly, so an example never reports success over a dead worker.
pub fn join_all(processes: &[Process]) -> Result<(), Error> {
    for process in processes {
        let code = process.join()?;
        if code != 0 {
            return Err(Error::ChildFailed {
                name: process.name().to_owned(),
                code,
            });
        }
    }
    Ok(())
}
