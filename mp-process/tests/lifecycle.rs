//! The lifecycle of a process under every start method: start, join, exit codes, signals,
//! close, and the misuses that are errors.

mod common;

use std::time::Duration;

use common::{BOUND, builder, join};
use mp_process::{Error, Process, StartMethod};

fn return_normally(_: ()) {}

fn exit_with(code: i32) {
    std::process::exit(code)
}

fn panic_with(message: String) {
    panic!("{message}")
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms))
}

#[test]
fn exit_codes_follow_python() {
    for method in StartMethod::ALL {
        let mut p = builder(method).target(return_normally, ());
        assert_eq!(
            p.exitcode().unwrap(),
            None,
            "{method:?}: no exit code before start"
        );
        p.start().unwrap();
        assert_eq!(join(&p), 0, "{method:?}: a target that returns");
        assert_eq!(p.exitcode().unwrap(), Some(0));

        let mut p = builder(method).target(exit_with, 7);
        p.start().unwrap();
        assert_eq!(join(&p), 7, "{method:?}: exit(7)");

        let mut p = builder(method).target(panic_with, format!("boom under {method:?}"));
        p.start().unwrap();
        assert_eq!(join(&p), 1, "{method:?}: a panic");
        assert_eq!(p.panic_message(), Some(format!("boom under {method:?}")));
    }
}

#[test]
fn terminate_and_kill_give_minus_the_signal() {
    for method in StartMethod::ALL {
        let mut p = builder(method).target(sleep_ms, 60_000);
        p.start().unwrap();
        assert!(p.is_alive().unwrap(), "{method:?}");
        assert_eq!(
            p.exitcode().unwrap(),
            None,
            "{method:?}: None while running"
        );
        assert_eq!(
            p.join_timeout(Duration::from_millis(50)).unwrap(),
            None,
            "{method:?}: a join timeout is not an error"
        );
        p.terminate().unwrap();
        assert_eq!(join(&p), -libc::SIGTERM, "{method:?}");
        assert!(!p.is_alive().unwrap());
        // Signalling a finished process is a no-op, as in Python.
        p.terminate().unwrap();
        p.kill().unwrap();

        let mut p = builder(method).target(sleep_ms, 60_000);
        p.start().unwrap();
        p.kill().unwrap();
        assert_eq!(join(&p), -libc::SIGKILL, "{method:?}");
    }
}

#[test]
fn interrupt_sends_sigint() {
    for method in StartMethod::ALL {
        let mut p = builder(method).target(sleep_ms, 60_000);
        p.start().unwrap();
        p.interrupt().unwrap();
        assert_eq!(
            join(&p),
            -libc::SIGINT,
            "{method:?}: SIGINT's default action"
        );
        // As terminate and kill: a no-op once the child has exited.
        p.interrupt().unwrap();
    }
}

#[test]
fn misuse_is_a_typed_error() {
    for method in StartMethod::ALL {
        let mut p = builder(method).target(sleep_ms, 60_000);
        assert!(
            matches!(p.join(), Err(Error::NotStarted { .. })),
            "{method:?}: join before start"
        );
        assert!(matches!(p.terminate(), Err(Error::NotStarted { .. })));
        assert!(matches!(p.sentinel(), Err(Error::NotStarted { .. })));
        assert!(!p.is_alive().unwrap(), "not alive before start");
        assert_eq!(p.pid(), None);
        p.start().unwrap();
        assert!(p.pid().is_some());
        assert!(
            matches!(p.start(), Err(Error::AlreadyStarted { .. })),
            "{method:?}: start twice"
        );
        assert!(matches!(
            p.set_daemon(true),
            Err(Error::DaemonAfterStart { .. })
        ));
        assert!(
            matches!(p.close(), Err(Error::StillRunning { .. })),
            "{method:?}: close while running"
        );
        p.kill().unwrap();
        join(&p);
        p.close().unwrap();
        assert!(
            matches!(p.join(), Err(Error::Closed { .. })),
            "{method:?}: join after close"
        );
        assert!(matches!(p.is_alive(), Err(Error::Closed { .. })));
        assert!(
            matches!(p.exitcode(), Err(Error::Closed { .. })),
            "{method:?}: exitcode after close"
        );
        assert!(matches!(p.start(), Err(Error::Closed { .. })));
        assert!(matches!(p.kill(), Err(Error::Closed { .. })));
    }
}

#[test]
fn names_default_like_python_and_can_be_set() {
    let p = Process::new(return_normally, ());
    assert!(p.name().starts_with("Process-"), "{}", p.name());
    let mut q = Process::builder()
        .name("worker")
        .target(return_normally, ());
    assert_eq!(q.name(), "worker");
    q.set_name("renamed");
    assert_eq!(q.name(), "renamed");
    let a: u32 = p.name()["Process-".len()..].parse().unwrap();
    let r = Process::new(return_normally, ());
    let b: u32 = r.name()["Process-".len()..].parse().unwrap();
    assert!(b > a, "numbered in creation order");
}

