//! A remote manager across two network namespaces (two "hosts" joined by a veth pair): the
//! server in one, clients in the other read and write a dict; a wrong key is refused; the
//! server survives a client SIGKILLed mid-call and one cut off mid-call (its link down),
//! which gets `Error::Timeout` within its bound (and a call with no bound `Error::ServerGone`,
//! when TCP keepalive gives up), while the server goes on serving others and ends the cut-off
//! clients' connection threads (keepalive too) before the link comes back.
//!
//! The server and the clients are this test binary run again inside a namespace
//! (`ip netns exec`), in the role its environment names (the ignored `role` test). Needs root
//! (skipped with a message otherwise).

mod common;
#[path = "../../test-support/netns.rs"]
mod netns;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use mp_ipc::Address;
use mp_manager::{Error, Manager, Proxy};

use common::{BOUND, Counter, CounterOp};
use netns::{NetnsPair, Side};

/// The server's port (each pair of namespaces is a network of its own).
const PORT: u16 = 7411;
/// The key the server and the honest clients share.
const KEY: &[u8] = b"across hosts";

/// Environment: the role to play, the server's address.
const ROLE: &str = "MP_MANAGER_NETNS_ROLE";
/// Environment: the server's address.
const ADDR: &str = "MP_MANAGER_NETNS_ADDR";

/// Not a test: the body of the processes run inside the namespaces (does nothing unless
/// [`ROLE`] is set). Lines starting `MP: ` are its reports.
#[test]
#[ignore = "run by across_hosts inside a namespace"]
fn role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let addr: SocketAddr = std::env::var(ADDR).unwrap().parse().unwrap();
    let address = Address::Tcp(addr);
    let connect = || Manager::connect_timeout(&address, KEY, BOUND).unwrap();
    match role.as_str() {
        "server" => {
            let server = Manager::builder()
                .listen_tcp(addr)
                .authkey(KEY)
                .register("Counter", Counter::default)
                .get_server()
                .unwrap();
            println!("MP: listening {}", server.address());
            server.serve_forever();
        }
        "write" => {
            let d = connect().named_dict::<String, String>("shared").unwrap();
            d.insert(&"written".into(), &"from b".into()).unwrap();
            println!("MP: wrote");
        }
        "read" => {
            let d = connect().named_dict::<String, String>("shared").unwrap();
            println!("MP: read {:?}", d.get(&"written".into()).unwrap());
        }
        "wrong-key" => match Manager::connect(&address, b"not the key") {
            Err(Error::Authentication(_)) => println!("MP: refused"),
            other => println!("MP: unexpected {other:?}"),
        },
        "long-call" => {
            let c: Proxy<Counter> = connect().create_named("Counter", "c").unwrap();
            println!("MP: calling");
            // Long enough to be killed in it; over before the connection count below.
            let _ = c.call(&CounterOp::Sleep(3_000));
        }
        "cut-call" => {
            let c: Proxy<Counter> = connect().create_named("Counter", "c2").unwrap();
            c.call(&CounterOp::Get).unwrap();
            println!("MP: calling");
            let start = Instant::now();
            let r = c.call_timeout(&CounterOp::Sleep(500), Duration::from_secs(3));
            let kind = match r {
                Err(Error::Timeout) => "timeout",
                Ok(_) => "answered",
                Err(_) => "other-error",
            };
            println!("MP: {kind} after {} ms", start.elapsed().as_millis());
        }
        "cut-unbounded-call" => {
            let c: Proxy<Counter> = connect().create_named("Counter", "c3").unwrap();
            c.call(&CounterOp::Get).unwrap();
            println!("MP: calling");
            let start = Instant::now();
            let kind = match c.call(&CounterOp::Sleep(500)) {
                Err(Error::ServerGone(_)) => "server-gone".to_owned(),
                Ok(_) => "answered".to_owned(),
                Err(e) => format!("other-error {e:?}"),
            };
            println!("MP: {kind} after {} ms", start.elapsed().as_millis());
        }
        "alone" => {
            // Waits until this client's is the only connection the server serves.
            let m = connect();
            let start = Instant::now();
            let mut live = m.connections().unwrap();
            while live > 1 && start.elapsed() < BOUND - Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(100));
                live = m.connections().unwrap();
            }
            println!("MP: {live} after {} ms", start.elapsed().as_millis());
        }
        "shutdown" => connect().shutdown_server().unwrap(),
        other => panic!("unknown role {other}"),
    }
}

