//! [`Process`]: Python's `multiprocessing.Process`.

use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mp_sync::raw::{Deadline, ForkGate};
use nix::sys::signal::Signal;

use crate::child::ChildShared;
use crate::context;
use crate::error::{Error, Result};
use crate::start::inherited::Inherited;
use crate::start::wire::ChildStart;
use crate::start::{self, StartMethod, get_start_method};
use crate::target::Target;

/// A child process: built with a target, started once, then joined, signalled or closed.
///
/// ```
/// use mp_process::Process;
///
/// fn greet(name: String) {
///     println!("hello, {name}");
/// }
///
/// let mut p = Process::new(greet, "bob".to_string());
/// p.start()?;
/// assert_eq!(p.join()?, 0);
/// assert_eq!(p.exitcode()?, Some(0));
/// # Ok::<(), mp_process::Error>(())
/// ```
///
/// Dropping a `Process` neither kills nor waits for its child: like Python, a running child keeps
/// running; it is reaped by [`active_children`](crate::active_children), by the next start, or at
/// the parent's normal exit, which terminates daemon children and joins the others.
#[derive(Debug)]
pub struct Process {
    /// The name.
    name: String,
    /// The identity (see [`crate::CurrentProcess::identity`]).
    identity: Vec<u32>,
    /// Daemon flag.
    daemon: bool,
    /// The start method, if chosen for this process.
    method: Option<StartMethod>,
    /// See [`Builder::allow_fork_with_threads`](crate::Builder::allow_fork_with_threads).
    allow_fork_with_threads: bool,
    /// See [`Builder::exit_handlers`](crate::Builder::exit_handlers).
    skip_exit_handlers: bool,
    /// The pid of the process that made this handle: only it may start, join or signal.
    owner: i32,
    /// Where the process is in its life.
    state: State,
}

/// A process's life.
enum State {
    /// Built, not started. (In a `Mutex` only so that `Process` is `Sync`.)
    Unstarted(Mutex<Target>),
    /// Started.
    Started(Arc<ChildShared>),
    /// Closed, or a start that failed past the point of no return.
    Closed,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Unstarted(_) => f.write_str("Unstarted"),
            State::Started(child) => f.debug_tuple("Started").field(&child.pid).finish(),
            State::Closed => f.write_str("Closed"),
        }
    }
}

/// How many threads this process has that are not quiet, counted under a closed
/// [`ForkGate`] (returned closed). Threads that ended may still be listed for a moment (the
/// kernel lists a thread until it has finished exiting, after its joiner was told it ended, as
/// the pool's writer threads are when the pool is dropped), and a thread may be on its way to
/// quiet: a count above one that would refuse the fork (`allowed` false) is taken again a few
/// times over a millisecond or two, the gate opened in between, before it stands. Only a
/// refusal waits: a count of one is final, and so is any count of an allowed fork (a pool's
/// worker started beside its other threads must not wait).
fn threads_not_quiet(allowed: bool) -> (std::io::Result<usize>, ForkGate) {
    let mut tries = 0;
    loop {
        let gate = ForkGate::close();
        let count = crate::sys::thread_count().map(|n| n.saturating_sub(gate.quiet()).max(1));
        if allowed || tries == RECOUNTS || !matches!(count, Ok(threads) if threads > 1) {
            return (count, gate);
        }
        drop(gate);
        tries += 1;
        std::thread::sleep(RECOUNT_PAUSE);
    }
}

/// How many more times a count of threads above one is taken before a fork is refused.
const RECOUNTS: usize = 20;

/// The pause between two counts of threads.
const RECOUNT_PAUSE: Duration = Duration::from_micros(100);

impl Process {
    pub(crate) fn from_parts(
        name: Option<String>,
        daemon: bool,
        method: Option<StartMethod>,
        allow_fork_with_threads: bool,
        skip_exit_handlers: bool,
        target: Target,
    ) -> Process {
        let ctx = context::context();
        let (identity, default_name) = ctx.next_child();
        Process {
            name: name.unwrap_or(default_name),
            identity,
            daemon,
            method,
            allow_fork_with_threads,
            skip_exit_handlers,
            owner: ctx.pid(),
            state: State::Unstarted(Mutex::new(target)),
        }
    }

