//! What a child runs: a closure (fork only) or a plain `fn` with serde arguments (every method).

use ipc_channel::ipc::OpaqueIpcSender;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entry::{self, Launch, LaunchHeader};
use crate::error::{Error, Result};

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
    /// The entry point a fresh child jumps to (as an offset, see [`entry::code_offset`]): the
    /// trampoline monomorphized for this argument type, which receives the [`Launch`] message.
    fn trampoline(&self) -> usize;
    /// Sends the function (as an offset) and the arguments to a fresh child.
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

    fn trampoline(&self) -> usize {
        entry::code_offset(entry::trampoline::<A> as fn(_) -> _ as usize)
    }

    fn launch(self: Box<Self>, to: OpaqueIpcSender, mut header: LaunchHeader) -> Result<()> {
        header.target = entry::code_offset(self.function as usize);
        to.to::<Launch<A>>()
            .send(Launch {
                header,
                args: self.args,
            })
            .map_err(|e| Error::Ipc(format!("sending the target's arguments: {e}")))
    }
}
