//! Who this process is (name, identity, daemon, parent) and which children it has: Python's
//! `current_process()`, `parent_process()` and `active_children()`, and the exit-time clean-up.
//!
//! The state lives in one leaked [`Context`] per process, reached through an atomic pointer: a
//! forked child installs a fresh one without taking any lock, since the parent's locks may have
//! been copied held.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use mp_sync::raw::{Deadline, poll_readable};
use nix::sys::signal::Signal;

use crate::child::ChildShared;
use crate::start::forkserver::client::ServerSlot;
use crate::start::wire::ChildStart;
use crate::sys::{self, Leaked};

/// This process's identity and children.
pub(crate) struct Context {
    /// The pid this context belongs to; another pid means we are an unannounced fork.
    pid: i32,
    /// The name (`MainProcess` in a process we did not start).
    name: String,
    /// The identity (`[]` for the main process).
    identity: Vec<u32>,
    /// Whether this process is a daemon child.
    daemon: bool,
    /// The parent, in a child we started.
    parent: Option<ParentProcess>,
    /// How many children this process has created (names `Process-<identity>:<n>`).
    created: AtomicU32,
    /// Started children not yet joined: reaped by `active_children`, by each start, and at exit.
    children: Mutex<Vec<Arc<ChildShared>>>,
    /// This process's fork server, once started.
    forkserver: ServerSlot,
    /// Whether the exit hook is registered.
    exit_hook: AtomicBool,
    /// A pidfd of this process, opened at the first fork start and kept: every fork child's
    /// view of its parent, inherited through the fork (a `pidfd_open` and a `close` per start
    /// otherwise).
    own_pidfd: OnceLock<Arc<OwnedFd>>,
    /// Whether this child leaves through `exit`, running its at-exit handlers, when its target
    /// ends: a fresh child, or a fork of a single-threaded parent (see [`leave_child`]).
    runs_exit_handlers: bool,
}

/// The current process's context (none until first use). Contexts are leaked on purpose: a
/// forked child may not know who else reads one.
static CONTEXT: Leaked<Context> = Leaked::new();

/// This process's context, made on first use (and anew in a fork we did not make ourselves).
pub(crate) fn context() -> &'static Context {
    let pid = std::process::id() as i32;
    loop {
        let current = CONTEXT.get();
        if let Some(ctx) = current
            && ctx.pid == pid
        {
            return ctx;
        }
        let fresh = Context::new(
            pid,
            "MainProcess".to_owned(),
            Vec::new(),
            false,
            None,
            false,
        );
        // Another thread may install one first: then use it (ours leaks, once per process).
        if let Err(other) = CONTEXT.replace(current, fresh)
            && other.pid == pid
        {
            return other;
        }
    }
}

/// Installs a new context without reading the old one's locks.
fn install(ctx: Box<Context>) {
    CONTEXT.set(ctx);
}

impl Context {
    fn new(
        pid: i32,
        name: String,
        identity: Vec<u32>,
        daemon: bool,
        parent: Option<ParentProcess>,
        runs_exit_handlers: bool,
    ) -> Box<Context> {
        Box::new(Context {
            pid,
            name,
            identity,
            daemon,
            parent,
            created: AtomicU32::new(0),
            children: Mutex::new(Vec::new()),
            forkserver: ServerSlot::new(),
            exit_hook: AtomicBool::new(false),
            own_pidfd: OnceLock::new(),
            runs_exit_handlers,
        })
    }

    /// This process's pid (cached).
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// This process's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether this process is a daemon.
    pub(crate) fn is_daemon(&self) -> bool {
        self.daemon
    }

    /// The identity and default name of the next child this process creates.
    pub(crate) fn next_child(&self) -> (Vec<u32>, String) {
        let n = self.created.fetch_add(1, Ordering::Relaxed) + 1;
        let mut identity = self.identity.clone();
        identity.push(n);
        let numbers: Vec<String> = identity.iter().map(u32::to_string).collect();
        (identity, format!("Process-{}", numbers.join(":")))
    }

    /// A pidfd of this process, for the children it forks (see `own_pidfd`).
    pub(crate) fn own_pidfd(&self) -> std::io::Result<Arc<OwnedFd>> {
        if let Some(pidfd) = self.own_pidfd.get() {
            return Ok(pidfd.clone());
        }
        let pidfd = Arc::new(sys::pidfd_open(self.pid)?);
        // Another thread may have set one first (fork with threads allowed): then ours closes.
        Ok(self.own_pidfd.get_or_init(|| pidfd).clone())
    }