    /// Starts the child. A second call is [`Error::AlreadyStarted`].
    pub fn start(&mut self) -> Result<()> {
        self.check_owner()?;
        let ctx = context::context();
        if ctx.is_daemon() {
            return Err(Error::DaemonCannotHaveChildren);
        }
        let method = self.start_method();
        // Refusals that leave the process startable come before the target is taken.
        let is_closure = matches!(self.unstarted_target()?, Target::Closure(_));
        if is_closure && method != StartMethod::Fork {
            return Err(Error::ClosureNeedsFork { method });
        }
        // Counted once, for the refusal and for how a fork child leaves: a fork of a
        // single-threaded process may run its at-exit handlers (see `start::fork`).
        // Quiet threads (parked, holding nothing: `QuietThread`) do not count; the gate keeps
        // them quiet from the count to the fork, and is held only if the count is one.
        let mut single_threaded = false;
        let mut gate = None;
        if method == StartMethod::Fork {
            let allowed = self.allow_fork_with_threads;
            let (count, closed) = threads_not_quiet(allowed);
            match count {
                Ok(threads) if threads > 1 && !allowed => {
                    return Err(Error::ForkWithThreads { threads });
                }
                Ok(threads) => single_threaded = threads == 1,
                Err(e) if !allowed => return Err(Error::os("counting threads")(e)),
                Err(_) => {}
            }
            gate = single_threaded.then_some(closed);
        }
        // From here on a failure closes the process: its target is gone with the attempt.
        let State::Unstarted(target) = std::mem::replace(&mut self.state, State::Closed) else {
            unreachable!("unstarted_target checked the state");
        };
        let start = ChildStart {
            name: self.name.clone(),
            identity: self.identity.clone(),
            daemon: self.daemon,
            parent_pid: ctx.pid(),
            parent_name: ctx.name().to_owned(),
            exit_handlers: !self.skip_exit_handlers,
            // A fork child has them already, in its copy of our memory.
            inherited: (method != StartMethod::Fork).then(Inherited::now),
        };
        let child = match (
            method,
            target.into_inner().unwrap_or_else(|e| e.into_inner()),
        ) {
            (StartMethod::Fork, mut target) => {
                // Made before the fork: the child finds them in its copy of memory.
                if let Target::Function(f) = &mut target {
                    f.make_args()
                        .map_err(Error::os("making the child's arguments"))?;
                }
                let child = start::fork::start(target, start, single_threaded)?;
                drop(gate);
                child
            }
            (StartMethod::Spawn, Target::Function(mut f)) => {
                f.make_args()
                    .map_err(Error::os("making the child's arguments"))?;
                start::spawn::start(f, start)?
            }
            (StartMethod::ForkServer, Target::Function(f)) => start::forkserver::start(f, start)?,
            (method, Target::Closure(_)) => return Err(Error::ClosureNeedsFork { method }),
        };
        context::register_child(child.clone());
        self.state = State::Started(child);
        Ok(())
    }

    /// The target of a process not yet started, or why there is none.
    fn unstarted_target(&mut self) -> Result<&mut Target> {
        match &mut self.state {
            State::Unstarted(target) => Ok(target.get_mut().unwrap_or_else(|e| e.into_inner())),
            State::Started(_) => Err(Error::AlreadyStarted {
                name: self.name.clone(),
            }),
            State::Closed => Err(Error::Closed {
                name: self.name.clone(),
            }),
        }
    }

    /// The name: `Process-N` unless set.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the process (as seen by the parent, and by the child if set before start).
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Whether the process is a daemon.
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// Sets the daemon flag; only before start ([`Error::DaemonAfterStart`]).
    pub fn set_daemon(&mut self, daemon: bool) -> Result<()> {
        match self.state {
            State::Unstarted(_) => {
                self.daemon = daemon;
                Ok(())
            }
            _ => Err(Error::DaemonAfterStart {
                name: self.name.clone(),
            }),
        }
    }

    /// The start method this process uses (or will use, if not started).
    pub fn start_method(&self) -> StartMethod {
        self.method.unwrap_or_else(get_start_method)
    }

    /// The child's pid, once started.
    pub fn pid(&self) -> Option<i32> {
        match &self.state {
            State::Started(child) => Some(child.pid),
            _ => None,
        }
    }

    /// Whether the child is running: false before start and after it exited. A child whose exit
    /// code is lost ([`Error::StatusLost`]) is alive as long as it actually runs.
    pub fn is_alive(&self) -> Result<bool> {
        match &self.state {
            State::Unstarted(_) => Ok(false),
            State::Started(child) => {
                self.check_owner()?;
                child.is_running()
            }
            State::Closed => Err(Error::Closed {
                name: self.name.clone(),
            }),
        }
    }

    /// Waits for the child to exit and returns its exit code (see [`Process::exitcode`]).
    pub fn join(&self) -> Result<i32> {
        let code = self.join_until(None)?;
        Ok(code.expect("a wait without deadline returns only when the child has exited"))
    }

