//! What the drill (`xtask/examples/drill`) and `cargo xtask stress` agree on: the scenario
//! names, which start methods each applies to, and the outcome line a run reports. Both
//! include this file, so each has one definition.

use std::fmt;

/// Every start method, by Python's name, in the order runs and reports go through them.
pub(crate) const METHODS: &[&str] = &["fork", "spawn", "forkserver"];

/// Every scenario the drill runs, with the start methods it applies to.
pub(crate) const SCENARIOS: &[(&str, &[&str])] = &[
    ("producer", METHODS),
    ("consumer", METHODS),
    ("lock-holder", METHODS),
    ("barrier-party", METHODS),
    // Only forkserver has a server to kill.
    ("fork-server", &["forkserver"]),
    ("parent", METHODS),
];

/// The prefix of the outcome line on the drill's stdout.
pub(crate) const OUTCOME_PREFIX: &str = "drill-outcome:";

/// The prefix of a note line (a human-readable detail of what went wrong) on the drill's stdout.
pub(crate) const NOTE_PREFIX: &str = "drill-note:";

/// The counts one run reports; all zero for a clean run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Waits that outlived their bound (a process that did not finish, a call that stalled).
    pub(crate) hangs: u64,
    /// Items missing beyond what the scenario allows.
    pub(crate) lost: u64,
    /// Items received more than once.
    pub(crate) duplicated: u64,
    /// Descriptors open after the run that were not open before it.
    pub(crate) leaked_fds: u64,
    /// Zombie children left unreaped, or processes left running, after the run.
    pub(crate) leaked_processes: u64,
    /// Any other broken promise (a wrong error, a start that failed, an unexpected exit code).
    pub(crate) failures: u64,
}

impl Outcome {
    /// Whether the run broke nothing.
    #[allow(dead_code)] // used by the stress harness, not the drill
    pub(crate) fn is_clean(&self) -> bool {
        *self == Outcome::default()
    }

    /// Adds another run's counts to these.
    #[allow(dead_code)] // used by the stress harness, not the drill
    pub(crate) fn add(&mut self, other: Outcome) {
        self.hangs += other.hangs;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.leaked_fds += other.leaked_fds;
        self.leaked_processes += other.leaked_processes;
        self.failures += other.failures;
    }

    /// Parses an outcome line as [`fmt::Display`] writes it; `None` for any other line.
    #[allow(dead_code)] // used by the stress harness, not the drill
    pub(crate) fn parse(line: &str) -> Option<Outcome> {
        let rest = line.trim().strip_prefix(OUTCOME_PREFIX)?;
        let mut outcome = Outcome::default();
        for pair in rest.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            let value: u64 = value.parse().ok()?;
            let slot = match key {
                "hangs" => &mut outcome.hangs,
                "lost" => &mut outcome.lost,
                "duplicated" => &mut outcome.duplicated,
                "leaked_fds" => &mut outcome.leaked_fds,
                "leaked_processes" => &mut outcome.leaked_processes,
                "failures" => &mut outcome.failures,
                _ => return None,
            };
            *slot = value;
        }
        Some(outcome)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{OUTCOME_PREFIX} hangs={} lost={} duplicated={} leaked_fds={} leaked_processes={} failures={}",
            self.hangs,
            self.lost,
            self.duplicated,
            self.leaked_fds,
            self.leaked_processes,
            self.failures
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_line_round_trips() {
        let outcome = Outcome {
            hangs: 1,
            lost: 2,
            duplicated: 3,
            leaked_fds: 4,
            leaked_processes: 5,
            failures: 6,
        };
        assert_eq!(Outcome::parse(&outcome.to_string()), Some(outcome));
        assert_eq!(Outcome::parse("drill-note: something"), None);
        assert_eq!(Outcome::parse("drill-outcome: hangs=x"), None);
    }
}
