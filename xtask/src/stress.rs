//! `cargo xtask stress`: the fault drills of issue 7, run N times per scenario and start
//! method, each run a fresh execution of the drill program (`xtask/examples/drill`) in its own
//! process group, with its own seed, bounded.
//!
//! A run is a hang when it outlives its bound (it is then killed with its whole group); after
//! each run, any process still alive in its group counts as left behind. The drill itself counts
//! the rest (lost and duplicated items, descriptors, zombies, stalls) and reports one outcome
//! line ([`Outcome`]).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cmd::{Failure, Output, Step};
use crate::drill_protocol::{METHODS, NOTE_PREFIX, Outcome, SCENARIOS};
use crate::{sys, workspace_root};

/// Usage of `cargo xtask stress`.
pub(crate) const USAGE: &str = "\
cargo xtask stress [--runs N] [--scenario NAME]... [--method fork|spawn|forkserver]...
                   [--seed S] [--bound SECS] [--keep-going] [--dev]
    Builds the drill (xtask/examples/drill, release) and runs each kill scenario N times
    (default 100) under each start method: producer, consumer, lock-holder, barrier-party,
    fork-server (forkserver only), parent. Reports per scenario and method: runs, hangs,
    lost and duplicated items, leaks (fds, zombies, processes left running), failures,
    worst time. A run over its bound (default 30 s) is a hang and is killed. A scenario and
    method stops after 3 failed runs unless --keep-going. Exits non-zero on any finding.
    Prints the seed; --seed repeats a session; each failed run prints its own command.
";

/// Runs of each scenario and method when `--runs` is not given.
const DEFAULT_RUNS: u64 = 100;
/// A run's wall-clock bound when `--bound` is not given.
const DEFAULT_RUN_BOUND: Duration = Duration::from_secs(30);
/// A scenario and method stops after this many failed runs (without `--keep-going`): a
/// defect that hangs every run would otherwise cost its bound N times.
const FAILED_RUNS_BEFORE_STOPPING: u64 = 3;
/// How long a run's process group may take to empty after the drill exits (a fork server
/// notices its parent's socket close and exits on its own, a little later).
const GROUP_GRACE: Duration = Duration::from_secs(3);
/// How long building the drill may take.
const BUILD_BOUND: Duration = Duration::from_secs(30 * 60);
/// How many notes of a failed run are printed.
const NOTES_SHOWN: usize = 6;

/// Which build of the drill to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Profile {
    /// `--release`: the real figures.
    Release,
    /// The dev profile `cargo test` has already built: for the short run of `cargo xtask test`.
    Dev,
}

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Runs of each scenario and method.
    pub(crate) runs: u64,
    /// The scenarios, by name.
    pub(crate) scenarios: Vec<&'static str>,
    /// The start methods, by name.
    pub(crate) methods: Vec<&'static str>,
    /// The session's seed, from which each run's is derived.
    pub(crate) seed: u64,
    /// Each run's wall-clock bound.
    pub(crate) run_bound: Duration,
    /// Whether to go on with a scenario and method after [`FAILED_RUNS_BEFORE_STOPPING`]
    /// failed runs.
    pub(crate) keep_going: bool,
    /// Which build of the drill.
    pub(crate) profile: Profile,
}

impl Options {
    /// Every scenario under every method it applies to, `runs` times, release build.
    pub(crate) fn all(runs: u64) -> Options {
        Options {
            runs,
            scenarios: SCENARIOS.iter().map(|(name, _)| *name).collect(),
            methods: METHODS.to_vec(),
            seed: fresh_seed(),
            run_bound: DEFAULT_RUN_BOUND,
            keep_going: false,
            profile: Profile::Release,
        }
    }

    /// Parses the command line of `cargo xtask stress`.
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options::all(DEFAULT_RUNS);
        let mut scenarios = Vec::new();
        let mut methods = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
            };
            match arg.as_str() {
                "--runs" => options.runs = parse_number("--runs", &value("--runs")?)?,
                "--seed" => options.seed = parse_number("--seed", &value("--seed")?)?,
                "--bound" => {
                    options.run_bound =
                        Duration::from_secs(parse_number("--bound", &value("--bound")?)?)
                }
                "--scenario" => scenarios.push(known(
                    "scenario",
                    &value("--scenario")?,
                    SCENARIOS.iter().map(|(name, _)| *name),
                )?),
                "--method" => methods.push(known(
                    "method",
                    &value("--method")?,
                    METHODS.iter().copied(),
                )?),
                "--keep-going" => options.keep_going = true,
                "--dev" => options.profile = Profile::Dev,
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            }
        }
        if !scenarios.is_empty() {
            options.scenarios = scenarios;
        }
        if !methods.is_empty() {
            options.methods = methods;
        }
        Ok(options)
    }
}

