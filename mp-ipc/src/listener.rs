//! [`Listener`] and [`Client`]: Python's `multiprocessing.connection.Listener` and `Client`,
//! socket [`Connection`]s between processes started apart (on one host or across hosts),
//! with Python's framing and authkey handshake, so either side may be CPython.
//!
//! # Safe by default
//!
//! * [`Listener::loopback`] binds TCP to 127.0.0.1 (another address only when given one);
//! * [`Listener::unix`] creates its socket, mode 0600, in a fresh directory only its owner
//!   can enter (mode 0700), both removed when the listener goes;
//! * a handshake runs with a deadline ([`SocketOptions::handshake_timeout`]) and messages of at
//!   most 256 bytes, and [`Listener::accept`] runs every pending handshake at once: a client
//!   that connects and says nothing, garbage or a huge length holds up no other client;
//! * a TCP connection, accepted or connecting, has keepalive ([`SocketOptions::keepalive`],
//!   [`Keepalive`]): a peer cut off without closing (its link or host down) fails the calls
//!   on it within about 10 s instead of holding them for ever;
//! * a random key per process tree: `mp_process::current_process().authkey()` (inherited by
//!   children under every start method, as in Python).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

use mp_sync::raw::Deadline;

use crate::address::Address;
use crate::auth::{Handshake, Progress, Role, fill_random};
use crate::connection::Connection;
use crate::error::{AuthenticationError, Error};
use crate::pipe::DEFAULT_MAX_MESSAGE;
use crate::socket_end::SocketEnd;
use crate::sys::{poll_readable, socket};

/// Sizes and bounds of a [`Listener`] or a [`client_with_options`] connection.
#[derive(Clone, Copy, Debug)]
pub struct SocketOptions {
    /// Pending connections the kernel queues before `accept` (a listener only). Default 64.
    pub backlog: i32,
    /// Longest an authkey handshake may take; a peer slower than that is dropped with
    /// [`AuthenticationError::TimedOut`]. Default 10 s.
    pub handshake_timeout: Duration,
    /// Largest message either way after the handshake; a longer incoming one is refused
    /// ([`Error::TooLarge`]) and skipped as it arrives, never buffered. Default
    /// [`DEFAULT_MAX_MESSAGE`] (1 GiB).
    pub max_message: usize,
    /// How a TCP connection notices a peer cut off without closing (its link or host down):
    /// `None` leaves the kernel's defaults (no keepalive; unacknowledged data retried for
    /// about 15 minutes), and then a receive waits for such a peer for ever. Default
    /// [`Keepalive::default`] (a dead peer noticed within about 10 s). Unix sockets need
    /// none (their peer is on this host: its exit closes them).
    pub keepalive: Option<Keepalive>,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            backlog: 64,
            handshake_timeout: Duration::from_secs(10),
            max_message: DEFAULT_MAX_MESSAGE as usize,
            keepalive: Some(Keepalive::default()),
        }
    }
}

/// TCP keepalive of a socket [`Connection`] (`SO_KEEPALIVE`, `TCP_KEEPIDLE`, `TCP_KEEPINTVL`,
/// `TCP_KEEPCNT`, and `TCP_USER_TIMEOUT`): after [`idle`](Self::idle) without traffic the
/// kernel sends a probe every [`interval`](Self::interval); when [`probes`](Self::probes) go
/// unanswered, or data sent stays unacknowledged for `idle + interval * probes`, the
/// connection ends, and every call on it (a blocked `recv` too) fails with an I/O error
/// (`ETIMEDOUT`) instead of waiting for a peer that is gone.
///
/// A live but idle peer costs one small probe and its acknowledgement per `interval`. Values
/// outside the kernel's ranges (below) are clamped to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Quiet time before the first probe (whole seconds, 1 to 32767). Default 5 s.
    pub idle: Duration,
    /// Time between probes (whole seconds, 1 to 32767). Default 1 s.
    pub interval: Duration,
    /// Unanswered probes that end the connection (1 to 127). Default 5.
    pub probes: u32,
}

impl Keepalive {
    /// How long a cut-off peer goes unnoticed at most: `idle + interval * probes` (also the
    /// bound on unacknowledged data, `TCP_USER_TIMEOUT`).
    pub fn detection_time(&self) -> Duration {
        self.idle
            .saturating_add(self.interval.saturating_mul(self.probes))
    }
}

impl Default for Keepalive {
    /// A dead peer noticed within 10 s: 5 s idle, then 5 probes 1 s apart.
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(5),
            interval: Duration::from_secs(1),
            probes: 5,
        }
    }
}

