//! The parent drill: SIGKILL a parent that has a daemon and a non-daemon child, at a random
//! moment (after both started, or while it may still be starting them). The daemon must die
//! with it; the non-daemon ends on its own; nothing is left running.

use std::thread;
use std::time::{Duration, Instant};

use mp_process::StartMethod;
use mp_sync::Semaphore;

use crate::children::{self, BOUND};
use crate::findings::Findings;
use crate::probe;
use crate::rng::Rng;
use crate::sys;

/// Exit code of a parent that could not start its children.
const START_FAILED: i32 = 3;
/// How long the non-daemon child lives.
const NON_DAEMON_LIFE: Duration = Duration::from_millis(200);

/// Lives until killed (its parent's death must end it).
fn daemon_child(_: ()) {
    thread::sleep(Duration::from_secs(60));
}

/// Lives a short while and ends on its own.
fn non_daemon_child(_: ()) {
    thread::sleep(NON_DAEMON_LIFE);
}

/// The parent: starts a daemon and a non-daemon child under `method`, says so, waits to die.
fn parent_of_two((method, started): (StartMethod, Semaphore)) {
    let mut daemon = children::builder(method)
        .daemon(true)
        .name("daemon")
        .target(daemon_child, ());
    let mut plain = children::builder(method)
        .name("non-daemon")
        .target(non_daemon_child, ());
    if daemon.start().is_err() || plain.start().is_err() {
        std::process::exit(START_FAILED);
    }
    let _ = started.release();
    thread::sleep(Duration::from_secs(60));
}

/// Runs the drill once.
pub(crate) fn run(method: StartMethod, rng: &mut Rng, findings: &mut Findings) {
    let Ok(started) = Semaphore::new(0) else {
        return findings.fail("creating a semaphore".to_owned());
    };
    let args = (method, started.clone());
    let Some(parent) = children::start(method, parent_of_two, args, "parent", findings) else {
        return;
    };
    if rng.coin() {
        if !started.acquire_timeout(BOUND) {
            findings.hang("the parent never started its children".to_owned());
        }
        thread::sleep(rng.duration(Duration::from_millis(5)));
    } else {
        thread::sleep(rng.duration(Duration::from_millis(30)));
    }
    let family = parent.pid().map(probe::descendants_of).unwrap_or_default();
    let _ = parent.kill();
    let _ = children::finish(&parent, Instant::now() + BOUND, findings);
    let deadline = Instant::now() + NON_DAEMON_LIFE + BOUND;
    let left: Vec<i32> = family
        .into_iter()
        .filter(|&pid| !probe::gone_by(pid, deadline))
        .collect();
    if !left.is_empty() {
        for &pid in &left {
            let _ = sys::kill(pid);
        }
        findings.leaked_processes(
            left.len() as u64,
            format!("still running after the parent died: {left:?}"),
        );
    }
}
