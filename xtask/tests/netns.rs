//! The `test-support/netns.rs` helper itself: two namespaces that reach each other over their
//! veth pair, a link taken down cuts them apart, and dropping the pair deletes both.

#[path = "../../test-support/netns.rs"]
mod netns;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use netns::{NetnsPair, Side};

/// A TCP listener (python3) in one namespace, bounded by `timeout`: prints `ready`, then what
/// the first client sent.
const LISTEN: &str = "import socket,sys\n\
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
s.bind((sys.argv[1], 7777)); s.listen(1); print('ready', flush=True)\n\
c,_=s.accept(); print(c.recv(100).decode().strip(), flush=True)\n";

/// Whether a TCP connection from `side` to `addr:7777` opens within 2 s (bash's /dev/tcp).
fn connects(pair: &NetnsPair, side: Side, addr: &str, text: &str) -> bool {
    let script = format!("echo {text} > /dev/tcp/{addr}/7777");
    pair.run(side, "timeout", &["2", "bash", "-c", &script])
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The output of `ip netns list`.
fn namespaces() -> String {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_pair_connects_cuts_and_cleans_up() {
    let Some(pair) = NetnsPair::skip_unless_root("a_pair_connects_cuts_and_cleans_up") else {
        return;
    };
    let names = [pair.name(Side::A).to_owned(), pair.name(Side::B).to_owned()];
    assert!(namespaces().contains(&names[0]) && namespaces().contains(&names[1]));

    let addr_a = pair.addr(Side::A).to_string();
    let mut listener = pair
        .command(
            Side::A,
            "timeout",
            &["20", "python3", "-c", LISTEN, &addr_a],
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("start listener");
    let mut lines = BufReader::new(listener.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    assert!(connects(&pair, Side::B, &addr_a, "hello"), "b reaches a");
    assert_eq!(lines.next().unwrap().unwrap(), "hello");
    let _ = listener.wait();

    pair.link_down(Side::B).unwrap();
    assert!(
        !connects(&pair, Side::B, &addr_a, "cut"),
        "a link down cuts b off"
    );
    pair.link_up(Side::B).unwrap();

    drop(pair);
    let left = namespaces();
    assert!(
        !left.contains(&names[0]) && !left.contains(&names[1]),
        "{left}"
    );
}
