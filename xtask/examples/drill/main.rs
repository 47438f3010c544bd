//! The fault drills that `cargo xtask stress` runs: one scenario, under one start method, with
//! one seed, per execution of this program.
//!
//! ```text
//! drill <scenario> <fork|spawn|forkserver> <seed>
//! ```
//!
//! It starts the scenario's processes with the mp crates' public APIs, SIGKILLs one of them at a
//! moment drawn from the seed, checks what the survivors did, counts this process's descriptors
//! and zombie children before and after, and prints one [`drill_protocol::Outcome`] line (plus `drill-note:`
//! lines saying what went wrong). Every wait is bounded: a defect shows as a hang count, never
//! as a hung drill (the harness bounds the whole run as well).

#[path = "../../src/drill_protocol.rs"]
mod drill_protocol;

mod barrier_party;
mod children;
mod consumer;
mod findings;
mod fork_server;
mod lock_holder;
mod parent;
mod probe;
mod producer;
mod rng;
mod stream;
mod sys;

use std::process::ExitCode;

use mp_process::StartMethod;

use crate::findings::Findings;
use crate::rng::Rng;

/// A scenario: runs once under a start method, drawing its moments from the generator.
type Runner = fn(StartMethod, &mut Rng, &mut Findings);

/// The function that runs each scenario of [`drill_protocol::SCENARIOS`], by name.
const RUNNERS: &[(&str, Runner)] = &[
    ("producer", producer::run),
    ("consumer", consumer::run),
    ("lock-holder", lock_holder::run),
    ("barrier-party", barrier_party::run),
    ("fork-server", fork_server::run),
    ("parent", parent::run),
];

/// Parses a start method's Python name.
fn parse_method(name: &str) -> Option<StartMethod> {
    StartMethod::ALL.into_iter().find(|m| m.name() == name)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, method, seed] = args.as_slice() else {
        eprintln!("usage: drill <scenario> <fork|spawn|forkserver> <seed>");
        return ExitCode::from(2);
    };
    let Some(&(_, run)) = RUNNERS.iter().find(|(name, _)| name == scenario) else {
        let names: Vec<&str> = RUNNERS.iter().map(|(name, _)| *name).collect();
        eprintln!("unknown scenario {scenario:?}; known: {}", names.join(", "));
        return ExitCode::from(2);
    };
    let (Some(method), Ok(seed)) = (parse_method(method), seed.parse::<u64>()) else {
        eprintln!("bad method {method:?} or seed {seed:?}");
        return ExitCode::from(2);
    };
    let applies = drill_protocol::SCENARIOS
        .iter()
        .any(|(name, methods)| name == scenario && methods.contains(&method.name()));
    if !applies {
        eprintln!("scenario {scenario} does not apply to {}", method.name());
        return ExitCode::from(2);
    }
    let mut rng = Rng::new(seed);
    let mut findings = Findings::default();
    // Start (and so warm up) the machinery a first child brings with it, a fork server say,
    // before the "before" count: what is left open after the run must be the run's own.
    children::warm_up(method, &mut findings);
    let before = probe::Snapshot::take();
    run(method, &mut rng, &mut findings);
    probe::Snapshot::take().compare(&before, &mut findings);
    findings.print();
    ExitCode::SUCCESS
}