/// Parses a whole number given for `flag`.
fn parse_number(flag: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} {value:?} is not a whole number"))
}

/// `value` if it is one of `names`.
fn known(
    what: &str,
    value: &str,
    names: impl Iterator<Item = &'static str> + Clone,
) -> Result<&'static str, String> {
    names.clone().find(|&n| n == value).ok_or_else(|| {
        let list: Vec<&str> = names.collect();
        format!("unknown {what} {value:?}; known: {}", list.join(", "))
    })
}

/// A seed from the clock, for a session that gives none.
fn fresh_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The seed of run `run` of cell `cell` in a session seeded with `seed` (the drill mixes it
/// further, so neighbouring seeds give unrelated runs).
fn run_seed(seed: u64, cell: usize, run: u64) -> u64 {
    seed.wrapping_add((cell as u64) << 40).wrapping_add(run)
}

/// What the runs of one scenario under one method found.
#[derive(Debug)]
struct Cell {
    /// The scenario's name.
    scenario: &'static str,
    /// The start method's name.
    method: &'static str,
    /// Runs done.
    runs: u64,
    /// Runs with any finding.
    failed_runs: u64,
    /// The findings, summed.
    outcome: Outcome,
    /// The longest run.
    worst: Duration,
    /// Whether the cell stopped before its runs were done.
    stopped_early: bool,
}

/// Runs `cargo xtask stress`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    run_with(&Options::parse(args)?)
}

/// Builds the drill and runs the session described by `options`.
pub(crate) fn run_with(options: &Options) -> Result<(), String> {
    let drill = build_drill(options.profile)?;
    println!(
        "xtask stress: seed {} (`--seed {}` repeats this session), {} runs per scenario and method, bound {} s per run",
        options.seed,
        options.seed,
        options.runs,
        options.run_bound.as_secs()
    );
    let mut cells = Vec::new();
    for &scenario in &options.scenarios {
        let applies = SCENARIOS
            .iter()
            .find(|(name, _)| *name == scenario)
            .map_or(&[][..], |(_, methods)| *methods);
        for &method in options.methods.iter().filter(|m| applies.contains(m)) {
            let cell = run_cell(&drill, options, cells.len(), scenario, method);
            cells.push(cell);
        }
    }
    println!("{}", table(&cells));
    let bad: Vec<String> = cells
        .iter()
        .filter(|c| c.failed_runs > 0)
        .map(|c| format!("{}/{}", c.scenario, c.method))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "xtask stress: findings in {} (seed {})",
            bad.join(", "),
            options.seed
        ))
    }
}

/// Builds the drill and returns its path.
fn build_drill(profile: Profile) -> Result<PathBuf, String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "-p", "xtask", "--example", "drill"])
        .current_dir(workspace_root());
    if profile == Profile::Release {
        command.arg("--release");
    }
    Step::new("build the drill", command, BUILD_BOUND)
        .run()
        .map_err(|e| format!("xtask stress: {e}"))?;
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let dir = match profile {
        Profile::Release => "release",
        Profile::Dev => "debug",
    };
    Ok(target.join(dir).join("examples").join("drill"))
}

/// Runs one scenario under one method `options.runs` times.
fn run_cell(
    drill: &PathBuf,
    options: &Options,
    index: usize,
    scenario: &'static str,
    method: &'static str,
) -> Cell {
    let mut cell = Cell {
        scenario,
        method,
        runs: 0,
        failed_runs: 0,
        outcome: Outcome::default(),
        worst: Duration::ZERO,
        stopped_early: false,
    };
    for run in 0..options.runs {
        if !options.keep_going && cell.failed_runs >= FAILED_RUNS_BEFORE_STOPPING {
            cell.stopped_early = true;
            break;
        }
        let seed = run_seed(options.seed, index, run);
        let started = Instant::now();
        let (outcome, notes) = run_once(drill, scenario, method, seed, options.run_bound);
        cell.worst = cell.worst.max(started.elapsed());
        cell.runs += 1;
        cell.outcome.add(outcome);
        if !outcome.is_clean() {
            cell.failed_runs += 1;
            let mut message = format!(
                "xtask stress: {scenario}/{method} run {run} failed: {outcome}\n  repeat: {} {scenario} {method} {seed}",
                drill.display()
            );
            for note in notes.iter().take(NOTES_SHOWN) {
                let _ = write!(message, "\n  {note}");
            }
            if notes.len() > NOTES_SHOWN {
                let _ = write!(message, "\n  ... {} more", notes.len() - NOTES_SHOWN);
            }
            eprintln!("{message}");
        }
    }
    eprintln!(
        "xtask stress: {scenario}/{method}: {} runs, {} failed, worst {:.2} s",
        cell.runs,
        cell.failed_runs,
        cell.worst.as_secs_f64()
    );
    cell
}

