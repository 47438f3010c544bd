//! The server core (Python's `multiprocessing.managers.Server`): a table of objects, an accept
//! loop over an authenticated [`Listener`], and a thread per connection that answers one
//! request at a time. It runs the same in a server process, on a thread of the caller, or as a
//! standalone server (`serve_forever`).

mod barrier;
mod condition;
mod event;
mod lock;
mod object;
mod queue;
mod waiting;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mp_ipc::{Connection, Listener};

use crate::error::Refusal;
use crate::registry::Registration;
use crate::wire::{Kind, ObjectId, Reply, Request};
use object::{Object, panic_message};
use waiting::Caller;

/// How often the accept loop and idle connections look at the stop flag.
const SLICE: Duration = Duration::from_millis(100);

/// A manager's objects and registered types, shared by its connection threads.
pub(crate) struct Server {
    /// The objects, by id and by name.
    objects: Mutex<Objects>,
    /// The registered types.
    registry: Vec<Registration>,
    /// Set by a shutdown: every loop and wait ends.
    stop: AtomicBool,
    /// The next connection's number.
    next_conn: AtomicU64,
    /// Connections being served now.
    live: AtomicUsize,
}

/// The object table.
#[derive(Default)]
struct Objects {
    /// The last id given.
    last: ObjectId,
    /// Every object.
    by_id: HashMap<ObjectId, Arc<Object>>,
    /// Named objects' ids.
    by_name: HashMap<String, ObjectId>,
}

impl Objects {
    /// The reply for the object called `name`, if there is one: its id if it is of `kind`.
    fn named(&self, name: Option<&str>, kind: &Kind) -> Option<Reply> {
        let id = *self.by_name.get(name?)?;
        Some(match self.by_id.get(&id) {
            Some(object) if object.is(kind) => Reply::Created(id),
            _ => Reply::Refused(Refusal::WrongKind(id)),
        })
    }
}

impl Server {
    /// A server with no objects, serving `registry`'s types.
    pub(crate) fn new(registry: Vec<Registration>) -> Arc<Server> {
        Arc::new(Server {
            objects: Mutex::default(),
            registry,
            stop: AtomicBool::new(false),
            next_conn: AtomicU64::new(0),
            live: AtomicUsize::new(0),
        })
    }

    /// Asks every loop of the server to end.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Whether a shutdown was asked for.
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Accepts clients until a shutdown, each on a thread of its own; a client that fails the
    /// handshake is dropped and the loop goes on. The listener (and its socket file) goes when
    /// this returns.
    pub(crate) fn serve(self: &Arc<Self>, mut listener: Listener) {
        while !self.stopped() {
            match listener.accept_timeout(SLICE) {
                Ok(conn) => {
                    let server = Arc::clone(self);
                    let spawned = std::thread::Builder::new()
                        .name("mp-manager-conn".into())
                        .spawn(move || server.serve_connection(conn));
                    if spawned.is_err() {
                        // No thread: the client's connection closes, it gets an error.
                        std::thread::sleep(SLICE);
                    }
                }
                Err(mp_ipc::Error::Timeout | mp_ipc::Error::Authentication(_)) => {}
                Err(mp_ipc::Error::Closed) => break,
                // Out of descriptors and the like: try again a little later.
                Err(_) => std::thread::sleep(SLICE),
            }
        }
    }

    /// Answers one client's requests until it hangs up, its connection fails (a client cut
    /// off: keepalive ends the connection), or the server stops; then releases the locks it
    /// held.
    fn serve_connection(&self, conn: Connection) {
        self.live.fetch_add(1, Ordering::Relaxed);
        self.answer(&conn);
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    /// The body of [`serve_connection`](Self::serve_connection).
    fn answer(&self, conn: &Connection) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        // While a call waits, the client sends nothing: its connection readable means EOF.
        let gone = || conn.try_poll().unwrap_or(true);
        let caller = Caller {
            conn: id,
            stop: &self.stop,
            gone: &gone,
        };
        while !self.stopped() {
            match conn.poll_timeout(SLICE) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => break,
            }
            let reply = match conn.recv::<Request>() {
                // Stopped while this request came: no answer, the connection closes (the
                // client sees the server gone, as after the shutdown it is).
                Ok(_) if self.stopped() => break,
                Ok(Request::Shutdown) => {
                    self.stop();
                    Reply::Done
                }
                Ok(request) => self.handle(request, &caller),
                Err(mp_ipc::Error::Decode(e)) => Reply::Refused(Refusal::BadRequest(e.to_string())),
                Err(_) => break,
            };
            if conn.send(&reply).is_err() {
                break;
            }
        }
        let objects: Vec<Arc<Object>> = self.table().by_id.values().cloned().collect();
        for object in objects {
            object.forget(id);
        }
    }

    /// The object table, locked.
    fn table(&self) -> std::sync::MutexGuard<'_, Objects> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers one request.
    fn handle(&self, request: Request, caller: &Caller<'_>) -> Reply {
        match request {
            Request::Create { kind, name } => self.create(kind, name),
            Request::Call { id, op } => {
                let object = self.table().by_id.get(&id).cloned();
                match object {
                    Some(object) => object.call(id, op, caller),
                    None => Reply::Refused(Refusal::NoSuchObject(id)),
                }
            }
            Request::Connections => Reply::Len(self.live.load(Ordering::Relaxed) as u64),
            Request::Ping | Request::Shutdown => Reply::Done,
        }
    }

    /// Makes an object of `kind`, or finds the one called `name`.
    fn create(&self, kind: Kind, name: Option<String>) -> Reply {
        if let Some(found) = self.table().named(name.as_deref(), &kind) {
            return found;
        }
        // Made outside the table's lock: a registered constructor is the user's code.
        let object = match Object::builtin(&kind) {
            Some(object) => object,
            None => match self.instantiate(&kind) {
                Ok(object) => object,
                Err(refusal) => return Reply::Refused(refusal),
            },
        };
        let mut table = self.table();
        // Another client may have made it meanwhile: theirs wins.
        if let Some(found) = table.named(name.as_deref(), &kind) {
            return found;
        }
        table.last += 1;
        let id = table.last;
        table.by_id.insert(id, Arc::new(object));
        if let Some(name) = name {
            table.by_name.insert(name, id);
        }
        Reply::Created(id)
    }

    /// A new instance of a registered kind (its constructor's panic is a refusal).
    fn instantiate(&self, kind: &Kind) -> Result<Object, Refusal> {
        let Kind::Registered { name, type_name } = kind else {
            return Err(Refusal::NotRegistered(format!("{kind:?}")));
        };
        let registration = self
            .registry
            .iter()
            .find(|r| &r.name == name && &r.type_name == type_name)
            .ok_or_else(|| Refusal::NotRegistered(name.clone()))?;
        let instance = catch_unwind(AssertUnwindSafe(|| registration.instantiate()))
            .map_err(|p| Refusal::Panicked(panic_message(&*p)))?
            .ok_or_else(|| Refusal::NotRegistered(name.clone()))?;
        Ok(Object::Registered {
            name: name.clone(),
            type_name: type_name.clone(),
            object: Mutex::new(Some(instance)),
        })
    }
}
