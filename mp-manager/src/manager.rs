//! [`Manager`]: the owner of (or a client of) a manager's server, which makes shared objects
//! there and hands out their proxies (Python's `SyncManager` and `BaseManager`).

use std::any::type_name;
use std::time::Duration;

use mp_ipc::Address;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::builder::ManagerBuilder;
use crate::codec::encode;
use crate::error::Error;
use crate::link::{Link, unexpected};
use crate::owner::Owner;
use crate::proxy::acquirer::AcquirerProxy;
use crate::proxy::barrier::BarrierProxy;
use crate::proxy::condition::ConditionProxy;
use crate::proxy::dict::DictProxy;
use crate::proxy::event::EventProxy;
use crate::proxy::handle::Handle;
use crate::proxy::list::ListProxy;
use crate::proxy::queue::QueueProxy;
use crate::proxy::registered::Proxy;
use crate::proxy::value::ValueProxy;
use crate::registry::Served;
use crate::wire::{Kind, Reply, Request};

/// How long a shut-down server process may take to exit before it is killed.
const EXIT_BOUND: Duration = Duration::from_secs(10);

/// A manager: Python's `multiprocessing.Manager()` (a started `SyncManager`) or
/// `BaseManager(address, authkey).connect()`.
///
/// Every object it makes lives on its server; the proxies it returns reach it over
/// authenticated connections (one per proxy, opened on first use in each process) and are
/// ordinary `Process` arguments: a child under fork, spawn or forkserver reaches the same
/// object. Objects live as long as the server (there is no reference counting of proxies).
///
/// ```
/// use mp_manager::Manager;
///
/// let mut manager = Manager::new()?;
/// let l = manager.list::<u32>()?;
/// let lock = manager.lock()?;
/// lock.acquire()?;
/// l.push(&7)?;
/// lock.release()?;
/// assert_eq!(l.to_vec()?, vec![7]);
/// manager.shutdown()?;
/// assert!(l.len().is_err()); // the server is gone: an error, never a hang
/// # Ok::<(), mp_manager::Error>(())
/// ```
pub struct Manager {
    /// The way to the server.
    link: Link,
    /// What it owns.
    owner: Owner,
    /// The process that made this manager: a copy in a forked child owns nothing.
    pid: u32,
}

impl Manager {
    /// A started manager with the defaults of [`ManagerBuilder::new`] (Python's
    /// `multiprocessing.Manager()`).
    pub fn new() -> Result<Manager, Error> {
        ManagerBuilder::new().start()
    }

