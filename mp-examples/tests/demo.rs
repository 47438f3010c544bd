//! The main demo (the README's first command) runs to the end and tells each part: the tour
//! of the article's programs, the start methods, exit codes, the killed lock holder, and the
//! CPU-bound job on a Pool, and the crashing and the hanging task the pool survives.

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
        "the same counts",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let on_pool = out
        .lines()
        .find(|l| l.contains("Pool.imap on "))
        .unwrap_or_else(|| panic!("no pool run in:\n{out}"));
    assert!(on_pool.contains(" 33860 primes in "), "{on_pool}");

    // The crash (an abort: SIGABRT is 6) and the hang (past its limit) fail exactly their
    // tasks, and the other 14 of the 16 ranges count right (the demo checks each against the
    // sequential count and fails otherwise).
    let crashed = out
        .lines()
        .find(|l| l.contains("task 2 failed"))
        .unwrap_or_else(|| panic!("no crashed task in:\n{out}"));
    assert!(
        crashed.contains("was lost") && crashed.contains("killed by signal 6"),
        "{crashed}"
    );
    let hung = out
        .lines()
        .find(|l| l.contains("task 5 failed"))
        .unwrap_or_else(|| panic!("no hung task in:\n{out}"));
    assert!(hung.contains("timed out after 2s"), "{hung}");
    assert!(
        out.contains("the other 14 of 16 tasks: every count right"),
        "{out}"
    );
}
