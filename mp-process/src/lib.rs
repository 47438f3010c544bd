//! Processes like Python's `multiprocessing.Process`: start, join, terminate and kill children,
//! read their exit codes, under the **fork**, **spawn** and **forkserver** start methods.
//!
//! ```
//! use mp_process::{Process, StartMethod};
//!
//! fn square(n: u64) {
//!     // Runs in the child: its exit code tells the parent how it went.
//!     std::process::exit(if n * n == 49 { 0 } else { 3 });
//! }
//!
//! for method in StartMethod::ALL {
//!     let mut p = Process::builder().start_method(method).target(square, 7);
//!     p.start()?;
//!     assert_eq!(p.join()?, 0);
//! }
//! # Ok::<(), mp_process::Error>(())
//! ```
//!
//! # Python to Rust
//!
//! | Python | mp-process |
//! |---|---|
//! | `Process(target=f, args=(a,))` | [`Process::new(f, a)`](Process::new), [`Process::builder()`](Process::builder) |
//! | `p.start()`, `p.join()`, `p.join(t)` | [`start`](Process::start), [`join`](Process::join), [`join_timeout`](Process::join_timeout), [`join_deadline`](Process::join_deadline) |
//! | `p.is_alive()`, `p.exitcode`, `p.pid` | [`is_alive`](Process::is_alive), [`exitcode`](Process::exitcode), [`pid`](Process::pid) |
//! | `p.terminate()`, `p.kill()`, `p.close()` | [`terminate`](Process::terminate), [`kill`](Process::kill), [`close`](Process::close) |
//! | `p.interrupt()` (3.14) | [`interrupt`](Process::interrupt) (exit code -2 with SIGINT's default action) |
//! | `p.name`, `p.daemon`, `p.sentinel` | [`name`](Process::name), [`daemon`](Process::daemon), [`sentinel`](Process::sentinel) |
//! | `set_start_method`, `get_start_method` | [`set_start_method`], [`get_start_method`] |
//! | `get_all_start_methods()` | [`get_all_start_methods`] (the default first) |
//! | `"fork"`, `"spawn"`, `"forkserver"` | [`StartMethod`] (`"spawn".parse()`, [`StartMethod::name`]; [`UnknownStartMethod`]) |
//! | `current_process()`, `parent_process()` | [`current_process`], [`parent_process`] |
//! | `active_children()`, `cpu_count()` | [`active_children`], [`cpu_count`], [`process_cpu_count`] |
//!
//! # Targets and arguments
//!
//! A target is a plain `fn(A)` with `A: Serialize + DeserializeOwned`; it runs under every start
//! method. Under fork the arguments are simply in the child's copy of memory; under spawn and
//! forkserver they travel in one ipc-channel message, and ipc-channel moves the file descriptors
//! of the `IpcSender`s, `IpcReceiver`s and `IpcSharedMemory`s inside them. That is how locks,
//! queues and shared values (which are built on those) reach a child as ordinary arguments.
//!
//! A capturing closure is a target only under fork ([`Builder::closure`]); under the other
//! methods start fails with [`Error::ClosureNeedsFork`].
//!
//! # Exit codes
//!
//! As in Python: 0 when the target returns, 1 when it panics (the message is printed to the
//! child's stderr and is also [`Process::panic_message`]), `n` for `std::process::exit(n)`, `-s`
//! when signal `s` ended it. 70 means the child failed before its target ran (the reason is on
//! its stderr: for instance that it could not enter its parent's working directory).
//!
//! However the target ends (return, panic, `std::process::exit`), the child's at-exit handlers
//! run, as in Python, except in a fork of a threaded parent ([`Process`] tells the details) and
//! in a child built with [`Builder::exit_handlers`]`(false)` (a pool's workers, which leave
//! through `_exit` as CPython's fork and forkserver children leave through `os._exit`). A
//! stack overflow in the target ends the child with std's message ("thread 'main' has
//! overflowed its stack") and -6 (SIGABRT) under every start method.
//!
//! # Start methods
//!
//! - **Fork** forks the caller. A forked child inherits every lock in the state it was in, so fork
//!   is refused while the caller has other threads ([`Error::ForkWithThreads`]), unless allowed
//!   with [`Builder::allow_fork_with_threads`]. Python forks regardless and the child may hang.
//!   Threads parked on nothing but their own wake-up say so with a [`QuietThread`] and are not
//!   counted (mp-pool's watcher threads kept between pools do).
//! - **Spawn** runs `/proc/self/exe` afresh. A function of this crate in the ELF `.init_array`
//!   takes the new process over before `main` (before libtest's harness in a test binary), so no
//!   call in `main` is needed and none of the user's code runs twice.
//! - **ForkServer** (the default, as in Python 3.14) starts one such fresh process, the server,
//!   which forks each child on request: fork's speed without the caller's threads or locks.
//!
//! A fresh child (spawn, forkserver) and the fork server inherit exactly one descriptor from
//! their parent, the receiving end of the child's launch channel (or the server's socket),
//! and close every other one but stdin, stdout and stderr before anything else runs. No socket
//! or file is named during start-up: no other process can reach a child before it has its
//! target, and nothing is left behind if the parent is killed mid-start. The start itself waits
//! for nobody but the fork server's reply (bounded, [`Error::StartTimedOut`]): the target and
//! arguments wait in the child's channel until it reads them.
//!
//! # What a child starts with
//!
//! Under every start method a child starts with its parent's working directory, program
//! arguments (`std::env::args()`) and global start method ([`get_start_method`]) as they are at
//! [`start`](Process::start), its name, identity and daemon flag, and its arguments (what
//! Python's preparation data carries, where it applies). What still differs:
//!
//! - **Memory.** A fork child has a copy of the parent's whole memory: statics and values set
//!   at run time, a panic hook set with `std::panic::set_hook`, a logger, caches. A spawn or
//!   forkserver child never runs `main`: it has the program's initial statics and std's default
//!   panic hook, plus what it is sent. Set such things up in the target (a pool's initializer).
//! - **Environment variables.** Fork and spawn children have the parent's environment at
//!   `start()`. Forkserver children have the fork server's, which is the parent's environment
//!   when the server started (at the first forkserver start): set variables before that, or pass
//!   them in the arguments. (Python's forkserver behaves the same.)
//! - **The OS's per-process attributes**: standard input, output and error, umask, resource
//!   limits, ignored signals and the signal mask, scheduling priority and CPU affinity, user and
//!   group. Fork and spawn children inherit the parent's at `start()`; forkserver children get
//!   the fork server's, which were the parent's when the server started. (Redirecting stdout
//!   with `dup2` after that reaches fork and spawn children only.) No method sends stdin to
//!   `/dev/null` as Python's children do: every child may read the parent's (or the server's).
//! - **Descriptors.** A fork child has copies of all of the parent's open descriptors; a spawn or
//!   forkserver child only those it is given (its standard streams, mp's own, and those inside
//!   its arguments).
//! - **Threads.** A fork child has only the thread that called `start`; a fresh child has one.
//! - **At-exit handlers**: see [Exit codes](#exit-codes); only a fork of a threaded parent skips
//!   them.
//! - **Stack overflow in a thread the target started**: in a fork child of a program that ran
//!   `main`, std reports it (std's set-up is in the copy). In a spawn or forkserver child such a
//!   thread has no alternate signal stack (std makes one per thread only when its own set-up
//!   ran), so the child ends with -11 (SIGSEGV) and no message. An overflow in the target's own
//!   thread is reported under every method.
//! - **Closures** are targets under fork only (see [Targets and arguments](#targets-and-arguments)).
//!
//! # Children's lifetimes
//!
//! No zombies: a child is reaped when joined, when seen to have exited, when its handle is dropped
//! after it exited, by [`active_children`], and at the parent's normal exit, which (as in Python)
//! terminates daemon children and joins the others. Daemon children also die when their parent
//! is killed: Linux's parent-death signal (which follows the *thread* that started a spawn or fork
//! child: start daemons from a thread that outlives them) and, for forkserver children, the
//! server's own exit when its parent's socket closes.
//!
//! If the fork server dies (it is killed), the exit codes of its children that it had not yet
//! reported are lost: `join` and `exitcode` of such a child answer [`Error::StatusLost`] at
//! once (remembered, never asked of the server that replaces it), while `is_alive` and
//! `kill` still work on the child itself through its pidfd. The next forkserver start makes a
//! new server.
//!
//! # Examples that use it
//!
//! The programs of the Python `multiprocessing` article, in `mp-examples/examples/`
//! (`cargo run -p mp-examples --example NAME`, each with the article's Python beside it):
//! `create_process`; every example starts its workers with `Process`.

#![deny(unsafe_code)]

mod authkey;
mod builder;
mod child;
mod context;
mod cpu;
mod entry;
mod error;
mod process;
mod start;
#[allow(unsafe_code)]
mod sys;
mod target;

pub use authkey::set_authkey;
pub use builder::Builder;
pub use context::{
    ActiveChild, CurrentProcess, ParentProcess, active_children, current_process, parent_process,
};
pub use cpu::{cpu_count, process_cpu_count};
pub use error::{Error, Result, UnknownStartMethod};
/// A thread parked on nothing but its own wake-up, not counted by a fork-method start.
pub use mp_sync::raw::QuietThread;
pub use process::Process;
pub use start::{StartMethod, get_all_start_methods, get_start_method, set_start_method};
