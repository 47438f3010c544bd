//! Every example of the article runs to its end and prints what the article says: the values,
//! the order where the article fixes one, that a semaphore of two never admits a third
//! worker, and that an event's waiters go on only after it is set.
//!
//! The examples are built once (one `cargo build --examples`, a no-op after `cargo test`,
//! which builds them already) and each runs as its own process, with a generous bound; the
//! tests run in parallel, so the whole file takes about as long as the slowest example (the
//! article's semaphore: five workers, two at a time, two seconds each).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

mod support;

/// How long an example may take before the test calls it hung (the slowest takes ~6 s).
const BOUND: Duration = Duration::from_secs(60);

/// The folder the examples are built into, after building them (once per test binary).
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This test binary is `<target>/<profile dir>/deps/examples-<hash>`; build the
        // examples with the same profile into the same target folder.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("a target folder");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "mp-examples", "--examples"])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the examples failed: {status}");
        profile_dir.join("examples")
    })
}

/// Runs example `name` to its end (within [`BOUND`]) and returns its output lines; fails if
/// it hangs or exits unsuccessfully.
fn run(name: &str) -> Vec<String> {
    let done = support::run_to_end(Command::new(examples_dir().join(name)), BOUND);
    assert!(
        done.status.success(),
        "example {name} failed: {}\nstdout:\n{}\nstderr:\n{}",
        done.status,
        done.stdout,
        done.stderr
    );
    done.stdout.lines().map(str::to_owned).collect()
}

/// Splits `Worker 3 acquired semaphore` into `(3, "acquired semaphore")`.
fn worker_line(line: &str) -> Option<(usize, &str)> {
    let (id, rest) = line.strip_prefix("Worker ")?.split_once(' ')?;
    Some((id.parse().ok()?, rest))
}

/// The position of the one line equal to `wanted`.
fn position(lines: &[String], wanted: &str) -> usize {
    let found: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == wanted).collect();
    assert_eq!(found.len(), 1, "want {wanted:?} once in {lines:#?}");
    found[0]
}

/// Checks that each of `workers` workers printed one line starting with `enter` and, later,
/// one starting with `leave`, and returns the most that were between the two at once.
fn most_inside_at_once(lines: &[String], workers: usize, enter: &str, leave: &str) -> usize {
    let mut inside = BTreeSet::new();
    let (mut entered, mut left) = (BTreeSet::new(), BTreeSet::new());
    let mut most = 0;
    for (id, rest) in lines.iter().filter_map(|l| worker_line(l)) {
        if rest.starts_with(enter) {
            assert!(entered.insert(id), "worker {id} entered twice: {lines:#?}");
            inside.insert(id);
            most = most.max(inside.len());
        } else if rest.starts_with(leave) {
            assert!(
                inside.remove(&id),
                "worker {id} left before entering: {lines:#?}"
            );
            left.insert(id);
        }
    }
    let all: BTreeSet<usize> = (0..workers).collect();
    assert_eq!((&entered, &left), (&all, &all), "{lines:#?}");
    most
}

#[test]
fn the_article_list_names_every_example_once() {
    let mut files: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
            .expect("the examples folder")
            .map(|entry| entry.expect("an entry").path())
            .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
            .collect();
    files.sort();
    let mut listed: Vec<String> = mp_examples::ARTICLE
        .iter()
        .map(|e| e.name.to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, files);
}

#[test]
fn create_process_runs_and_is_alive_until_joined() {
    let lines = run("create_process");
    for expected in [
        "Process is running",
        "Worker is running in its own process",
        "Process finished with exit code 0",
        "Process is alive after join: false",
    ] {
        position(&lines, expected);
    }
    assert!(
        position(&lines, "Process is running")
            < position(&lines, "Process finished with exit code 0")
    );
}

#[test]
fn queue_delivers_every_item_in_order() {
    let lines = run("queue_between_processes");
    let got: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("Process 2 gets "))
        .collect();
    assert_eq!(got, ["apple", "banana", "cherry", "date", "elderberry"]);
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Process 2 got the end of the data")
    );
}

#[test]
fn pipe_carries_messages_both_ways() {
    // Each line is caused by the one before it, so the whole output is fixed.
    assert_eq!(
        run("pipe_between_processes"),
        [
            r#"Process 2 received "hello""#,
            r#"Process 1 got the answer "HELLO""#,
            r#"Process 2 received "from""#,
            r#"Process 1 got the answer "FROM""#,
            r#"Process 2 received "process 1""#,
            r#"Process 1 got the answer "PROCESS 1""#,
            "Process 2: the other end is closed",
        ]
    );
}

#[test]
fn shared_value_and_array_see_every_child_write() {
    assert_eq!(
        run("shared_value_and_array"),
        ["shared_value = 5", "shared_array = [10, 20, 30, 40, 50]"]
    );
}

#[test]
fn semaphore_of_two_admits_two_workers_at_a_time() {
    let lines = run("semaphore_admits_two");
    let most = most_inside_at_once(&lines, 5, "acquired semaphore", "released semaphore");
    // At most two by the semaphore. Exactly two, generously: each holds it for 2 s, so the
    // second would have to start more than 2 s after the first for the count to stay at 1.
    assert_eq!(most, 2, "{lines:#?}");
}