    /// This process's fork server.
    pub(crate) fn forkserver(&self) -> &ServerSlot {
        &self.forkserver
    }

    fn children(&self) -> MutexGuard<'_, Vec<Arc<ChildShared>>> {
        self.children.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Records a started child, reaping finished ones, and makes sure the exit hook will run.
pub(crate) fn register_child(child: Arc<ChildShared>) {
    let ctx = context();
    if !ctx.exit_hook.swap(true, Ordering::Relaxed) {
        sys::at_exit(exit_hook);
    }
    let snapshot = ctx.children().clone();
    let finished = finished(snapshot);
    let mut children = ctx.children();
    children.retain(|c| !finished.iter().any(|f| Arc::ptr_eq(c, f)));
    children.push(child);
}

/// The children among `registered` (a copy of the registry) that have finished, reaping them:
/// looked at with the registry unlocked: learning a forkserver child's exit may wait briefly for its report.
fn finished(registered: Vec<Arc<ChildShared>>) -> Vec<Arc<ChildShared>> {
    registered
        .into_iter()
        .filter(|c| !matches!(c.is_running(), Ok(true)))
        .collect()
}

/// Removes a child from the registry.
pub(crate) fn forget_child(child: &Arc<ChildShared>) {
    context().children().retain(|c| !Arc::ptr_eq(c, child));
}

/// Becomes the child described by `start` (a fresh child, after its handshake): takes over its
/// parent's settings, then its identity. An error is a start-up failure, for stderr.
pub(crate) fn become_child(start: ChildStart) -> Result<(), String> {
    if let Some(inherited) = &start.inherited {
        inherited.adopt()?;
    }
    // The parent is alive: it is waiting for this child's start-up to finish.
    let pidfd = sys::pidfd_open(start.parent_pid).ok().map(Arc::new);
    install(child_context(start, pidfd, true));
    Ok(())
}

/// A forked child's context, built before the fork: the child then only installs it, and
/// touches (so copies) fewer of the parent's pages.
pub(crate) struct PreparedContext(Box<Context>);

/// Builds the context of a child described by `start`, with a pidfd of the parent; whether the
/// parent is single-threaded decides how the child leaves (see [`leave_child`]).
pub(crate) fn prepare_forked_child(
    start: ChildStart,
    parent_pidfd: Arc<OwnedFd>,
    parent_single_threaded: bool,
) -> PreparedContext {
    PreparedContext(child_context(
        start,
        Some(parent_pidfd),
        parent_single_threaded,
    ))
}

impl PreparedContext {
    /// Becomes the prepared child, in the forked child. Takes no lock: the parent's may have
    /// been copied held.
    pub(crate) fn install(mut self) {
        if let Some(old) = CONTEXT.get() {
            // The parent's fork server connection is the parent's (the old context, its owner,
            // is leaked and never used again in this process).
            old.forkserver.close_copy_in_forked_child();
        }
        self.0.pid = std::process::id() as i32;
        install(self.0);
    }
}

fn child_context(
    start: ChildStart,
    parent_pidfd: Option<Arc<OwnedFd>>,
    runs_exit_handlers: bool,
) -> Box<Context> {
    let runs_exit_handlers = runs_exit_handlers && start.exit_handlers;
    let parent = ParentProcess {
        pid: start.parent_pid,
        name: start.parent_name,
        pidfd: parent_pidfd,
    };
    Context::new(
        std::process::id() as i32,
        start.name,
        start.identity,
        start.daemon,
        Some(parent),
        runs_exit_handlers,
    )
}

/// What a child does after its target, however the target ended (returned or panicked): what
/// Python's children do at exit (terminate daemon children, join the others), flush the standard
/// streams, then leave with `code`.
///
/// A fresh child, and a fork of a single-threaded parent, leave through `exit`: the at-exit
/// handlers registered in the process run (Python runs them under every start method). A fork
/// of a parent with other threads (allowed by `allow_fork_with_threads`) leaves through `_exit`:
/// a handler could need a lock another thread of the parent held at the fork.
pub(crate) fn leave_child(code: i32) -> ! {
    clean_up_children();
    // stderr is unbuffered; stdout may hold a partial line.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    sys::leave(code, context().runs_exit_handlers)
}

/// Runs at the normal exit of a process that started children.
extern "C" fn exit_hook() {
    // No context: nothing to clean up.
    if let Some(ctx) = CONTEXT.get()
        && ctx.pid == std::process::id() as i32
    {
        clean_up_children();
    }
}

/// Python's exit-time clean-up: terminate daemon children, then join every child.
fn clean_up_children() {
    let ctx = context();
    // Nothing was ever registered (the usual case in a child): touch no lock.
    if !ctx.exit_hook.load(Ordering::Relaxed) {
        return;
    }
    let children: Vec<Arc<ChildShared>> = std::mem::take(&mut *ctx.children());
    for child in children.iter().filter(|c| c.daemon) {
        let _ = child.signal(Signal::SIGTERM);
    }
    for child in &children {
        let _ = child.wait_until(None);
    }
}

/// A snapshot of who the current process is (Python's `current_process()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentProcess {
    name: String,
    pid: i32,
    daemon: bool,
    identity: Vec<u32>,
}

