//! `cargo xtask bench [FILTER...] [--rounds N]`: ours vs CPython vs the OS floor, as a table.
//!
//! Each crate with figures has a `figures` bench binary answering `<name> ours|floor` with one
//! number on stdout (exit code 2: unknown figure); `xtask/bench/mp_bench.py <name>` is the
//! Python side. Rounds are interleaved (ours, Python, floor, ours, ...), each run a fresh
//! process, and latency rows run every implementation pinned to CPU 0.

use std::collections::HashMap;
use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cmd::{Failure, Output, Step};
use crate::figures::{self, Row};
use crate::workspace_root;

/// Default number of rounds per row.
const DEFAULT_ROUNDS: usize = 5;

/// Environment variable overriding the per-run timeout, in seconds.
const RUN_TIMEOUT_ENV: &str = "XTASK_BENCH_RUN_TIMEOUT_SECS";

/// Default per-run timeout.
const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Bound on building the benchmark binaries.
const BUILD_BOUND: Duration = Duration::from_secs(30 * 60);

/// Usage of `cargo xtask bench`.
pub(crate) const USAGE: &str = "\
cargo xtask bench [FILTER...] [--rounds N]
    Builds every crate's `figures` bench binary (release) and prints a markdown table of
    ours vs CPython vs the floor. FILTERs select rows whose name contains one of them at
    the start of a name part (after `/` or `_`): `sync`, `fork`, `pingpong`, `pool/map`.
    --rounds N (default 5) interleaved rounds per row. Env: XTASK_BENCH_RUN_TIMEOUT_SECS (per run, default 120).";

/// The three implementations of each figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    /// Our crate's implementation.
    Ours,
    /// CPython's multiprocessing.
    Python,
    /// The OS floor, measured by our crate's binary.
    Floor,
}

impl Impl {
    /// The order each round runs them in.
    const ALL: [Impl; 3] = [Impl::Ours, Impl::Python, Impl::Floor];

    /// Lower-case label.
    fn label(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::Python => "python",
            Impl::Floor => "floor",
        }
    }
}

/// A crate's `figures` benchmark executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FiguresExe {
    /// The package name, e.g. `mp-sync`.
    pub(crate) krate: String,
    /// The executable's path.
    pub(crate) exe: PathBuf,
    /// The package's directory (the runs' working directory, as under `cargo bench`).
    pub(crate) dir: PathBuf,
}

/// Where each implementation's runs come from.
struct Runners {
    /// `figures` executables by crate name.
    exes: HashMap<String, FiguresExe>,
    /// The real Python interpreter, if found.
    python: Result<PathBuf, String>,
    /// The Python benchmark script.
    script: PathBuf,
    /// Per-run timeout.
    timeout: Duration,
}

/// The measurements of one implementation of one row.
#[derive(Debug, Default)]
struct Series {
    /// One value per successful run.
    values: Vec<f64>,
    /// Why runs gave no value: (reason, count).
    notes: Vec<(String, usize)>,
    /// Set when further runs are pointless (unknown figure, no binary, timeout).
    given_up: bool,
}

impl Series {
    /// Records a run that gave no value.
    fn note(&mut self, reason: String) {
        match self.notes.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.notes.push((reason, 1)),
        }
    }
}

/// Median, minimum and maximum of a non-empty sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    /// The median (mean of the middle two for an even count).
    pub(crate) median: f64,
    /// The smallest value.
    pub(crate) min: f64,
    /// The largest value.
    pub(crate) max: f64,
}

