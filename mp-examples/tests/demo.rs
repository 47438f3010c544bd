//! The main demo (the README's first command) runs to the end and tells each part: the tour
//! of the article's programs, the start methods, exit codes, the killed lock holder, and the
//! CPU-bound job.

use std::process::Command;
use std::time::Duration;

mod support;

#[test]
fn the_demo_runs_and_tells_every_part() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_demo"));
    demo.arg("--quick");
    let done = support::run_to_end(demo, Duration::from_secs(120));
    let out = done.stdout;
    assert!(
        done.status.success(),
        "demo failed: {}\n{out}\n{}",
        done.status,
        done.stderr
    );
    for example in mp_examples::ARTICLE {
        let line = format!("{:<4} {}", example.section, example.name);
        assert!(out.contains(&line), "the tour misses {line:?}:\n{out}");
    }
    for expected in [
        "[fork      ] exit code 0",
        "[spawn     ] exit code 0",
        "[forkserver] exit code 0",
        "panicked:          1",
        "terminated:        -15",
        "holder killed: exit code -9",
        "the next acquire says the owner died",
        // 33,860 primes below 400,000 (the quick job).
        "sequential, one process: 33860 primes in",
        "the same count",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let parallel = out
        .lines()
        .find(|l| l.contains(" processes: "))
        .unwrap_or_else(|| panic!("no parallel run in:\n{out}"));
    assert!(parallel.contains(" 33860 primes in "), "{parallel}");
}
