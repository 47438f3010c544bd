//! Worker processes never keep a program from exiting. mp-process joins a process's
//! non-daemon children when it exits; a pool's workers are not daemons (so that tasks may
//! start processes), and one that waits for its next job would make that join wait forever
//! when the program exits with a pool still alive (`std::process::exit`, a pool in a static
//! or leaked). So, at exit, every live worker of this process's pools is killed first, and no
//! replacement is started after that (it could be forked after the process is gone, and miss
//! its parent-death signal: the worker also checks its parent at boot).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};

use mp_process::Process;

use crate::sys;

/// The worker processes started by this process, while their pool holds them.
static LIVE: Mutex<Vec<Weak<Process>>> = Mutex::new(Vec::new());

/// Registers the exit hook once.
static HOOK: Once = Once::new();

/// The process whose exit hook ran (0: none): it starts no more workers.
static EXITING: AtomicU32 = AtomicU32::new(0);

/// Whether this process is exiting (its exit hook ran): a worker started now could outlive it.
pub(crate) fn exiting() -> bool {
    EXITING.load(Ordering::Acquire) == std::process::id()
}

/// Registers a worker just started. Called after the process started, so that the hook is
/// registered after mp-process's own and runs before it (at-exit hooks run in reverse order).
pub(crate) fn guard(worker: &Arc<Process>) {
    HOOK.call_once(|| sys::at_exit(kill_live_workers));
    if let Ok(mut live) = LIVE.lock() {
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(worker));
    }
}

/// The exit hook: kills the live workers. Only the process that started a worker may signal
/// it (a forked copy of this list is ignored by `kill`), and a list whose lock is held (by a
/// thread of this process, or in a forked copy) is left alone rather than waited for.
extern "C" fn kill_live_workers() {
    // First: the watchers of the workers killed below start no replacement.
    EXITING.store(std::process::id(), Ordering::Release);
    let Ok(live) = LIVE.try_lock() else {
        return;
    };
    for worker in live.iter().filter_map(Weak::upgrade) {
        let _ = worker.kill();
    }
}
