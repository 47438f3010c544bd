//! Who this process is (name, identity, daemon, parent) and which children it has: Python's
//! `current_process()`, `parent_process()` and `active_children()`, and the exit-time clean-up.
//!
//! The state lives in one leaked [`Context`] per process, reached through an atomic pointer: a
//! forked child installs a fresh one without taking any lock, since the parent's locks may have
//! been copied held.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::child::ChildShared;
use crate::start::{self, StartMethod, forkserver};
use crate::{sys, sys_exit};

/// Everything a child is told about itself and its parent at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChildStart {
    /// Its name.
    pub(crate) name: String,
    /// Its identity: the parent's identity and the child's number among the parent's children.
    pub(crate) identity: Vec<u32>,
    /// Whether it is a daemon.
    pub(crate) daemon: bool,
    /// Its parent's pid (the logical parent: a forkserver child's OS parent is the server).
    pub(crate) parent_pid: i32,
    /// Its parent's name.
    pub(crate) parent_name: String,
    /// The parent's process-wide settings, for a fresh child to take over.
    pub(crate) inherited: Inherited,
}

/// The parent's process-wide settings that a fresh child takes over before its target runs:
/// what of Python's preparation data applies here. A fork child has them already, in its copy
/// of the parent's memory; a fresh child would otherwise have the fork server's or none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Inherited {
    /// The parent's working directory at `start()`; `None` if it could not be read (it was
    /// removed, say): the child then stays where it starts (spawn: the same directory).
    working_dir: Option<PathBuf>,
    /// The start method the parent set with `set_start_method`, if it did.
    start_method: Option<StartMethod>,
}

impl Inherited {
    /// This process's settings, now.
    pub(crate) fn now() -> Inherited {
        Inherited {
            working_dir: std::env::current_dir().ok(),
            start_method: start::chosen_start_method(),
        }
    }

    /// Makes them this process's: in a fresh child, before its target runs. Failing to enter
    /// the working directory is a start-up failure (the target would run in the wrong place).
    fn adopt(&self) -> Result<(), String> {
        if let Some(dir) = &self.working_dir {
            std::env::set_current_dir(dir).map_err(|e| {
                format!(
                    "entering the parent's working directory {}: {e}",
                    dir.display()
                )
            })?;
        }
        if let Some(method) = self.start_method {
            start::inherit_start_method(method);
        }
        Ok(())
    }
}

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
    /// The connection to this process's fork server, once started.
    forkserver: Mutex<Option<forkserver::Client>>,
    /// The fork server socket's number, so that a forked child can close its copy lock-free.
    forkserver_fd: AtomicI32,
    /// Whether the exit hook is registered.
    exit_hook: AtomicBool,
    /// Whether this child leaves through `exit`, running its at-exit handlers, when its target
    /// ends: a fresh child, or a fork of a single-threaded parent (see [`leave_child`]).
    runs_exit_handlers: bool,
}

/// The current process's context (null until first use).
static CONTEXT: AtomicPtr<Context> = AtomicPtr::new(std::ptr::null_mut());

/// This process's context, made on first use (and anew in a fork we did not make ourselves).
pub(crate) fn context() -> &'static Context {
    let current = CONTEXT.load(Ordering::Acquire);
    let pid = std::process::id() as i32;
    // SAFETY: a non-null pointer in CONTEXT came from `Box::into_raw` in `install` and is never
    // freed (contexts are leaked on purpose: a forked child may not know who else reads one).
    if let Some(ctx) = unsafe { current.as_ref() }
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
    match CONTEXT.compare_exchange(
        current,
        Box::into_raw(fresh),
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => {}
        Err(other) => {
            // Another thread installed one first: use it (ours leaks, once per process).
            // SAFETY: as above.
            return unsafe { &*other };
        }
    }
    context()
}

/// Installs a new context without reading the old one's locks.
fn install(ctx: Box<Context>) {
    CONTEXT.store(Box::into_raw(ctx), Ordering::Release);
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
            forkserver: Mutex::new(None),
            forkserver_fd: AtomicI32::new(-1),
            exit_hook: AtomicBool::new(false),
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

    /// The fork server connection slot.
    pub(crate) fn forkserver(&self) -> MutexGuard<'_, Option<forkserver::Client>> {
        self.forkserver.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the fork server socket's number (-1: none).
    pub(crate) fn set_forkserver_fd(&self, fd: i32) {
        self.forkserver_fd.store(fd, Ordering::Relaxed);
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
    let mut children = ctx.children();
    children.retain(|c| !matches!(c.poll(), Ok(Some(_)) | Err(_)));
    children.push(child);
}

/// Removes a child from the registry.
pub(crate) fn forget_child(child: &Arc<ChildShared>) {
    context().children().retain(|c| !Arc::ptr_eq(c, child));
}

/// Becomes the child described by `start` (a fresh child, after its handshake): takes over its
/// parent's settings, then its identity. An error is a start-up failure, for stderr.
pub(crate) fn become_child(start: ChildStart) -> Result<(), String> {
    start.inherited.adopt()?;
    // The parent is alive: it is waiting for this child's start-up to finish.
    let pidfd = sys::pidfd_open(start.parent_pid).ok();
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
    parent_pidfd: OwnedFd,
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
        // SAFETY: a non-null pointer in CONTEXT is a leaked, never-freed Context (see `context`).
        if let Some(old) = unsafe { CONTEXT.load(Ordering::Acquire).as_ref() } {
            let fd = old.forkserver_fd.load(Ordering::Relaxed);
            if fd >= 0 {
                // The parent's fork server connection is the parent's: close our copy, so that
                // the server still sees the parent's exit. (The copy's owner, the old context,
                // is leaked and never used again in this process.)
                // SAFETY: closing a descriptor number; nothing in this process uses it again.
                unsafe { libc::close(fd) };
            }
        }
        self.0.pid = std::process::id() as i32;
        install(self.0);
    }
}

fn child_context(
    start: ChildStart,
    parent_pidfd: Option<OwnedFd>,
    runs_exit_handlers: bool,
) -> Box<Context> {
    let parent = ParentProcess {
        pid: start.parent_pid,
        name: start.parent_name,
        pidfd: parent_pidfd.map(Arc::new),
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
    sys_exit::leave(code, context().runs_exit_handlers)
}

/// Runs at the normal exit of a process that started children.
extern "C" fn exit_hook() {
    // SAFETY: see `context`; a null pointer means no context, so nothing to clean up.
    if let Some(ctx) = unsafe { CONTEXT.load(Ordering::Acquire).as_ref() }
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
        let _ = child.signal(libc::SIGTERM);
    }
    for child in &children {
        let _ = child.wait(None);
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
        !self.join(Some(Duration::ZERO))
    }
    /// Waits up to `timeout` (`None`: forever) for the parent to exit; whether it has.
    pub fn join(&self, timeout: Option<Duration>) -> bool {
        match &self.pidfd {
            Some(fd) => sys::wait_readable(fd.as_fd(), timeout).unwrap_or(true),
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
    let mut children = context().children();
    children.retain(|c| matches!(c.poll(), Ok(None)));
    children
        .iter()
        .map(|c| ActiveChild {
            pid: c.pid,
            name: c.name.clone(),
            daemon: c.daemon,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Inherited;

    #[test]
    fn a_working_directory_that_cannot_be_entered_is_a_clear_start_up_failure() {
        let inherited = Inherited {
            working_dir: Some("/nonexistent/mp-process-test".into()),
            start_method: None,
        };
        let why = inherited.adopt().unwrap_err();
        assert!(
            why.contains("working directory /nonexistent/mp-process-test"),
            "{why}"
        );
    }
}
