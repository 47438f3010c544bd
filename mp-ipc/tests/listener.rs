//! Listener/Client: every address family, the authkey handshake (ours and CPython's, both
//! ways), peers that stall or lie, Python's framing byte for byte, and `wait` on a socket
//! connection. Every wait is bounded.

#[path = "../../test-support/common.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BOUND, on_thread_within};
use mp_ipc::{
    Address, AuthenticationError, Client, Error, Listener, SocketOptions, client_with_options,
    wait_timeout,
};

const KEY: &[u8] = b"the right key";

/// Accepts one connection on a thread while `client` connects, both bounded.
fn pair(
    mut listener: Listener,
    key: Option<&'static [u8]>,
) -> (mp_ipc::Connection, mp_ipc::Connection) {
    let address = listener.address().clone();
    let server = std::thread::spawn(move || {
        let c = listener.accept_timeout(BOUND);
        (c, listener)
    });
    let client = on_thread_within(BOUND, move || Client(&address, key).unwrap());
    let (server, _listener) = server.join().unwrap();
    (server.unwrap(), client)
}

fn exchange(a: &mp_ipc::Connection, b: &mp_ipc::Connection) {
    a.send_bytes(b"ping").unwrap();
    assert_eq!(b.recv_bytes_timeout(BOUND).unwrap(), b"ping");
    b.send(&(7u32, String::from("typed"))).unwrap();
    assert_eq!(
        a.recv_timeout::<(u32, String)>(BOUND).unwrap(),
        (7, "typed".to_owned())
    );
    // Empty messages and boundaries survive; poll does not consume.
    for m in [&b""[..], b"a", b"", b"bcd"] {
        a.send_bytes(m).unwrap();
    }
    assert!(b.poll_timeout(BOUND).unwrap());
    assert!(b.try_poll().unwrap());
    for m in [&b""[..], b"a", b"", b"bcd"] {
        assert_eq!(b.recv_bytes_timeout(BOUND).unwrap(), m);
    }
}

/// A message larger than a socket buffer, from `a` to `b` (read on another thread).
fn big(a: &mp_ipc::Connection, b: mp_ipc::Connection) -> mp_ipc::Connection {
    let big: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    let expected = big.clone();
    let reader = std::thread::spawn(move || {
        assert_eq!(b.recv_bytes_timeout(BOUND).unwrap(), expected);
        b
    });
    a.send_bytes(&big).unwrap();
    reader.join().unwrap()
}

#[test]
fn every_family_with_and_without_a_key() {
    let name = format!("mp-test-{}", std::process::id()).into_bytes();
    for key in [None, Some(KEY), Some(&b""[..])] {
        let listeners = [
            Listener::loopback(key).unwrap(),
            Listener::unix(key).unwrap(),
            Listener::bind(Address::Abstract(name.clone()), key).unwrap(),
        ];
        for l in listeners {
            let (s, c) = pair(l, key);
            exchange(&s, &c);
            exchange(&c, &s);
            let c = big(&s, c);
            big(&c, s);
        }
    }
}

#[test]
fn unix_listener_is_private_and_cleans_up() {
    use std::os::unix::fs::PermissionsExt;
    let l = Listener::unix(Some(KEY)).unwrap();
    let Address::Unix(path) = l.address().clone() else {
        panic!("not a path")
    };
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    drop(l);
    assert!(!path.exists() && !path.parent().unwrap().exists());
}

#[test]
fn loopback_by_default_and_same_address_twice_fails() {
    let l = Listener::loopback(None).unwrap();
    let Address::Tcp(sa) = l.address().clone() else {
        panic!("not TCP")
    };
    assert!(sa.ip().is_loopback() && sa.port() != 0);
    assert!(matches!(
        Listener::bind(Address::Tcp(sa), None),
        Err(Error::Io(_))
    ));
}

