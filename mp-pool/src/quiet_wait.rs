//! Waiting for a message on a connection without spinning. mp-ipc's receives spin briefly
//! before they sleep; a pool has a watcher thread per worker, and spinning watchers (and idle
//! workers) would take the CPUs the workers need. mp-ipc's `wait` sleeps on the connection's
//! word at once.

use std::time::Duration;

use mp_ipc::Connection;

/// Whether `connection` has a message (or its end) within `timeout`.
pub(crate) fn readable_within(connection: &Connection, timeout: Duration) -> bool {
    // An error means a closed connection: the receive that follows reports it.
    mp_ipc::wait(&[connection], Some(timeout)).map_or(true, |ready| !ready.is_empty())
}

/// Waits, without spinning, until `connection` has a message or its end.
pub(crate) fn readable(connection: &Connection) -> bool {
    mp_ipc::wait(&[connection], None).map_or(true, |ready| !ready.is_empty())
}
