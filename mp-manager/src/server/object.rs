//! [`Object`]: one shared object on the server, and how each operation applies to it. Dicts,
//! lists and values hold their contents encoded, so the server needs no knowledge of their
//! types (a dict's keys compare by their encoding).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use crate::error::Refusal;
use crate::registry::ErasedServed;
use crate::server::barrier::Barrier;
use crate::server::condition::RLock;
use crate::server::event::Event;
use crate::server::lock::Semaphore;
use crate::server::queue::Queue;
use crate::server::waiting::Caller;
use crate::wire::{Bytes, Kind, Op, Reply};

/// A shared object.
pub(crate) enum Object {
    /// A dict.
    Dict(Mutex<BTreeMap<Bytes, Bytes>>),
    /// A list.
    List(Mutex<Vec<Bytes>>),
    /// A value.
    Value(Mutex<Bytes>),
    /// A Lock or Semaphore.
    Semaphore(Semaphore),
    /// An RLock.
    RLock(RLock),
    /// A Condition (over an RLock of its own).
    Condition(RLock),
    /// An Event.
    Event(Event),
    /// A Queue.
    Queue(Queue),
    /// A Barrier.
    Barrier(Barrier),
    /// A registered type's instance (`None` once poisoned by a panic).
    Registered {
        /// The name it was registered under.
        name: String,
        /// Its type's name.
        type_name: String,
        /// The instance.
        object: Mutex<Option<Box<dyn ErasedServed>>>,
    },
}

impl Object {
    /// A fresh object of a built-in `kind` (`None` for a registered kind: the server makes
    /// those).
    pub(crate) fn builtin(kind: &Kind) -> Option<Object> {
        Some(match kind {
            Kind::Dict => Object::Dict(Mutex::default()),
            Kind::List => Object::List(Mutex::default()),
            Kind::Value(v) => Object::Value(Mutex::new(v.clone())),
            Kind::Lock => Object::Semaphore(Semaphore::lock()),
            Kind::Semaphore(n) => Object::Semaphore(Semaphore::counting(*n)),
            Kind::RLock => Object::RLock(RLock::default()),
            Kind::Condition => Object::Condition(RLock::default()),
            Kind::Event => Object::Event(Event::default()),
            Kind::Queue(max) => Object::Queue(Queue::new(*max)),
            Kind::Barrier(parties) => Object::Barrier(Barrier::new(*parties)),
            Kind::Registered { .. } => return None,
        })
    }

    /// Whether a named object found for a request of `kind` is of that kind.
    pub(crate) fn is(&self, kind: &Kind) -> bool {
        match (self, kind) {
            (Object::Dict(_), Kind::Dict)
            | (Object::List(_), Kind::List)
            | (Object::Value(_), Kind::Value(_))
            | (Object::RLock(_), Kind::RLock)
            | (Object::Condition(_), Kind::Condition)
            | (Object::Event(_), Kind::Event)
            | (Object::Queue(_), Kind::Queue(_))
            | (Object::Barrier(_), Kind::Barrier(_))
            | (Object::Semaphore(_), Kind::Lock | Kind::Semaphore(_)) => true,
            (
                Object::Registered {
                    name, type_name, ..
                },
                Kind::Registered {
                    name: n,
                    type_name: t,
                },
            ) => name == n && type_name == t,
            _ => false,
        }
    }

