//! [`Link`]: a client's way to its server (the address and the authkey), and the connection it
//! opens on first use in each process. A proxy that travels to a child carries its link's
//! address and key, never its connection: the child connects on its first call (under fork
//! too, where it sees the parent's connection and leaves it alone).

use std::sync::Mutex;
use std::time::Duration;

use mp_ipc::{Address, Connection, SocketOptions, client_with_options};
use mp_sync::raw::Deadline;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Refusal};
use crate::wire::{Reply, Request, WireAddress};

/// How long a connection's handshake may take when the call has no bound of its own.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// How long past its own wait a timed call waits for its answer when no call bound is set.
pub(crate) const WAIT_MARGIN: Duration = Duration::from_secs(10);

/// A server's address and key, and this process's connection to it.
#[derive(Debug)]
pub(crate) struct Link {
    /// Where the server listens.
    address: Address,
    /// The server's authkey.
    authkey: Vec<u8>,
    /// A bound on every call's round trip (beyond what a blocking call waits), if set.
    call_timeout: Option<Duration>,
    /// The open connection and the pid that opened it (a forked child's copy is not its own).
    conn: Mutex<Option<(u32, Connection)>>,
}

impl Link {
    /// A link to the server at `address` with `authkey`; nothing is connected yet.
    pub(crate) fn new(address: Address, authkey: Vec<u8>) -> Link {
        Link {
            address,
            authkey,
            call_timeout: None,
            conn: Mutex::new(None),
        }
    }

    /// Where the server listens.
    pub(crate) fn address(&self) -> &Address {
        &self.address
    }

    /// The server's authkey.
    pub(crate) fn authkey(&self) -> &[u8] {
        &self.authkey
    }

    /// Bounds every later call's round trip by `timeout` (plus what a blocking call waits).
    pub(crate) fn set_call_timeout(&mut self, timeout: Duration) {
        self.call_timeout = Some(timeout);
    }

    /// The bound of one call that may wait `wait` on the server, from now: the call bound
    /// beyond the wait if one is set; a timed wait is bounded anyway (by [`WAIT_MARGIN`]
    /// beyond it), so a server cut off cannot hold a timed call for ever.
    pub(crate) fn deadline(&self, wait: Option<Duration>) -> Option<Deadline> {
        match (self.call_timeout, wait) {
            (Some(t), w) => Some(Deadline::after(t.saturating_add(w.unwrap_or_default()))),
            (None, Some(w)) => Some(Deadline::after(w.saturating_add(WAIT_MARGIN))),
            (None, None) => None,
        }
    }

    /// Sends `request` and returns the reply, connecting first if this process has no
    /// connection; by `deadline` at the latest. A transport failure drops the connection (a
    /// late reply must not answer the next call).
    pub(crate) fn call_until(
        &self,
        request: &Request,
        deadline: Option<Deadline>,
    ) -> Result<Reply, Error> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        if slot.as_ref().is_some_and(|(owner, _)| *owner != pid) {
            // A forked child's copy of its parent's connection: the parent's stream, not
            // ours. Closing our copy of the descriptor leaves the parent's open (no
            // `shutdown(2)` is called), so the child drops it and connects anew.
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some((pid, self.connect(deadline)?));
        }
        let Some((_, conn)) = slot.as_ref() else {
            unreachable!("connected just above")
        };
        let outcome = conn.send(request).and_then(|()| match deadline {
            Some(d) => conn.recv_deadline::<Reply>(d),
            None => conn.recv::<Reply>(),
        });
        match outcome {
            Ok(Reply::Refused(r)) => Err(Error::Refused(r)),
            Ok(reply) => Ok(reply),
            Err(e) => {
                *slot = None;
                Err(Error::from_transport(e))
            }
        }
    }

    /// Opens an authenticated connection to the server.
    fn connect(&self, deadline: Option<Deadline>) -> Result<Connection, Error> {
        let options = SocketOptions {
            handshake_timeout: deadline.map_or(HANDSHAKE, Deadline::remaining),
            ..SocketOptions::default()
        };
        client_with_options(&self.address, Some(&self.authkey), options)
            .map_err(Error::from_transport)
    }
}

impl Clone for Link {
    /// The same server, with a connection of its own (opened on first use).
    fn clone(&self) -> Link {
        Link {
            address: self.address.clone(),
            authkey: self.authkey.clone(),
            call_timeout: self.call_timeout,
            conn: Mutex::new(None),
        }
    }
}

/// A link as it travels: address, key and call bound.
#[derive(Serialize, Deserialize)]
struct WireLink {
    /// The address.
    address: WireAddress,
    /// The key.
    authkey: Vec<u8>,
    /// The call bound.
    call_timeout: Option<Duration>,
}

impl Serialize for Link {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireLink {
            address: WireAddress::from(&self.address),
            authkey: self.authkey.clone(),
            call_timeout: self.call_timeout,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Link {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Link, D::Error> {
        let w = WireLink::deserialize(d)?;
        let mut link = Link::new(w.address.into(), w.authkey);
        link.call_timeout = w.call_timeout;
        Ok(link)
    }
}

/// A reply that is not the one expected: the server and this client disagree on the protocol.
pub(crate) fn unexpected(reply: Reply) -> Error {
    Error::Refused(Refusal::BadRequest(format!("unexpected reply {reply:?}")))
}
