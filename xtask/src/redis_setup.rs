//! The set-up step of `cargo xtask test`: mp-pool's Redis backend is tested against a real
//! `redis-server`, which the tests start themselves; this makes sure the program is there. On a
//! fresh machine, as root, it installs Debian's package (bounded); otherwise it stops with the
//! exact command to run, so that the README's one test command still does all the set-up.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::cmd::{Output, Step};

/// How long `apt-get update` and the install may take together.
const INSTALL_BOUND: Duration = Duration::from_secs(10 * 60);

/// The command that installs the server, as a user runs it.
pub(crate) const INSTALL_COMMAND: &str = "apt-get update && apt-get install -y redis-server";

/// Whether `redis-server` runs here.
fn redis_server_present() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
            "xtask test: `redis-server` is missing (mp-pool's Redis tests start one); \
             install it with: sudo sh -c '{INSTALL_COMMAND}'"
        ));
    }
    eprintln!("xtask test: set-up: `redis-server` is missing; running: {INSTALL_COMMAND}");
    let mut command = Command::new("sh");
    command
        .args(["-c", INSTALL_COMMAND])
        .env("DEBIAN_FRONTEND", "noninteractive");
    Step::new("set-up: install redis-server", command, INSTALL_BOUND)
        .output(Output::Inherit)
        .run()
        .map_err(|e| format!("xtask test: {e}"))?;
    if redis_server_present() {
        Ok(())
    } else {
        Err(format!(
            "xtask test: `{INSTALL_COMMAND}` ran but `redis-server --version` still fails"
        ))
    }
}
