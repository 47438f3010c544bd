//! [`send_handle`] and [`recv_handle`] (Python's `multiprocessing.reduction`): a raw
//! descriptor over a [`Connection`].
//!
//! The descriptor travels in an [envelope](crate::envelope) inside an ordinary message, as an
//! ipc-channel receiver, so it rides with the message's other handles (a pipe's side
//! channel, or the socket itself). A message never received closes it with the envelope.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use ipc_channel::ipc::IpcReceiver;
use mp_sync::raw::Deadline;
use serde::{Deserialize, Serialize};

use crate::connection::Connection;
use crate::envelope::{open_envelope, seal_envelope};
use crate::error::Error;

/// Leads every handle message, so that another message is told apart.
const MARKER: u64 = u64::from_le_bytes(*b"mp-fd\0\0\x01");

/// What [`send_handle`] sends.
#[derive(Serialize, Deserialize)]
struct HandleMessage {
    /// [`MARKER`].
    marker: u64,
    /// The envelope's receiving end (a socket holding the descriptor).
    envelope: IpcReceiver<()>,
}

/// Sends the descriptor `fd` (a duplicate of it: the caller keeps its own) over `conn`
/// (Python's `send_handle(conn, handle, destination_pid)`); the peer gets it with
/// [`recv_handle`]. Over TCP: [`Error::HandlesNeedUnixSocket`]; errors of
/// [`Connection::send`] otherwise.
pub fn send_handle(conn: &Connection, fd: impl AsFd) -> Result<(), Error> {
    let envelope = seal_envelope(&[fd.as_fd()]).map_err(Error::Os)?;
    conn.send(&HandleMessage {
        marker: MARKER,
        envelope: IpcReceiver::from_owned_fd(envelope),
    })
}

/// Receives a descriptor sent by [`send_handle`], blocking (Python's `recv_handle(conn)`).
/// [`Error::Eof`] when the peer is gone; [`Error::NotAHandle`] when the message is not a
/// handle (it is consumed).
pub fn recv_handle(conn: &Connection) -> Result<OwnedFd, Error> {
    recv_handle_until(conn, None)
}

/// [`recv_handle`] for at most `timeout` ([`Error::Timeout`] after that, nothing consumed).
pub fn recv_handle_timeout(conn: &Connection, timeout: Duration) -> Result<OwnedFd, Error> {
    recv_handle_until(conn, Some(Deadline::after(timeout)))
}

/// [`recv_handle`] until an absolute `deadline`.
pub fn recv_handle_deadline(conn: &Connection, deadline: Deadline) -> Result<OwnedFd, Error> {
    recv_handle_until(conn, Some(deadline))
}

/// The one handle receive.
fn recv_handle_until(conn: &Connection, deadline: Option<Deadline>) -> Result<OwnedFd, Error> {
    let message = match conn.recv_until::<HandleMessage>(deadline) {
        Ok(m) if m.marker == MARKER => m,
        Ok(_) | Err(Error::Decode(_)) => return Err(Error::NotAHandle),
        Err(e) => return Err(e),
    };
    match open_envelope(message.envelope.into_owned_fd()).as_deref_mut() {
        Some([fd]) => fd.try_clone().map_err(Error::Os),
        _ => Err(Error::NotAHandle),
    }
}