/// Summarizes `values`; `None` if empty.
pub(crate) fn summarize(values: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Summary {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

/// Extracts the string value of `"key":"..."` from one JSON line (first occurrence),
/// undoing the common escapes. Good enough for cargo's messages; no general JSON.
pub(crate) fn json_str_field(line: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":\"");
    let start = line.find(&pat)? + pat.len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The package name in a cargo `package_id`: `path+file:///x/mp-sync#0.1.0` or
/// `path+file:///x/dir#mp-sync@0.1.0`.
fn package_name(package_id: &str) -> Option<String> {
    let (url, frag) = package_id.rsplit_once('#')?;
    match frag.split_once('@') {
        Some((name, _version)) => Some(name.to_owned()),
        None => Some(url.rsplit('/').next()?.to_owned()),
    }
}

/// If `line` is cargo's `compiler-artifact` message for a bench target named `figures` with
/// an executable, returns it.
pub(crate) fn figures_executable(line: &str) -> Option<FiguresExe> {
    if !line.contains("\"reason\":\"compiler-artifact\"") {
        return None;
    }
    let target_start = line.find("\"target\":{")?;
    let target = &line[target_start..];
    let target = &target[..target.find('}')?];
    if json_str_field(target, "name")? != "figures" || !target.contains("\"bench\"") {
        return None;
    }
    let exe = json_str_field(line, "executable")?;
    let krate = package_name(&json_str_field(line, "package_id")?)?;
    let manifest = PathBuf::from(json_str_field(line, "manifest_path")?);
    let dir = manifest.parent()?.to_path_buf();
    Some(FiguresExe {
        krate,
        exe: PathBuf::from(exe),
        dir,
    })
}

/// Formats a value with about 4 significant digits, large ones with k/M/G suffixes.
pub(crate) fn fmt_value(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", fmt_sig(scaled, 4))
}

/// Formats `v` with `digits` significant digits, trailing zeros dropped.
fn fmt_sig(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 9) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// One table cell: `median [min–max]`, or `n/a`.
fn fmt_cell(values: &[f64]) -> String {
    match summarize(values) {
        None => "n/a".to_owned(),
        Some(s) if values.len() == 1 => fmt_value(s.median),
        Some(s) => format!(
            "{} [{}–{}]",
            fmt_value(s.median),
            fmt_value(s.min),
            fmt_value(s.max)
        ),
    }
}

/// The figure as a time (lower is better): itself, or the reciprocal of a rate.
fn as_time(row_lower_is_better: bool, v: f64) -> f64 {
    if row_lower_is_better { v } else { 1.0 / v }
}

/// `ours` time over `other` time, e.g. `0.42x` (below 1: ours takes less time).
pub(crate) fn fmt_time_ratio(
    lower_is_better: bool,
    ours: Option<f64>,
    other: Option<f64>,
) -> String {
    match (ours, other) {
        (Some(o), Some(t)) if o > 0.0 && t > 0.0 => {
            let r = as_time(lower_is_better, o) / as_time(lower_is_better, t);
            format!("{}x", fmt_sig(r, 3))
        }
        _ => "n/a".to_owned(),
    }
}

/// How much faster ours is than Python: `12.3x faster` or `2.5x slower`.
pub(crate) fn fmt_speed(lower_is_better: bool, ours: Option<f64>, python: Option<f64>) -> String {
    match (ours, python) {
        (Some(o), Some(p)) if o > 0.0 && p > 0.0 => {
            let speed = as_time(lower_is_better, p) / as_time(lower_is_better, o);
            if speed >= 1.0 {
                format!("{}x faster", fmt_sig(speed, 3))
            } else {
                format!("{}x slower", fmt_sig(1.0 / speed, 3))
            }
        }
        _ => "n/a".to_owned(),
    }
}

/// Parses `cargo xtask bench` arguments into (filters, rounds).
fn parse_args(args: &[String]) -> Result<(Vec<String>, usize), String> {
    let mut filters = Vec::new();
    let mut rounds = DEFAULT_ROUNDS;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if a == "--rounds" {
            Some(it.next().ok_or("--rounds needs a number")?.as_str())
        } else {
            a.strip_prefix("--rounds=")
        };
        if let Some(v) = value {
            rounds = v
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("--rounds: expected a positive number, got {v:?}"))?;
        } else if a.starts_with('-') {
            return Err(format!("unknown option {a:?}\n\n{USAGE}"));
        } else {
            filters.push(a.clone());
        }
    }
    Ok((filters, rounds))
}

