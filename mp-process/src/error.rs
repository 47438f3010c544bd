//! The crate's error types: [`Error`] for processes, [`UnknownStartMethod`] for a start
//! method's name that does not parse.

use std::io;

use crate::StartMethod;

/// Everything that can go wrong with a [`Process`](crate::Process), each with a message a user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `start` was called on a process that was already started.
    #[error("process {name:?} was already started: a Process can be started only once")]
    AlreadyStarted {
        /// The process's name.
        name: String,
    },
    /// The process was used (join, terminate, ...) before `start`.
    #[error("process {name:?} has not been started yet: call start() first")]
    NotStarted {
        /// The process's name.
        name: String,
    },
    /// The process was used after `close`.
    #[error("process {name:?} was closed: it can no longer be used")]
    Closed {
        /// The process's name.
        name: String,
    },
    /// `close` was called while the process was still running.
    #[error("process {name:?} is still running: join or kill it before close()")]
    StillRunning {
        /// The process's name.
        name: String,
    },
    /// A process handle was used from a process other than the one that started it (for example
    /// a copy inherited through fork).
    #[error(
        "process {name:?} can only be joined or signalled by the process that started it (pid {owner}), not by pid {caller}"
    )]
    NotOwner {
        /// The process's name.
        name: String,
        /// The pid that started it.
        owner: i32,
        /// The pid that tried to use it.
        caller: i32,
    },
    /// `set_daemon` after start.
    #[error("process {name:?} is already started: daemon can only be set before start()")]
    DaemonAfterStart {
        /// The process's name.
        name: String,
    },
    /// A daemon process tried to start a child (as in Python: daemons may not have children,
    /// since they would be orphaned when the daemon is killed with its parent).
    #[error("daemonic processes are not allowed to have children")]
    DaemonCannotHaveChildren,
    /// A closure target was used with a start method that runs the child in a fresh program.
    #[error(
        "a closure target needs the Fork start method, but this process would start with {method:?}: use Process::new(fn, args) with a plain fn and serde arguments, or choose StartMethod::Fork"
    )]
    ClosureNeedsFork {
        /// The start method that was chosen.
        method: StartMethod,
    },
    /// Fork was asked for while this process has other threads, whose locks the child would
    /// inherit held (a silent deadlock in Python).
    #[error(
        "refusing to fork: this process has {threads} threads, and a forked child inherits their locks in whatever state they are (a child that touches one hangs). Use StartMethod::ForkServer or Spawn, or, if the child touches no lock another thread may hold, allow it with Builder::allow_fork_with_threads(true)"
    )]
    ForkWithThreads {
        /// How many threads the process had.
        threads: usize,
    },
    /// `set_start_method` was called a second time.
    #[error(
        "the start method is already set to {current:?}: set_start_method can be called once, before any process starts"
    )]
    StartMethodAlreadySet {
        /// The method in force.
        current: StartMethod,
    },
    /// The child died before it could receive its target and arguments.
    #[error(
        "the child (pid {pid}) died during start-up, before its target ran (exit code {exitcode:?})"
    )]
    DiedDuringStart {
        /// The child's pid.
        pid: i32,
        /// Its exit code, as in [`Process::exitcode`](crate::Process::exitcode).
        exitcode: Option<i32>,
    },
    /// The fork server died; the next start starts a new one.
    #[error("the fork server died ({0}); it is restarted at the next start")]
    ForkServerDied(#[source] std::sync::Arc<io::Error>),
    /// The exit status of a forkserver child could not be learned (its server died first).
    #[error("the exit status of pid {pid} is lost: its fork server died before reporting it")]
    StatusLost {
        /// The child's pid.
        pid: i32,
    },
    /// Start-up did not finish within its bound (a fork server that does not answer).
    #[error("start-up timed out: no answer from {what} within {bound:?}")]
    StartTimedOut {
        /// What did not answer.
        what: &'static str,
        /// How long it was given.
        bound: std::time::Duration,
    },
    /// Sending the target's arguments or receiving a report failed.
    #[error("{op} failed: {source}")]
    Channel {
        /// What was being done.
        op: &'static str,
        /// ipc-channel's error.
        #[source]
        source: ipc_channel::IpcError,
    },
    /// An operating-system call failed.
    #[error("{op} failed: {source}")]
    Os {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Wraps an OS error with what was being done.
    pub(crate) fn os(op: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Os { op, source }
    }
}

impl Error {
    /// Wraps an ipc-channel error with what was being done.
    pub(crate) fn channel(op: &'static str) -> impl FnOnce(ipc_channel::IpcError) -> Error {
        move |source| Error::Channel { op, source }
    }
}

/// A start method's name that is none of Python's (`"fork"`, `"spawn"`, `"forkserver"`):
/// the error of [`StartMethod`]'s `FromStr` (Python's `ValueError: cannot find context`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown start method {name:?}: expected \"fork\", \"spawn\" or \"forkserver\"")]
pub struct UnknownStartMethod {
    /// The name given.
    pub name: String,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
