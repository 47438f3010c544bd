//! TCP keepalive of socket connections: on by default at both ends (accepted and
//! connecting), off when `SocketOptions::keepalive` is `None`. Read from the kernel's own
//! table (`/proc/net/tcp`): an idle established socket with keepalive has its keepalive
//! timer running (timer kind 2), one without has none (0). That a cut-off peer is noticed
//! is shown across network namespaces by mp-manager's `tests/across_hosts.rs`.

#[path = "../../test-support/common.rs"]
mod common;

use common::{BOUND, on_thread_within};
use mp_ipc::{Address, Connection, Keepalive, Listener, SocketOptions, client_with_options};

/// An accepted and a connecting TCP connection on 127.0.0.1, both made with `options`, and
/// the listener's port.
fn tcp_pair(options: SocketOptions) -> (Connection, Connection, u16) {
    let mut listener = Listener::with_options(Address::loopback(0), None, options).unwrap();
    let address = listener.address().clone();
    let Address::Tcp(sa) = address else {
        unreachable!("a loopback listener is TCP")
    };
    let server = std::thread::spawn(move || listener.accept_timeout(BOUND));
    let client = on_thread_within(BOUND, move || {
        client_with_options(&address, None, options).unwrap()
    });
    (server.join().unwrap().unwrap(), client, sa.port())
}

/// The timer kinds of the established IPv4 sockets with `port` at either end, as
/// (server side, client side).
fn timers(port: u16) -> (Vec<u8>, Vec<u8>) {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let port_of = |field: &str| u16::from_str_radix(field.rsplit(':').next().unwrap(), 16).unwrap();
    let (mut server, mut client) = (Vec::new(), Vec::new());
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl, local, remote, state (01: established), tx:rx queues, timer:when, ...
        if fields[3] != "01" {
            continue;
        }
        let timer = u8::from_str_radix(fields[5].split(':').next().unwrap(), 16).unwrap();
        if port_of(fields[1]) == port {
            server.push(timer);
        } else if port_of(fields[2]) == port {
            client.push(timer);
        }
    }
    (server, client)
}

/// Makes a TCP pair with `keepalive`, exchanges a message each way (which settles both
/// sockets: nothing left unacknowledged, so no retransmit timer hides the keepalive one),
/// and waits until both ends show timer kind `timer`.
fn both_ends_settle_with_timer(keepalive: Option<Keepalive>, timer: u8) {
    let (server, client, port) = tcp_pair(SocketOptions {
        keepalive,
        ..SocketOptions::default()
    });
    client.send_bytes(b"ping").unwrap();
    assert_eq!(server.recv_bytes_timeout(BOUND).unwrap(), b"ping");
    server.send_bytes(b"pong").unwrap();
    assert_eq!(client.recv_bytes_timeout(BOUND).unwrap(), b"pong");
    common::wait_until(|| timers(port) == (vec![timer], vec![timer]));
}

#[test]
fn tcp_connections_have_keepalive_by_default_at_both_ends() {
    let keepalive = SocketOptions::default().keepalive;
    assert_eq!(keepalive, Some(Keepalive::default()));
    assert_eq!(
        Keepalive::default().detection_time(),
        std::time::Duration::from_secs(10)
    );
    both_ends_settle_with_timer(keepalive, 2);
}

#[test]
fn no_keepalive_when_turned_off() {
    both_ends_settle_with_timer(None, 0);
}

#[test]
fn settings_outside_the_kernels_ranges_are_clamped_not_refused() {
    let keepalive = Keepalive {
        idle: std::time::Duration::from_secs(86_400),
        interval: std::time::Duration::ZERO,
        probes: 1_000,
    };
    both_ends_settle_with_timer(Some(keepalive), 2);
}
