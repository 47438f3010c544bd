//! The fork-server drill (forkserver only): SIGKILL the fork server at a random moment while
//! its children run and another start may be under way. Every call on the orphaned children
//! must return promptly (issue 7: each stalled 10 s asking the replacement server about a pid
//! it never forked), and the next start must work. In half the runs a child the server had
//! just forked is played as well, one that still holds the server's socket (copies taken before
//! the kill) and closes it a random moment after the next start began: a request sent there
//! is taken by nobody, and the next start must not send it there.

use std::thread;
use std::time::{Duration, Instant};

use mp_process::{Process, StartMethod, active_children};
use mp_sync::Event;

use crate::children::{self, BOUND};
use crate::findings::Findings;
use crate::probe;
use crate::rng::Rng;
use crate::sys;

/// How long any single call may take before it counts as a stall.
const PROMPT: Duration = Duration::from_secs(3);
/// How many children run before the kill; as many more are started around it.
const CHILDREN: usize = 2;

/// A child of the doomed server: waits for the release (bounded), then exits.
fn wait_for_release(release: Event) {
    release.wait_timeout(BOUND);
}

/// A child that does nothing.
fn idle(_: ()) {}

/// Runs `call`, recording a hang if it took longer than [`PROMPT`].
fn timed<T>(what: &str, findings: &mut Findings, call: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = call();
    let took = started.elapsed();
    if took > PROMPT {
        findings.hang(format!("{what} took {took:?} after the fork server died"));
    }
    out
}

/// Runs the drill once (under forkserver: the only method with a server).
pub(crate) fn run(method: StartMethod, rng: &mut Rng, findings: &mut Findings) {
    // After the warm-up our one live child is the fork server.
    let me = std::process::id() as i32;
    let server = match probe::children_of(me).as_slice() {
        &[server] => server,
        other => return findings.fail(format!("cannot tell the fork server among {other:?}")),
    };
    let Ok(release) = Event::new() else {
        return findings.fail("creating an event".to_owned());
    };
    let mut started: Vec<Process> = (0..CHILDREN)
        .filter_map(|i| {
            let what = format!("child-{i}");
            children::start(method, wait_for_release, release.clone(), &what, findings)
        })
        .collect();
    // The half-born child: copies of the server's socket, closed a while after the next start.
    let lingering = if rng.coin() {
        match sys::copy_sockets_of(server) {
            Ok(copies) => Some((copies, rng.duration(Duration::from_millis(50)))),
            Err(e) => return findings.fail(format!("copying the fork server's sockets: {e}")),
        }
    } else {
        None
    };
    let delay = rng.duration(Duration::from_millis(20));
    let killer = thread::spawn(move || {
        thread::sleep(delay);
        sys::kill(server)
    });
    // Starts racing the kill may fail, but must answer promptly.
    for i in 0..CHILDREN {
        let mut p = children::builder(method)
            .name(format!("racing-{i}"))
            .target(wait_for_release, release.clone());
        if timed("a start racing the kill", findings, || p.start()).is_ok() {
            started.push(p);
        }
    }
    match killer.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => findings.fail(format!("killing the fork server: {e}")),
        Err(_) => findings.fail("the killer thread panicked".to_owned()),
    }
    if !probe::gone_by(server, Instant::now() + BOUND) {
        findings.fail(format!("the fork server {server} survived SIGKILL"));
    }
    release.set();
    // The next start brings a replacement server: the orphans must not be asked about there.
    let closer = lingering.map(|(copies, after)| {
        thread::spawn(move || {
            thread::sleep(after);
            drop(copies);
        })
    });
    let mut next = children::builder(method).name("next").target(idle, ());
    let next_started = timed("the next start", findings, || next.start());
    if closer.is_some_and(|closer| closer.join().is_err()) {
        findings.fail("the thread holding the server's socket panicked".to_owned());
    }
    if let Err(e) = &next_started {
        findings.fail(format!("the start after the fork server died failed: {e}"));
    }
    for p in &started {
        let name = p.name().to_owned();
        let _ = timed(&format!("{name}: is_alive"), findings, || p.is_alive());
        match timed(&format!("{name}: join_timeout"), findings, || {
            p.join_timeout(BOUND)
        }) {
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => findings.hang(format!("{name} still running after the bound")),
        }
        let _ = timed(&format!("{name}: exitcode"), findings, || p.exitcode());
    }
    let _ = timed("active_children", findings, active_children);
    for p in started {
        let name = p.name().to_owned();
        timed(&format!("{name}: dropping the handle"), findings, || {
            drop(p)
        });
    }
    if next_started.is_ok() {
        let joined = timed("joining the next child", findings, || {
            next.join_timeout(PROMPT)
        });
        if !matches!(joined, Ok(Some(0))) {
            findings.fail(format!(
                "the first child of the new fork server: {joined:?}"
            ));
            let _ = next.kill();
        }
    }
}