impl CurrentProcess {
    /// `MainProcess` in a process mp did not start; the child's name in a child.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }
    /// Whether this process is a daemon child.
    pub fn daemon(&self) -> bool {
        self.daemon
    }
    /// The identity: `[]` in the main process, `[2]` in its second child, `[2, 1]` in that
    /// child's first child (Python's `_identity`).
    pub fn identity(&self) -> &[u32] {
        &self.identity
    }
    /// Always `true`: the process asking is running (Python's `current_process().is_alive()`).
    /// There is no `join` or `exitcode` here: a process cannot wait for its own end (Python
    /// refuses with "can only join a child process").
    pub fn is_alive(&self) -> bool {
        true
    }
    /// This process's authkey (Python's `current_process().authkey`): 32 random bytes made
    /// by the first process of the tree, inherited by every child under every start method;
    /// [`set_authkey`](crate::set_authkey) replaces it. The key for `mp_ipc::Listener` and
    /// `mp_ipc::Client` between processes of one tree.
    pub fn authkey(&self) -> &'static [u8] {
        &crate::authkey::authkey().0
    }
}

/// Who the current process is: Python's `multiprocessing.current_process()`.
pub fn current_process() -> CurrentProcess {
    let ctx = context();
    CurrentProcess {
        name: ctx.name.clone(),
        pid: ctx.pid,
        daemon: ctx.daemon,
        identity: ctx.identity.clone(),
    }
}

/// The process that started this one: Python's `multiprocessing.parent_process()`.
#[derive(Debug, Clone)]
pub struct ParentProcess {
    pid: i32,
    name: String,
    /// A pidfd of the parent, readable once it has exited.
    pidfd: Option<Arc<OwnedFd>>,
}

impl ParentProcess {
    /// The parent's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }
    /// The parent's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Whether the parent is still running.
    pub fn is_alive(&self) -> bool {
        !self.join_until(Some(Deadline::now()))
    }
    /// Waits for the parent to exit.
    pub fn join(&self) {
        self.join_until(None);
    }
    /// Waits up to `timeout` for the parent to exit; whether it has.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.join_until(Some(Deadline::after(timeout)))
    }
    /// Waits until `deadline` for the parent to exit; whether it has.
    pub fn join_deadline(&self, deadline: Deadline) -> bool {
        self.join_until(Some(deadline))
    }
    fn join_until(&self, deadline: Option<Deadline>) -> bool {
        match &self.pidfd {
            Some(fd) => poll_readable(&[fd.as_fd()], deadline).map_or(true, |r| !r.is_empty()),
            // No pidfd (the parent was gone before we could open one).
            None => true,
        }
    }
}

/// The process that started this one, or `None` in a process mp did not start (Python's
/// `parent_process()`, which is `None` in the main process).
pub fn parent_process() -> Option<ParentProcess> {
    context().parent.clone()
}

/// A child that is still running, as listed by [`active_children`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveChild {
    /// Its pid.
    pub pid: i32,
    /// Its name.
    pub name: String,
    /// Whether it is a daemon.
    pub daemon: bool,
}

/// The children of this process that are still running: Python's `active_children()`, which
/// also reaps (joins) every child that has finished, including those whose handle was dropped.
pub fn active_children() -> Vec<ActiveChild> {
    let ctx = context();
    let snapshot = ctx.children().clone();
    let finished = finished(snapshot);
    let mut children = ctx.children();
    children.retain(|c| !finished.iter().any(|f| Arc::ptr_eq(c, f)));
    children
        .iter()
        .map(|c| ActiveChild {
            pid: c.pid,
            name: c.name.clone(),
            daemon: c.daemon,
        })
        .collect()
}
