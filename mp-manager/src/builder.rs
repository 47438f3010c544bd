//! [`ManagerBuilder`]: where a manager's server listens, its key, how it runs (a process
//! under a start method, a thread, or standalone), and the types it serves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mp_process::StartMethod;

use crate::error::Error;
use crate::link::Link;
use crate::owner::Owner;
use crate::registry::{Registration, Served};
use crate::serve::{Listen, Standalone, start_process};
use crate::server::Server;

/// How to start a [`Manager`](crate::Manager) (Python's `BaseManager(address, authkey)` with
/// its registered types, and `SyncManager`'s objects always there).
///
/// ```
/// use mp_manager::Manager;
///
/// let mut manager = Manager::builder().start()?;
/// let d = manager.dict::<String, i32>()?;
/// d.insert(&"a".into(), &1)?;
/// assert_eq!(d.get(&"a".into())?, Some(1));
/// manager.shutdown()?;
/// # Ok::<(), mp_manager::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ManagerBuilder {
    /// What the server listens on.
    listen: Listen,
    /// The key (default: the process tree's authkey).
    authkey: Option<Vec<u8>>,
    /// The server process's start method (default: mp-process's).
    start_method: Option<StartMethod>,
    /// Allow a fork start while this process has other threads.
    allow_fork_with_threads: bool,
    /// Run the server on a thread of this process instead.
    in_thread: bool,
    /// The registered types.
    registry: Vec<Registration>,
    /// The owner's proxies' call bound.
    call_timeout: Option<Duration>,
}

impl Default for ManagerBuilder {
    fn default() -> Self {
        ManagerBuilder::new()
    }
}

impl ManagerBuilder {
    /// The defaults: a Unix socket in a private directory (0700, the socket 0600), the
    /// process tree's authkey (`mp_process::current_process().authkey()`), a server
    /// process under the default start method, no registered types.
    pub fn new() -> ManagerBuilder {
        ManagerBuilder {
            listen: Listen::Unix,
            authkey: None,
            start_method: None,
            allow_fork_with_threads: false,
            in_thread: false,
            registry: Vec::new(),
            call_timeout: None,
        }
    }

    /// Listens on TCP at `addr` (port 0: the kernel picks one), for clients on other hosts
    /// ([`Manager::connect`](crate::Manager::connect)). Give it an [`authkey`](Self::authkey)
    /// the clients know.
    pub fn listen_tcp(mut self, addr: SocketAddr) -> ManagerBuilder {
        self.listen = Listen::Tcp(addr);
        self
    }

    /// The key every client must prove it has (HMAC challenge both ways).
    pub fn authkey(mut self, key: &[u8]) -> ManagerBuilder {
        self.authkey = Some(key.to_vec());
        self
    }

    /// Starts the server process under `method`.
    pub fn start_method(mut self, method: StartMethod) -> ManagerBuilder {
        self.start_method = Some(method);
        self
    }

    /// Allows the fork start method while this process has other threads (see
    /// `mp_process::Builder::allow_fork_with_threads`).
    pub fn allow_fork_with_threads(mut self, allow: bool) -> ManagerBuilder {
        self.allow_fork_with_threads = allow;
        self
    }

    /// Runs the server on a thread of this process rather than in a process of its own
    /// (for tests; it goes with this process).
    pub fn in_thread(mut self) -> ManagerBuilder {
        self.in_thread = true;
        self
    }

    /// Bounds the round trip of every call of proxies made by this manager (see
    /// [`DictProxy::set_call_timeout`](crate::DictProxy::set_call_timeout)).
    pub fn call_timeout(mut self, timeout: Duration) -> ManagerBuilder {
        self.call_timeout = Some(timeout);
        self
    }

    /// Serves `T` under `name`, each instance made by `ctor` on the server (Python's
    /// `BaseManager.register(name, callable)`): [`Manager::create`](crate::Manager::create)
    /// makes one and returns its [`Proxy`](crate::Proxy). `ctor` is a plain function so that
    /// a server started by spawn or forkserver can call it too.
    pub fn register<T: Served>(mut self, name: &str, ctor: fn() -> T) -> ManagerBuilder {
        self.registry.push(Registration::new(name, ctor));
        self
    }

    /// The key in force.
    fn key(&self) -> Vec<u8> {
        self.authkey
            .clone()
            .unwrap_or_else(|| mp_process::current_process().authkey().to_vec())
    }

    /// Starts the server: the way to it and what its owner holds.
    pub(crate) fn launch(self) -> Result<(Link, Owner), Error> {
        let key = self.key();
        let (address, owner) = if self.in_thread {
            let listener = self.listen.bind(&key)?;
            let address = listener.address().clone();
            let server = Server::new(self.registry);
            let serving = Arc::clone(&server);
            let thread = std::thread::Builder::new()
                .name("mp-manager-server".into())
                .spawn(move || serving.serve(listener))
                .map_err(Error::Io)?;
            (address, Owner::Thread(server, Some(thread)))
        } else {
            let process = mp_process::Process::builder()
                .allow_fork_with_threads(self.allow_fork_with_threads);
            let (process, address) = start_process(
                process,
                self.start_method,
                self.listen,
                key.clone(),
                self.registry,
            )?;
            (address, Owner::Process(process))
        };
        let mut link = Link::new(address, key);
        if let Some(t) = self.call_timeout {
            link.set_call_timeout(t);
        }
        Ok((link, owner))
    }

    /// Binds a server to run in this process (Python's `manager.get_server()`): its
    /// [`serve_forever`](Standalone::serve_forever) serves until a client asks for a
    /// shutdown. Tied to no other process.
    pub fn get_server(self) -> Result<Standalone, Error> {
        let key = self.key();
        Standalone::bind(&self.listen, &key, self.registry)
    }
}
