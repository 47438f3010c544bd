//! Behaviour that must not depend on the start method: whether a child's at-exit handlers run,
//! and how a stack overflow ends it. (Where a child starts is in `working_directory.rs`.)
#![allow(unsafe_code)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{builder, join};
use mp_process::{Process, StartMethod};
use serde::{Deserialize, Serialize};

/// A fresh, empty directory for one test, under the system's temporary directory.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mp-behaviour-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scratch directory");
    dir
}

/// How the target of [`register_handler_then`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Ending {
    /// It returns (exit code 0).
    Return,
    /// It panics (exit code 1).
    Panic,
    /// It calls `std::process::exit(3)`.
    Exit,
}

impl Ending {
    const ALL: [Ending; 3] = [Ending::Return, Ending::Panic, Ending::Exit];

    fn exitcode(self) -> i32 {
        match self {
            Ending::Return => 0,
            Ending::Panic => 1,
            Ending::Exit => 3,
        }
    }
}

/// The file the at-exit handler of this process writes (set in the child only).
static HANDLER_MARK: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn mark_handler_ran() {
    if let Some(path) = HANDLER_MARK.get() {
        let _ = std::fs::write(path, b"ran");
    }
}

/// Registers a libc at-exit handler that creates `mark`, then ends as told.
fn register_handler_then((mark, ending): (PathBuf, Ending)) {
    HANDLER_MARK.set(mark).expect("one handler per child");
    // SAFETY: atexit stores a pointer to a plain function that lives as long as the program.
    assert_eq!(unsafe { libc::atexit(mark_handler_ran) }, 0);
    match ending {
        Ending::Return => {}
        Ending::Panic => panic!("the target panics (on purpose)"),
        Ending::Exit => std::process::exit(3),
    }
}

/// Runs [`register_handler_then`] under `method` with each ending; whether the handler ran, per
/// ending.
fn handler_runs(method: StartMethod, dir: &Path) -> Vec<(Ending, bool)> {
    handler_runs_with(method, dir, true)
}

/// [`handler_runs`] with the builder's [`exit_handlers`](mp_process::Builder::exit_handlers)
/// set to `exit_handlers`.
fn handler_runs_with(method: StartMethod, dir: &Path, exit_handlers: bool) -> Vec<(Ending, bool)> {
    Ending::ALL
        .into_iter()
        .map(|ending| {
            let mark = dir.join(format!("{}-{ending:?}", method.name()));
            let mut p = builder(method)
                .exit_handlers(exit_handlers)
                .target(register_handler_then, (mark.clone(), ending));
            p.start().unwrap();
            assert_eq!(join(&p), ending.exitcode(), "{method:?} {ending:?}");
            (ending, mark.exists())
        })
        .collect()
}

/// A fresh child's at-exit handlers run however its target ends: on return, on a panic and on
/// `std::process::exit`, as in Python.
#[test]
fn at_exit_handlers_run_in_fresh_children() {
    let dir = scratch_dir("atexit-fresh");
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        for (ending, ran) in handler_runs(method, &dir) {
            assert!(ran, "{method:?} {ending:?}: the at-exit handler must run");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A child built with `exit_handlers(false)` (as a pool's workers are) leaves through `_exit`
/// under every start method: its at-exit handlers run only if its target calls
/// `std::process::exit` itself.
#[test]
fn a_child_told_to_skip_its_at_exit_handlers_runs_them_only_on_exit() {
    let dir = scratch_dir("atexit-skipped");
    for method in [
        StartMethod::Spawn,
        StartMethod::ForkServer,
        StartMethod::Fork,
    ] {
        for (ending, ran) in handler_runs_with(method, &dir, false) {
            assert_eq!(
                ran,
                ending == Ending::Exit,
                "{method:?} {ending:?}: the handler runs only on exit()"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs [`handler_runs`] under fork from this (single-threaded, fresh) child and exits with
/// one bit per ending whose handler ran.
fn fork_from_a_single_threaded_parent(dir: PathBuf) {
    let bits = handler_runs(StartMethod::Fork, &dir)
        .into_iter()
        .enumerate()
        .map(|(i, (_, ran))| i32::from(ran) << i)
        .sum();
    std::process::exit(bits)
}

/// A fork of a single-threaded parent runs its handlers like a fresh child; a fork of a parent
/// with other threads (allowed by `allow_fork_with_threads`, as the test harness needs) leaves
/// with `_exit` unless the target calls `std::process::exit`, since another thread may have
/// held a lock the handlers need at the moment of the fork.
#[test]
fn at_exit_handlers_in_fork_children_depend_on_the_parents_threads() {
    let dir = scratch_dir("atexit-fork");
    let mut p = Process::builder()
        .start_method(StartMethod::Spawn)
        .target(fork_from_a_single_threaded_parent, dir.join("single"));
    std::fs::create_dir_all(dir.join("single")).unwrap();
    p.start().unwrap();
    assert_eq!(
        join(&p),
        0b111,
        "every handler ran under a single-threaded fork"
    );

    // This test process has the harness's threads.
    std::fs::create_dir_all(dir.join("threaded")).unwrap();
    let ran = handler_runs(StartMethod::Fork, &dir.join("threaded"));
    let expected: Vec<(Ending, bool)> = Ending::ALL
        .into_iter()
        .map(|ending| (ending, matches!(ending, Ending::Exit)))
        .collect();
    assert_eq!(
        ran, expected,
        "a threaded fork runs handlers only on exit()"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Recurses until the stack overflows.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth as u8; 1024]);
    recurse(depth + 1) + u64::from(frame[0])
}

/// Sends stderr to `log`, then overflows the stack.
fn overflow_the_stack(log: PathBuf) {
    let file = std::fs::File::create(log).expect("creating the log");
    nix::unistd::dup2_stderr(&file).expect("redirecting stderr");
    recurse(0);
}

/// A stack overflow ends a child with std's message and SIGABRT under every start method (std
/// installs its handler in `main`'s set-up, which a fresh child never runs).
#[test]
fn a_stack_overflow_aborts_with_a_message_under_every_method() {
    let dir = scratch_dir("overflow");
    for method in StartMethod::ALL {
        let log = dir.join(method.name());
        let mut p = builder(method).target(overflow_the_stack, log.clone());
        p.start().unwrap();
        let code = join(&p);
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            code,
            -libc::SIGABRT,
            "{method:?}: exit code; stderr: {said:?}"
        );
        assert!(
            said.contains("has overflowed its stack") && said.contains("stack overflow"),
            "{method:?}: std's message, got {said:?}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
