//! [`Address`]: where a [`Listener`](crate::Listener) listens and a
//! [`Client`](crate::Client) connects, Python's `multiprocessing.connection` address families.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// A socket address, as Python's `multiprocessing.connection` takes them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A Unix socket at a filesystem path (Python's `'AF_UNIX'` with a path).
    Unix(PathBuf),
    /// A Linux abstract Unix socket (Python's `'\0name'`): no file, gone with its listener.
    /// The name is without the leading NUL.
    Abstract(Vec<u8>),
    /// A TCP address (Python's `('host', port)`, `'AF_INET'`).
    Tcp(SocketAddr),
}

impl Address {
    /// TCP on the loopback interface, `port` (0: the kernel picks one; see
    /// [`Listener::address`](crate::Listener::address)). The safe default: not reachable
    /// from other hosts.
    pub fn loopback(port: u16) -> Address {
        Address::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }
}

impl From<SocketAddr> for Address {
    fn from(sa: SocketAddr) -> Address {
        Address::Tcp(sa)
    }
}

impl From<PathBuf> for Address {
    fn from(path: PathBuf) -> Address {
        Address::Unix(path)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "{}", path.display()),
            Address::Abstract(name) => write!(f, "\\0{}", String::from_utf8_lossy(name)),
            Address::Tcp(sa) => write!(f, "{sa}"),
        }
    }
}
