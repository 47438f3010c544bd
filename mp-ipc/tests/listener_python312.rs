//! Listener/Client against CPython 3.12, whose handshake is the digest-prefixed challenge
//! (`#CHALLENGE#{sha256}...`, answered with `{sha256}` + HMAC): a 3.12 client to our
//! listener and our client to a 3.12 listener, each with the right key and a wrong one.
//! The interpreter is `$MP_PYTHON312`, or pyenv's 3.12.1; the tests say so and pass when
//! there is none.

#[path = "../../test-support/bounded.rs"]
mod bounded;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

use mp_ipc::{Address, AuthenticationError, Client, Error, Listener};

use bounded::{BOUND, on_thread_within};

/// Our key.
const KEY: &[u8] = b"key shared with 3.12";

/// The Python 3.12 program: a `client` or a `listener` (argv: role, key, port), printing
/// `ready PORT` (a listener), then one line saying how it went.
const PEER: &str = r#"
import sys
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener
assert sys.version_info >= (3, 12), sys.version
role, key, port = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
def echo(c):
    c.send_bytes(c.recv_bytes()[::-1])
    print('echoed', flush=True)
try:
    if role == 'client':
        echo(Client(('127.0.0.1', port), authkey=key))
    else:
        with Listener(('127.0.0.1', 0), authkey=key) as l:
            print('ready', l.address[1], flush=True)
            echo(l.accept())
except AuthenticationError as e:
    print('auth-error', e, flush=True)
"#;

/// The 3.12 interpreter, if there is one.
fn python312() -> Option<String> {
    let path = std::env::var("MP_PYTHON312")
        .unwrap_or_else(|_| "/root/.pyenv/versions/3.12.1/bin/python3".to_owned());
    if std::path::Path::new(&path).exists() {
        Some(path)
    } else {
        eprintln!("SKIPPED: no Python 3.12 at {path} (set MP_PYTHON312)");
        None
    }
}

/// A running 3.12 peer and its output lines.
struct Peer {
    /// The interpreter.
    child: Child,
    /// Its stdout (`None` only while a line is being read).
    out: Option<BufReader<ChildStdout>>,
}

impl Peer {
    /// Starts the 3.12 `role` with `key` (and our listener's `port`, for a client).
    fn start(role: &str, key: &str, port: u16) -> Option<Peer> {
        let mut child = Command::new(python312()?)
            .args(["-c", PEER, role, key, &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python 3.12");
        let out = Some(BufReader::new(child.stdout.take().unwrap()));
        Some(Peer { child, out })
    }

    /// Its next line, within the bound.
    fn line(&mut self) -> String {
        let mut out = self.out.take().expect("the peer's output");
        let (line, out) = on_thread_within(BOUND, move || {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            (line, out)
        });
        self.out = Some(out);
        line.trim().to_owned()
    }

    /// Waits for its exit (within the bound); the rest of its output.
    fn finish(self) -> String {
        let Peer { mut child, out } = self;
        on_thread_within(BOUND, move || {
            let mut rest = String::new();
            out.expect("the peer's output")
                .read_to_string(&mut rest)
                .unwrap();
            assert!(child.wait().unwrap().success(), "python 3.12 failed");
            rest.trim().to_owned()
        })
    }
}

/// Our listener on loopback, and its port.
fn our_listener() -> (Listener, u16) {
    let l = Listener::loopback(Some(KEY)).unwrap();
    let Address::Tcp(sa) = l.address().clone() else {
        unreachable!("a loopback listener is TCP")
    };
    (l, sa.port())
}

#[test]
fn a_python312_client_talks_to_our_listener() {
    let (mut l, port) = our_listener();
    let Some(peer) = Peer::start("client", std::str::from_utf8(KEY).unwrap(), port) else {
        return;
    };
    let c = l.accept_timeout(BOUND).unwrap();
    c.send_bytes(b"abc").unwrap();
    assert_eq!(c.recv_bytes_timeout(BOUND).unwrap(), b"cba");
    assert_eq!(peer.finish(), "echoed");
}

#[test]
fn a_python312_client_with_a_wrong_key_fails_on_both_sides() {
    let (mut l, port) = our_listener();
    let Some(peer) = Peer::start("client", "not our key", port) else {
        return;
    };
    let ours = l.accept_timeout(BOUND);
    assert!(
        matches!(
            ours,
            Err(Error::Authentication(AuthenticationError::WrongDigest))
        ),
        "{ours:?}"
    );
    assert!(peer.finish().starts_with("auth-error"));
}

/// Starts a 3.12 listener with `key`; it and its address.
fn python_listener(key: &str) -> Option<(Peer, Address)> {
    let mut peer = Peer::start("listener", key, 0)?;
    let ready = peer.line();
    let port = ready
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{ready}"));
    Some((peer, Address::loopback(port)))
}

#[test]
fn our_client_talks_to_a_python312_listener() {
    let Some((peer, address)) = python_listener(std::str::from_utf8(KEY).unwrap()) else {
        return;
    };
    let c = on_thread_within(BOUND, move || Client(&address, Some(KEY))).unwrap();
    c.send_bytes(b"xyz").unwrap();
    assert_eq!(c.recv_bytes_timeout(BOUND).unwrap(), b"zyx");
    assert_eq!(peer.finish(), "echoed");
}

#[test]
fn our_client_with_a_wrong_key_fails_on_both_sides_with_python312() {
    let Some((peer, address)) = python_listener("another key") else {
        return;
    };
    let r = on_thread_within(BOUND, move || Client(&address, Some(KEY)));
    assert!(
        matches!(r, Err(Error::Authentication(AuthenticationError::Rejected))),
        "{r:?}"
    );
    assert!(peer.finish().starts_with("auth-error"));
}
