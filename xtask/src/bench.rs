//! `cargo xtask bench [--quick] [--filter NAME]... [--rounds N]`: ours vs CPython vs the
//! machine's floors vs the Rust peers, as a table, `results.json`, `BENCHMARKS.md` and a chart.
//!
//! Each crate with figures has a `figures` bench binary answering `<name> ours|floor` with one
//! number on stdout (exit code 2: unknown figure); xtask's `floors` and `peers` bench binaries
//! answer `<name>` (protocol: `xtask/bench/protocol.rs`); `xtask/bench/mp_bench.py <name>` is
//! the Python side. Rounds are interleaved (ours, Python, floors, peers, ours, ...), each run a
//! fresh process. Latency rows run every implementation pinned to CPU 0; throughput rows run
//! unpinned and as two pinned pairs (all on CPU 0; parent on CPU 0, children on CPU 1).
//!
//! - [`results`]: what was measured (one [`results::Line`] per figure and pinning);
//! - [`report`]: the table, `BENCHMARKS.md` and `results.json`; [`chart`]: the SVG chart;
//! - [`machine`]: the machine the run describes.

mod chart;
mod machine;
mod report;
mod results;

use std::collections::HashMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cmd::{Failure, Output, Step};
use crate::figures::{self, Row, Source};
use crate::workspace_root;
use machine::Machine;
use results::{Line, Pinning, Role, Series};

/// Default number of rounds per line.
const DEFAULT_ROUNDS: usize = 5;

/// Environment variable overriding the per-run timeout, in seconds.
const RUN_TIMEOUT_ENV: &str = "XTASK_BENCH_RUN_TIMEOUT_SECS";

/// Default per-run timeout.
const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Bound on building the benchmark binaries.
const BUILD_BOUND: Duration = Duration::from_secs(30 * 60);

/// The environment variables of the protocol (`xtask/bench/protocol.rs`, `mp_bench.py`).
const REPEATS_ENV: &str = "XTASK_BENCH_REPEATS";
/// See [`REPEATS_ENV`]: `split` pins the children a run forks to CPU 1.
const PIN_ENV: &str = "XTASK_BENCH_PIN";

/// The committed outputs of a full run, relative to the workspace root.
const DOC_PATH: &str = "BENCHMARKS.md";
/// See [`DOC_PATH`].
const CHART_PATH: &str = "BENCHMARKS.svg";

/// Usage of `cargo xtask bench`.
pub(crate) const USAGE: &str = "\
cargo xtask bench [--quick] [--filter NAME]... [--rounds N] [--dev]
    Builds every `figures`, `floors` and `peers` bench binary (release) and prints a markdown
    table of ours vs CPython vs the floors vs the Rust peers (median [min–max] over rounds);
    writes target/bench/{results.json, BENCHMARKS.md, BENCHMARKS.svg}, and, for a full run
    (no --filter, --quick or --dev), BENCHMARKS.md and BENCHMARKS.svg at the workspace root.
    --filter NAME (repeatable; a bare NAME works too) selects rows whose name contains NAME at
        the start of a name part (after `/` or `_`): `sync`, `fork`, `pingpong`, `pool/map`.
    --rounds N (default 5) interleaved rounds per line.
    --quick: one round, one repeat per run, the long rows left out: checks every figure runs.
    --dev: build the binaries unoptimized (what `cargo xtask test` does; figures meaningless).
    Env: XTASK_BENCH_RUN_TIMEOUT_SECS (per run, default 120).";

/// What `cargo xtask bench` was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Options {
    /// Row filters (empty: every row).
    filters: Vec<String>,
    /// Interleaved rounds per line.
    rounds: usize,
    /// One round, one repeat, no long rows.
    quick: bool,
    /// Build with the dev profile.
    dev: bool,
}

impl Options {
    /// Whether this run is the full one whose outputs `BENCHMARKS.md` commits.
    fn is_full(&self) -> bool {
        self.filters.is_empty() && !self.quick && !self.dev
    }
}

