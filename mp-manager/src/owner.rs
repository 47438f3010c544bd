//! [`Owner`]: what a [`Manager`](crate::Manager) holds of the server it started.

use std::sync::Arc;
use std::thread::JoinHandle;

use mp_process::Process;

use crate::server::Server;

/// What a manager owns of its server.
pub(crate) enum Owner {
    /// A server process (a daemon child).
    Process(Process),
    /// A server on a thread of this process.
    Thread(Arc<Server>, Option<JoinHandle<()>>),
    /// Nothing: connected to a server started elsewhere.
    Nothing,
}