/// A process of [`role`] in a namespace, and its report lines.
struct Player {
    /// The process (`ip netns exec` execs the test binary: this is it).
    child: Child,
    /// Its `MP: ` lines, as they come.
    lines: Receiver<String>,
}

impl Player {
    /// Starts `role` in `side`'s namespace, the server at `server`.
    fn start(pair: &NetnsPair, side: Side, role: &str, server: SocketAddr) -> Player {
        let exe = std::env::current_exe().unwrap();
        let mut child = pair
            .command(
                side,
                "timeout",
                &[
                    "60",
                    exe.to_str().unwrap(),
                    "--exact",
                    "role",
                    "--ignored",
                    "--nocapture",
                ],
            )
            .env(ROLE, role)
            .env(ADDR, server.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if let Some(report) = line.strip_prefix("MP: ") {
                    let _ = tx.send(report.to_owned());
                }
            }
        });
        Player { child, lines }
    }

    /// Its next report, within the bound.
    fn report(&self) -> String {
        self.lines
            .recv_timeout(BOUND)
            .unwrap_or_else(|_| panic!("no report within {BOUND:?}"))
    }

    /// Waits for it to exit, within the bound.
    fn finish(mut self) {
        let until = Instant::now() + BOUND;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < until, "a player did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs `role` in `side` to its single report.
    fn run(pair: &NetnsPair, side: Side, role: &str, server: SocketAddr) -> String {
        let p = Player::start(pair, side, role, server);
        let report = p.report();
        p.finish();
        report
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_dict_served_on_one_host_is_read_and_written_from_another() {
    let Some(pair) = NetnsPair::skip_unless_root("across_hosts") else {
        return;
    };
    let server_addr = SocketAddr::from((pair.addr(Side::A), PORT));
    let server = Player::start(&pair, Side::A, "server", server_addr);
    assert_eq!(server.report(), format!("listening {server_addr}"));

    // Read and write from the other host.
    assert_eq!(Player::run(&pair, Side::B, "write", server_addr), "wrote");
    assert_eq!(
        Player::run(&pair, Side::B, "read", server_addr),
        "read Some(\"from b\")"
    );

    // A wrong key is refused; the server goes on.
    assert_eq!(
        Player::run(&pair, Side::B, "wrong-key", server_addr),
        "refused"
    );
    assert_eq!(
        Player::run(&pair, Side::B, "read", server_addr),
        "read Some(\"from b\")"
    );

    // A client SIGKILLed in the middle of a call.
    let mut killed = Player::start(&pair, Side::B, "long-call", server_addr);
    assert_eq!(killed.report(), "calling");
    std::thread::sleep(Duration::from_millis(200));
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert_eq!(
        Player::run(&pair, Side::B, "read", server_addr),
        "read Some(\"from b\")"
    );

    // A client cut off in the middle of a call: its bound ends it; meanwhile the server
    // serves a client on its own host.
    // A call with no bound of its own ends too, when keepalive gives up on the server.
    let cut = Player::start(&pair, Side::B, "cut-call", server_addr);
    let unbounded = Player::start(&pair, Side::B, "cut-unbounded-call", server_addr);
    assert_eq!(cut.report(), "calling");
    assert_eq!(unbounded.report(), "calling");
    pair.link_down(Side::B).unwrap();
    let outcome = cut.report();
    assert!(outcome.starts_with("timeout after"), "{outcome}");
    let ms: u64 = outcome.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(ms < BOUND.as_millis() as u64, "{outcome}");
    cut.finish();
    let outcome = unbounded.report();
    assert!(outcome.starts_with("server-gone after"), "{outcome}");
    unbounded.finish();
    assert_eq!(
        Player::run(&pair, Side::A, "read", server_addr),
        "read Some(\"from b\")"
    );
    // The cut-off client's connection thread on the server ends too (keepalive notices the
    // dead peer), while the link is still down: only the asking client's is left.
    let alone = Player::run(&pair, Side::A, "alone", server_addr);
    assert!(alone.starts_with("1 after"), "server connections: {alone}");
    pair.link_up(Side::B).unwrap();
    assert_eq!(
        Player::run(&pair, Side::B, "read", server_addr),
        "read Some(\"from b\")"
    );

    // Stop it.
    let stopper = Player::start(&pair, Side::B, "shutdown", server_addr);
    stopper.finish();
    server.finish();
}