    /// Waits up to `timeout` for the child to exit: `Some(exit code)`, or `None` if it is still
    /// running (not an error, as in Python).
    pub fn join_timeout(&self, timeout: Duration) -> Result<Option<i32>> {
        self.join_until(Some(Deadline::after(timeout)))
    }

    /// Waits until `deadline` for the child to exit: `Some(exit code)`, or `None` if it is still
    /// running then.
    pub fn join_deadline(&self, deadline: Deadline) -> Result<Option<i32>> {
        self.join_until(Some(deadline))
    }

    /// `join`, `join_timeout` and `join_deadline` in one.
    fn join_until(&self, deadline: Option<Deadline>) -> Result<Option<i32>> {
        let child = self.started()?;
        let code = match child.wait_until(deadline) {
            // It has ended, but nobody can tell how: nothing is left to wait for.
            Err(lost @ Error::StatusLost { .. }) => {
                context::forget_child(child);
                return Err(lost);
            }
            other => other?,
        };
        if code.is_some() {
            context::forget_child(child);
        }
        Ok(code)
    }

    /// The exit code, without waiting: `None` before start and while running; 0 when the target
    /// returned; 1 when it panicked; `n` when it called `std::process::exit(n)`; `-s` when
    /// signal `s` killed it. An error after [`close`](Process::close), from a process other than
    /// the owner, and when the code is lost ([`Error::StatusLost`]: never "still running").
    pub fn exitcode(&self) -> Result<Option<i32>> {
        match &self.state {
            State::Unstarted(_) => Ok(None),
            State::Started(child) => {
                self.check_owner()?;
                child.poll()
            }
            State::Closed => Err(Error::Closed {
                name: self.name.clone(),
            }),
        }
    }

    /// The message the target panicked with, once the child has exited (and been seen to exit,
    /// by join, is_alive or exitcode). The child's panic hook also printed it to its stderr.
    pub fn panic_message(&self) -> Option<String> {
        match &self.state {
            State::Started(child) => child.panic_message(),
            _ => None,
        }
    }

    /// Sends SIGTERM (Python's `terminate()`); nothing if the child has already exited.
    pub fn terminate(&self) -> Result<()> {
        self.started()?.signal(Signal::SIGTERM)
    }

    /// Sends SIGKILL (Python's `kill()`); nothing if the child has already exited.
    pub fn kill(&self) -> Result<()> {
        self.started()?.signal(Signal::SIGKILL)
    }

    /// Sends SIGINT (Python 3.14's `interrupt()`); nothing if the child has already exited.
    /// A Rust program keeps SIGINT's default action unless it installs a handler, so the exit
    /// code is then -2 (Python's child turns it into `KeyboardInterrupt` and exits 1 instead).
    pub fn interrupt(&self) -> Result<()> {
        self.started()?.signal(Signal::SIGINT)
    }

    /// A descriptor that becomes readable when the child exits (Python's `sentinel`), to wait
    /// on together with other sentinels and connections (`poll`, `epoll`, mp-ipc's `wait`). It is
    /// a pidfd, valid until the process is closed or dropped.
    pub fn sentinel(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.started()?.sentinel())
    }

    /// Releases the process's resources. An error while the child runs
    /// ([`Error::StillRunning`]); afterwards every use is [`Error::Closed`].
    pub fn close(&mut self) -> Result<()> {
        if let State::Started(child) = &self.state {
            self.check_owner()?;
            if child.is_running()? {
                return Err(Error::StillRunning {
                    name: self.name.clone(),
                });
            }
            context::forget_child(child);
        }
        self.state = State::Closed;
        Ok(())
    }

    fn started(&self) -> Result<&Arc<ChildShared>> {
        match &self.state {
            State::Started(child) => {
                self.check_owner()?;
                Ok(child)
            }
            State::Unstarted(_) => Err(Error::NotStarted {
                name: self.name.clone(),
            }),
            State::Closed => Err(Error::Closed {
                name: self.name.clone(),
            }),
        }
    }

    fn check_owner(&self) -> Result<()> {
        let caller = context::context().pid();
        if caller != self.owner {
            return Err(Error::NotOwner {
                name: self.name.clone(),
                owner: self.owner,
                caller,
            });
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A finished child (or one whose exit status is lost) is forgotten now; a running one
        // stays registered, to be reaped later.
        if let State::Started(child) = &self.state
            && self.check_owner().is_ok()
            && !matches!(child.is_running(), Ok(true))
        {
            context::forget_child(child);
        }
    }
}
