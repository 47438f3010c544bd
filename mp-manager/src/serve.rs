//! Where a server runs: [`Listen`] (what it binds), the server process's entry
//! ([`start_process`]: any start method, a daemon child that dies with its owner), and the
//! [`Standalone`] form that serves in the calling process (Python's
//! `get_server().serve_forever()`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mp_ipc::{Address, Connection, Listener, Pipe};
use mp_process::{Process, StartMethod};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::registry::Registration;
use crate::server::Server;
use crate::wire::WireAddress;

/// How long a server process may take to start listening.
const START_BOUND: Duration = Duration::from_secs(60);

/// What a server listens on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Listen {
    /// A Unix socket (mode 0600) in a fresh directory only its owner can enter (0700).
    Unix,
    /// TCP at this address (port 0: the kernel picks one).
    Tcp(SocketAddr),
}

impl Listen {
    /// Binds it, authenticating clients with `authkey`.
    pub(crate) fn bind(&self, authkey: &[u8]) -> Result<Listener, Error> {
        match self {
            Listen::Unix => Listener::unix(Some(authkey)),
            Listen::Tcp(addr) => Listener::bind(Address::Tcp(*addr), Some(authkey)),
        }
        .map_err(Error::Listen)
    }
}

/// What a server process is started with.
#[derive(Serialize, Deserialize)]
struct ServerArgs {
    /// What to listen on.
    listen: Listen,
    /// The key clients must have.
    authkey: Vec<u8>,
    /// The types it serves.
    registry: Vec<Registration>,
    /// Where it reports its address (or why it could not listen).
    report: Connection,
}

/// The server process's body: listen, report where, serve until shut down.
fn server_main(args: ServerArgs) {
    let listener = match args.listen.bind(&args.authkey) {
        Ok(l) => l,
        Err(e) => {
            let _ = args
                .report
                .send(&Err::<WireAddress, String>(error_chain(&e)));
            return;
        }
    };
    let address = WireAddress::from(listener.address());
    if args.report.send(&Ok::<_, String>(address)).is_err() {
        return;
    }
    drop(args.report);
    Server::new(args.registry).serve(listener);
}

/// Starts a server process (a daemon child: it dies with this process, also when this
/// process is SIGKILLed) and returns it with the address it listens on.
pub(crate) fn start_process(
    builder: mp_process::Builder,
    method: Option<StartMethod>,
    listen: Listen,
    authkey: Vec<u8>,
    registry: Vec<Registration>,
) -> Result<(Process, Address), Error> {
    let (ours, theirs) = Pipe(true).map_err(Error::Connection)?;
    let mut builder = builder.daemon(true).name("mp-manager-server");
    if let Some(m) = method {
        builder = builder.start_method(m);
    }
    let args = ServerArgs {
        listen,
        authkey,
        registry,
        report: theirs,
    };
    let mut process = builder.target(server_main, args);
    process.start().map_err(Error::Start)?;
    match ours.recv_timeout::<Result<WireAddress, String>>(START_BOUND) {
        Ok(Ok(address)) => Ok((process, address.into())),
        Ok(Err(why)) => {
            let _ = process.join_timeout(START_BOUND);
            Err(Error::ServerFailed(why))
        }
        Err(e) => {
            let _ = process.kill();
            let _ = process.join_timeout(START_BOUND);
            Err(Error::ServerGone(e))
        }
    }
}

/// A server bound in this process, to be run here: Python's `manager.get_server()`, then
/// [`serve_forever`](Self::serve_forever). Nothing ties its life to another process.
pub struct Standalone {
    /// The bound listener.
    listener: Listener,
    /// The server core.
    server: Arc<Server>,
}

impl Standalone {
    /// Binds `listen`; serves nothing until [`serve_forever`](Self::serve_forever).
    pub(crate) fn bind(
        listen: &Listen,
        authkey: &[u8],
        registry: Vec<Registration>,
    ) -> Result<Standalone, Error> {
        Ok(Standalone {
            listener: listen.bind(authkey)?,
            server: Server::new(registry),
        })
    }

    /// Where it listens (the port the kernel chose filled in): what clients give
    /// [`Manager::connect`](crate::Manager::connect).
    pub fn address(&self) -> &Address {
        self.listener.address()
    }

    /// Serves clients until one of them asks for a shutdown
    /// ([`Manager::shutdown_server`](crate::Manager::shutdown_server)).
    pub fn serve_forever(self) {
        self.server.serve(self.listener);
    }
}

impl std::fmt::Debug for Standalone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standalone")
            .field("address", self.address())
            .finish_non_exhaustive()
    }
}

/// `e` and its sources, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
