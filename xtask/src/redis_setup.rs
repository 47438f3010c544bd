//! The set-up step of `cargo xtask test`: mp-pool's Redis backend is tested against a real
//! `redis-server`, which the tests start themselves (over TLS too: the `redis-tls` feature
//! builds against the system's OpenSSL, and the TLS test makes its certificate with the
//! `openssl` program); this makes sure all of it is there. On a fresh machine, as root, it
//! installs Debian's packages (bounded); otherwise it stops with the exact command to run, so
//! that the README's one test command still does all the set-up.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::cmd::{Output, Step};

/// How long `apt-get update` and the install may take together.
const INSTALL_BOUND: Duration = Duration::from_secs(10 * 60);

/// The command that installs the server, as a user runs it.
pub(crate) const INSTALL_COMMAND: &str =
    "apt-get update && apt-get install -y redis-server libssl-dev pkg-config openssl";

/// Whether `program args` runs here and succeeds.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the server, the OpenSSL headers (through pkg-config) and the `openssl` program are
/// all here.
fn redis_server_present() -> bool {
    runs("redis-server", &["--version"])
        && runs("pkg-config", &["--exists", "openssl"])
        && runs("openssl", &["version"])
}

/// Whether we run as root (`id -u` says 0): the one case the step installs anything.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Makes sure `redis-server` is installed: present, installed now (as root), or an error that
/// gives the command to run.
pub(crate) fn ensure_redis_server() -> Result<(), String> {
    if redis_server_present() {
        return Ok(());
    }
    if !running_as_root() {
        return Err(format!(
            "xtask test: `redis-server`, OpenSSL's headers or `openssl` is missing (mp-pool's \
             Redis tests need them); install them with: sudo sh -c '{INSTALL_COMMAND}'"
        ));
    }
    eprintln!(
        "xtask test: set-up: a Redis test prerequisite is missing; running: {INSTALL_COMMAND}"
    );
    let mut command = Command::new("sh");
    command
        .args(["-c", INSTALL_COMMAND])
        .env("DEBIAN_FRONTEND", "noninteractive");
    Step::new(
        "set-up: install the Redis test prerequisites",
        command,
        INSTALL_BOUND,
    )
    .output(Output::Inherit)
    .run()
    .map_err(|e| format!("xtask test: {e}"))?;
    if redis_server_present() {
        Ok(())
    } else {
        Err(format!(
            "xtask test: `{INSTALL_COMMAND}` ran but a prerequisite is still missing"
        ))
    }
}
