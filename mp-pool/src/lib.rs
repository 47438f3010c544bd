//! mp-pool: Python's `multiprocessing.Pool` and `ThreadPool`, whole, on one scheduling core
//! that never loses a task: a worker that dies or overruns fails exactly the task it held,
//! naming it, and every other task completes.
//!
//! [`Pool`] runs tasks in worker processes (forkserver by default; fork and spawn too), for
//! CPU-bound work and isolation: a crash, a leak or a hang in one task cannot take the program
//! down. Tasks are plain functions with serde arguments and results.
//!
//! ```
//! use mp_pool::{Pool, TaskError, WorkerExit};
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! fn crash_on_three(x: u64) -> u64 {
//!     if x == 3 {
//!         std::process::exit(9); // the worker dies while it holds task 3
//!     }
//!     x
//! }
//!
//! let pool = Pool::new(2)?;
//! let squares: Vec<u64> = pool.map(square, 0..10)?.into_iter().collect::<Result<_, _>>()?;
//! assert_eq!(squares[9], 81);
//!
//! // A dead worker fails exactly its task, naming it; the others complete.
//! let results = pool.map(crash_on_three, 0..6)?;
//! assert!(matches!(
//!     results[3],
//!     Err(TaskError::WorkerLost { task: 3, how: WorkerExit::Code(9), .. })
//! ));
//! assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
//! pool.close();
//! pool.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`ThreadPool`] is the same API over threads of the calling process, for I/O-bound work and
//! closures.
//!
//! ```
//! use mp_pool::ThreadPool;
//!
//! let pool = ThreadPool::new(2)?;
//! // map: results in input order, one per item.
//! let squares: Vec<u64> = pool
//!     .map(|x: u64| x * x, 0..10)?
//!     .into_iter()
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(squares, (0..10).map(|x| x * x).collect::<Vec<_>>());
//!
//! // apply_async: a handle to wait on (or await).
//! let sum = pool.apply_async(|v: Vec<u32>| v.iter().sum::<u32>(), vec![1, 2, 3])?;
//! assert_eq!(sum.get()?, 6);
//!
//! // imap: lazy, bounded in flight, in input order.
//! let lengths: Vec<usize> = pool
//!     .imap(|s: &'static str| s.len(), ["a", "bb", "ccc"])?
//!     .map(Result::unwrap)
//!     .collect();
//! assert_eq!(lengths, [1, 2, 3]);
//!
//! // A panic fails its task only, with its message.
//! let results = pool.map(|x: i32| if x == 2 { panic!("two!") } else { x }, 0..4)?;
//! assert!(results[2].as_ref().unwrap_err().to_string().contains("two!"));
//! assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
//!
//! pool.close();
//! pool.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Python names
//!
//! | Python | here |
//! |---|---|
//! | `Pool(n, initializer, initargs, maxtasksperchild, context)` | [`Pool::builder`] `.processes(n).initializer(f, args).max_tasks_per_child(..).start_method(..)` |
//! | `ThreadPool(n, initializer, initargs, maxtasksperchild)` | [`ThreadPool::builder`] `.workers(n).initializer(..).max_tasks_per_child(..)` |
//! | `apply`, `apply_async` | [`ThreadPool::apply`], [`ThreadPool::apply_async`], `_with` for callbacks |
//! | `map`, `map_async`, `starmap`, `starmap_async` (`chunksize=`) | the same names, `_chunked` and `_with` forms; one `Result` per item |
//! | `imap`, `imap_unordered` (`chunksize=`, `buffersize=`) | [`ThreadPool::imap`], [`ThreadPool::imap_unordered`], `_chunked`, [`IMap::in_flight`] |
//! | `AsyncResult.get(timeout)`, `wait`, `ready`, `successful` | [`AsyncResult::get`], `get_timeout`, `wait`, `ready`, `successful`; also a `Future` |
//! | `close`, `join`, `terminate`, `with` (terminates) | the same; `Drop` terminates |
//!
//! # Errors
//!
//! A task's failure is a [`TaskError`]: a panic (with its message and worker), a lost worker
//! (with the worker and how it ended), a time limit, termination. A refused submission is a
//! [`SubmitError`], a pool that cannot start a [`PoolError`].
//!
//! # Worker processes
//!
//! - **Functions.** A task is a plain `fn(T) -> R` (serde `T` and `R`); it reaches workers under
//!   every start method as an `mp_sync::raw::FnRef`. `starmap` takes `fn(A, B) -> R` (up to four
//!   arguments) through [`Task`]: name the pointer type, `mul as fn(u64, u64) -> u64`.
//! - **Encoding.** Arguments are encoded (postcard) at submission: one that cannot be is
//!   [`SubmitError::ArgumentEncoding`] and nothing is submitted. A result that cannot be encoded
//!   fails its task only ([`TaskError::ResultEncoding`], Python's `MaybeEncodingError`).
//! - **Deaths.** A worker that dies (a signal, `exit`, a crash) fails exactly the task it held
//!   with [`TaskError::WorkerLost`] (task index, pid, signal or exit code); the tasks it held but
//!   had not started go to other workers; it is replaced. Workers send results in batches (one
//!   message per job, or per ~100 us of tiny tasks) and record the item they run in shared
//!   memory, so the failed task is still exact; finished tasks whose batch died with the worker
//!   run again (at most ~100 us of work; none fails twice or is lost). A task past its time
//!   limit has its worker killed and fails with [`TaskError::TimedOut`].
//! - **Memory.** [`PoolBuilder::max_memory_per_child`] replaces a worker whose resident memory
//!   passed a bound after a task (billiard's and loky's); the task's result is kept. A worker
//!   whose results come in batches of 256 KiB or more sends them through an 8 MiB ring of shared
//!   memory it makes on its first such batch (the pipe carries where they lie; the pool copies
//!   each result once, into the value you get); pages of it that were used stay resident in the
//!   worker and the pool while the worker lives.
//! - **Lifetimes.** Workers never outlive their pool: `Drop` terminates and reaps them, and each
//!   worker asks the kernel to kill it when the pool's process dies (`PR_SET_PDEATHSIG`, from
//!   the worker's watcher thread, or with the fork server). They are not daemons, so a task may
//!   start processes and pools of its own (Python's daemonic workers refuse). At the program's
//!   exit, live workers are killed (a pool alive at `std::process::exit` does not hang it); a
//!   child process whose target returns with a pool leaked or in a static is the one case that
//!   still waits for its workers.
//! - **Ctrl-C.** Workers ignore SIGINT: a terminal's Ctrl-C reaches the whole process group,
//!   and what it means is the owner's to decide. An owner that dies of it takes its workers
//!   along (no worker, no zombie is left); one that handles it keeps its tasks running and may
//!   close, join or terminate the pool. (Python's workers raise `KeyboardInterrupt` mid-task
//!   and its `map` can hang.)
//! - **Under fork**, workers are forked from the pool's supervisor thread while the program has
//!   other threads (as Python does); prefer forkserver (the default) or spawn.
//!
//! # Logging
//!
//! Worker lifecycle events go to the [`log`](https://docs.rs/log) facade, target `mp_pool`, as
//! Python's `multiprocessing.get_logger()` gives them, and are silent unless the program
//! installs a logger: `debug` when a worker starts, is ready, retires or is stopped by the pool;
//! `info` when a replacement starts; `warn` when a worker dies unasked, with the task it held,
//! when a task runs past its time limit, and when a worker cannot start.
//!
//! # Time limits on threads
//!
//! A thread cannot be killed. A [`ThreadPool`] task past its limit fails at once with
//! [`TaskError::TimedOut`]; its thread is abandoned and replaced, runs the task to its end
//! unobserved, and its result is discarded. The process pool kills the worker instead.
//!
//! # How it is built
//!
//! The scheduling core (`core.rs`) is written once against a small seam (`backend.rs`): start
//! a worker, give it a job, retire or kill it, and events back (ready, output, exited). See
//! `docs/ARCHITECTURE.md`.
//!
//! # Examples that use it
//!
//! The pool programs of the Python `multiprocessing` article, in `mp-examples/examples/`
//! (`cargo run -p mp-examples --example NAME`, each with the article's Python beside it):
//! `pool_apply_map_imap`, `pool_square_map`, `pool_apply_async_in_order`,
//! `thread_pool_io_bound`; and the demo (`cargo run --release -p mp-examples --bin demo`),
//! whose CPU-bound job runs on `Pool::imap` and survives a crashing and a hanging task.

#![deny(unsafe_code)]

mod backend;
mod chunks;
mod completion;
mod core;
mod encode_target;
mod encoder;
mod error;
mod event_channel;
mod exit_guard;
#[cfg(test)]
mod fake_backend;
mod flush_clock;
mod frames;
mod imap;
mod item_run;
mod job_sender;
mod kept_threads;
mod lifecycle;
mod outcomes;
mod pace;
mod panics;
mod pool;
mod pool_backend;
mod process_backend;
mod process_job;
#[cfg(feature = "redis")]
pub mod redis;
mod result;
mod result_arena;
mod results_reader;
mod running_word;
mod sink;
mod star;
mod supervisor;
#[allow(unsafe_code)]
mod sys;
mod task;
mod thread_backend;
mod thread_pool;
mod wire;
mod worker;

pub use error::{
    JoinError, NotReady, PoolError, SubmitError, TaskError, WorkerExit, WorkerId, WorkerRef,
    WorkerStartError,
};
pub use imap::IMap;
pub use mp_process::StartMethod;
pub use pool::{Pool, PoolBuilder};
pub use result::{ApplyResult, AsyncResult, MapResult, Options, Outcome, Waited};
pub use star::StarFn;
pub use task::Task;
pub use thread_pool::{ThreadPool, ThreadPoolBuilder};