#[test]
fn event_releases_workers_only_after_it_is_set() {
    let lines = run("event_releases_workers");
    let set = position(&lines, "Main process sets the event");
    for name in 0..3 {
        let waiting = position(&lines, &format!("Worker {name} waiting for event"));
        let received = position(&lines, &format!("Worker {name} received event"));
        let completed = position(&lines, &format!("Worker {name} completed task"));
        assert!(
            waiting < received && set < received && received < completed,
            "{lines:#?}"
        );
    }
}

#[test]
fn condition_consumer_consumes_after_the_producer_produced() {
    let lines = run("condition_producer_consumer");
    position(&lines, "Consumer is waiting");
    assert!(
        position(&lines, "Producer is producing the product")
            < position(&lines, "Consumer is consuming the product"),
        "{lines:#?}"
    );
}

#[test]
fn lock_keeps_each_workers_lines_together() {
    let lines = run("lock_guards_resource");
    assert_eq!(lines.len(), 15, "{lines:#?}");
    let mut workers = BTreeSet::new();
    for block in lines.chunks(3) {
        let (id, _) = worker_line(&block[0]).expect("a worker's line");
        for (step, line) in (1..).zip(block) {
            assert_eq!(
                *line,
                format!("Worker {id} writes line {step} of 3"),
                "{lines:#?}"
            );
        }
        assert!(workers.insert(id), "worker {id} wrote twice: {lines:#?}");
    }
    assert_eq!(workers, (0..5).collect());
}

#[test]
fn semaphore_guards_the_resource_for_at_most_two() {
    let lines = run("semaphore_guards_resource");
    let most = most_inside_at_once(&lines, 5, "enters", "leaves");
    assert!((1..=2).contains(&most), "{lines:#?}");
    let counted: usize = lines
        .last()
        .and_then(|l| l.strip_prefix("At most "))
        .and_then(|l| l.strip_suffix(" workers used the resource at once"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no closing count in {lines:#?}"));
    assert!((1..=2).contains(&counted), "{lines:#?}");
}

#[test]
fn event_triggers_every_worker_after_it_is_set() {
    let lines = run("event_triggers_workers");
    let trigger = position(&lines, "Main process triggers the event");
    for data in 0..5 {
        assert!(
            position(&lines, &format!("Worker {data} executes its task")) > trigger,
            "{lines:#?}"
        );
    }
}

#[test]
fn condition_notify_all_hands_every_item_to_exactly_one_consumer() {
    let lines = run("condition_notify_all");
    let mut consumed = BTreeMap::new();
    for (at, line) in lines.iter().enumerate() {
        let Some((_, rest)) = line
            .strip_prefix("Consumer ")
            .and_then(|l| l.split_once(" consumed item "))
        else {
            continue;
        };
        let item: u32 = rest.parse().expect("an item number");
        assert!(
            consumed.insert(item, at).is_none(),
            "{item} twice: {lines:#?}"
        );
        assert!(
            position(&lines, &format!("Producer produced item {item}")) < at,
            "{lines:#?}"
        );
    }
    assert_eq!(
        consumed.keys().copied().collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    let last_consumed = consumed.values().max().copied().unwrap_or_default();
    for data in 0..5 {
        let leaves = position(
            &lines,
            &format!("Consumer {data} leaves: the producer has finished"),
        );
        assert!(leaves > last_consumed, "{lines:#?}");
    }
}

#[test]
fn pool_applies_maps_and_imaps_then_closes_and_joins() {
    let lines = run("pool_apply_map_imap");
    let processes: usize = lines[0]
        .strip_prefix("A pool of ")
        .and_then(|l| l.strip_suffix(" processes, one per CPU"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pool size in {lines:#?}"));
    assert!(processes >= 1, "{lines:#?}");
    let mut expected = vec![
        "apply(add, (2, 3)) = 5".to_owned(),
        "map(square, 0..5) = [0, 1, 4, 9, 16]".to_owned(),
    ];
    expected.extend((5..10u64).map(|x| format!("imap(square, 5..10) gives {}", x * x)));
    expected.push("The pool is closed and joined".to_owned());
    assert_eq!(lines[1..], expected);
}

#[test]
fn pool_of_four_maps_the_squares_in_order() {
    assert_eq!(
        run("pool_square_map"),
        ["[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]"]
    );
}

/// The seconds in a closing `... took S.S s` line.
fn seconds_taken(line: &str) -> f64 {
    line.split(" took ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no time in {line:?}"))
}

#[test]
fn pool_apply_async_gives_the_fruits_back_in_order() {
    let lines = run("pool_apply_async_in_order");
    assert_eq!(
        lines[..5],
        ["APPLE", "BANANA", "CHERRY", "DATE", "ELDERBERRY"]
    );
    // Two rounds of one-second tasks: at least 2 s; the upper bound only says it overlapped
    // (five in a row would be 5 s), generously for a loaded machine.
    let took = seconds_taken(&lines[5]);
    assert!((1.9..4.9).contains(&took), "{lines:#?}");
}

#[test]
fn thread_pool_fetches_every_page_in_order_with_the_waits_overlapping() {
    let lines = run("thread_pool_io_bound");
    let expected: Vec<String> = (0..8u32)
        .map(|page| format!("page {page} of example.invalid: {} bytes", 1000 + page))
        .collect();
    assert_eq!(lines[..8], expected);
    // Two rounds of 0.5 s on four threads: at least 1 s, well under the 4 s of one at a time.
    let took = seconds_taken(&lines[8]);
    assert!((0.9..3.9).contains(&took), "{lines:#?}");
}
