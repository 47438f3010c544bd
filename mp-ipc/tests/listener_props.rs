//! Arbitrary bytes from a socket peer, in the handshake (as a client of our listener, and as a
//! listener our client connects to) and after it: never a panic, never a hang, and never an
//! allocation beyond a bound, whatever lengths the peer claims (a counting allocator records
//! the largest single allocation of the test binary).

#[path = "../../test-support/common.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{BOUND, on_thread_within};
use mp_ipc::{Address, Error, Listener, SocketOptions, client_with_options};
use proptest::prelude::*;

/// The system allocator, recording the largest allocation asked for.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// No allocation of the test may exceed this (a read asks for at most 1 MiB beyond what is
/// there; the claims below go up to 2^64 - 1).
const ALLOCATION_BOUND: usize = 4 << 20;

/// Peer input: random bytes, often behind a header that claims a huge or odd length.
fn peer_bytes() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just(vec![]),
        any::<u32>().prop_map(|n| n.to_be_bytes().to_vec()),
        any::<u64>().prop_map(|n| [&[0xff; 4][..], &n.to_be_bytes()].concat()),
        Just(b"\0\0\0\x1f#CHALLENGE#{sha256}01234567".to_vec()),
    ];
    (header, proptest::collection::vec(any::<u8>(), 0..600)).prop_map(|(h, b)| [h, b].concat())
}

fn options() -> SocketOptions {
    SocketOptions {
        handshake_timeout: Duration::from_millis(500),
        max_message: 1024,
        ..SocketOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_listener_survives_any_client_bytes(bytes in peer_bytes(), close in any::<bool>()) {
        let mut l = Listener::with_options(Address::loopback(0), Some(b"k"), options()).unwrap();
        let Address::Tcp(sa) = l.address().clone() else { unreachable!() };
        let mut peer = TcpStream::connect(sa).unwrap();
        let _ = peer.write_all(&bytes);
        if close {
            let _ = peer.shutdown(Shutdown::Write);
        }
        let r = on_thread_within(BOUND, move || l.accept_timeout(BOUND).map(drop));
        prop_assert!(matches!(r, Err(Error::Authentication(_))), "{:?}", r);
        let largest = LARGEST.load(Ordering::Relaxed);
        prop_assert!(largest <= ALLOCATION_BOUND, "{}", largest);
    }

    #[test]
    fn a_client_survives_any_listener_bytes(bytes in peer_bytes()) {
        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = Address::Tcp(plain.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut s, _) = plain.accept().unwrap();
            let _ = s.write_all(&bytes);
            let _ = s.shutdown(Shutdown::Write);
            // Keep the socket until the client is done reading.
            std::thread::sleep(Duration::from_millis(50));
        });
        let r = on_thread_within(BOUND, move || {
            client_with_options(&address, Some(b"k"), options()).map(drop)
        });
        server.join().unwrap();
        prop_assert!(r.is_err());
        let largest = LARGEST.load(Ordering::Relaxed);
        prop_assert!(largest <= ALLOCATION_BOUND, "{}", largest);
    }

    #[test]
    fn a_connection_survives_any_frames(bytes in proptest::collection::vec(peer_bytes(), 1..6)) {
        let mut l = Listener::with_options(Address::loopback(0), None, options()).unwrap();
        let Address::Tcp(sa) = l.address().clone() else { unreachable!() };
        let mut peer = TcpStream::connect(sa).unwrap();
        let c = l.accept_timeout(BOUND).unwrap();
        for b in &bytes {
            let _ = peer.write_all(b);
        }
        drop(peer);
        let outcome = on_thread_within(BOUND, move || {
            // Every call consumes at least one header or ends the stream.
            for _ in 0..10_000 {
                match c.recv_bytes_timeout(BOUND) {
                    Ok(m) => assert!(m.len() <= 1024),
                    Err(Error::TooLarge { .. }) => {}
                    Err(Error::Eof) | Err(Error::Corrupt(_)) => return Ok(()),
                    Err(e) => return Err(format!("{e:?}")),
                }
            }
            Err("did not end".to_owned())
        });
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
        let largest = LARGEST.load(Ordering::Relaxed);
        prop_assert!(largest <= ALLOCATION_BOUND, "{}", largest);
    }
}