    /// A builder: address, key, start method, registered types.
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder::new()
    }

    /// Connects to a server started elsewhere (another process or host): Python's
    /// `BaseManager(address, authkey).connect()`. A wrong key is
    /// [`Error::Authentication`]; nothing listening there is [`Error::ServerGone`].
    pub fn connect(address: &Address, authkey: &[u8]) -> Result<Manager, Error> {
        Manager::connect_until(address, authkey, None)
    }

    /// [`connect`](Self::connect), bounding every call of this manager and its proxies by
    /// `call_timeout` (for a server across a network that may be cut off).
    pub fn connect_timeout(
        address: &Address,
        authkey: &[u8],
        call_timeout: Duration,
    ) -> Result<Manager, Error> {
        Manager::connect_until(address, authkey, Some(call_timeout))
    }

    /// The one connect: proves the key with a first call.
    fn connect_until(
        address: &Address,
        authkey: &[u8],
        call_timeout: Option<Duration>,
    ) -> Result<Manager, Error> {
        let mut link = Link::new(address.clone(), authkey.to_vec());
        if let Some(t) = call_timeout {
            link.set_call_timeout(t);
        }
        match link.call_until(&Request::Ping, link.deadline(None))? {
            Reply::Done => Ok(Manager {
                link,
                owner: Owner::Nothing,
                pid: std::process::id(),
            }),
            other => Err(unexpected(other)),
        }
    }

    /// Where the server listens (what [`connect`](Self::connect) takes).
    pub fn address(&self) -> &Address {
        self.link.address()
    }

    /// The server's authkey.
    pub fn authkey(&self) -> &[u8] {
        self.link.authkey()
    }

    /// The server process's pid, if this manager started one.
    pub fn server_pid(&self) -> Option<i32> {
        match &self.owner {
            Owner::Process(p) => p.pid(),
            _ => None,
        }
    }

    /// A new dict (Python's `manager.dict()`).
    pub fn dict<K, V>(&self) -> Result<DictProxy<K, V>, Error>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        Ok(DictProxy::new(self.make(Kind::Dict, None)?))
    }

    /// The dict called `name` on the server, made empty if there is none: how clients
    /// started apart reach the same object.
    pub fn named_dict<K, V>(&self, name: &str) -> Result<DictProxy<K, V>, Error>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        Ok(DictProxy::new(self.make(Kind::Dict, Some(name))?))
    }

    /// A new list (Python's `manager.list()`).
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> Result<ListProxy<T>, Error> {
        Ok(ListProxy::new(self.make(Kind::List, None)?))
    }

    /// The list called `name`, made empty if there is none.
    pub fn named_list<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<ListProxy<T>, Error> {
        Ok(ListProxy::new(self.make(Kind::List, Some(name))?))
    }

    /// A new value, initially `value` (Python's `manager.Value(typecode, value)`).
    pub fn value<T: Serialize + DeserializeOwned>(
        &self,
        value: &T,
    ) -> Result<ValueProxy<T>, Error> {
        Ok(ValueProxy::new(
            self.make(Kind::Value(encode(value)?), None)?,
        ))
    }

    /// A new Lock (Python's `manager.Lock()`).
    pub fn lock(&self) -> Result<AcquirerProxy, Error> {
        Ok(AcquirerProxy::new(self.make(Kind::Lock, None)?))
    }

    /// The Lock called `name`, made free if there is none.
    pub fn named_lock(&self, name: &str) -> Result<AcquirerProxy, Error> {
        Ok(AcquirerProxy::new(self.make(Kind::Lock, Some(name))?))
    }

    /// A new RLock (Python's `manager.RLock()`).
    pub fn rlock(&self) -> Result<AcquirerProxy, Error> {
        Ok(AcquirerProxy::new(self.make(Kind::RLock, None)?))
    }

    /// A new Semaphore starting at `value` (Python's `manager.Semaphore(value)`).
    pub fn semaphore(&self, value: u32) -> Result<AcquirerProxy, Error> {
        Ok(AcquirerProxy::new(self.make(Kind::Semaphore(value), None)?))
    }

    /// A new Condition over a re-entrant lock of its own (Python's `manager.Condition()`).
    pub fn condition(&self) -> Result<ConditionProxy, Error> {
        Ok(ConditionProxy::new(self.make(Kind::Condition, None)?))
    }

    /// A new Barrier for `parties` callers (Python's `manager.Barrier(parties)`).
    pub fn barrier(&self, parties: usize) -> Result<BarrierProxy, Error> {
        Ok(BarrierProxy::new(
            self.make(Kind::Barrier(parties as u64), None)?,
        ))
    }

    /// A new Event (Python's `manager.Event()`).
    pub fn event(&self) -> Result<EventProxy, Error> {
        Ok(EventProxy::new(self.make(Kind::Event, None)?))
    }

    /// A new unbounded Queue (Python's `manager.Queue()`).
    pub fn queue<T: Serialize + DeserializeOwned>(&self) -> Result<QueueProxy<T>, Error> {
        self.queue_with_maxsize(0)
    }

    /// A new Queue of at most `maxsize` items (0: unbounded).
    pub fn queue_with_maxsize<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<QueueProxy<T>, Error> {
        Ok(QueueProxy::new(
            self.make(Kind::Queue(maxsize as u64), None)?,
        ))
    }

    /// The queue called `name`, made empty and unbounded if there is none.
    pub fn named_queue<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<QueueProxy<T>, Error> {
        Ok(QueueProxy::new(self.make(Kind::Queue(0), Some(name))?))
    }

    /// A new instance of the type registered as `registered`
    /// ([`ManagerBuilder::register`]), made on the server (Python's `manager.Name()`).
    pub fn create<T: Served>(&self, registered: &str) -> Result<Proxy<T>, Error> {
        Ok(Proxy::new(
            self.make(registered_kind::<T>(registered), None)?,
        ))
    }

    /// The instance called `name` of the type registered as `registered`, made if there is
    /// none.
    pub fn create_named<T: Served>(&self, registered: &str, name: &str) -> Result<Proxy<T>, Error> {
        Ok(Proxy::new(
            self.make(registered_kind::<T>(registered), Some(name))?,
        ))
    }

    /// Makes (or finds by name) an object on the server.
    fn make(&self, kind: Kind, name: Option<&str>) -> Result<Handle, Error> {
        let request = Request::Create {
            kind,
            name: name.map(str::to_owned),
        };
        match self.link.call_until(&request, self.link.deadline(None))? {
            Reply::Created(id) => Ok(Handle::new(self.link.clone(), id)),
            other => Err(unexpected(other)),
        }
    }

    /// How many client connections the server serves now, this manager's included: a
    /// debugging figure. A client that went away leaves it when the server notices: at once
    /// when its connection closes, within [`mp_ipc::Keepalive::detection_time`] when it was
    /// cut off (its link or host down).
    pub fn connections(&self) -> Result<usize, Error> {
        match self
            .link
            .call_until(&Request::Connections, self.link.deadline(None))?
        {
            Reply::Len(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            other => Err(unexpected(other)),
        }
    }

    /// Asks the server to stop, whoever started it (a standalone server's clients use this;
    /// an owner uses [`shutdown`](Self::shutdown)). Every proxy call after it is an error.
    pub fn shutdown_server(&self) -> Result<(), Error> {
        match self
            .link
            .call_until(&Request::Shutdown, self.link.deadline(None))
        {
            Ok(Reply::Done) | Err(Error::ServerGone(_)) => Ok(()),
            Ok(other) => Err(unexpected(other)),
            Err(e) => Err(e),
        }
    }

    /// Stops the server this manager started, and waits for it (a server process that does
    /// not exit within 10 s is killed); every proxy call after it is an error
    /// ([`Error::ServerGone`]), never a hang. For a manager that [`connect`](Self::connect)ed,
    /// or a copy of the owner in a forked child, closes its connection only: the server goes
    /// on. Done by `Drop` too.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        let owner = std::mem::replace(&mut self.owner, Owner::Nothing);
        if self.pid != std::process::id() {
            // A forked child's copy: the server is its parent's.
            std::mem::forget(owner);
            return Ok(());
        }
        match owner {
            Owner::Nothing => Ok(()),
            Owner::Thread(server, thread) => {
                server.stop();
                if let Some(t) = thread {
                    let _ = t.join();
                }
                Ok(())
            }
            Owner::Process(process) => {
                let asked = self.shutdown_server();
                if !matches!(process.join_timeout(EXIT_BOUND), Ok(Some(_))) {
                    let _ = process.kill();
                    let _ = process.join_timeout(EXIT_BOUND);
                }
                asked
            }
        }
    }
}

impl ManagerBuilder {
    /// Starts the server and returns its owner. The server process is a daemon child of the
    /// calling thread's process: it dies with this process (`PR_SET_PDEATHSIG`, which
    /// follows the thread that started it, or the fork server's exit), so start a
    /// long-lived manager from a long-lived thread.
    pub fn start(self) -> Result<Manager, Error> {
        let (link, owner) = self.launch()?;
        Ok(Manager {
            link,
            owner,
            pid: std::process::id(),
        })
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("address", self.address())
            .field("server_pid", &self.server_pid())
            .finish_non_exhaustive()
    }
}

/// The kind of an instance of `T` registered as `name`.
fn registered_kind<T: Served>(name: &str) -> Kind {
    Kind::Registered {
        name: name.to_owned(),
        type_name: type_name::<T>().to_owned(),
    }
}
