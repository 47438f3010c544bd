//! The one wait of the server's blocking objects (locks, events, queues): on a condition
//! variable, in slices, until ready, the call's time is up, the server stops, or the caller
//! is gone (its connection became readable while it waits for an answer: it hung up). A caller
//! that is gone takes nothing: a killed client's `get` loses no item.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, MutexGuard};
use std::time::{Duration, Instant};

use crate::wire::Wait;

/// How often a waiting call looks at the stop flag and its caller.
const SLICE: Duration = Duration::from_millis(50);

/// Who a call is for, and how to tell it is no longer wanted.
pub(crate) struct Caller<'a> {
    /// The caller's connection (locks remember their holders by it).
    pub(crate) conn: u64,
    /// Set when the server stops.
    pub(crate) stop: &'a AtomicBool,
    /// Whether the caller hung up.
    pub(crate) gone: &'a dyn Fn() -> bool,
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The condition holds (the guard is held).
    Ready,
    /// The wait's time passed first.
    TimedOut,
    /// The server stops or the caller hung up.
    Cancelled,
}

/// Waits on `cv` until `ready(&mut state)` holds, as `wait` allows.
pub(crate) fn wait_for<'a, T>(
    mut guard: MutexGuard<'a, T>,
    cv: &Condvar,
    wait: Wait,
    caller: &Caller<'_>,
    mut ready: impl FnMut(&mut T) -> bool,
) -> (MutexGuard<'a, T>, Waited) {
    let until = match wait {
        Wait::For(d) => Instant::now().checked_add(d),
        Wait::Forever => None,
    };
    loop {
        if ready(&mut guard) {
            return (guard, Waited::Ready);
        }
        let left = until.map(|u| u.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return (guard, Waited::TimedOut);
        }
        if caller.stop.load(Ordering::Acquire) || (caller.gone)() {
            return (guard, Waited::Cancelled);
        }
        let slice = left.map_or(SLICE, |l| l.min(SLICE));
        guard = cv
            .wait_timeout(guard, slice)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}
