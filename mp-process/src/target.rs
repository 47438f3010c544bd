//! What a child runs: a closure (fork only) or a plain `fn` with serde arguments (every method),
//! and, for the latter, the trampoline a fresh child enters to receive it.

use std::os::fd::OwnedFd;

use ipc_channel::ipc::{IpcReceiver, IpcSender, OpaqueIpcSender};
use mp_sync::raw::FnRef;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context;
use crate::error::{Error, Result};
use crate::start::run;
use crate::start::wire::{Launch, LaunchHeader, Trampoline};

/// A child's target, before start.
pub(crate) enum Target {
    /// Runs only in a forked copy of the caller: it is never serialized.
    Closure(Box<dyn FnOnce() + Send + 'static>),
    /// A plain function and its arguments: runs under every start method.
    Function(Box<dyn FunctionTarget>),
}

/// A plain function target with its arguments, its type erased so that `Process` is not generic.
pub(crate) trait FunctionTarget: Send {
    /// Makes the arguments, if they are made at start ([`MadeTarget`]): called once, in the
    /// parent, before [`call_here`](Self::call_here) or [`launch`](Self::launch).
    fn make_args(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// Calls the function here (in a forked child, where the arguments are already in memory).
    fn call_here(self: Box<Self>);
    /// The entry point a fresh child jumps to: [`trampoline`] monomorphized for this argument
    /// type, which receives the [`Launch`] message.
    fn trampoline(&self) -> FnRef<Trampoline>;
    /// Sends the function and the arguments to a fresh child.
    fn launch(self: Box<Self>, to: OpaqueIpcSender, header: LaunchHeader) -> Result<()>;
}

/// `fn(A)` and its `A`.
pub(crate) struct FnTarget<A> {
    /// The function.
    pub(crate) function: fn(A),
    /// Its argument.
    pub(crate) args: A,
}

impl<A> FunctionTarget for FnTarget<A>
where
    A: Serialize + DeserializeOwned + Send + 'static,
{
    fn call_here(self: Box<Self>) {
        (self.function)(self.args)
    }

    fn trampoline(&self) -> FnRef<Trampoline> {
        FnRef::new(trampoline::<A> as Trampoline)
    }

    fn launch(self: Box<Self>, to: OpaqueIpcSender, header: LaunchHeader) -> Result<()> {
        self.send(to, header)
    }
}

impl<A> FnTarget<A>
where
    A: Serialize + DeserializeOwned + Send + 'static,
{
    /// Sends the launch message: the function and its arguments, after `header`.
    fn send(self, to: OpaqueIpcSender, header: LaunchHeader) -> Result<()> {
        to.to::<Launch<A>>()
            .send(Launch {
                header,
                target: FnRef::new(self.function),
                args: self.args,
            })
            .map_err(Error::channel("sending the target and its arguments"))
    }
}

/// `fn(A)` and the maker of its `A`, run in the parent during the start (under forkserver, while
/// the server forks).
pub(crate) struct MadeTarget<A, M> {
    /// The function.
    pub(crate) function: fn(A),
    /// Makes its argument, until it ran.
    pub(crate) make: Option<M>,
    /// The argument, once made.
    pub(crate) args: Option<A>,
}

impl<A, M> MadeTarget<A, M>
where
    M: FnOnce() -> std::io::Result<A>,
{
    /// The argument, made now if it was not yet.
    fn take_args(&mut self) -> std::io::Result<A> {
        if let Some(args) = self.args.take() {
            return Ok(args);
        }
        let make = self
            .make
            .take()
            .ok_or_else(|| std::io::Error::other("the arguments were already made and taken"))?;
        make()
    }
}

impl<A, M> FunctionTarget for MadeTarget<A, M>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    M: FnOnce() -> std::io::Result<A> + Send + 'static,
{
    fn make_args(&mut self) -> std::io::Result<()> {
        let args = self.take_args()?;
        self.args = Some(args);
        Ok(())
    }

    fn call_here(mut self: Box<Self>) {
        // Made before the fork (`make_args`): the child only takes them.
        if let Ok(args) = self.take_args() {
            (self.function)(args)
        }
    }

    fn trampoline(&self) -> FnRef<Trampoline> {
        FnRef::new(trampoline::<A> as Trampoline)
    }

    fn launch(mut self: Box<Self>, to: OpaqueIpcSender, header: LaunchHeader) -> Result<()> {
        let args = self
            .take_args()
            .map_err(Error::os("making the child's arguments"))?;
        FnTarget {
            function: self.function,
            args,
        }
        .send(to, header)
    }
}

/// A fresh child's way in for argument type `A`: receives the launch message on `launch` (the
/// receiving end of its launch channel), becomes the child it describes, runs the target.
/// Returns only on failure.
fn trampoline<A>(launch: OwnedFd) -> String
where
    A: Serialize + DeserializeOwned + 'static,
{
    run::die_here_if_asked();
    let channel = IpcReceiver::<Launch<A>>::from_owned_fd(launch);
    let launch = match channel.recv() {
        Ok(launch) => launch,
        Err(e) => return format!("receiving the target and its arguments: {e}"),
    };
    // The launch channel, read, carries the report back: the parent reads its own end.
    let report = IpcSender::from_owned_fd(channel.into_owned_fd());
    let Launch {
        header,
        target,
        args,
    } = launch;
    if let Err(why) = context::become_child(header.context) {
        return why;
    }
    run::run_target(&report, move || (target.get())(args))
}