/// Parses `cargo xtask bench` arguments.
fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        filters: Vec::new(),
        rounds: DEFAULT_ROUNDS,
        quick: false,
        dev: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline {
                Some(v) => Ok(v.to_owned()),
                None => it.next().cloned().ok_or(format!("{name} needs a value")),
            }
        };
        match flag {
            "--rounds" => {
                let v = value("--rounds")?;
                o.rounds =
                    v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("--rounds: expected a positive number, got {v:?}")
                    })?;
            }
            "--filter" => o.filters.push(value("--filter")?),
            "--quick" => o.quick = true,
            "--dev" => o.dev = true,
            f if f.starts_with('-') => return Err(format!("unknown option {a:?}\n\n{USAGE}")),
            _ => o.filters.push(a.clone()),
        }
    }
    if o.quick {
        o.rounds = 1;
    }
    Ok(o)
}

/// A bench executable: a crate's `figures`, or xtask's `floors` / `peers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BenchExe {
    /// The package name, e.g. `mp-sync`.
    pub(crate) krate: String,
    /// The bench target's name: `figures`, `floors` or `peers`.
    pub(crate) target: String,
    /// The executable's path.
    pub(crate) exe: PathBuf,
    /// The package's directory (the runs' working directory, as under `cargo bench`).
    pub(crate) dir: PathBuf,
}

/// The bench targets the harness runs.
const BENCH_TARGETS: [&str; 3] = ["figures", "floors", "peers"];

/// How a run's note starts when there is nothing to run (no binary built, no Python): not a
/// broken figure.
const MISSING: &str = "unavailable:";

/// The package of xtask's own bench binaries.
const XTASK: &str = "xtask";

/// Where each implementation's runs come from.
struct Runners {
    /// Bench executables by (crate, target).
    exes: HashMap<(String, String), BenchExe>,
    /// The real Python interpreter, if found.
    python: Result<PathBuf, String>,
    /// The Python benchmark script.
    script: PathBuf,
    /// Per-run timeout.
    timeout: Duration,
    /// Repeats inside each run (`None`: the binary's own).
    repeats: Option<usize>,
}

/// What one run of one implementation executes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Invocation {
    /// A bench binary of `krate`, named `target`, with `args`.
    Bench {
        /// The package.
        krate: String,
        /// `figures`, `floors` or `peers`.
        target: &'static str,
        /// The arguments.
        args: Vec<String>,
    },
    /// `mp_bench.py <figure>`.
    Python(String),
}

