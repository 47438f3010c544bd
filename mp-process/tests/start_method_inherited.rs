//! The parent's process-wide settings reach its fresh children, as Python's preparation data
//! carries them: a child's `get_start_method()` is its parent's, so that its own children start
//! the way the parent's do. (Its own test binary: the start method is set process-wide.)

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
