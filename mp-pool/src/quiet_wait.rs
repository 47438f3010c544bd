//! Waiting for a message on a connection without spinning. mp-ipc's receives spin briefly
//! before they sleep; an idle worker that spins takes a CPU the pool's other workers (and
//! its parent's threads) need. A wait set sleeps on the connection's word at once.
//!
//! The set is kept for the connection's life: `mp_ipc::wait` builds one per call, which
//! duplicates the connection's liveness descriptor, arms and disarms the process's watcher
//! on it and closes it again (five system calls per wait, once per job of an idle worker).
//! A kept set arms its watch once and then sleeps in one `futex_waitv`.

use mp_ipc::{Connection, WaitSet};

/// A connection and the wait set that sleeps on it.
pub(crate) struct QuietWait<'a> {
    /// The connection.
    connection: &'a Connection,
    /// Holds the connection only; `None` if it could not be added (a wait then returns at
    /// once and the receive that follows blocks in mp-ipc instead).
    set: Option<WaitSet<'a>>,
}

impl<'a> QuietWait<'a> {
    /// Waits on `connection`.
    pub(crate) fn new(connection: &'a Connection) -> Self {
        let mut set = WaitSet::new();
        let set = set.add(connection).is_ok().then_some(set);
        QuietWait { connection, set }
    }

    /// Waits, without spinning, until the connection has a message or its end (at once if
    /// one is there: no system call then).
    pub(crate) fn readable(&mut self) {
        if self.connection.ready_now() {
            return;
        }
        if let Some(set) = &mut self.set {
            // An error means a closed connection: the receive that follows reports it.
            let _ = set.wait();
        }
    }
}
