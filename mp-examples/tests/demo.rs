//! The main demo runs to the end and says what it should (the README's first command).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_demo_runs_and_tells_the_tour() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_demo"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the demo starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out).unwrap();
    assert!(status.success(), "demo failed: {status}\n{out}");
    for expected in [
        "[fork      ] exit code 0",
        "[spawn     ] exit code 0",
        "[forkserver] exit code 0",
        "panicked:          1",
        "terminated:        -15",
        "40^2 = 1600",
        "the shared counter says 9",
        "holder killed: exit code -9",
        "the next acquire says the owner died",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}