/// Applies `keepalive` (if any) to a freshly connected or accepted socket.
fn apply_keepalive(fd: BorrowedFd<'_>, keepalive: Option<Keepalive>) -> Result<(), Error> {
    match keepalive {
        Some(k) => socket::set_keepalive(fd, k.idle, k.interval, k.probes).map_err(Error::Io),
        None => Ok(()),
    }
}

/// Python's `multiprocessing.connection.Listener`: a bound, listening socket that accepts
/// [`Connection`]s, authenticating each one with the authkey when there is one.
///
/// ```
/// use mp_ipc::{Client, Listener};
/// use mp_process::current_process;
///
/// // The process tree's random key (a child, under any start method, has the same).
/// let key = current_process().authkey();
/// let mut listener = Listener::loopback(Some(key))?;
/// let address = listener.address().clone();
/// let client = std::thread::spawn(move || {
///     let c = Client(&address, Some(key))?;
///     c.send_bytes(b"hello")?;
///     c.recv_bytes()
/// });
/// let server_side = listener.accept()?;
/// assert_eq!(server_side.recv_bytes()?, b"hello");
/// server_side.send_bytes(b"world")?;
/// assert_eq!(client.join().unwrap()?, b"world");
/// # Ok::<(), mp_ipc::Error>(())
/// ```
#[derive(Debug)]
pub struct Listener {
    /// The listening socket; `None` once closed.
    fd: Option<OwnedFd>,
    /// Where it listens (the chosen port filled in).
    address: Address,
    /// The authkey; `None`: no handshake (Python's `authkey=None`).
    authkey: Option<Vec<u8>>,
    /// Bounds.
    options: SocketOptions,
    /// Handshakes in progress, each with its deadline.
    pending: Vec<(Handshake, Deadline)>,
    /// The private directory we made for the socket, removed on drop.
    private_dir: Option<PathBuf>,
}

impl Listener {
    /// Listens at `address` with default [`SocketOptions`]; with an `authkey`, every client
    /// must prove it has the same key (and the listener proves it too).
    pub fn bind(address: Address, authkey: Option<&[u8]>) -> Result<Listener, Error> {
        Listener::with_options(address, authkey, SocketOptions::default())
    }

    /// Listens on TCP 127.0.0.1 at a port the kernel picks ([`address`](Self::address)
    /// tells it).
    pub fn loopback(authkey: Option<&[u8]>) -> Result<Listener, Error> {
        Listener::bind(Address::loopback(0), authkey)
    }

    /// Listens on a Unix socket, mode 0600, in a fresh directory of the temporary
    /// directory that only this user can enter; both are removed when the listener goes.
    pub fn unix(authkey: Option<&[u8]>) -> Result<Listener, Error> {
        let mut random = [0; 8];
        fill_random(&mut random)?;
        let name = format!(
            "mp-{}-{}",
            std::process::id(),
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let dir = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(Error::Io)?;
        let listener = Listener::bind(Address::Unix(dir.join("listener.sock")), authkey);
        match listener {
            Ok(mut l) => {
                l.private_dir = Some(dir);
                Ok(l)
            }
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(e)
            }
        }
    }

    /// [`bind`](Self::bind) with explicit options.
    pub fn with_options(
        address: Address,
        authkey: Option<&[u8]>,
        options: SocketOptions,
    ) -> Result<Listener, Error> {
        let fd = socket::listen(&address, options.backlog).map_err(Error::Io)?;
        let address = match address {
            Address::Tcp(_) => {
                Address::Tcp(socket::bound_tcp_address(fd.as_fd()).map_err(Error::Io)?)
            }
            Address::Unix(path) => {
                // Only its owner may connect (the directory may be shared).
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(Error::Io)?;
                Address::Unix(path)
            }
            other => other,
        };
        Ok(Listener {
            fd: Some(fd),
            address,
            authkey: authkey.map(<[u8]>::to_vec),
            options,
            pending: Vec::new(),
            private_dir: None,
        })
    }

    /// Where this listener listens (with the port the kernel chose).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Accepts the next authenticated connection, blocking. A client that fails the
    /// handshake (wrong key, protocol error, too slow) is an error of this call, naming it
    /// ([`Error::Authentication`]); the listener goes on, and the next call serves the others.
    pub fn accept(&mut self) -> Result<Connection, Error> {
        self.accept_until(None)
    }

    /// [`accept`](Self::accept) for at most `timeout`: [`Error::Timeout`] when no client
    /// finished its handshake in time (those in progress go on in the next call).
    pub fn accept_timeout(&mut self, timeout: Duration) -> Result<Connection, Error> {
        self.accept_until(Some(Deadline::after(timeout)))
    }

