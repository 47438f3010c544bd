//! The CPU-bound job: count the primes below a limit by trial division, split into equal
//! ranges so that it can be spread over processes.

use std::ops::Range;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mp_ipc::Queue;
use mp_process::Process;

/// How long the parent waits for one range's count before it gives up on the workers (a
/// range takes milliseconds; a worker that died would otherwise be waited for forever,
/// which is what a pool is for).
const RESULT_BOUND: Duration = Duration::from_secs(120);

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

/// Counts the job's primes in this process, one range after another; returns the count and
/// how long it took.
pub(crate) fn sequential(job: Job) -> (u64, Duration) {
    let ranges = job.ranges();
    let bar = progress_bar(ranges.len(), "sequential");
    let started = Instant::now();
    let mut total = 0;
    for range in ranges {
        total += count_primes(range);
        bar.inc(1);
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    (total, elapsed)
}

/// A worker process: counts each range it is given, until the end marker (`None`).
fn count_worker((tasks, counts): (Queue<Option<(u32, u32)>>, Queue<u64>)) {
    while let Some((start, end)) = tasks.get().expect("the task queue is open") {
        counts
            .put(count_primes(start..end))
            .expect("the count queue is open");
    }
}

/// Counts the job's primes on `workers` processes that take the ranges from one queue and
/// send the counts back on another; returns the count and how long it took, the workers'
/// start and end included.
pub(crate) fn on_processes(
    job: Job,
    workers: usize,
) -> Result<(u64, Duration), Box<dyn std::error::Error>> {
    let ranges = job.ranges();
    let bar = progress_bar(ranges.len(), "processes");
    let started = Instant::now();
    let (tasks, counts) = (Queue::new()?, Queue::new()?);
    let processes = mp_examples::start_all(
        (0..workers).map(|_| Process::new(count_worker, (tasks.clone(), counts.clone()))),
    )?;
    for range in &ranges {
        tasks.put(Some((range.start, range.end)))?;
    }
    for _ in 0..workers {
        tasks.put(None)?;
    }
    let mut total = 0;
    for _ in 0..ranges.len() {
        total += counts.get_timeout(RESULT_BOUND)?;
        bar.inc(1);
    }
    mp_examples::join_all(&processes)?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    Ok((total, elapsed))
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
