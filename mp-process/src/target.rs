//! What a child runs: a closure (fork only) or a plain `fn` with serde arguments (every method),
//! and, for the latter, the trampoline a fresh child enters to receive it.

use std::os::fd::OwnedFd;

use ipc_channel::ipc::{IpcReceiver, OpaqueIpcSender};
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
        to.to::<Launch<A>>()
            .send(Launch {
                header,
                target: FnRef::new(self.function),
                args: self.args,
            })
            .map_err(Error::channel("sending the target and its arguments"))
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
    let launch = match IpcReceiver::<Launch<A>>::from_owned_fd(launch).recv() {
        Ok(launch) => launch,
        Err(e) => return format!("receiving the target and its arguments: {e}"),
    };
    let Launch {
        header,
        target,
        args,
    } = launch;
    if let Err(why) = context::become_child(header.context) {
        return why;
    }
    run::run_target(&header.report, move || (target.get())(args))
}