#[test]
fn a_closure_needs_fork() {
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let mut p = builder(method).closure(|| {});
        assert!(matches!(p.start(), Err(Error::ClosureNeedsFork { method: m }) if m == method));
    }
    let captured: Vec<i32> = (3..=4).collect();
    let mut p =
        builder(StartMethod::Fork).closure(move || std::process::exit(captured.iter().sum()));
    p.start().unwrap();
    assert_eq!(join(&p), 7, "a capturing closure runs in a forked child");
}

#[test]
fn fork_with_threads_is_refused_unless_allowed() {
    // libtest runs this test on a thread of its own: the process has at least two threads.
    let mut p = Process::builder()
        .start_method(StartMethod::Fork)
        .target(return_normally, ());
    match p.start() {
        Err(Error::ForkWithThreads { threads }) => assert!(threads >= 2),
        other => panic!("expected ForkWithThreads, got {other:?}"),
    }
    // The refusal leaves the process unstarted: allowed, it starts.
    let mut p = builder(StartMethod::Fork).target(return_normally, ());
    p.start().unwrap();
    assert_eq!(join(&p), 0);
}

#[test]
fn the_sentinel_becomes_readable_at_exit() {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    for method in StartMethod::ALL {
        let mut p = builder(method).target(sleep_ms, 100);
        p.start().unwrap();
        let sentinel = p.sentinel().unwrap();
        let mut fds = [PollFd::new(sentinel, PollFlags::POLLIN)];
        assert_eq!(
            poll(&mut fds, PollTimeout::ZERO).unwrap(),
            0,
            "{method:?}: not readable while running"
        );
        let ms = BOUND.as_millis() as i32;
        assert_eq!(
            poll(&mut fds, PollTimeout::try_from(ms).unwrap()).unwrap(),
            1,
            "{method:?}: readable at exit"
        );
        assert_eq!(join(&p), 0);
    }
}

#[test]
fn cpu_counts_are_sane() {
    let all = mp_process::cpu_count();
    let usable = mp_process::process_cpu_count();
    assert!(usable >= 1 && all >= 1);
    assert!(usable <= all, "usable {usable} <= all {all}");
}

#[test]
fn a_handle_copied_into_a_forked_child_is_not_the_childs_to_use() {
    let mut sleeper = builder(StartMethod::Spawn).target(sleep_ms, 60_000);
    sleeper.start().unwrap();
    let sleeper = std::sync::Arc::new(sleeper);
    let copy = std::sync::Arc::clone(&sleeper);
    // The forked child holds a copy of the parent's handle: joining or killing through it
    // would reap or signal a process that is not its own.
    let mut checker = builder(StartMethod::Fork).closure(move || {
        let refused = |r: Result<(), Error>| matches!(r, Err(Error::NotOwner { .. }));
        let ok = refused(copy.join().map(drop))
            && refused(copy.kill())
            && refused(copy.exitcode().map(drop));
        std::process::exit(if ok { 0 } else { 1 })
    });
    checker.start().unwrap();
    assert_eq!(join(&checker), 0, "the copy refused to join or kill");
    assert!(
        sleeper.is_alive().unwrap(),
        "the parent's child was left alone"
    );
    sleeper.kill().unwrap();
    assert_eq!(join(&sleeper), -libc::SIGKILL);
}

/// The child of `target_made`: reports the argument it was made, on the channel inside it.
fn report_made(args: (u32, ipc_channel::ipc::IpcSender<u32>)) {
    let _ = args.1.send(args.0);
}

#[test]
fn arguments_made_at_start_reach_the_child_and_a_failed_make_fails_the_start() {
    for method in StartMethod::ALL {
        // Made in this process during start, with a channel whose other end stays here.
        let (tx, rx) = ipc_channel::ipc::channel::<u32>().unwrap();
        let mut p = builder(method).target_made(report_made, move || Ok((41 + 1, tx)));
        p.start().unwrap();
        assert_eq!(common::recv(&rx), 42, "{method:?}: the made argument");
        assert_eq!(join(&p), 0, "{method:?}");

        let mut p = builder(method).target_made(return_normally, || {
            Err(std::io::Error::other("no arguments today"))
        });
        match p.start() {
            Err(Error::Os { source, .. }) => {
                assert!(
                    source.to_string().contains("no arguments today"),
                    "{method:?}"
                )
            }
            other => panic!("{method:?}: expected the maker's error, got {other:?}"),
        }
        assert!(
            matches!(p.start(), Err(Error::Closed { .. })),
            "{method:?}: a failed start cannot be retried"
        );
    }
    assert!(
        common::zombie_children().is_empty(),
        "a child whose arguments could not be made was reaped"
    );
}