    /// Applies `op` for `caller`; an operation of another kind of object is refused.
    pub(crate) fn call(&self, id: u64, op: Op, caller: &Caller<'_>) -> Reply {
        match (self, op) {
            (Object::Dict(d), op) => dict(&mut lock(d), op).unwrap_or(wrong(id)),
            (Object::List(l), op) => list(&mut lock(l), op).unwrap_or(wrong(id)),
            (Object::Value(v), Op::ValueGet) => Reply::Item(Some(lock(v).clone())),
            (Object::Value(v), Op::ValueSet(new)) => {
                *lock(v) = new;
                Reply::Done
            }
            (Object::Semaphore(s), Op::Acquire(w)) => s.acquire(w, caller),
            (Object::Semaphore(s), Op::Release) => s.release(caller.conn),
            (Object::RLock(r) | Object::Condition(r), Op::Acquire(w)) => r.acquire(w, caller),
            (Object::RLock(r) | Object::Condition(r), Op::Release) => r.release(caller.conn),
            (Object::Condition(c), Op::ConditionWait(w)) => c.wait(w, caller),
            (Object::Condition(c), Op::ConditionNotify(n)) => c.notify(n, caller.conn),
            (Object::Event(e), Op::EventSet) => e.set(),
            (Object::Event(e), Op::EventClear) => e.clear(),
            (Object::Event(e), Op::EventIsSet) => e.is_set(),
            (Object::Event(e), Op::EventWait(w)) => e.wait(w, caller),
            (Object::Queue(q), Op::QueuePut(item, w)) => q.put(item, w, caller),
            (Object::Queue(q), Op::QueueGet(w)) => q.get(w, caller),
            (Object::Queue(q), Op::QueueLen) => q.len(),
            (Object::Barrier(b), Op::BarrierWait(w)) => b.wait(w, caller),
            (Object::Barrier(b), Op::BarrierAbort) => b.abort(),
            (Object::Barrier(b), Op::BarrierReset) => b.reset(),
            (Object::Barrier(b), Op::BarrierWaiting) => b.n_waiting(),
            (Object::Barrier(b), Op::BarrierBroken) => b.broken(),
            (Object::Registered { object, .. }, Op::Registered(request)) => {
                registered(&mut lock(object), &request)
            }
            _ => wrong(id),
        }
    }

    /// Releases what connection `conn` (gone) held.
    pub(crate) fn forget(&self, conn: u64) {
        match self {
            Object::Semaphore(s) => s.forget(conn),
            Object::RLock(r) | Object::Condition(r) => r.forget(conn),
            _ => {}
        }
    }
}

/// Locks a mutex of an object, poisoned or not (nothing panics under these locks: registered
/// calls run under `catch_unwind`).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The refusal of an operation of another kind.
fn wrong(id: u64) -> Reply {
    Reply::Refused(Refusal::WrongKind(id))
}

/// A dict operation (`None`: not one).
fn dict(d: &mut BTreeMap<Bytes, Bytes>, op: Op) -> Option<Reply> {
    Some(match op {
        Op::DictGet(k) => Reply::Item(d.get(&k).cloned()),
        Op::DictSet(k, v) => Reply::Item(d.insert(k, v)),
        Op::DictRemove(k) => Reply::Item(d.remove(&k)),
        Op::DictContains(k) => Reply::Bool(d.contains_key(&k)),
        Op::DictLen => Reply::Len(d.len() as u64),
        Op::DictItems => Reply::Pairs(d.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Op::DictClear => {
            d.clear();
            Reply::Done
        }
        _ => return None,
    })
}

/// A list operation (`None`: not one).
fn list(l: &mut Vec<Bytes>, op: Op) -> Option<Reply> {
    let out_of_range = |index: u64, len: usize| {
        Reply::Refused(Refusal::IndexOutOfRange {
            index,
            len: len as u64,
        })
    };
    Some(match op {
        Op::ListPush(item) => {
            l.push(item);
            Reply::Done
        }
        Op::ListGet(i) => match usize::try_from(i).ok().and_then(|i| l.get(i)) {
            Some(item) => Reply::Item(Some(item.clone())),
            None => out_of_range(i, l.len()),
        },
        Op::ListSet(i, item) => match usize::try_from(i).ok().and_then(|i| l.get_mut(i)) {
            Some(slot) => {
                *slot = item;
                Reply::Done
            }
            None => out_of_range(i, l.len()),
        },
        Op::ListPop => Reply::Item(l.pop()),
        Op::ListLen => Reply::Len(l.len() as u64),
        Op::ListItems => Reply::Items(l.clone()),
        _ => return None,
    })
}

/// A registered object's call: a panic is this caller's error, and poisons the object.
fn registered(slot: &mut Option<Box<dyn ErasedServed>>, request: &[u8]) -> Reply {
    let Some(object) = slot.as_mut() else {
        return Reply::Refused(Refusal::Poisoned);
    };
    match catch_unwind(AssertUnwindSafe(|| object.call_bytes(request))) {
        Ok(Ok(response)) => Reply::Item(Some(response)),
        Ok(Err(refusal)) => Reply::Refused(refusal),
        Err(panic) => {
            *slot = None;
            Reply::Refused(Refusal::Panicked(panic_message(&*panic)))
        }
    }
}

/// The text of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned())
}
