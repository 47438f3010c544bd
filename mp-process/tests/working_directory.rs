//! Every child starts in its parent's working directory at `start()`, under every start method.
//! (Its own test binary: it changes this process's working directory, which every child started
//! meanwhile by another test would take over.)

mod common;

use std::path::PathBuf;

use common::{builder, join, recv};
use ipc_channel::ipc::{self, IpcSender};
use mp_process::StartMethod;

fn nothing(_: ()) {}

/// Sends the child's working directory.
fn report_working_directory(to: IpcSender<PathBuf>) {
    to.send(std::env::current_dir().expect("the child's working directory"))
        .expect("reporting the working directory");
}

/// Every child starts in its parent's working directory at `start()`: under forkserver too,
/// although the fork server (started earlier, elsewhere) forks it.
#[test]
fn a_child_starts_in_its_parents_working_directory() {
    // The fork server is started first, in the current working directory...
    let mut p = builder(StartMethod::ForkServer).target(nothing, ());
    p.start().unwrap();
    assert_eq!(join(&p), 0);
    // ...and the parent moves elsewhere afterwards.
    let before = std::env::current_dir().unwrap();
    let elsewhere = std::env::temp_dir().join(format!("mp-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let elsewhere = elsewhere.canonicalize().unwrap();
    std::env::set_current_dir(&elsewhere).unwrap();
    for method in StartMethod::ALL {
        let (tx, rx) = ipc::channel().unwrap();
        let mut p = builder(method).target(report_working_directory, tx);
        p.start().unwrap();
        let reported = recv(&rx);
        assert_eq!(join(&p), 0, "{method:?}");
        assert_eq!(
            reported, elsewhere,
            "{method:?}: the parent's working directory"
        );
    }
    std::env::set_current_dir(before).unwrap();
    let _ = std::fs::remove_dir_all(elsewhere);
}
