//! The launch protocol: what a parent sends a fresh child (spawn, forkserver) on the child's
//! launch channel, and what the child reports back. Types only; the parent's half is
//! [`super::launch`], the child's half is [`crate::target`]'s trampoline and [`super::run`].

use std::os::fd::OwnedFd;

use mp_sync::raw::FnRef;
use serde::{Deserialize, Serialize};

use crate::start::inherited::Inherited;

/// The child's way into its launch message: the trampoline monomorphized for the target's
/// argument type. It takes the receiving end of the launch channel and returns only on failure
/// (the reason, for stderr).
pub(crate) type Trampoline = fn(OwnedFd) -> String;

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
    /// The parent's process-wide settings, for a fresh child to take over; `None` for a fork
    /// child, which has them already in its copy of the parent's memory (and is spared reading
    /// the working directory at each start).
    pub(crate) inherited: Option<Inherited>,
}

/// Everything a fresh child needs but its target and arguments.
#[derive(Serialize, Deserialize)]
pub(crate) struct LaunchHeader {
    /// Who the child is, and who its parent is. (The child reports a panic on its launch
    /// channel, which the parent reads on its own end.)
    pub(crate) context: ChildStart,
}

/// The launch message: header, target and arguments, whose descriptors (channels, shared
/// memory) ipc-channel moves with the message.
#[derive(Serialize, Deserialize)]
pub(crate) struct Launch<A: 'static> {
    /// Everything but the target and its arguments.
    pub(crate) header: LaunchHeader,
    /// The target.
    pub(crate) target: FnRef<fn(A)>,
    /// The arguments.
    pub(crate) args: A,
}

/// What a child tells its parent before it exits.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ChildReport {
    /// The target panicked with this message.
    Panicked(String),
}
