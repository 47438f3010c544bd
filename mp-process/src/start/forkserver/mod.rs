//! The forkserver start method: a clean server process forks each child on request.
//!
//! The server is a fresh execution of this program (so it has none of the caller's threads or
//! held locks), taken over before `main` by [`crate::entry`], single-threaded for its whole life.
//! It inherits one end of a `SOCK_SEQPACKET` socket pair at exec and talks to its parent over it
//! in typed messages ([`wire`]); nothing is named, nothing to connect to.
//!
//! Each fork request carries the receiving end of the new child's launch channel as an attached
//! descriptor; the child inherits it through the server's fork and goes straight to its
//! trampoline, where the parent's launch message waits. The server sends back the child's
//! pidfd, so the parent can wait for and signal the child with no pid-reuse race although the
//! child is not its own; the exit code comes in a later message, since only the OS parent can
//! reap ([`client`]). The server exits when its parent's end closes (the parent exited or was
//! killed), after killing its daemon children ([`server`]).

pub(crate) mod client;
pub(crate) mod server;
pub(crate) mod wire;

use std::sync::Arc;

use mp_sync::raw::FnRef;

use crate::child::{ChildShared, Reaper};
use crate::context::context;
use crate::error::{Error, Result};
use crate::start::launch::{self, LaunchChannels, Started};
use crate::start::mark::BootFn;
use crate::start::wire::ChildStart;
use crate::target::FunctionTarget;

/// Starts a child through this process's fork server (starting the server first if needed).
///
/// The launch message is sent as soon as the request is: the server forks while this side
/// makes the arguments (if they are made at start) and encodes and sends them, and the child
/// finds them waiting.
pub(crate) fn start(
    mut target: Box<dyn FunctionTarget>,
    start: ChildStart,
) -> Result<Arc<ChildShared>> {
    let channels = LaunchChannels::new()?;
    let slot = context().forkserver();
    let mut attempt = 0;
    let (link, request) = loop {
        attempt += 1;
        let link = slot.current(FnRef::new(server::serve as BootFn))?;
        match link.request_fork(target.trampoline(), channels.child_end(), start.daemon) {
            Ok(request) => break (link, request),
            // A server that died since the last start is replaced, once.
            Err(Error::ForkServerDied(_)) if attempt == 1 => {}
            Err(e) => return Err(e),
        }
    };
    // The server holds a copy of the child's end: a fork that fails closes it, and a send
    // waiting for room then fails instead of waiting for ever.
    let sent = match target.make_args() {
        Ok(()) => launch::send(channels, target, start),
        // The child gets no launch message: it leaves at once, and is reaped below.
        Err(e) => launch::unsent(
            channels,
            start,
            Error::os("making the child's arguments")(e),
        ),
    };
    let (pid, pidfd) = link.forked(request)?;
    sent.finish(Started {
        pid,
        pidfd,
        reaper: Reaper::Reported(link),
    })
}
