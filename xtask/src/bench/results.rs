//! What one `cargo xtask bench` run measured: one [`Line`] per figure and pinning, each with
//! the series of every implementation. Filled by the runner, read by the report and the chart.

use crate::figures::{Mode, Row};

/// Where a line's runs are placed on the CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pinning {
    /// Wherever the scheduler puts them.
    Unpinned,
    /// Every process on CPU 0.
    OneCpu,
    /// The measuring process on CPU 0, the children it forks on CPU 1.
    SplitCpus,
}

impl Pinning {
    /// The variants a row of `mode` is measured in (`split`: whether two CPUs are usable).
    pub(crate) fn of(mode: Mode, split: bool) -> Vec<Pinning> {
        match mode {
            Mode::Latency => vec![Pinning::OneCpu],
            Mode::Unpinned => vec![Pinning::Unpinned],
            Mode::Throughput if split => {
                vec![Pinning::Unpinned, Pinning::OneCpu, Pinning::SplitCpus]
            }
            Mode::Throughput => vec![Pinning::Unpinned, Pinning::OneCpu],
        }
    }

    /// Short label, as in the table and `results.json`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Pinning::Unpinned => "unpinned",
            Pinning::OneCpu => "CPU 0",
            Pinning::SplitCpus => "CPUs 0+1",
        }
    }
}

/// What an implementation is to the figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Our crate's implementation.
    Ours,
    /// CPython's multiprocessing.
    Python,
    /// A floor: the machine's limit, or a weaker mechanism for comparison.
    Floor,
    /// A Rust peer crate.
    Peer,
}

/// The measurements of one implementation of one line.
#[derive(Debug)]
pub(crate) struct Series {
    /// What it is to the figure.
    pub(crate) role: Role,
    /// Its short label (`ours`, `python`, `spsc ring`, `ipc-channel`).
    pub(crate) label: String,
    /// What it is, for the notes.
    pub(crate) what: String,
    /// One value per successful run.
    pub(crate) values: Vec<f64>,
    /// Why runs gave no value: (reason, count).
    pub(crate) notes: Vec<(String, usize)>,
    /// Set when further runs are pointless (unknown figure, no binary, timeout).
    pub(crate) given_up: bool,
}

impl Series {
    /// An empty series.
    pub(crate) fn new(role: Role, label: &str, what: &str) -> Self {
        Series {
            role,
            label: label.to_owned(),
            what: what.to_owned(),
            values: Vec::new(),
            notes: Vec::new(),
            given_up: false,
        }
    }

    /// Records a run that gave no value.
    pub(crate) fn note(&mut self, reason: String) {
        match self.notes.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.notes.push((reason, 1)),
        }
    }

    /// The summary of the values, if any.
    pub(crate) fn summary(&self) -> Option<Summary> {
        summarize(&self.values)
    }

    /// The median, if any.
    pub(crate) fn median(&self) -> Option<f64> {
        self.summary().map(|s| s.median)
    }
}

/// One figure under one pinning: ours, Python's, the floors' and the peers' series.
#[derive(Debug)]
pub(crate) struct Line {
    /// The figure.
    pub(crate) row: Row,
    /// Where its runs were placed.
    pub(crate) pinning: Pinning,
    /// Ours first, then Python, the floors and the peers, in the row's order.
    pub(crate) series: Vec<Series>,
}

impl Line {
    /// The series of `role`, in order.
    pub(crate) fn of(&self, role: Role) -> impl Iterator<Item = &Series> {
        self.series.iter().filter(move |s| s.role == role)
    }

    /// The one series of `role` (ours or Python).
    pub(crate) fn one(&self, role: Role) -> Option<&Series> {
        self.of(role).next()
    }

    /// The name with its pinning, as shown: `ipc/queue_small_items (CPU 0)`.
    pub(crate) fn title(&self) -> String {
        format!("{} ({})", self.row.name, self.pinning.label())
    }

    /// How many times faster ours is than `other` (medians), if both were measured.
    pub(crate) fn speedup_over(&self, other: &Series) -> Option<f64> {
        let ours = self.one(Role::Ours)?.median()?;
        let theirs = other.median()?;
        (ours > 0.0 && theirs > 0.0).then(|| {
            if self.row.lower_is_better {
                theirs / ours
            } else {
                ours / theirs
            }
        })
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

    #[test]
    fn throughput_rows_get_both_pinned_pairs() {
        assert_eq!(Pinning::of(Mode::Latency, true), [Pinning::OneCpu]);
        assert_eq!(Pinning::of(Mode::Throughput, true).len(), 3);
        assert_eq!(Pinning::of(Mode::Throughput, false).len(), 2);
        assert_eq!(Pinning::of(Mode::Unpinned, true), [Pinning::Unpinned]);
    }
}
