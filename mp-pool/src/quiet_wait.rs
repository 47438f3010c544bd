//! Waiting for a message on a connection without spinning. mp-ipc's receives spin briefly
//! before they sleep; an idle worker that spins takes a CPU the pool's other workers (and
//! its parent's threads) need. mp-ipc's `wait` sleeps on the connection's word at once.

use mp_ipc::Connection;

/// Waits, without spinning, until `connection` has a message or its end.
pub(crate) fn readable(connection: &Connection) {
    // An error means a closed connection: the receive that follows reports it.
    let _ = connection.poll();
}
