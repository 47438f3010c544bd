//! [`Builder`]: a process's name, daemon flag and start method, then its target.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::process::Process;
use crate::start::StartMethod;
use crate::target::{FnTarget, MadeTarget, Target};

/// Configures a [`Process`] before giving it a target.
///
/// ```
/// use mp_process::{Process, StartMethod};
///
/// fn work(n: u32) {
///     assert_eq!(n, 7);
/// }
///
/// let mut p = Process::builder()
///     .name("worker")
///     .start_method(StartMethod::Spawn)
///     .target(work, 7);
/// p.start()?;
/// assert_eq!(p.join()?, 0);
/// # Ok::<(), mp_process::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a Builder does nothing until given a target"]
pub struct Builder {
    /// The name; default `Process-N`.
    name: Option<String>,
    /// Whether the child is a daemon; default false.
    daemon: bool,
    /// The start method; default the global one ([`crate::get_start_method`]) at start.
    method: Option<StartMethod>,
    /// Whether Fork may run while this process has other threads; default false.
    allow_fork_with_threads: bool,
    /// Whether the child leaves through `_exit` whatever its start; default false.
    skip_exit_handlers: bool,
}

impl Process {
    /// A process that will run `function(args)` under the global start method.
    pub fn new<A>(function: fn(A), args: A) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        Builder::new().target(function, args)
    }

    /// A builder, to set the name, daemon flag or start method first.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// A builder with every default.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The process's name (default `Process-N`, numbered like Python's).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// A daemon child is terminated when its parent exits, also when the parent is killed
    /// (SIGKILL), and may not start children of its own. Default false.
    pub fn daemon(mut self, daemon: bool) -> Builder {
        self.daemon = daemon;
        self
    }

    /// The start method for this process, instead of the global one.
    pub fn start_method(mut self, method: StartMethod) -> Builder {
        self.method = Some(method);
        self
    }

    /// Lets [`StartMethod::Fork`] run while this process has other threads.
    ///
    /// A forked child inherits every lock of every thread in the state it was in: one that another
    /// thread held (stdout's, the environment's, a `Mutex` of yours) stays held forever in the
    /// child. Without this, such a fork is refused with [`Error::ForkWithThreads`](crate::Error).
    /// Allow it only when the child touches no lock another thread may hold. Such a child leaves
    /// through `_exit` when its target returns or panics, so its at-exit handlers do not run
    /// (see [`Process`]'s docs).
    pub fn allow_fork_with_threads(mut self, allow: bool) -> Builder {
        self.allow_fork_with_threads = allow;
        self
    }

    /// Whether the child runs the at-exit handlers registered in its process when its target
    /// returns or panics (default true, where that is sound: see [`Process`]'s docs). With
    /// `false` it leaves through `_exit` after flushing stdout and joining its own children, as
    /// CPython's fork and forkserver children leave through `os._exit`: the exit runs no
    /// handler and no C stdio flush, and a fork child touches none of the pages they would
    /// (each a page fault after a fork). A target that calls `std::process::exit` still runs
    /// them. For children, such as a pool's workers, whose at-exit work is nobody's.
    pub fn exit_handlers(mut self, run: bool) -> Builder {
        self.skip_exit_handlers = !run;
        self
    }

    /// A process that will run `function(args)`, under any start method. Under spawn and
    /// forkserver, `args` travels to the child in an ipc-channel message, file descriptors and all
    /// (ipc-channel senders, receivers and shared memory, and the mp types built on them).
    pub fn target<A>(self, function: fn(A), args: A) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        self.build(Target::Function(Box::new(FnTarget { function, args })))
    }

    /// A process that will run `function(args)`, under any start method, with `args` made by
    /// `make` in this process during [`Process::start`] (an error from it fails the start):
    /// under forkserver after the child was asked for, so that making them (pipes, shared
    /// memory) overlaps the server's fork; under fork and spawn before the child is made.
    /// Otherwise as [`target`](Self::target).
    pub fn target_made<A, M>(self, function: fn(A), make: M) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        M: FnOnce() -> std::io::Result<A> + Send + 'static,
    {
        self.build(Target::Function(Box::new(MadeTarget {
            function,
            make: Some(make),
            args: None,
        })))
    }

    /// A process that will run a closure, which may capture anything: it needs
    /// [`StartMethod::Fork`], since a closure cannot be sent to a fresh program. Under another
    /// method, [`Process::start`] fails with [`Error::ClosureNeedsFork`](crate::Error).
    pub fn closure<F>(self, closure: F) -> Process
    where
        F: FnOnce() + Send + 'static,
    {
        self.build(Target::Closure(Box::new(closure)))
    }

    fn build(self, target: Target) -> Process {
        Process::from_parts(
            self.name,
            self.daemon,
            self.method,
            self.allow_fork_with_threads,
            self.skip_exit_handlers,
            target,
        )
    }
}
