//! How an idle worker waits for its next message. `Connection::poll` sleeps on the pipe's futex
//! word after a few dozen spins (a CPU the pool's other workers and its parent's threads need
//! is not held), and looks at the other end's liveness between 20 ms slices with one `poll`.
//! `mp_ipc::wait` would notice the end of the pipe at once, but through a per-process epoll
//! thread: a thread started in every worker (and a wait set built per wait) for news that only
//! matters when the pool is gone.

use mp_ipc::Connection;

/// Waits until `connection` has a message or its end.
pub(crate) fn readable(connection: &Connection) {
    // An error means a closed connection: the receive that follows reports it.
    let _ = connection.poll();
}