/// Builds the bench binaries; returns each crate's `figures` executable.
fn build(root: &Path) -> HashMap<String, FiguresExe> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .args(["bench", "--workspace", "--no-run", "--message-format=json"])
        .current_dir(root);
    eprintln!("xtask bench: building: cargo bench --workspace --no-run");
    let lines = match Step::new("build benches", command, BUILD_BOUND)
        .output(Output::Capture)
        .run()
    {
        Ok(lines) => lines,
        Err(e) => {
            // Keep going with whatever was built: rows of the broken crates show n/a.
            eprintln!("xtask bench: warning: {e}; using the binaries that were built");
            e.lines
        }
    };
    lines
        .iter()
        .filter_map(|l| figures_executable(l))
        .map(|f| (f.krate.clone(), f))
        .collect()
}

/// The real Python interpreter behind `python3` (not a version-manager shim).
fn resolve_python() -> Result<PathBuf, String> {
    let mut command = Command::new("python3");
    command.args(["-c", "import sys; print(sys.executable)"]);
    let lines = Step::new("resolve python3", command, Duration::from_secs(60))
        .output(Output::Capture)
        .run()
        .map_err(|e| e.to_string())?;
    match lines.iter().rev().find(|l| !l.trim().is_empty()) {
        Some(p) => Ok(PathBuf::from(p.trim())),
        None => Err("python3 printed no sys.executable".to_owned()),
    }
}

/// Runs one implementation of `row` once; the value, or why there is none.
fn run_once(runners: &Runners, row: &Row, which: Impl) -> Result<f64, (String, bool)> {
    let command = match which {
        Impl::Ours | Impl::Floor => {
            let Some(f) = runners.exes.get(row.krate) else {
                return Err((
                    format!("no `figures` bench binary built for {}", row.krate),
                    true,
                ));
            };
            let mut c = Command::new(&f.exe);
            c.args([row.name, which.label()]).current_dir(&f.dir);
            c
        }
        Impl::Python => {
            let python = runners.python.as_ref().map_err(|e| (e.clone(), true))?;
            let mut c = Command::new(python);
            c.arg(&runners.script).arg(row.name);
            c
        }
    };
    let step = format!("{} {}", row.name, which.label());
    match Step::new(step, command, runners.timeout)
        .output(Output::Capture)
        .pin_cpu0(row.pinned)
        .run()
    {
        Ok(lines) => parse_figure_output(&lines).map_err(|e| (e, false)),
        Err(e) => match (&e.failure, e.exit_code()) {
            (_, Some(2)) => Err(("unknown figure (exit code 2)".to_owned(), true)),
            (Failure::TimedOut(t), _) => Err((
                format!("timed out after {} s; later rounds skipped", t.as_secs()),
                true,
            )),
            (Failure::Spawn(_), _) => Err((e.to_string(), true)),
            _ => Err((e.to_string(), false)),
        },
    }
}

/// The figure in a run's stdout: the first word of its last non-empty line.
pub(crate) fn parse_figure_output(lines: &[String]) -> Result<f64, String> {
    let Some(last) = lines.iter().rev().find(|l| !l.trim().is_empty()) else {
        return Err("no output".to_owned());
    };
    let word = last.split_whitespace().next().unwrap_or_default();
    match word.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("output is not a number: {last:?}")),
    }
}