    /// [`accept_timeout`](Self::accept_timeout) until an absolute `deadline`.
    pub fn accept_deadline(&mut self, deadline: Deadline) -> Result<Connection, Error> {
        self.accept_until(Some(deadline))
    }

    /// A connection if one is ready without waiting ([`Error::Timeout`] otherwise).
    pub fn try_accept(&mut self) -> Result<Connection, Error> {
        self.accept_until(Some(Deadline::now()))
    }

    /// Closes the listener: later accepts fail with [`Error::Closed`]; handshakes in
    /// progress are dropped.
    pub fn close(&mut self) {
        self.fd = None;
        self.pending.clear();
        self.remove_files();
    }

    /// The one accept: waits on the listening socket and every pending handshake at once.
    fn accept_until(&mut self, deadline: Option<Deadline>) -> Result<Connection, Error> {
        loop {
            let listening = self.fd.as_ref().ok_or(Error::Closed)?;
            // The earliest of our deadline and the handshakes'.
            let wake = self.pending.iter().map(|(_, d)| *d).chain(deadline).min();
            let ready = {
                let mut fds = vec![listening.as_fd()];
                fds.extend(self.pending.iter().filter_map(|(h, _)| h.end.fd()));
                poll_readable(&fds, wake).map_err(Error::Io)?
            };
            if ready.first() == Some(&0) {
                let fd = socket::accept(listening.as_fd()).map_err(Error::Io)?;
                socket::set_nodelay(fd.as_fd());
                apply_keepalive(fd.as_fd(), self.options.keepalive)?;
                let end = SocketEnd::new(fd, self.options.max_message);
                match &self.authkey {
                    None => return Ok(Connection::from(end)),
                    Some(_) => {
                        let h = Handshake::start(end, Role::Listener)?;
                        let until = Deadline::after(self.options.handshake_timeout);
                        self.pending.push((h, until));
                    }
                }
            }
            if let Some(done) = self.step_handshakes() {
                return done;
            }
            if deadline.is_some_and(Deadline::has_passed) {
                return Err(Error::Timeout);
            }
        }
    }

    /// Advances every pending handshake by what arrived; the first that finished (a
    /// connection) or failed (its error), if any. A handshake past its deadline fails.
    fn step_handshakes(&mut self) -> Option<Result<Connection, Error>> {
        let key = self.authkey.as_deref().unwrap_or_default();
        for i in 0..self.pending.len() {
            let (h, until) = &mut self.pending[i];
            let outcome = match h.advance(key) {
                Ok(Progress::Waiting) if until.has_passed() => {
                    Err(AuthenticationError::TimedOut.into())
                }
                Ok(Progress::Waiting) => continue,
                Ok(Progress::Done) => Ok(()),
                Err(e) => Err(e),
            };
            let (h, _) = self.pending.swap_remove(i);
            let mut end = h.end;
            end.set_max_message(self.options.max_message);
            return Some(outcome.map(|()| Connection::from(end)));
        }
        None
    }

    /// Removes the socket file and our private directory, if we made them.
    fn remove_files(&mut self) {
        if let Address::Unix(path) = &self.address {
            let _ = std::fs::remove_file(path);
        }
        if let Some(dir) = self.private_dir.take() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.close();
    }
}

/// Python's `multiprocessing.connection.Client(address, authkey=...)`: connects to a
/// [`Listener`] (ours or CPython's) and, with an `authkey`, runs the handshake (answering the
/// listener's challenge, then challenging it).
#[allow(non_snake_case)]
pub fn Client(address: &Address, authkey: Option<&[u8]>) -> Result<Connection, Error> {
    client_with_options(address, authkey, SocketOptions::default())
}

/// [`Client`] with explicit options (the handshake timeout, the message limit, keepalive).
pub fn client_with_options(
    address: &Address,
    authkey: Option<&[u8]>,
    options: SocketOptions,
) -> Result<Connection, Error> {
    let fd = socket::connect(address).map_err(Error::Io)?;
    apply_keepalive(fd.as_fd(), options.keepalive)?;
    let end = SocketEnd::new(fd, options.max_message);
    let Some(key) = authkey else {
        return Ok(Connection::from(end));
    };
    let until = Deadline::after(options.handshake_timeout);
    let mut h = Handshake::start(end, Role::Client)?;
    loop {
        if let Progress::Done = h.advance(key)? {
            let mut end = h.end;
            end.set_max_message(options.max_message);
            return Ok(Connection::from(end));
        }
        let fd = h.end.fd().ok_or(Error::Closed)?;
        if poll_readable(&[fd], Some(until))
            .map_err(Error::Io)?
            .is_empty()
        {
            return Err(AuthenticationError::TimedOut.into());
        }
    }
}
