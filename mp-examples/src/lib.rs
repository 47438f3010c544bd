//! Runnable examples of the mp crates: `cargo run -p mp-examples --bin demo` is the main demo,
//! and `cargo run -p mp-examples --example NAME` runs one program of the Python
//! `multiprocessing` article this project grew from (`examples/`, one file a program, each
//! with the article's Python beside the Rust in its header).
//!
//! This library holds the little the examples share: the list of them in the article's order
//! ([`ARTICLE`], which the demo's tour prints), and starting and joining a list of processes,
//! as the article's `for p in processes: p.start()` / `p.join()` loops do.

use mp_process::Process;

/// One program of the article, as an example of this crate.
#[derive(Clone, Copy, Debug)]
pub struct ArticleExample {
    /// Where it stands in the article, by the article's own numbers (section and item, e.g.
    /// `2.4`; the article numbers both "Create a process" and "Inter-process communication" 2).
    pub section: &'static str,
    /// The example's name: `cargo run -p mp-examples --example NAME`.
    pub name: &'static str,
    /// What it shows, in a line.
    pub shows: &'static str,
}

/// Every program of the article that is an example here, in the article's order.
pub const ARTICLE: &[ArticleExample] = &[
    ArticleExample {
        section: "2",
        name: "create_process",
        shows: "create, start and join a process; is_alive while it runs",
    },
    ArticleExample {
        section: "2.1",
        name: "queue_between_processes",
        shows: "one process puts into a Queue, another gets, in order",
    },
    ArticleExample {
        section: "2.2",
        name: "pipe_between_processes",
        shows: "a two-way Pipe: one process sends, the other answers",
    },
    ArticleExample {
        section: "2.3",
        name: "shared_value_and_array",
        shows: "five children write a shared Value and Array; the parent reads them",
    },
    ArticleExample {
        section: "2.4",
        name: "semaphore_admits_two",
        shows: "Semaphore(2) lets two of five workers in at a time",
    },
    ArticleExample {
        section: "2.5",
        name: "event_releases_workers",
        shows: "three workers wait for an Event the main process sets after 3 s",
    },
    ArticleExample {
        section: "2.6",
        name: "condition_producer_consumer",
        shows: "a Condition: the consumer waits until the producer made the product",
    },
    ArticleExample {
        section: "3.1",
        name: "lock_guards_resource",
        shows: "a Lock keeps five workers' use of a shared resource apart",
    },
    ArticleExample {
        section: "3.2",
        name: "semaphore_guards_resource",
        shows: "a Semaphore lets at most two of five use a resource at once",
    },
    ArticleExample {
        section: "3.3",
        name: "event_triggers_workers",
        shows: "one Event set by the main process starts five waiting workers",
    },
    ArticleExample {
        section: "3.4",
        name: "condition_notify_all",
        shows: "notify_all wakes five consumers that check their condition in a loop",
    },
    ArticleExample {
        section: "4",
        name: "pool_apply_map_imap",
        shows: "a Pool of cpu_count processes: apply, map and imap, then close and join",
    },
    ArticleExample {
        section: "4.5",
        name: "pool_square_map",
        shows: "Pool(4).map(square, 0..10) prints the ten squares in order",
    },
    ArticleExample {
        section: "4.5",
        name: "pool_apply_async_in_order",
        shows: "apply_async on three workers: five 1 s tasks in about 2 s, results in order",
    },
    ArticleExample {
        section: "4.5",
        name: "thread_pool_io_bound",
        shows: "a ThreadPool overlaps I/O waits: eight 0.5 s fetches on four threads in ~1 s",
    },
];

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