#[test]
fn wrong_or_missing_key_fails_on_both_sides_and_the_listener_goes_on() {
    let mut l = Listener::loopback(Some(KEY)).unwrap();
    let address = l.address().clone();
    let bad = std::thread::spawn({
        let address = address.clone();
        move || Client(&address, Some(b"wrong key"))
    });
    let server_side = l.accept_timeout(BOUND);
    assert!(
        matches!(
            server_side,
            Err(Error::Authentication(AuthenticationError::WrongDigest))
        ),
        "{server_side:?}"
    );
    let client_side = bad.join().unwrap();
    assert!(
        matches!(
            client_side,
            Err(Error::Authentication(AuthenticationError::Rejected))
        ),
        "{client_side:?}"
    );
    // A client without a key sends no answer: it reads our challenge as its first message.
    let keyless = std::thread::spawn(move || {
        let c = Client(&address, None).unwrap();
        c.recv_bytes_timeout(BOUND).unwrap()
    });
    assert!(matches!(
        l.accept_timeout(BOUND),
        Err(Error::Authentication(AuthenticationError::Protocol(_)))
    ));
    assert!(keyless.join().unwrap().starts_with(b"#CHALLENGE#{sha256}"));
    // The listener still serves a right client.
    let (s, c) = pair(l, Some(KEY));
    exchange(&s, &c);
}

