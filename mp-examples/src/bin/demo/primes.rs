//! The CPU-bound job: count the primes below a limit by trial division, split into equal
//! ranges so that it can be spread over a pool's processes.

use std::ops::Range;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mp_pool::{Pool, TaskError};

/// The job: which numbers, in how many ranges.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    /// Count the primes below this.
    pub(crate) limit: u32,
    /// In this many ranges (tasks).
    pub(crate) ranges: u32,
}

impl Job {
    /// The ranges the numbers below `limit` are cut into, in order.
    pub(crate) fn ranges(self) -> Vec<Range<u32>> {
        let step = self.limit.div_ceil(self.ranges);
        (0..self.ranges)
            .map(|i| (i * step).min(self.limit)..((i + 1) * step).min(self.limit))
            .collect()
    }
}

/// Whether `n` is prime, by trial division by 2 and the odd numbers up to its square root
/// (slow on purpose: this is the work the processes share).
fn is_prime(n: u32) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    let mut d = 3;
    // `n / d` and `n % d` come from one division; `n / d < d` is `d * d > n` without overflow.
    while n / d >= d {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// How many primes lie in `range`: one task.
pub(crate) fn count_primes(range: Range<u32>) -> u64 {
    range.filter(|&n| is_prime(n)).count() as u64
}

/// A progress bar of `len` tasks, drawn on stderr when it is a terminal.
pub(crate) fn progress_bar(len: usize, label: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("  {prefix:<12} [{bar:40}] {pos}/{len} ranges {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label);
    bar
}

/// Counts the primes of each of the job's ranges in this process, one range after another;
/// returns the counts, in the ranges' order, and how long it took.
pub(crate) fn sequential(job: Job) -> (Vec<u64>, Duration) {
    let ranges = job.ranges();
    let bar = progress_bar(ranges.len(), "sequential");
    let started = Instant::now();
    let counts = ranges
        .into_iter()
        .map(|range| {
            let count = count_primes(range);
            bar.inc(1);
            count
        })
        .collect();
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    (counts, elapsed)
}

/// Counts the primes of each of the job's ranges on `pool`'s workers with `imap` (the counts
/// come back lazily, in the ranges' order, so the bar moves as they do); returns the counts
/// and how long it took.
pub(crate) fn on_pool(pool: &Pool, job: Job) -> Result<(Vec<u64>, Duration), TaskError> {
    let ranges = job.ranges();
    let bar = progress_bar(ranges.len(), "pool");
    let started = Instant::now();
    let counts = pool
        .imap(count_primes, ranges)?
        .inspect(|_| bar.inc(1))
        .collect::<Result<Vec<_>, _>>()?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok((counts, elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ranges_cover_the_numbers_below_the_limit_once() {
        let job = Job {
            limit: 1000,
            ranges: 7,
        };
        let covered: Vec<u32> = job.ranges().into_iter().flatten().collect();
        assert_eq!(covered, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn counts_the_primes_below_a_limit() {
        // 25 primes below 100, 168 below 1000.
        assert_eq!(count_primes(0..100), 25);
        assert_eq!(count_primes(0..1000), 168);
    }
}
