//! mp-pool: Python's `multiprocessing.Pool` and `ThreadPool`, whole, on one scheduling core
//! that never loses a task: a worker that dies or overruns fails exactly the task it held,
//! naming it, and every other task completes.
//!
//! This first part offers [`ThreadPool`]: the pool's API over threads of the calling process,
//! for I/O-bound work and closures. The process pool stands on the same core.
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

#![deny(unsafe_code)]

mod backend;
mod chunks;
mod completion;
mod core;
mod error;
mod event_channel;
mod exit_guard;
#[cfg(test)]
mod fake_backend;
mod imap;
mod panics;
mod pool;
mod process_backend;
mod result;
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
