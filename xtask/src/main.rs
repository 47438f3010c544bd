//! Project automation, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! One file per task:
//! - [`mod@test`]: `cargo xtask test`: fmt, clippy, docs, every test; a summary line for CI.
//! - [`mod@bench`]: `cargo xtask bench [--quick] [--filter NAME]... [--rounds N]`: ours vs
//!   CPython vs the machine's floors vs the Rust peers, and `BENCHMARKS.md` with its chart; the
//!   rows are in [`mod@figures`], the Python side in `xtask/bench/mp_bench.py`.
//! - [`mod@stress`]: `cargo xtask stress [--runs N] [--scenario NAME] [--method M]`: the fault
//!   drills of issue 7 (`xtask/examples/drill`), run many times; [`mod@drill_protocol`] is what
//!   the drill and the harness agree on.
//! - [`mod@cmd`]: running one bounded, named step; [`mod@sys`]: the few OS calls that takes.

mod bench;
mod cmd;
mod drill_protocol;
mod figures;
mod redis_setup;
mod stress;
mod sys;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

/// Usage of `cargo xtask`.
const USAGE: &str = "\
Usage: cargo xtask <task>

Tasks:
cargo xtask test
    Runs in order, stopping at the first failure: cargo fmt --check, clippy -D warnings,
    rustdoc -D warnings, cargo test --workspace --exclude xtask, cargo test -p xtask,
    cargo xtask bench --quick --dev (every figure runs once), and a short cargo xtask
    stress (3 runs of each scenario and method, dev build).
    Ends with `summary: N passed, N failed`. Env: XTASK_STEP_TIMEOUT_SECS (per step,
    default 900).
";

/// The workspace root (the parent of this crate's directory).
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("stress") => stress::run(&args[1..]),
        None | Some("help" | "-h" | "--help") => {
            println!("{USAGE}{}{}", bench::USAGE, stress::USAGE);
            Ok(())
        }
        Some(other) => Err(format!(
            "unknown task {other:?}\n\n{USAGE}{}{}",
            bench::USAGE,
            stress::USAGE
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
