//! The calling thread's id, as the kernel and glibc's mutex word know it, without a system call
//! per look: `gettid` once per thread, cached until a fork (whose child's thread has a new id).
//!
//! Seen: a condition ping-pong made 1.5 `gettid` calls per hop (every notify asks whether the
//! caller holds the lock), each a system call (glibc does not cache the tid).

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Forks seen by this process (counted in every child by a `pthread_atfork` handler).
static FORKS: AtomicU64 = AtomicU64::new(0);

/// Whether the fork handler is in place: 0 no, 1 being registered, 2 yes. The cache is used
/// only at 2: before, a fork could not be seen.
static HANDLER: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// This thread's id and the fork count when it was read.
    static CACHED: Cell<Option<(u64, i32)>> = const { Cell::new(None) };
}

/// Runs in the child of every `fork` made through libc (std, nix, mp-process): every cached
/// id is stale there.
extern "C" fn count_fork_in_child() {
    FORKS.fetch_add(1, Ordering::SeqCst);
}

/// The calling thread's id.
pub(crate) fn caller_tid() -> i32 {
    match HANDLER.load(Ordering::Acquire) {
        2 => {}
        0 => {
            if HANDLER
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // SAFETY: registers a plain function valid for the whole program; no
                // prepare or parent handler. A failure (ENOMEM) leaves the cache unused.
                let rc = unsafe { libc::pthread_atfork(None, None, Some(count_fork_in_child)) };
                HANDLER.store(if rc == 0 { 2 } else { 1 }, Ordering::Release);
            }
            return gettid();
        }
        _ => return gettid(),
    }
    let forks = FORKS.load(Ordering::SeqCst);
    CACHED.with(|cached| match cached.get() {
        Some((seen, tid)) if seen == forks => tid,
        _ => {
            let tid = gettid();
            cached.set(Some((forks, tid)));
            tid
        }
    })
}

/// The `gettid` system call.
fn gettid() -> i32 {
    // SAFETY: `gettid` has no preconditions.
    unsafe { libc::gettid() }
}
