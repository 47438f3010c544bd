//! Socket [`Connection`] pairs for tests (included with `#[path]` beside `common.rs`: it uses
//! the test crate's `common::{BOUND, on_thread_within}`).

#![allow(dead_code, unreachable_pub)]

use mp_ipc::{Client, Connection, Listener};

use crate::common::{BOUND, on_thread_within};

/// A connected pair of socket connections on `listener` (no authkey): (accepted, connecting).
pub fn socket_pair(mut listener: Listener) -> (Connection, Connection) {
    let address = listener.address().clone();
    let server = std::thread::spawn(move || listener.accept_timeout(BOUND));
    let client = on_thread_within(BOUND, move || Client(&address, None).unwrap());
    (server.join().unwrap().unwrap(), client)
}

/// A connected pair of Unix socket connections (accepted, connecting); the listener is gone.
pub fn unix_socket_pair() -> (Connection, Connection) {
    socket_pair(Listener::unix(None).unwrap())
}
