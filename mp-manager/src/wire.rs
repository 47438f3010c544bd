//! The messages between a proxy and the server: one [`Request`], one [`Reply`], over an
//! authenticated `mp_ipc::Connection` (postcard). Keys, values and registered requests travel
//! encoded ([`Bytes`]): the server never needs their types.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mp_ipc::Address;
use serde::{Deserialize, Serialize};

use crate::error::Refusal;

/// An encoded key, value, item or registered request/response.
pub(crate) type Bytes = Vec<u8>;

/// The id of an object on its server.
pub(crate) type ObjectId = u64;

/// What a client asks of the server.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// A new object of `kind`; with a `name`, the object of that name if there is one (of the
    /// same kind), so that clients started apart reach the same object.
    Create {
        /// What to make.
        kind: Kind,
        /// The object's name, if it is to be found by name.
        name: Option<String>,
    },
    /// An operation on object `id`.
    Call {
        /// The object.
        id: ObjectId,
        /// The operation.
        op: Op,
    },
    /// Nothing: proves the connection works (and the key is right).
    Ping,
    /// Stop the server (its reply comes first).
    Shutdown,
    /// The number of connections the server serves now (a debugging figure).
    Connections,
}

/// The kinds of objects a server holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Kind {
    /// A map from encoded key to encoded value.
    Dict,
    /// A sequence of encoded items.
    List,
    /// One encoded value, initially this.
    Value(Bytes),
    /// A lock anyone may release.
    Lock,
    /// A lock its holder may take again, released by its holder only.
    RLock,
    /// A condition variable over a re-entrant lock of its own.
    Condition,
    /// A counting semaphore with this initial value.
    Semaphore(u32),
    /// A flag clients wait for.
    Event,
    /// A barrier for this many parties.
    Barrier(u64),
    /// A FIFO of encoded items, at most `maxsize` (0: unbounded).
    Queue(u64),
    /// An instance of a registered type.
    Registered {
        /// The name it was registered under.
        name: String,
        /// `std::any::type_name` of the type the proxy expects.
        type_name: String,
    },
}

/// How long a blocking operation may wait on the server.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum Wait {
    /// At most this long.
    For(Duration),
    /// Until it can happen.
    Forever,
}

/// An operation on one object.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Op {
    /// The value at a key, if any.
    DictGet(Bytes),
    /// Sets a key's value; replies with the old one.
    DictSet(Bytes, Bytes),
    /// Removes a key; replies with its value.
    DictRemove(Bytes),
    /// Whether a key is there.
    DictContains(Bytes),
    /// The number of keys.
    DictLen,
    /// Every (key, value), in key-encoding order.
    DictItems,
    /// Removes every key.
    DictClear,
    /// Appends an item.
    ListPush(Bytes),
    /// The item at an index.
    ListGet(u64),
    /// Replaces the item at an index.
    ListSet(u64, Bytes),
    /// Removes and returns the last item.
    ListPop,
    /// The number of items.
    ListLen,
    /// Every item.
    ListItems,
    /// The value.
    ValueGet,
    /// Replaces the value.
    ValueSet(Bytes),
    /// Acquires a lock or semaphore.
    Acquire(Wait),
    /// Releases a lock or semaphore.
    Release,
    /// Waits on a condition (the caller holds its lock).
    ConditionWait(Wait),
    /// Wakes up to this many of a condition's waiters.
    ConditionNotify(u64),
    /// Sets an event.
    EventSet,
    /// Clears an event.
    EventClear,
    /// Whether an event is set.
    EventIsSet,
    /// Waits for an event.
    EventWait(Wait),
    /// Waits at a barrier.
    BarrierWait(Wait),
    /// Breaks a barrier.
    BarrierAbort,
    /// Makes a barrier whole and empty.
    BarrierReset,
    /// The number of callers waiting at a barrier.
    BarrierWaiting,
    /// Whether a barrier is broken.
    BarrierBroken,
    /// Puts an item in a queue.
    QueuePut(Bytes, Wait),
    /// Takes an item from a queue.
    QueueGet(Wait),
    /// The number of items in a queue.
    QueueLen,
    /// A registered type's request.
    Registered(Bytes),
}

/// The server's answer to one request.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The object made (or found by name).
    Created(ObjectId),
    /// Done, nothing to return.
    Done,
    /// A yes or no.
    Bool(bool),
    /// A value, or none.
    Item(Option<Bytes>),
    /// A count.
    Len(u64),
    /// Items.
    Items(Vec<Bytes>),
    /// (key, value) pairs.
    Pairs(Vec<(Bytes, Bytes)>),
    /// A blocking operation's wait passed (or a `try_` form could not).
    TimedOut,
    /// Refused.
    Refused(Refusal),
}

/// An [`Address`] as it travels inside a proxy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WireAddress {
    /// A Unix socket path.
    Unix(PathBuf),
    /// An abstract Unix socket name.
    Abstract(Vec<u8>),
    /// A TCP address.
    Tcp(SocketAddr),
}

impl From<&Address> for WireAddress {
    fn from(a: &Address) -> WireAddress {
        match a {
            Address::Unix(p) => WireAddress::Unix(p.clone()),
            Address::Abstract(n) => WireAddress::Abstract(n.clone()),
            Address::Tcp(s) => WireAddress::Tcp(*s),
        }
    }
}

impl From<WireAddress> for Address {
    fn from(a: WireAddress) -> Address {
        match a {
            WireAddress::Unix(p) => Address::Unix(p),
            WireAddress::Abstract(n) => Address::Abstract(n),
            WireAddress::Tcp(s) => Address::Tcp(s),
        }
    }
}
