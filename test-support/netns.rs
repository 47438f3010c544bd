//! Two network namespaces joined by a veth pair: two "hosts" for tests of services reached
//! across a network (included with `#[path]`, like `bounded.rs`). Needs root (`ip netns`);
//! [`NetnsPair::create`] says why it cannot, and [`NetnsPair::skip_unless_root`] turns that into a
//! clear skip message.
//!
//! Each pair has unique names (`mpt-<pid>-<n>-a`/`-b`, interfaces `mv<pid><n>a`/`b`), so tests
//! running at once do not meet; the addresses are the same for every pair (`10.77.0.1` in `a`,
//! `10.77.0.2` in `b`), which is fine: each pair's two namespaces see only each other. Dropping
//! the pair deletes both namespaces (and with them the veth pair), also when the test panics;
//! namespaces left by a test process that was killed are swept by the next `create`.

#![allow(dead_code, unreachable_pub)]

use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// One of the two namespaces of a [`NetnsPair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The first namespace (address [`NetnsPair::ADDR_A`]).
    A,
    /// The second namespace (address [`NetnsPair::ADDR_B`]).
    B,
}

/// Two network namespaces, `a` and `b`, joined by a veth pair with an address at each end;
/// both deleted on drop.
#[derive(Debug)]
pub struct NetnsPair {
    /// The namespaces' names, `[a, b]`.
    names: [String; 2],
    /// The veth ends' interface names, `[in a, in b]`.
    links: [String; 2],
}

/// The prefix of every namespace name we make, followed by the creating process's pid.
const PREFIX: &str = "mpt-";

/// Pairs made by this process so far (for unique names).
static NEXT: AtomicU32 = AtomicU32::new(0);

impl NetnsPair {
    /// The address of namespace `a`'s end of the veth pair.
    pub const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
    /// The address of namespace `b`'s end of the veth pair.
    pub const ADDR_B: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

    /// Whether this process runs as root (namespaces need it).
    pub fn is_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
            })
            .unwrap_or(false)
    }

    /// A new pair, or `None` (after printing why the test `test` is skipped) when this process
    /// is not root. Any other failure to set the pair up fails the test.
    pub fn skip_unless_root(test: &str) -> Option<NetnsPair> {
        if !Self::is_root() {
            eprintln!("SKIPPED {test}: network namespaces need root (ip netns); not root here");
            return None;
        }
        Some(Self::create().unwrap_or_else(|e| panic!("{test}: cannot set up namespaces: {e}")))
    }

    /// Creates the two namespaces, the veth pair between them, their addresses, and brings
    /// every link up (loopback included).
    pub fn create() -> Result<NetnsPair, String> {
        sweep_stale();
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // Interface names have at most 15 bytes.
        let tag = format!("{}{}", pid % 1_000_000, n % 100);
        let pair = NetnsPair {
            names: [
                format!("{PREFIX}{pid}-{n}-a"),
                format!("{PREFIX}{pid}-{n}-b"),
            ],
            links: [format!("mv{tag}a"), format!("mv{tag}b")],
        };
        // From here on, a failure drops `pair`, which deletes what was made.
        let [na, nb] = &pair.names;
        let [la, lb] = &pair.links;
        ip(&["netns", "add", na])?;
        ip(&["netns", "add", nb])?;
        ip(&["link", "add", la, "type", "veth", "peer", "name", lb])?;
        ip(&["link", "set", la, "netns", na])?;
        ip(&["link", "set", lb, "netns", nb])?;
        for (ns, link, addr) in [(na, la, Self::ADDR_A), (nb, lb, Self::ADDR_B)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", link])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", link, "up"])?;
        }
        Ok(pair)
    }

    /// The namespace's name (for `ip netns exec NAME ...`).
    pub fn name(&self, side: Side) -> &str {
        &self.names[side as usize]
    }

    /// The address of `side`'s end of the veth pair.
    pub fn addr(&self, side: Side) -> Ipv4Addr {
        match side {
            Side::A => Self::ADDR_A,
            Side::B => Self::ADDR_B,
        }
    }

    /// A command that runs `program args` inside namespace `side` (`ip netns exec`); the
    /// caller adds environment, pipes, and spawns it.
    pub fn command(&self, side: Side, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.name(side), program])
            .args(args);
        c
    }

    /// Runs `program args` in namespace `side` to completion and returns its output.
    pub fn run(&self, side: Side, program: &str, args: &[&str]) -> std::io::Result<Output> {
        self.command(side, program, args)
            .stdin(Stdio::null())
            .output()
    }

    /// Takes `side`'s end of the veth pair down: the other side becomes unreachable (packets
    /// are dropped, connections stall: a cut cable).
    pub fn link_down(&self, side: Side) -> Result<(), String> {
        self.set_link(side, "down")
    }

    /// Brings `side`'s end of the veth pair back up.
    pub fn link_up(&self, side: Side) -> Result<(), String> {
        self.set_link(side, "up")
    }

    /// `ip -n NS link set LINK up|down`.
    fn set_link(&self, side: Side, state: &str) -> Result<(), String> {
        let i = side as usize;
        ip(&["-n", &self.names[i], "link", "set", &self.links[i], state])
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and with it the pair; the
        // link is deleted by name too in case the failure came before it was moved.
        let _ = ip_quiet(&["link", "del", &self.links[0]]);
        for name in &self.names {
            let _ = ip_quiet(&["netns", "del", name]);
        }
    }
}

/// Deletes namespaces of ours whose creating process is gone (a test process killed before its
/// drops ran).
fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip_quiet(&["netns", "del", name]);
        }
    }
}

/// Runs `ip args`; its stderr in the error when it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `ip args`, ignoring its output (cleanup of what may not exist).
fn ip_quiet(args: &[&str]) -> std::io::Result<std::process::ExitStatus> {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
}
