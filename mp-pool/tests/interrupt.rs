//! Ctrl-C and a panic in the pool's process: neither leaves a worker behind, nor a zombie.
//!
//! Python's `Pool` is known for hanging at Ctrl-C (bpo-8296) and for leaving workers when its
//! parent dies. Here each scenario runs in a child process that owns a pool busy with hour-long
//! tasks, and is interrupted the way a terminal does it (SIGINT to the whole process group), or
//! SIGINT to the pool's process alone, or a panic in it; the test then checks that every worker
//! is gone within a bound.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mp_pool::{Options, Pool, StartMethod};
use mp_process::Process;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, killpg, sigaction};
use nix::unistd::{Pid, setpgid};

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/pool_tasks.rs"]
mod pool_tasks;

use pool_tasks::{all_gone, bounded, sleep_ms};

/// How the pool's process is ended.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
enum Ending {
    /// It waits in `get` until a signal ends it.
    WaitForSignal,
    /// It panics while its pool is busy.
    Panic,
    /// It handles SIGINT (a flag) and expects its tasks to complete all the same.
    HandleCtrlC,
}

/// Set by [`on_sigint`].
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A SIGINT handler that only sets a flag (async-signal-safe).
extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// In a child: its own process group (as a shell gives a job), a pool under `method` busy with
/// hour-long tasks, its worker pids to the parent, then the ending.
fn busy_pool(args: (mp_ipc::Connection, StartMethod, Ending)) {
    let (report, method, ending) = args;
    setpgid(Pid::from_raw(0), Pid::from_raw(0)).unwrap();
    let (tasks, ms) = match ending {
        Ending::HandleCtrlC => {
            let action = SigAction::new(
                SigHandler::Handler(on_sigint),
                SaFlags::empty(),
                SigSet::empty(),
            );
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
            unsafe { sigaction(Signal::SIGINT, &action) }.unwrap();
            (vec![500; 4], 500)
        }
        _ => (vec![3_600_000; 4], 3_600_000),
    };
    let pool = Pool::builder()
        .processes(2)
        .start_method(method)
        .build()
        .unwrap();
    let pending = pool
        .map_async_with(sleep_ms, tasks, Options::new().chunksize(1))
        .unwrap();
    let pids: Vec<u32> = pool.workers().iter().filter_map(|w| w.pid).collect();
    report.send(&pids).unwrap();
    match ending {
        Ending::WaitForSignal => {
            let _ = pending.get();
        }
        Ending::Panic => panic!("the pool's owner panics with its pool busy"),
        Ending::HandleCtrlC => {
            let results = pending.get();
            let all_done = results.iter().all(|r| matches!(r, Ok(v) if *v == ms));
            let code = if !INTERRUPTED.load(Ordering::SeqCst) {
                4 // the Ctrl-C did not reach the owner
            } else if !all_done {
                3 // a worker died of the Ctrl-C
            } else {
                0
            };
            std::process::exit(code);
        }
    }
}

/// Starts [`busy_pool`] under spawn with a pool under `method`, lets `end` end it, and checks
/// that its exit code is `expected` and that no worker is left.
fn no_worker_left(method: StartMethod, ending: Ending, end: fn(Pid), expected: i32) {
    let (parent_end, child_end) = mp_ipc::Pipe(true).unwrap();
    let mut owner = Process::builder()
        .start_method(StartMethod::Spawn)
        .target(busy_pool, (child_end, method, ending));
    owner.start().unwrap();
    let pids: Vec<u32> = parent_end.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(pids.len(), 2, "{method:?}: the pool's workers");
    let owner_pid = Pid::from_raw(owner.pid().unwrap());
    end(owner_pid);
    let code = owner.join_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(
        code,
        Some(expected),
        "{method:?} {ending:?}: the owner's exit"
    );
    // Gone and reaped: not even a zombie is left.
    all_gone(&pids);
}

/// What a terminal's Ctrl-C does: SIGINT to every process of the foreground group.
fn ctrl_c(group: Pid) {
    killpg(group, Signal::SIGINT).unwrap();
}

/// SIGINT to the pool's process alone (`kill -INT pid`).
fn interrupt(pid: Pid) {
    kill(pid, Signal::SIGINT).unwrap();
}

/// Nothing: the owner ends itself.
fn nothing(_: Pid) {}

const ALL_METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];

#[test]
fn ctrl_c_leaves_no_worker_under_every_start_method() {
    bounded(|| {
        for method in ALL_METHODS {
            no_worker_left(method, Ending::WaitForSignal, ctrl_c, -2);
        }
    });
}

#[test]
fn sigint_to_the_pools_process_alone_leaves_no_worker() {
    bounded(|| {
        for method in ALL_METHODS {
            no_worker_left(method, Ending::WaitForSignal, interrupt, -2);
        }
    });
}

#[test]
fn a_panic_in_the_pools_process_leaves_no_worker() {
    bounded(|| {
        for method in ALL_METHODS {
            no_worker_left(method, Ending::Panic, nothing, 1);
        }
    });
}

#[test]
fn ctrl_c_is_the_owners_to_handle_and_the_tasks_complete() {
    bounded(|| {
        for method in ALL_METHODS {
            no_worker_left(method, Ending::HandleCtrlC, ctrl_c, 0);
        }
    });
}