/// Runs the drill once; returns its outcome and notes, with the harness's own findings (a
/// hang, a crash, processes left in its group) added.
fn run_once(
    drill: &PathBuf,
    scenario: &str,
    method: &str,
    seed: u64,
    bound: Duration,
) -> (Outcome, Vec<String>) {
    let mut command = Command::new(drill);
    command.args([scenario, method, &seed.to_string()]);
    let step = Step::new(format!("drill {scenario} {method} {seed}"), command, bound)
        .output(Output::Capture);
    let (group, result) = step.run_in_group();
    let mut outcome = Outcome::default();
    let lines = match result {
        Ok(lines) => {
            match lines.iter().rev().find_map(|l| Outcome::parse(l)) {
                Some(reported) => outcome = reported,
                None => outcome.failures += 1,
            }
            lines
        }
        Err(e) => {
            match e.failure {
                Failure::TimedOut(_) => outcome.hangs += 1,
                _ => outcome.failures += 1,
            }
            let mut lines = e.lines.clone();
            lines.push(format!("{NOTE_PREFIX} {e}"));
            lines
        }
    };
    let mut notes: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix(NOTE_PREFIX))
        .map(|n| n.trim().to_owned())
        .collect();
    let left = left_in_group(group);
    if !left.is_empty() {
        outcome.leaked_processes += left.len() as u64;
        notes.push(format!(
            "still running {} s after the drill ended: {left:?}",
            GROUP_GRACE.as_secs()
        ));
        sys::kill_group(group);
    }
    (outcome, notes)
}

/// The processes (not zombies) still in process group `group` once it had [`GROUP_GRACE`]
/// to empty.
fn left_in_group(group: i32) -> Vec<i32> {
    if group <= 0 {
        return Vec::new();
    }
    let deadline = Instant::now() + GROUP_GRACE;
    loop {
        let left = live_members(group);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The live processes of process group `group`, from `/proc/<pid>/stat`.
fn live_members(group: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|&pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parse_state_and_group(&stat))
                .is_some_and(|(state, g)| g == group && !matches!(state, 'Z' | 'X'))
        })
        .collect()
}

/// The state letter and process group of a `/proc/<pid>/stat` line.
fn parse_state_and_group(stat: &str) -> Option<(char, i32)> {
    // The command name may contain spaces and parentheses: the fields follow the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let _parent = fields.next()?;
    let group = fields.next()?.parse().ok()?;
    Some((state, group))
}

/// The report: one row per scenario and method.
fn table(cells: &[Cell]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:<10} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8}",
        "scenario", "method", "runs", "hangs", "lost", "dup", "fds", "procs", "failures", "worst"
    );
    for c in cells {
        let o = &c.outcome;
        let _ = writeln!(
            out,
            "{:<14} {:<10} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>7.2}s{}",
            c.scenario,
            c.method,
            c.runs,
            o.hangs,
            o.lost,
            o.duplicated,
            o.leaked_fds,
            o.leaked_processes,
            o.failures,
            c.worst.as_secs_f64(),
            if c.stopped_early {
                "  (stopped early)"
            } else {
                ""
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_a_full_command_line() {
        let o = Options::parse(&args(
            "--runs 7 --scenario producer --scenario parent --method forkserver --seed 9 --bound 4 --keep-going --dev",
        ))
        .unwrap();
        assert_eq!(o.runs, 7);
        assert_eq!(o.scenarios, vec!["producer", "parent"]);
        assert_eq!(o.methods, vec!["forkserver"]);
        assert_eq!(o.seed, 9);
        assert_eq!(o.run_bound, Duration::from_secs(4));
        assert!(o.keep_going);
        assert_eq!(o.profile, Profile::Dev);
    }

    #[test]
    fn defaults_cover_everything_and_bad_names_are_refused() {
        let o = Options::parse(&[]).unwrap();
        assert_eq!(o.runs, DEFAULT_RUNS);
        assert_eq!(o.scenarios.len(), SCENARIOS.len());
        assert_eq!(o.methods, METHODS);
        assert!(Options::parse(&args("--scenario nope")).is_err());
        assert!(Options::parse(&args("--method thread")).is_err());
        assert!(Options::parse(&args("--runs")).is_err());
    }

    #[test]
    fn reads_state_and_group_from_a_stat_line() {
        let stat = "1234 (a (weird) name) S 1 4321 4321 0 -1 4194560";
        assert_eq!(parse_state_and_group(stat), Some(('S', 4321)));
    }

    #[test]
    fn run_seeds_differ_across_cells_and_runs() {
        assert_ne!(run_seed(1, 0, 1), run_seed(1, 1, 1));
        assert_ne!(run_seed(1, 0, 1), run_seed(1, 0, 2));
    }
}