/// Measures every selected row and prints the table.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let (filters, rounds) = parse_args(args)?;
    let rows = figures::select(&filters);
    if rows.is_empty() {
        let names: Vec<&str> = figures::ROWS.iter().map(|r| r.name).collect();
        return Err(format!(
            "no figure matches {filters:?}; figures are:\n  {}",
            names.join("\n  ")
        ));
    }
    let timeout = match env::var(RUN_TIMEOUT_ENV) {
        Ok(v) => Duration::from_secs(
            v.trim()
                .parse()
                .map_err(|_| format!("{RUN_TIMEOUT_ENV}={v:?} is not a number of seconds"))?,
        ),
        Err(_) => DEFAULT_RUN_TIMEOUT,
    };
    let root = workspace_root();
    let exes = build(&root);
    let python = resolve_python();
    if let Err(e) = &python {
        eprintln!("xtask bench: warning: no Python column: {e}");
    }
    let runners = Runners {
        exes,
        python,
        script: root.join("xtask/bench/mp_bench.py"),
        timeout,
    };

    let mut results = Vec::new();
    for row in &rows {
        let mut series: [Series; 3] = Default::default();
        for round in 1..=rounds {
            let mut progress = format!("xtask bench: {} round {round}/{rounds}:", row.name);
            for (i, which) in Impl::ALL.into_iter().enumerate() {
                let s = &mut series[i];
                if s.given_up {
                    continue;
                }
                match run_once(&runners, row, which) {
                    Ok(v) => {
                        s.values.push(v);
                        let _ = write!(progress, " {} {}", which.label(), fmt_value(v));
                    }
                    Err((reason, give_up)) => {
                        let _ = write!(progress, " {} n/a ({reason})", which.label());
                        s.note(reason);
                        s.given_up = give_up;
                    }
                }
            }
            eprintln!("{progress}");
        }
        results.push((**row, series));
    }
    print!("{}", render(&results, rounds, &runners));
    Ok(())
}

