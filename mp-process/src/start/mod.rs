//! Start methods: how a child process comes to be, chosen globally or per process.
//!
//! - [`fork`]: the child is a copy of the caller made by `fork()`.
//! - [`spawn`]: the child is a fresh execution of this same program; `crate::entry` takes it over
//!   before `main` and runs the requested target.
//! - [`forkserver`]: a fresh execution of this program, started once, forks each child on request.
//!
//! A fresh child receives its target and arguments in one ipc-channel message ([`wire`],
//! [`launch`]) on a launch channel whose receiving end it inherits: a spawn child across its
//! exec ([`exe`], [`mark`]), a forkserver child through the server's fork. No socket is named,
//! so no other process can reach a child during its start-up.

pub(crate) mod exe;
pub(crate) mod fork;
pub(crate) mod forkserver;
pub(crate) mod inherited;
pub(crate) mod launch;
pub(crate) mod mark;
pub(crate) mod run;
pub(crate) mod spawn;
pub(crate) mod wire;

use std::sync::OnceLock;

use crate::error::{Error, Result, UnknownStartMethod};

/// How a child process is started (Python's start methods).
///
/// The default is [`StartMethod::ForkServer`], as in Python 3.14: a child forked from a clean,
/// single-threaded server starts almost as fast as a fork of the caller, and cannot inherit a lock
/// that another thread of the caller held at the moment of the fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StartMethod {
    /// The child is a `fork()` of the caller. Fastest; the target may be a capturing closure and
    /// needs no serialization. Refused (with [`Error::ForkWithThreads`]) while the caller has other
    /// threads, unless allowed explicitly.
    Fork,
    /// The child is a fresh execution of the current program, taken over before `main` runs.
    /// Slowest, but shares nothing with the caller but the arguments it is sent.
    Spawn,
    /// A fresh execution of the current program, started once, forks each child on request:
    /// fork's speed, spawn's clean state. The default.
    ForkServer,
}

impl StartMethod {
    /// The method used when none is set: [`StartMethod::ForkServer`].
    pub const DEFAULT: StartMethod = StartMethod::ForkServer;

    /// All methods, for code that runs something under each.
    pub const ALL: [StartMethod; 3] = [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ];

    /// Python's name for the method: `"fork"`, `"spawn"` or `"forkserver"`.
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::ForkServer => "forkserver",
        }
    }
}

impl std::str::FromStr for StartMethod {
    type Err = UnknownStartMethod;

    /// Parses Python's name of a method (`"fork"`, `"spawn"`, `"forkserver"`), as Python's
    /// `get_context(name)` and `set_start_method(name)` take it.
    fn from_str(name: &str) -> std::result::Result<StartMethod, UnknownStartMethod> {
        StartMethod::ALL
            .into_iter()
            .find(|method| method.name() == name)
            .ok_or_else(|| UnknownStartMethod {
                name: name.to_owned(),
            })
    }
}

impl std::fmt::Display for StartMethod {
    /// Python's name of the method.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every start method, the one in force ([`get_start_method`]) first and the others in
/// [`StartMethod::ALL`]'s order (Python's `get_all_start_methods()`: the default first).
pub fn get_all_start_methods() -> [StartMethod; 3] {
    let first = get_start_method();
    let mut all = StartMethod::ALL;
    // Moves `first` to the front, keeping the others' order.
    if let Some(at) = all.iter().position(|&m| m == first) {
        all[..=at].rotate_right(1);
    }
    all
}

/// The method set by [`set_start_method`], if any.
static GLOBAL_METHOD: OnceLock<StartMethod> = OnceLock::new();

/// Sets the start method for every process that does not choose its own. It can be set once;
/// a second call is [`Error::StartMethodAlreadySet`] (Python's `RuntimeError: context has already
/// been set`). Children started afterwards, under any method, have it set too (as Python's do), so
/// that their own children start the same way.
pub fn set_start_method(method: StartMethod) -> Result<()> {
    GLOBAL_METHOD
        .set(method)
        .map_err(|_| Error::StartMethodAlreadySet {
            current: get_start_method(),
        })
}

/// The start method in force: the one set by [`set_start_method`], else [`StartMethod::DEFAULT`].
pub fn get_start_method() -> StartMethod {
    GLOBAL_METHOD.get().copied().unwrap_or(StartMethod::DEFAULT)
}

/// The method set by [`set_start_method`] in this process, if one was: what a fresh child
/// takes over (see `crate::context::Inherited`).
pub(crate) fn chosen_start_method() -> Option<StartMethod> {
    GLOBAL_METHOD.get().copied()
}

/// Takes over the parent's chosen method, in a fresh child before its target runs (nothing can
/// have set one yet there).
pub(crate) fn inherit_start_method(method: StartMethod) {
    let _ = GLOBAL_METHOD.set(method);
}