impl Invocation {
    /// How `row`'s `role` side (or baseline `source`) is run.
    fn of(row: &Row, source: Option<Source>, role: Role) -> Invocation {
        let bench = |krate: &str, target, args: &[&str]| Invocation::Bench {
            krate: krate.to_owned(),
            target,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        match (role, source) {
            (Role::Python, _) => Invocation::Python(row.name.to_owned()),
            (_, None) => bench(row.krate, "figures", &[row.name, "ours"]),
            (_, Some(Source::CrateFloor)) => bench(row.krate, "figures", &[row.name, "floor"]),
            (_, Some(Source::FloorOf { krate, figure })) => {
                bench(krate, "figures", &[figure, "floor"])
            }
            (_, Some(Source::Floors(name))) => bench(XTASK, "floors", &[name]),
            (_, Some(Source::Peers(name))) => bench(XTASK, "peers", &[name]),
        }
    }
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

/// If `line` is cargo's `compiler-artifact` message for a bench target the harness runs
/// ([`BENCH_TARGETS`]) with an executable, returns it.
pub(crate) fn bench_executable(line: &str) -> Option<BenchExe> {
    if !line.contains("\"reason\":\"compiler-artifact\"") {
        return None;
    }
    let target_start = line.find("\"target\":{")?;
    let target = &line[target_start..];
    let target = &target[..target.find('}')?];
    let name = json_str_field(target, "name")?;
    if !BENCH_TARGETS.contains(&name.as_str()) || !target.contains("\"bench\"") {
        return None;
    }
    let exe = json_str_field(line, "executable")?;
    let krate = package_name(&json_str_field(line, "package_id")?)?;
    let manifest = PathBuf::from(json_str_field(line, "manifest_path")?);
    let dir = manifest.parent()?.to_path_buf();
    Some(BenchExe {
        krate,
        target: name,
        exe: PathBuf::from(exe),
        dir,
    })
}

/// Builds the bench binaries; returns them by (crate, target), and whether every one built.
fn build(root: &Path, dev: bool) -> (HashMap<(String, String), BenchExe>, bool) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .args(["bench", "--workspace", "--no-run", "--message-format=json"])
        // mp-pool's broker rows (`pool/redis/*`).
        .args(["--features", "mp-pool/redis"])
        .current_dir(root);
    if dev {
        command.args(["--profile", "dev"]);
    }
    eprintln!(
        "xtask bench: building: cargo bench --workspace --no-run --features mp-pool/redis{}",
        if dev { " --profile dev" } else { "" }
    );
    let (lines, built) = match Step::new("build benches", command, BUILD_BOUND)
        .output(Output::Capture)
        .run()
    {
        Ok(lines) => (lines, true),
        Err(e) => {
            // Keep going with whatever was built: rows of the broken crates show n/a.
            eprintln!("xtask bench: warning: {e}; using the binaries that were built");
            (e.lines, false)
        }
    };
    let exes = lines
        .iter()
        .filter_map(|l| bench_executable(l))
        .map(|f| ((f.krate.clone(), f.target.clone()), f))
        .collect();
    (exes, built)
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

/// Runs `invocation` once under `pinning`; the value, or why there is none (and whether to
/// give up on later rounds).
fn run_once(
    runners: &Runners,
    invocation: &Invocation,
    pinning: Pinning,
    label: &str,
) -> Result<f64, (String, bool)> {
    let mut command = match invocation {
        Invocation::Bench {
            krate,
            target,
            args,
        } => {
            let Some(f) = runners.exes.get(&(krate.clone(), target.to_string())) else {
                return Err((
                    format!("{MISSING} no `{target}` bench binary built for {krate}"),
                    true,
                ));
            };
            let mut c = Command::new(&f.exe);
            c.args(args).current_dir(&f.dir);
            c
        }
        Invocation::Python(figure) => {
            let python = runners
                .python
                .as_ref()
                .map_err(|e| (format!("{MISSING} no Python: {e}"), true))?;
            let mut c = Command::new(python);
            c.arg(&runners.script).arg(figure);
            c
        }
    };
    if let Some(n) = runners.repeats {
        command.env(REPEATS_ENV, n.to_string());
    }
    if pinning == Pinning::SplitCpus {
        command.env(PIN_ENV, "split");
    } else {
        command.env_remove(PIN_ENV);
    }
    match Step::new(label, command, runners.timeout)
        .output(Output::Capture)
        .pin_cpu0(pinning != Pinning::Unpinned)
        .run()
    {
        Ok(lines) => parse_figure_output(&lines).map_err(|e| (e, false)),
        Err(e) => match (&e.failure, e.exit_code()) {
            (_, Some(2)) => Err(("unknown figure (exit code 2)".to_owned(), true)),
            // The implementation has no counterpart to measure (RQ reruns no dead worker's job).
            (_, Some(3)) => Err((
                format!("{MISSING} no comparable figure (exit code 3)"),
                true,
            )),
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

/// The empty series of every implementation of `row`, with how each is run: ours, Python,
/// then the floors and the peers in the row's order.
fn subjects(row: &Row) -> Vec<(Series, Invocation)> {
    let mut v = vec![
        (
            Series::new(Role::Ours, "ours", "our crate"),
            Invocation::of(row, None, Role::Ours),
        ),
        (
            Series::new(Role::Python, "python", "CPython multiprocessing"),
            Invocation::of(row, None, Role::Python),
        ),
    ];
    for (role, baselines) in [(Role::Floor, row.floors), (Role::Peer, row.peers)] {
        for b in baselines {
            v.push((
                Series::new(role, b.label, b.what),
                Invocation::of(row, Some(b.source), role),
            ));
        }
    }
    v
}

/// Measures one line: `rounds` interleaved rounds of every implementation.
fn measure(runners: &Runners, row: &Row, pinning: Pinning, rounds: usize) -> Line {
    let mut subjects = subjects(row);
    for round in 1..=rounds {
        let mut progress = format!(
            "xtask bench: {} ({}) round {round}/{rounds}:",
            row.name,
            pinning.label()
        );
        for (series, invocation) in &mut subjects {
            if series.given_up {
                continue;
            }
            let label = format!("{} {} ({})", row.name, series.label, pinning.label());
            match run_once(runners, invocation, pinning, &label) {
                Ok(v) => {
                    series.values.push(v);
                    let _ = write!(progress, " {} {}", series.label, report::fmt_value(v));
                }
                Err((reason, give_up)) => {
                    let _ = write!(progress, " {} n/a ({reason})", series.label);
                    series.note(reason);
                    series.given_up = give_up;
                }
            }
        }
        eprintln!("{progress}");
    }
    Line {
        row: *row,
        pinning,
        series: subjects.into_iter().map(|(s, _)| s).collect(),
    }
}

/// Measures every selected row and writes the outputs.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let options = parse_args(args)?;
    let rows: Vec<&Row> = figures::select(&options.filters)
        .into_iter()
        .filter(|r| !(options.quick && r.is_long()))
        .collect();
    if rows.is_empty() {
        let names: Vec<&str> = figures::ROWS.iter().map(|r| r.name).collect();
        return Err(format!(
            "no figure matches {:?}; figures are:\n  {}",
            options.filters,
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
    let (exes, built) = build(&root, options.dev);
    let python = resolve_python();
    if let Err(e) = &python {
        eprintln!("xtask bench: warning: no Python column: {e}");
    }
    let machine = Machine::describe(python.as_deref().ok());
    let runners = Runners {
        exes,
        python,
        script: root.join("xtask/bench/mp_bench.py"),
        timeout,
        repeats: options.quick.then_some(1),
    };
    // Split pinning needs CPUs 0 and 1 usable.
    let split = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);

    let mut lines = Vec::new();
    for row in &rows {
        for pinning in Pinning::of(row.mode, split) {
            lines.push(measure(&runners, row, pinning, options.rounds));
        }
    }
    let python_note = runners
        .python
        .as_ref()
        .map(|p| format!("{} ({})", p.display(), machine.python))
        .map_err(Clone::clone);
    let table = report::table(&lines, options.rounds, &python_note);
    print!("\n{table}");
    write_outputs(&root, &options, args, &lines, &table, &machine)?;
    let mut broken = broken(&lines);
    if !built {
        broken.insert(0, "the bench build failed (see above)".to_owned());
    }
    if options.quick && !broken.is_empty() {
        return Err(format!(
            "xtask bench --quick: these figures gave no value:\n  {}",
            broken.join("\n  ")
        ));
    }
    Ok(())
}

/// The series that were run but gave no value (a figure that rotted), as `title: label`.
fn broken(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| l.series.iter().map(move |s| (l, s)))
        .filter(|(_, s)| {
            s.values.is_empty() && !s.notes.iter().any(|(r, _)| r.starts_with(MISSING))
        })
        .map(|(l, s)| format!("{}: {}", l.title(), s.label))
        .collect()
}

/// Writes `results.json`, `BENCHMARKS.md` and the chart under `target/bench`, and at the root
/// for a full run.
fn write_outputs(
    root: &Path,
    options: &Options,
    args: &[String],
    lines: &[Line],
    table: &str,
    machine: &Machine,
) -> Result<(), String> {
    let command = std::iter::once("cargo xtask bench".to_owned())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let out_dir = env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("bench");
    fs::create_dir_all(&out_dir).map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    let write = |path: &Path, text: &str| {
        fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    write(
        &out_dir.join("results.json"),
        &report::json(lines, options.rounds, machine, &command),
    )?;
    let subtitle = format!("{} rounds, {}", options.rounds, machine.date);
    let mut targets = vec![out_dir.clone()];
    if options.is_full() {
        targets.push(root.to_path_buf());
    }
    for dir in &targets {
        let chart_drawn = chart::draw(lines, &dir.join(CHART_PATH), &subtitle)?;
        let chart_link = if chart_drawn {
            CHART_PATH
        } else {
            "(no chart: no line has ours and Python)"
        };
        write(
            &dir.join(DOC_PATH),
            &report::document(table, machine, &command, chart_link),
        )?;
        eprintln!(
            "xtask bench: wrote {}",
            if dir == &out_dir {
                format!(
                    "{}/{{results.json, {DOC_PATH}, {CHART_PATH}}}",
                    out_dir.display()
                )
            } else {
                format!("{DOC_PATH} and {CHART_PATH} at the workspace root")
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTIFACT: &str = r#"{"reason":"compiler-artifact","package_id":"path+file:///work/main/mp-process#0.1.0","manifest_path":"/work/main/mp-process/Cargo.toml","target":{"kind":["bench"],"crate_types":["bin"],"name":"figures","src_path":"/work/main/mp-process/benches/figures.rs","edition":"2024","doc":false,"doctest":false,"test":false},"profile":{"opt_level":"3","debuginfo":1,"debug_assertions":false,"overflow_checks":false,"test":true},"features":[],"filenames":["/t/release/deps/figures-376e"],"executable":"/t/release/deps/figures-376e","fresh":false}"#;

    #[test]
    fn finds_the_bench_executable() {
        let f = bench_executable(ARTIFACT).unwrap();
        assert_eq!(f.krate, "mp-process");
        assert_eq!(f.target, "figures");
        assert_eq!(f.exe, PathBuf::from("/t/release/deps/figures-376e"));
        assert_eq!(f.dir, PathBuf::from("/work/main/mp-process"));
    }

    #[test]
    fn skips_other_artifacts() {
        let lib = ARTIFACT
            .replace("\"name\":\"figures\"", "\"name\":\"mp_process\"")
            .replace("\"bench\"", "\"lib\"");
        assert_eq!(bench_executable(&lib), None);
        let no_exe = ARTIFACT.replace(
            "\"executable\":\"/t/release/deps/figures-376e\"",
            "\"executable\":null",
        );
        assert_eq!(bench_executable(&no_exe), None);
        assert_eq!(
            bench_executable(r#"{"reason":"build-finished","success":true}"#),
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
        let o = parse_args(&a(&[])).unwrap();
        assert_eq!(
            (o.filters.len(), o.rounds, o.quick, o.is_full()),
            (0, DEFAULT_ROUNDS, false, true)
        );
        let o = parse_args(&a(&["sync", "--rounds", "2", "--filter", "fork"])).unwrap();
        assert_eq!((o.filters, o.rounds), (a(&["sync", "fork"]), 2));
        assert_eq!(parse_args(&a(&["--rounds=3"])).unwrap().rounds, 3);
        assert_eq!(
            parse_args(&a(&["--filter=pool/map"])).unwrap().filters,
            a(&["pool/map"])
        );
        let o = parse_args(&a(&["--quick", "--dev"])).unwrap();
        assert_eq!(
            (o.rounds, o.quick, o.dev, o.is_full()),
            (1, true, true, false)
        );
        assert!(parse_args(&a(&["--rounds", "0"])).is_err());
        assert!(parse_args(&a(&["--rounds"])).is_err());
        assert!(parse_args(&a(&["--filter"])).is_err());
        assert!(parse_args(&a(&["--bogus"])).is_err());
    }

    #[test]
    fn every_side_has_its_invocation() {
        let row = figures::ROWS
            .iter()
            .find(|r| r.name == "ipc/pipe_roundtrip_bytes")
            .unwrap();
        let s = subjects(row);
        let labels: Vec<&str> = s.iter().map(|(s, _)| s.label.as_str()).collect();
        assert_eq!(labels[..2], ["ours", "python"]);
        assert_eq!(
            s[0].1,
            Invocation::Bench {
                krate: "mp-ipc".into(),
                target: "figures",
                args: vec!["ipc/pipe_roundtrip_bytes".into(), "ours".into()]
            }
        );
        assert_eq!(
            s[1].1,
            Invocation::Python("ipc/pipe_roundtrip_bytes".into())
        );
        assert!(s.iter().any(|(_, i)| *i
            == Invocation::Bench {
                krate: "mp-sync".into(),
                target: "figures",
                args: vec!["sync/semaphore_pingpong".into(), "floor".into()]
            }));
        assert!(s.iter().any(|(_, i)| *i
            == Invocation::Bench {
                krate: "xtask".into(),
                target: "peers",
                args: vec!["ipc_channel/bytes_roundtrip".into()]
            }));
    }
}
