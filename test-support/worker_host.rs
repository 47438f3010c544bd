//! Worker hosts of mp-pool's Redis backend for tests and benches (included with `#[path]`): the
//! running binary itself in worker mode, in a process group of its own (with its local worker
//! processes), killed with that group on drop.

#![allow(dead_code, unreachable_pub)]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// How a host runs.
#[derive(Clone, Copy, Debug)]
pub struct HostConfig {
    /// Local worker processes.
    pub processes: usize,
    /// Lease in milliseconds.
    pub lease_ms: u64,
    /// Deliveries before a task is poison.
    pub poison_after: usize,
}

/// A worker host, killed on drop.
pub struct Host {
    /// The host process.
    pub child: Child,
}

impl Host {
    /// This binary serving pool `name` at `url` on this host.
    pub fn start(url: &str, name: &str, config: HostConfig) -> Host {
        let exe = std::env::current_exe().expect("the running binary");
        Host::start_with(Command::new(exe), url, name, config)
    }

    /// `command` (which runs this binary, perhaps through `ip netns exec`) serving pool `name`
    /// at `url`.
    pub fn start_with(mut command: Command, url: &str, name: &str, config: HostConfig) -> Host {
        let child = command
            .env("MP_POOL_WORKER", format!("{url}#{name}"))
            .env("MP_POOL_WORKER_PROCESSES", config.processes.to_string())
            .env("MP_POOL_WORKER_LEASE_MS", config.lease_ms.to_string())
            .env(
                "MP_POOL_WORKER_POISON_AFTER",
                config.poison_after.to_string(),
            )
            .env("MP_POOL_WORKER_DIE_WITH_PARENT", "1")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start a worker host");
        Host { child }
    }

    /// Kills the host and its local workers (its process group), as a machine that dies.
    pub fn kill(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}
