//! A `redis-server` of a test's own (included with `#[path]` beside `bounded.rs`): a temporary
//! directory, a loopback port, no persistence, killed and removed on drop (also when the test
//! fails). `cargo xtask test` makes sure the program is installed.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::bounded::BOUND;

/// A running server, stopped on drop.
pub struct RedisServer {
    /// The server process.
    child: Child,
    /// Its working directory (removed on drop).
    dir: PathBuf,
    /// The address it listens on.
    pub addr: String,
    /// The port.
    pub port: u16,
    /// The password clients must give, if any.
    pub password: Option<String>,
    /// Whether it speaks TLS only (a self-signed certificate).
    pub tls: bool,
}

/// Numbers the servers of one test process.
static SERVERS: AtomicU32 = AtomicU32::new(0);

impl RedisServer {
    /// A server on 127.0.0.1.
    pub fn start() -> Self {
        Self::start_on("127.0.0.1", None)
    }

    /// A server on `bind` (an address of this host or namespace, or several separated by
    /// spaces: the first is the one [`url`](Self::url) names), requiring `password` if given.
    /// Fails the test if it does not answer within the bound.
    pub fn start_on(bind: &str, password: Option<&str>) -> Self {
        Self::start_with(bind, password, false)
    }

    /// A server on 127.0.0.1 that speaks TLS only, with a self-signed certificate made with
    /// `openssl` in its directory (clients connect with `rediss://...#insecure`).
    pub fn start_tls() -> Self {
        Self::start_with("127.0.0.1", None, true)
    }

    /// A server on `bind`, with a password and TLS as asked.
    fn start_with(binds: &str, password: Option<&str>, tls: bool) -> Self {
        Self::start_via(&[], binds, password, tls)
    }

    /// A server on `binds` started through `prefix` (e.g. `ip netns exec NAME`: a server in a
    /// network namespace, the calling thread being in it too, for the readiness check).
    pub fn start_in(prefix: &[&str], binds: &str) -> Self {
        Self::start_via(prefix, binds, None, false)
    }

    /// The one start behind the others.
    fn start_via(prefix: &[&str], binds: &str, password: Option<&str>, tls: bool) -> Self {
        let addrs: Vec<&str> = binds.split_whitespace().collect();
        let bind = addrs.first().copied().unwrap_or("127.0.0.1");
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mp-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir for redis-server");
        // A free port: the kernel picks one, and the server takes it over at once.
        let port = TcpListener::bind((bind, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = match prefix.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg("redis-server");
                c
            }
            None => Command::new("redis-server"),
        };
        command.arg("--bind").args(&addrs);
        if tls {
            let made = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                ])
                .args([
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    "key.pem",
                    "-out",
                    "cert.pem",
                ])
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl");
            assert!(made.success(), "openssl could not make a certificate");
            command
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(dir.join("cert.pem"))
                .arg("--tls-key-file")
                .arg(dir.join("key.pem"))
                .arg("--tls-ca-cert-file")
                .arg(dir.join("cert.pem"))
                .args(["--tls-auth-clients", "no"]);
        } else {
            command.args(["--port", &port.to_string()]);
        }
        command
            .args(["--save", "", "--appendonly", "no"])
            // A test's own server, reached over veth addresses too: clients from non-loopback
            // addresses without a password must not be refused (`-DENIED`).
            .args(["--protected-mode", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .spawn()
            .expect("redis-server (cargo xtask test installs it)");
        let server = RedisServer {
            child,
            dir,
            addr: bind.to_owned(),
            port,
            password: password.map(str::to_owned),
            tls,
        };
        server.wait_answering();
        server
    }

    /// The URL clients connect with (the password in it, if any).
    pub fn url(&self) -> String {
        let auth = match &self.password {
            Some(password) => format!(":{password}@"),
            None => String::new(),
        };
        if self.tls {
            format!("rediss://{auth}{}:{}/#insecure", self.addr, self.port)
        } else {
            format!("redis://{auth}{}:{}/", self.addr, self.port)
        }
    }

    /// Waits until the server answers a PING (or asks for a password).
    fn wait_answering(&self) {
        let deadline = Instant::now() + BOUND;
        loop {
            if let Ok(mut stream) = TcpStream::connect((self.addr.as_str(), self.port)) {
                if self.tls {
                    return; // it listens; the TLS handshake is the client's
                }
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut line = String::new();
                if stream.write_all(b"PING\r\n").is_ok()
                    && BufReader::new(&stream).read_line(&mut line).is_ok()
                    && (line.starts_with("+PONG") || line.starts_with("-NOAUTH"))
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on {}:{} did not answer within {BOUND:?}",
                self.addr,
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
