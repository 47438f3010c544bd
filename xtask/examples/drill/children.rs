//! Starting and finishing the drill's children: every wait bounded, every overrun a hang.

use std::time::{Duration, Instant};

use mp_process::{Builder, Process, StartMethod};

use crate::findings::Findings;

/// How long the processes of one scenario may take to finish after the kill: generous for a
/// loaded 2-core machine, far below the harness's bound for a whole run.
pub(crate) const BOUND: Duration = Duration::from_secs(10);

/// A builder for `method`.
pub(crate) fn builder(method: StartMethod) -> Builder {
    Process::builder().start_method(method)
}

/// Starts `f(args)` under `method`; a failure is recorded as `what` and gives `None`.
pub(crate) fn start<A>(
    method: StartMethod,
    f: fn(A),
    args: A,
    what: &str,
    findings: &mut Findings,
) -> Option<Process>
where
    A: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let mut p = builder(method).name(what).target(f, args);
    match p.start() {
        Ok(()) => Some(p),
        Err(e) => {
            findings.fail(format!("{what}: start failed: {e}"));
            None
        }
    }
}

/// Joins `p` by `deadline`. One still running then is recorded as a hang, killed and reaped;
/// `None` unless it exited by itself.
pub(crate) fn finish(p: &Process, deadline: Instant, findings: &mut Findings) -> Option<i32> {
    let left = deadline.saturating_duration_since(Instant::now());
    match p.join_timeout(left) {
        Ok(Some(code)) => Some(code),
        Ok(None) => {
            findings.hang(format!(
                "{} (pid {:?}) still running after the bound",
                p.name(),
                p.pid()
            ));
            let _ = p.kill();
            let _ = p.join_timeout(BOUND);
            None
        }
        Err(e) => {
            findings.fail(format!("{}: join failed: {e}", p.name()));
            None
        }
    }
}

/// Joins `p` by `deadline` and records any exit code other than `expected`; whether it
/// exited by itself with `expected`.
pub(crate) fn finish_with(
    p: &Process,
    expected: i32,
    deadline: Instant,
    findings: &mut Findings,
) -> bool {
    match finish(p, deadline, findings) {
        Some(code) if code == expected => true,
        Some(code) => {
            findings.fail(format!(
                "{} exited with {code}, expected {expected} ({:?})",
                p.name(),
                p.panic_message()
            ));
            false
        }
        None => false,
    }
}

/// A child that does nothing.
fn idle(_: ()) {}

/// Starts and joins one child, so that what a first start sets up for good (a fork server)
/// exists before the drill counts descriptors.
pub(crate) fn warm_up(method: StartMethod, findings: &mut Findings) {
    if let Some(p) = start(method, idle, (), "warm-up", findings) {
        finish_with(&p, 0, Instant::now() + BOUND, findings);
    }
}