/// The markdown table and the notes under it.
fn render(results: &[(Row, [Series; 3])], rounds: usize, runners: &Runners) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{rounds} interleaved rounds per row (ours, Python, floor), each a fresh process; \
         median [min–max] over rounds. Ratios are of times (for rates, of 1/value): below 1x \
         means ours takes less time.\n"
    );
    out.push_str(
        "| figure | unit | ours | Python | floor | ours/Python | ours/floor | speed vs Python | goal |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let mut notes = Vec::new();
    for (row, series) in results {
        let med = |s: &Series| summarize(&s.values).map(|s| s.median);
        let (ours, python, floor) = (med(&series[0]), med(&series[1]), med(&series[2]));
        let name = if row.pinned {
            format!("{} (CPU 0)", row.name)
        } else {
            row.name.to_owned()
        };
        let unit = format!(
            "{} ({} is better)",
            row.unit,
            if row.lower_is_better {
                "lower"
            } else {
                "higher"
            }
        );
        let _ = writeln!(
            out,
            "| {name} | {unit} | {} | {} | {} | {} | {} | {} | {} |",
            fmt_cell(&series[0].values),
            fmt_cell(&series[1].values),
            fmt_cell(&series[2].values),
            fmt_time_ratio(row.lower_is_better, ours, python),
            fmt_time_ratio(row.lower_is_better, ours, floor),
            fmt_speed(row.lower_is_better, ours, python),
            row.goal,
        );
        notes.push(format!("- {}: floor = {}", row.name, row.floor));
        for (which, s) in Impl::ALL.iter().zip(series) {
            for (reason, n) in &s.notes {
                notes.push(format!("  - {}: {reason} ({n}x)", which.label()));
            }
        }
    }
    let _ = writeln!(out, "\nNotes:");
    match &runners.python {
        Ok(p) => {
            let _ = writeln!(out, "- Python: {}", p.display());
        }
        Err(e) => {
            let _ = writeln!(out, "- Python: unavailable ({e})");
        }
    }
    for n in notes {
        let _ = writeln!(out, "{n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_odd_and_even_samples() {
        let s = summarize(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = summarize(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[f64::NAN]), None);
    }

    const ARTIFACT: &str = r#"{"reason":"compiler-artifact","package_id":"path+file:///work/main/mp-process#0.1.0","manifest_path":"/work/main/mp-process/Cargo.toml","target":{"kind":["bench"],"crate_types":["bin"],"name":"figures","src_path":"/work/main/mp-process/benches/figures.rs","edition":"2024","doc":false,"doctest":false,"test":false},"profile":{"opt_level":"3","debuginfo":1,"debug_assertions":false,"overflow_checks":false,"test":true},"features":[],"filenames":["/t/release/deps/figures-376e"],"executable":"/t/release/deps/figures-376e","fresh":false}"#;

    #[test]
    fn finds_the_figures_executable() {
        let f = figures_executable(ARTIFACT).unwrap();
        assert_eq!(f.krate, "mp-process");
        assert_eq!(f.exe, PathBuf::from("/t/release/deps/figures-376e"));
        assert_eq!(f.dir, PathBuf::from("/work/main/mp-process"));
    }

    #[test]
    fn skips_other_artifacts() {
        let lib = ARTIFACT
            .replace("\"name\":\"figures\"", "\"name\":\"mp_process\"")
            .replace("\"bench\"", "\"lib\"");
        assert_eq!(figures_executable(&lib), None);
        let no_exe = ARTIFACT.replace(
            "\"executable\":\"/t/release/deps/figures-376e\"",
            "\"executable\":null",
        );
        assert_eq!(figures_executable(&no_exe), None);
        assert_eq!(
            figures_executable(r#"{"reason":"build-finished","success":true}"#),
            None
        );
    }

    #[test]
    fn package_names_in_both_id_forms() {
        assert_eq!(
            package_name("path+file:///a/mp-sync#0.1.0").as_deref(),
            Some("mp-sync")
        );
        assert_eq!(
            package_name("path+file:///a/x#mp-pool@0.1.0").as_deref(),
            Some("mp-pool")
        );
    }

    #[test]
    fn json_escapes() {
        assert_eq!(
            json_str_field(r#"{"a":"x\"y\\z"}"#, "a").as_deref(),
            Some("x\"y\\z")
        );
        assert_eq!(
            json_str_field(r#"{"a":"\u0041"}"#, "a").as_deref(),
            Some("A")
        );
        assert_eq!(json_str_field(r#"{"a":1}"#, "a"), None);
    }

    #[test]
    fn value_formatting() {
        assert_eq!(fmt_value(1.66), "1.66");
        assert_eq!(fmt_value(36.94), "36.94");
        assert_eq!(fmt_value(0.15912), "0.1591");
        assert_eq!(fmt_value(330_123.0), "330.1k");
        assert_eq!(fmt_value(9_890_000.0), "9.89M");
        assert_eq!(fmt_value(2922.0), "2922");
        assert_eq!(fmt_cell(&[]), "n/a");
        assert_eq!(fmt_cell(&[1.0, 2.0, 4.0]), "2 [1–4]");
    }

    #[test]
    fn ratios_are_of_times() {
        // Latency: ours 0.5 ms vs Python 2 ms.
        assert_eq!(fmt_time_ratio(true, Some(0.5), Some(2.0)), "0.25x");
        assert_eq!(fmt_speed(true, Some(0.5), Some(2.0)), "4x faster");
        // Rate: ours 1000/s vs Python 4000/s: ours takes 4x the time.
        assert_eq!(fmt_time_ratio(false, Some(1000.0), Some(4000.0)), "4x");
        assert_eq!(fmt_speed(false, Some(1000.0), Some(4000.0)), "4x slower");
        assert_eq!(fmt_speed(false, Some(8000.0), Some(4000.0)), "2x faster");
        assert_eq!(fmt_speed(true, None, Some(1.0)), "n/a");
        assert_eq!(fmt_time_ratio(true, Some(1.0), Some(0.0)), "n/a");
    }

    #[test]
    fn figure_output_parsing() {
        let lines = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_figure_output(&lines(&["warming up", "1.25", ""])),
            Ok(1.25)
        );
        assert_eq!(parse_figure_output(&lines(&["3.5 ms"])), Ok(3.5));
        assert!(parse_figure_output(&lines(&[])).is_err());
        assert!(parse_figure_output(&lines(&["oops"])).is_err());
    }

    #[test]
    fn argument_parsing() {
        let a = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_args(&a(&[])).unwrap(), (vec![], DEFAULT_ROUNDS));
        assert_eq!(
            parse_args(&a(&["sync", "--rounds", "2", "fork"])).unwrap(),
            (a(&["sync", "fork"]), 2)
        );
        assert_eq!(parse_args(&a(&["--rounds=3"])).unwrap(), (vec![], 3));
        assert!(parse_args(&a(&["--rounds", "0"])).is_err());
        assert!(parse_args(&a(&["--rounds"])).is_err());
        assert!(parse_args(&a(&["--bogus"])).is_err());
    }
}
