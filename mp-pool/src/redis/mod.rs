//! The same [`Pool`](crate::Pool) across hosts, on Redis Streams (the `redis` feature): the
//! tasks go to a stream, worker hosts running this same program take them as a consumer group,
//! and the results come back on a stream of the submitter's own.
//!
//! ```no_run
//! use mp_pool::Pool;
//! use mp_pool::redis::RedisBroker;
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! // On each worker host, the same binary, started with
//! //   MP_POOL_WORKER='redis://broker:6379/#squares' ./my-program
//! // serves the pool `squares` before `main` runs (no worker code to write).
//! let pool = Pool::builder()
//!     .broker(RedisBroker::new("redis://broker:6379/", "squares"))
//!     .build()?;
//! let squares = pool.map(square, 0..1000)?;
//! assert_eq!(squares[999].as_ref().ok(), Some(&998_001));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The delivery protocol
//!
//! Keys of pool `P`: the task stream `mp-pool:P:tasks` with its consumer group
//! `mp-pool:P:hosts`, and one result stream per submitter, `mp-pool:P:results:ID`.
//!
//! - **Submit.** A job (one task, or a chunk of a map) is one task entry: its task
//!   id (unique per hand-out), the function's code reference and the image fingerprint, the
//!   encoded arguments, the time limit and the result stream. The submitter's in-flight slots
//!   bound the entries out at once (see `backend.rs`).
//! - **Run.** A host reads entries with `XREADGROUP` (each stays in its pending list until
//!   acknowledged) and runs them in a local process pool of its own: a task that crashes or
//!   overruns fails alone, the host lives on. While it runs, it renews its lease on the entries
//!   it holds (re-`XCLAIM`s those still its own), so a long task is not taken from a live host.
//! - **Commit.** A finished entry's result is added to the result stream and the entry
//!   acknowledged and deleted in one `MULTI` transaction: a result and its acknowledgement
//!   commit together.
//! - **Reclaim.** A host takes over entries idle past the lease (their host died or was cut
//!   off) with `XAUTOCLAIM`, which counts deliveries. An entry delivered more than the poison
//!   bound (default 3) has killed host after host: it fails with [`TaskError::Refused`] naming
//!   it, so a poison task cannot take down the fleet.
//! - **Refuse.** An entry from another build (fingerprint), or one that does not parse, is that
//!   task's [`TaskError::Refused`] result, never a host crash.
//! - **Collect.** The submitter takes the first result of each task id and drops any later
//!   one (a cut-off host that comes back late): every task has exactly one result.
//! - **Expire.** Every write refreshes a time-to-live on the streams (a day for tasks, an hour
//!   for results) and a submitter deletes its result stream when its pool is dropped, so a
//!   dead submitter leaves nothing behind for good.
//!
//! Time limits travel with the entry and the host enforces them ([`TaskError::TimedOut`]); a
//! task waits in the stream while no host runs (bound it with `get_timeout`).
//!
//! # Security
//!
//! A password or an ACL user goes in the URL (`redis://user:password@host/`). No task runs on
//! a host unless its entry names this same build (image fingerprint). TLS (`rediss://` URLs)
//! with the `redis-tls` feature (the redis crate's native-tls, on the system's OpenSSL);
//! `rediss://host/#insecure` skips the certificate check (a self-signed test server).
//!
//! [`TaskError::Refused`]: crate::TaskError::Refused
//! [`TaskError::TimedOut`]: crate::TaskError::TimedOut

mod connection;
pub(crate) mod entry;
pub(crate) mod host;
pub(crate) mod keys;
pub(crate) mod submitter;
#[allow(unsafe_code)]
mod sys;

pub use crate::error::BrokerError;
pub use host::{HostSettings, WORKER_ENV, serve, serve_if_worker};

/// Jobs a broker's pool keeps in flight unless [`PoolBuilder::processes`] says otherwise.
///
/// [`PoolBuilder::processes`]: crate::PoolBuilder::processes
pub const DEFAULT_IN_FLIGHT: usize = 16;

/// Where a pool's tasks go: a Redis server and the pool's name, which namespaces its streams
/// (hosts serving that name take its tasks). For [`PoolBuilder::broker`].
///
/// [`PoolBuilder::broker`]: crate::PoolBuilder::broker
#[derive(Clone, Debug)]
pub struct RedisBroker {
    /// The server's URL (`redis://[user:password@]host[:port][/db]`).
    pub(crate) url: String,
    /// The pool's name.
    pub(crate) name: String,
}

impl RedisBroker {
    /// The broker at `url` for the pool named `name`.
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        RedisBroker {
            url: url.into(),
            name: name.into(),
        }
    }
}
