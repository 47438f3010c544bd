//! Python's `multiprocessing.managers` for Linux: a server that holds shared objects, and
//! typed proxies that reach them over authenticated connections (mp-ipc's
//! [`Listener`](mp_ipc::Listener)/[`Client`](mp_ipc::Client)), from children under any start
//! method, from processes started apart, and from other hosts.
//!
//! Its own crate: a program that needs no managers builds none of this.
//!
//! # A first example
//!
//! ```
//! use mp_manager::{DictProxy, Manager};
//! use mp_process::Process;
//!
//! fn child(d: DictProxy<String, u64>) {
//!     let n = d.get(&"n".into()).unwrap().unwrap();
//!     d.insert(&"square".into(), &(n * n)).unwrap();
//! }
//!
//! let mut manager = Manager::new()?; // a server process, the default start method
//! let d = manager.dict::<String, u64>()?;
//! d.insert(&"n".into(), &7)?;
//! let mut p = Process::new(child, d.clone()); // the proxy reconnects in the child
//! p.start().unwrap();
//! assert_eq!(p.join().unwrap(), 0);
//! assert_eq!(d.get(&"square".into())?, Some(49));
//! manager.shutdown()?;
//! # Ok::<(), mp_manager::Error>(())
//! ```
//!
//! # Design
//!
//! A small server core and typed proxies (crossbeam's and lock_api's shape): the server holds
//! objects of a few kinds and applies operations to them; it stores keys, values and items
//! **encoded** (postcard), so it needs no knowledge of their types and a dict's keys compare
//! by their encoding. The proxies encode and decode. A proxy carries the server's address,
//! the authkey and the object's id: it travels as a `Process` argument (or in any serde
//! message) and connects where it arrives; a forked child does not use its parent's
//! connection. Each connection is served by a thread of the server, one request at a time.
//!
//! * The server runs in a daemon process (fork, spawn or forkserver) that dies with its
//!   owner, also when the owner is SIGKILLed; on a thread of the caller
//!   ([`ManagerBuilder::in_thread`]); or standalone in the calling process
//!   ([`ManagerBuilder::get_server`], [`Standalone::serve_forever`]), tied to no process.
//! * It listens on a Unix socket (0600 in a 0700 directory) by default, or TCP
//!   ([`ManagerBuilder::listen_tcp`]) for [`Manager::connect`] from other hosts; the key is the
//!   process tree's authkey unless given. A client with a wrong key gets
//!   [`Error::Authentication`]; the server goes on serving others.
//! * A client killed mid-call, or one cut off, costs the server that connection's thread
//!   only; the locks it held are released when its connection closes, and a `get` it was
//!   waiting in takes no item. A client cut off without its connection closing (its link or
//!   host down) is noticed by TCP keepalive (mp-ipc's [`Keepalive`](mp_ipc::Keepalive), on by
//!   default: about 10 s), which ends its connection and so its thread;
//!   [`Manager::connections`] counts the connections a server serves. A call given a bound
//!   ([`DictProxy::set_call_timeout`], `_timeout` forms, [`Manager::connect_timeout`]) returns
//!   [`Error::Timeout`] past it.
//! * [`Manager::shutdown`] stops the server; every proxy call after it is
//!   [`Error::ServerGone`], never a hang.
//!
//! # Registered types (Python's `BaseManager.register`)
//!
//! ```
//! use mp_manager::{Manager, Proxy, Served};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default)]
//! struct Counter(i64);
//!
//! #[derive(Serialize, Deserialize)]
//! enum Op { Add(i64), Get }
//!
//! impl Served for Counter {
//!     type Request = Op;
//!     type Response = i64;
//!     fn call(&mut self, op: Op) -> i64 {
//!         if let Op::Add(n) = op { self.0 += n; }
//!         self.0
//!     }
//! }
//!
//! let manager = Manager::builder().register("Counter", Counter::default).start()?;
//! let c: Proxy<Counter> = manager.create("Counter")?;
//! c.call(&Op::Add(5))?;
//! assert_eq!(c.call(&Op::Get)?, 5);
//! # Ok::<(), mp_manager::Error>(())
//! ```
//!
//! A panic in a call is [`Refusal::Panicked`] to that caller only, and **poisons** that
//! object (later calls get [`Refusal::Poisoned`], as a `std::sync::Mutex` would); other
//! objects and the server go on.
//!
//! # Python to Rust
//!
//! | Python (`multiprocessing.managers`) | here |
//! |---|---|
//! | `Manager()`, `SyncManager().start()` | [`Manager::new`], [`ManagerBuilder::start`] |
//! | `BaseManager(address, authkey)` | [`Manager::builder`] + [`ManagerBuilder::listen_tcp`], [`ManagerBuilder::authkey`] |
//! | `BaseManager.register(name, callable)` | [`ManagerBuilder::register`] (a [`Served`] type, a `fn() -> T`) |
//! | `manager.Name()` (a registered type) | [`Manager::create`] → [`Proxy`], [`Proxy::call`] |
//! | `m.connect()` | [`Manager::connect`], [`Manager::connect_timeout`] |
//! | `m.get_server().serve_forever()` | [`ManagerBuilder::get_server`], [`Standalone::serve_forever`] |
//! | `m.shutdown()` | [`Manager::shutdown`] (owner), [`Manager::shutdown_server`] (any client) |
//! | `dict()`, `list()`, `Value(t, v)` | [`Manager::dict`], [`Manager::list`], [`Manager::value`] |
//! | `Lock()`, `RLock()`, `Semaphore(n)` | [`Manager::lock`], [`Manager::rlock`], [`Manager::semaphore`] ([`AcquirerProxy`]) |
//! | `Condition()`, `wait(timeout)`, `notify(n)`, `notify_all()` | [`Manager::condition`] ([`ConditionProxy`]) |
//! | `Barrier(parties)`, `wait(timeout)`, `BrokenBarrierError` | [`Manager::barrier`] ([`BarrierProxy`]), [`BarrierProxy::wait_timeout`], [`Refusal::BrokenBarrier`] |
//! | `Event()`, `Queue(maxsize)` | [`Manager::event`], [`Manager::queue`], [`Manager::queue_with_maxsize`] |
//! | a registered `get_queue` returning a shared object | [`Manager::named_dict`], [`Manager::named_queue`], [`Manager::create_named`]... |
//! | `AuthenticationError` | [`Error::Authentication`] |
//!
//! Not here (yet): `Condition.wait_for`, `Namespace`, `Array`, `Pool`, proxies inside
//! other proxies' values.

#![deny(unsafe_code)]

mod builder;
mod codec;
mod error;
mod link;
mod manager;
mod owner;
mod proxy;
mod registry;
mod serve;
mod server;
mod wire;

pub use builder::ManagerBuilder;
pub use error::{Error, Refusal};
pub use manager::Manager;
pub use proxy::acquirer::AcquirerProxy;
pub use proxy::barrier::BarrierProxy;
pub use proxy::condition::ConditionProxy;
pub use proxy::dict::DictProxy;
pub use proxy::event::EventProxy;
pub use proxy::list::ListProxy;
pub use proxy::queue::QueueProxy;
pub use proxy::registered::Proxy;
pub use proxy::value::ValueProxy;
pub use registry::Served;
pub use serve::Standalone;
