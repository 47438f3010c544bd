//! The protocol every benchmark binary speaks with `cargo xtask bench`, included by `#[path]`
//! (benches are not published, and the design card allows no extra crate).
//!
//! - A crate's `figures` binary: `figures <name> <ours|floor>` prints one number on stdout, the
//!   median of the repeats, in the row's unit ([`run`]).
//! - xtask's `floors` and `peers` binaries: `<binary> <name>` likewise ([`run_baselines`]).
//!
//! The repeats go to stderr; an unknown name or side exits with code 2. Two environment
//! variables set by the harness shape every run:
//! - `XTASK_BENCH_REPEATS=N` overrides the binary's repeats (`--quick` sets 1);
//! - `XTASK_BENCH_PIN=split`: the harness started this process on CPU 0, and every child it
//!   forks runs on CPU 1 (a `pthread_atfork` child handler pins it), so a producer/consumer
//!   pair runs on two CPUs every round instead of wherever the scheduler puts it.

// Each binary uses one of the two entry points ([`run`], [`run_baselines`]).
#![allow(dead_code)]

/// The OS seam: pinning forked children to a CPU.
#[allow(unsafe_code)]
#[path = "pinning.rs"]
mod pinning;

/// One measurement of a figure: ours (`false`) or the floor (`true`), in the row's unit.
pub(crate) type Figure = fn(bool) -> f64;

/// One measurement of a floor or peer figure of xtask's baseline binaries, in the row's unit.
pub(crate) type Baseline = fn() -> f64;

/// Environment variable overriding the number of repeats.
const REPEATS_ENV: &str = "XTASK_BENCH_REPEATS";

/// Environment variable naming the pinning mode (`split`: children on CPU 1).
pub(crate) const PIN_ENV: &str = "XTASK_BENCH_PIN";

/// The CPU forked children run on under `XTASK_BENCH_PIN=split`.
const CHILD_CPU: usize = 1;

/// Measures the figure named on the command line `repeats` times and prints the median.
pub(crate) fn run(figures: &[(&str, Figure)], repeats: usize) {
    let args = arguments();
    let names = || figures.iter().map(|(n, _)| *n).collect::<Vec<_>>();
    let (Some(name), Some(side)) = (args.first(), args.get(1)) else {
        usage(&names(), "missing arguments");
    };
    let floor = match side.as_str() {
        "ours" => false,
        "floor" => true,
        _ => usage(&names(), &format!("unknown side {side:?}")),
    };
    let Some(&(_, figure)) = figures.iter().find(|(n, _)| n == name) else {
        usage(&names(), &format!("unknown figure {name:?}"));
    };
    measure(&format!("{name} {side}"), repeats, || figure(floor));
}

/// Measures the baseline named on the command line `repeats` times and prints the median.
pub(crate) fn run_baselines(baselines: &[(&str, Baseline)], repeats: usize) {
    let args = arguments();
    let names = || baselines.iter().map(|(n, _)| *n).collect::<Vec<_>>();
    let Some(name) = args.first() else {
        usage(&names(), "missing arguments");
    };
    let Some(&(_, baseline)) = baselines.iter().find(|(n, _)| n == name) else {
        usage(&names(), &format!("unknown figure {name:?}"));
    };
    measure(name, repeats, baseline);
}

/// The command-line arguments (`cargo bench` adds `--bench`, which is dropped).
fn arguments() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect()
}

/// Runs `figure` the requested number of times (after arranging the pinning) and prints the
/// median on stdout, every value on stderr.
fn measure(label: &str, repeats: usize, mut figure: impl FnMut() -> f64) {
    let repeats = std::env::var(REPEATS_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(repeats)
        .max(1);
    if std::env::var(PIN_ENV).as_deref() == Ok("split") {
        pinning::pin_children_to(CHILD_CPU);
    }
    let mut values: Vec<f64> = (0..repeats).map(|_| figure()).collect();
    values.sort_by(f64::total_cmp);
    eprintln!("{label}: repeats {values:?}");
    println!("{:.4}", values[values.len() / 2]);
}

/// Says what is wrong and what is known, and exits with code 2.
fn usage(names: &[&str], problem: &str) -> ! {
    eprintln!("{problem}\nusage: <binary> <name> [ours|floor]; names:");
    for name in names {
        eprintln!("  {name}");
    }
    std::process::exit(2)
}