#[test]
fn a_silent_or_lying_peer_does_not_block_another_client() {
    let options = SocketOptions {
        handshake_timeout: Duration::from_secs(60),
        ..SocketOptions::default()
    };
    let mut l = Listener::with_options(Address::loopback(0), Some(KEY), options).unwrap();
    let Address::Tcp(sa) = l.address().clone() else {
        unreachable!()
    };
    let address = l.address().clone();
    // Silent; a huge length; a lie about its length then silence.
    let _silent = TcpStream::connect(sa).unwrap();
    let mut huge = TcpStream::connect(sa).unwrap();
    huge.write_all(&[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ])
    .unwrap();
    let mut liar = TcpStream::connect(sa).unwrap();
    liar.write_all(&200u32.to_be_bytes()).unwrap();
    let good = std::thread::spawn(move || Client(&address, Some(KEY)));
    let started = Instant::now();
    let mut served = None;
    let mut errors = 0;
    while served.is_none() {
        assert!(started.elapsed() < BOUND, "the good client was not served");
        match l.accept_timeout(BOUND) {
            Ok(c) => served = Some(c),
            Err(Error::Authentication(_)) => errors += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    // Only the huge length failed at once; the silent peer and the liar are still pending,
    // well within their 60 s.
    assert!(errors <= 1, "{errors}");
    let client = good.join().unwrap().unwrap();
    exchange(&served.unwrap(), &client);
}

#[test]
fn a_stalled_handshake_times_out() {
    let options = SocketOptions {
        handshake_timeout: Duration::from_millis(200),
        ..SocketOptions::default()
    };
    let mut l = Listener::with_options(Address::loopback(0), Some(KEY), options).unwrap();
    let Address::Tcp(sa) = l.address().clone() else {
        unreachable!()
    };
    let _silent = TcpStream::connect(sa).unwrap();
    let r = on_thread_within(BOUND, move || l.accept_timeout(BOUND));
    assert!(
        matches!(r, Err(Error::Authentication(AuthenticationError::TimedOut))),
        "{r:?}"
    );
}

#[test]
fn framing_is_pythons_byte_for_byte() {
    let mut l = Listener::loopback(None).unwrap();
    let Address::Tcp(sa) = l.address().clone() else {
        unreachable!()
    };
    let mut raw = TcpStream::connect(sa).unwrap();
    raw.set_read_timeout(Some(BOUND)).unwrap();
    let c = l.accept_timeout(BOUND).unwrap();
    c.send_bytes(b"abc").unwrap();
    let mut got = [0; 7];
    raw.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"\0\0\0\x03abc");
    // The 8-byte form is read too (what CPython writes above 2 GiB - 1, here for 2 bytes).
    raw.write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'])
        .unwrap();
    raw.write_all(b"\0\0\0\x02ok").unwrap();
    assert_eq!(c.recv_bytes_timeout(BOUND).unwrap(), b"hi");
    assert_eq!(c.recv_bytes_timeout(BOUND).unwrap(), b"ok");
    // A message that arrives in pieces: a timed receive loses nothing.
    raw.write_all(b"\0\0\0\x05he").unwrap();
    assert!(matches!(
        c.recv_bytes_timeout(Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    assert!(!c.try_poll().unwrap());
    raw.write_all(b"llo").unwrap();
    assert_eq!(c.recv_bytes_timeout(BOUND).unwrap(), b"hello");
    // EOF after the peer closes.
    drop(raw);
    assert!(matches!(c.recv_bytes_timeout(BOUND), Err(Error::Eof)));
}

#[test]
fn a_length_above_the_limit_is_refused_and_skipped() {
    let options = SocketOptions {
        max_message: 16,
        ..SocketOptions::default()
    };
    let mut l = Listener::with_options(Address::loopback(0), None, options).unwrap();
    let Address::Tcp(sa) = l.address().clone() else {
        unreachable!()
    };
    let mut raw = TcpStream::connect(sa).unwrap();
    let c = l.accept_timeout(BOUND).unwrap();
    raw.write_all(&100u32.to_be_bytes()).unwrap();
    raw.write_all(&[1; 100]).unwrap();
    raw.write_all(b"\0\0\0\x02ok").unwrap();
    assert!(matches!(
        c.recv_bytes_timeout(BOUND),
        Err(Error::TooLarge { len: 100, max: 16 })
    ));
    assert_eq!(c.recv_bytes_timeout(BOUND).unwrap(), b"ok");
    // A claim of 2^63 bytes costs nothing but the refusal.
    raw.write_all(&[0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    assert!(matches!(
        c.recv_bytes_timeout(BOUND),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        c.receive_state(),
        mp_ipc::ReceiveState::SkippingAbandoned { .. }
    ));
}

#[test]
fn wait_sees_a_socket_connection() {
    let (s, c) = pair(Listener::loopback(Some(KEY)).unwrap(), Some(KEY));
    assert!(
        wait_timeout(&[&s], Duration::from_millis(20))
            .unwrap()
            .is_empty()
    );
    c.send_bytes(b"x").unwrap();
    assert_eq!(wait_timeout(&[&s], BOUND).unwrap(), vec![0]);
    assert_eq!(s.recv_bytes().unwrap(), b"x");
}

#[test]
fn a_client_times_out_on_a_listener_that_never_answers() {
    // A plain TCP listener that accepts and says nothing.
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = Address::Tcp(plain.local_addr().unwrap());
    let options = SocketOptions {
        handshake_timeout: Duration::from_millis(200),
        ..SocketOptions::default()
    };
    let r = on_thread_within(BOUND, move || {
        client_with_options(&address, Some(KEY), options)
    });
    assert!(
        matches!(r, Err(Error::Authentication(AuthenticationError::TimedOut))),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------- CPython

/// Runs `python3 -c script args...`, bounded; `None` when there is no python3.
fn python(script: &str, args: &[&str]) -> Option<Output> {
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("no python3: skipped");
        return None;
    };
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > BOUND {
            let _ = child.kill();
            panic!("python3 did not finish within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Some(child.wait_with_output().unwrap())
}

const PY_CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client
from multiprocessing import AuthenticationError
port, key = int(sys.argv[1]), sys.argv[2].encode()
try:
    c = Client(('127.0.0.1', port), authkey=key)
except AuthenticationError as e:
    print('auth-error', e); sys.exit(0)
c.send_bytes(b'from python')
print(c.recv_bytes().decode())
c.send_bytes(c.recv_bytes()[::-1])
c.close()
"#;

#[test]
fn a_python_client_talks_to_our_listener() {
    let mut l = Listener::loopback(Some(KEY)).unwrap();
    let Address::Tcp(sa) = l.address().clone() else {
        unreachable!()
    };
    let port = sa.port().to_string();
    let py = std::thread::spawn(move || python(PY_CLIENT, &[&port, "the right key"]));
    let c = match l.accept_timeout(BOUND) {
        Ok(c) => c,
        Err(e) => {
            let out = py.join().unwrap();
            assert!(out.is_none(), "{e:?} {out:?}");
            return;
        }
    };
    assert_eq!(c.recv_bytes_timeout(BOUND).unwrap(), b"from python");
    c.send_bytes(b"from rust").unwrap();
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 253) as u8).collect();
    c.send_bytes(&big).unwrap();
    let back = c.recv_bytes_timeout(BOUND).unwrap();
    assert_eq!(back.iter().rev().copied().collect::<Vec<_>>(), big);
    let out = py.join().unwrap().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "from rust");
}

#[test]
fn a_python_client_with_a_wrong_key_fails_on_both_sides() {
    let mut l = Listener::loopback(Some(KEY)).unwrap();
    let Address::Tcp(sa) = l.address().clone() else {
        unreachable!()
    };
    let port = sa.port().to_string();
    let py = std::thread::spawn(move || python(PY_CLIENT, &[&port, "wrong"]));
    let ours = l.accept_timeout(BOUND);
    let Some(out) = py.join().unwrap() else {
        return;
    };
    assert!(
        matches!(
            ours,
            Err(Error::Authentication(AuthenticationError::WrongDigest))
        ),
        "{ours:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("auth-error"),
        "{out:?}"
    );
}

const PY_LISTENER: &str = r#"
import sys
from multiprocessing.connection import Listener
from multiprocessing import AuthenticationError
key = sys.argv[1].encode()
with Listener(('127.0.0.1', 0), authkey=key) as l:
    print(l.address[1], flush=True)
    try:
        c = l.accept()
    except AuthenticationError as e:
        print('auth-error', e, flush=True); sys.exit(0)
    m = c.recv_bytes()
    c.send_bytes(m.upper())
    c.send_bytes(bytes(len(c.recv_bytes())))
    print('served', flush=True)
"#;

/// The Python listener's output.
type PyOut = std::io::BufReader<std::process::ChildStdout>;

/// Starts the Python listener; its port, the process and its output.
fn python_listener(key: &str) -> Option<(u16, std::process::Child, PyOut)> {
    let mut child = Command::new("python3")
        .args(["-c", PY_LISTENER, key])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (line, out) = on_thread_within(BOUND, move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        (line, out)
    });
    Some((line.trim().parse().expect("the port"), child, out))
}

/// Waits for the Python process, bounded; what it printed after the port.
fn finish(mut child: std::process::Child, mut out: PyOut) -> String {
    on_thread_within(BOUND, move || {
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert!(child.wait().unwrap().success());
        rest
    })
}

#[test]
fn our_client_talks_to_a_python_listener() {
    let Some((port, child, out)) = python_listener("the right key") else {
        return;
    };
    let address = Address::loopback(port);
    let c = on_thread_within(BOUND, move || Client(&address, Some(KEY))).unwrap();
    c.send_bytes(b"shout").unwrap();
    assert_eq!(c.recv_bytes_timeout(BOUND).unwrap(), b"SHOUT");
    c.send_bytes(&vec![9; 1 << 20]).unwrap();
    assert_eq!(c.recv_bytes_timeout(BOUND).unwrap(), vec![0; 1 << 20]);
    assert_eq!(finish(child, out).trim(), "served");
}

#[test]
fn our_client_with_a_wrong_key_fails_on_both_sides() {
    let Some((port, child, out)) = python_listener("another key") else {
        return;
    };
    let address = Address::loopback(port);
    let r = on_thread_within(BOUND, move || Client(&address, Some(KEY)));
    assert!(
        matches!(r, Err(Error::Authentication(AuthenticationError::Rejected))),
        "{r:?}"
    );
    let out = finish(child, out);
    assert!(out.starts_with("auth-error"), "{out}");
}
