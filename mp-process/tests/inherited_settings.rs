//! The parent's process-wide settings reach its fresh children, as Python's preparation data
//! carries them: a child's `get_start_method()` is its parent's, so that its own children start
//! the way the parent's do, and `std::env::args()` is its parent's. (Its own test binary: the
//! start method is set process-wide.)

mod common;

use common::{builder, join, recv};
use ipc_channel::ipc::{self, IpcSender};
use mp_process::{Process, StartMethod, get_start_method, set_start_method};

fn nothing(_: ()) {}

/// Sends the child's global start method and the method a new process of its would use.
fn report_start_method(to: IpcSender<(StartMethod, StartMethod)>) {
    let grandchild = Process::new(nothing, ());
    to.send((get_start_method(), grandchild.start_method()))
        .expect("reporting the start method");
}

/// The methods children started under each method see.
fn methods_seen_by_children() -> Vec<(StartMethod, (StartMethod, StartMethod))> {
    StartMethod::ALL
        .into_iter()
        .map(|method| {
            let (tx, rx) = ipc::channel().unwrap();
            let mut p = builder(method).target(report_start_method, tx);
            p.start().unwrap();
            let seen = recv(&rx);
            assert_eq!(join(&p), 0, "{method:?}");
            (method, seen)
        })
        .collect()
}

#[test]
fn children_inherit_the_global_start_method() {
    // Unset: every child has the default (and may set its own).
    for (method, seen) in methods_seen_by_children() {
        let default = StartMethod::DEFAULT;
        assert_eq!(seen, (default, default), "{method:?} child, nothing set");
    }
    set_start_method(StartMethod::Spawn).unwrap();
    for (method, seen) in methods_seen_by_children() {
        let spawn = StartMethod::Spawn;
        assert_eq!(
            seen,
            (spawn, spawn),
            "{method:?} child of a spawn-set parent"
        );
    }
}

/// Sends the child's program arguments.
fn report_args(to: IpcSender<Vec<String>>) {
    to.send(std::env::args().collect())
        .expect("reporting the arguments");
}

/// This test's name, to run it alone in a copy of this binary.
const ARGS_TEST: &str = "children_have_their_parents_program_arguments";

#[test]
fn children_have_their_parents_program_arguments() {
    let ours: Vec<String> = std::env::args().collect();
    if !ours.iter().any(|a| a == ARGS_TEST) {
        // Run with more arguments than the program's path, in a copy of this test binary.
        let exe = std::env::current_exe().unwrap();
        let mut copy = std::process::Command::new(exe)
            .args([ARGS_TEST, "--exact", "--quiet"])
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + common::BOUND;
        let status = loop {
            if let Some(status) = copy.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = copy.kill();
                panic!("the copy of the test binary did not finish within the bound");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert!(status.success(), "with arguments: {status}");
        return;
    }
    for method in StartMethod::ALL {
        let (tx, rx) = ipc::channel().unwrap();
        let mut p = builder(method).target(report_args, tx);
        p.start().unwrap();
        assert_eq!(recv(&rx), ours, "{method:?}");
        assert_eq!(join(&p), 0, "{method:?}");
    }
}
