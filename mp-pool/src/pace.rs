//! How many jobs the core gives one worker at once: enough to cover about [`AHEAD`] of its
//! recent time per job, between 2 and the backend's
//! [`QUEUE_DEPTH`](crate::backend::Backend::QUEUE_DEPTH).
//! Tiny jobs (a `map` with chunk size 1) then travel many to a round trip instead of two,
//! while long jobs stay two to a worker, so a worker never sits on much more than a
//! millisecond of work another worker could have taken.

use std::time::{Duration, Instant};

/// The work a worker is given ahead, by its recent time per job.
const AHEAD: Duration = Duration::from_millis(1);

/// One worker's pace.
#[derive(Debug, Default)]
pub(crate) struct Pace {
    /// When its current job started (or the previous one finished), while it holds a job.
    since: Option<Instant>,
    /// Its recent time per job (a moving average).
    per_job: Option<Duration>,
}

impl Pace {
    /// It was given a job while it held none: its clock starts.
    pub(crate) fn started(&mut self) {
        self.since = Some(Instant::now());
    }

    /// It finished a job; `idle`: it holds no other.
    pub(crate) fn finished_job(&mut self, idle: bool) {
        let now = Instant::now();
        if let Some(since) = self.since {
            let sample = now - since;
            self.per_job = Some(match self.per_job {
                Some(average) => (average * 3 + sample) / 4,
                None => sample,
            });
        }
        self.since = (!idle).then_some(now);
    }

    /// How many jobs it may hold, at most `most`.
    pub(crate) fn depth(&self, most: usize) -> usize {
        let floor = most.min(2);
        match self.per_job {
            None => floor,
            Some(per_job) => {
                let jobs = AHEAD.as_nanos() / per_job.as_nanos().max(1);
                usize::try_from(jobs)
                    .unwrap_or(usize::MAX)
                    .clamp(floor, most)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_jobs_deepen_the_queue_and_long_ones_keep_it_at_two() {
        let mut pace = Pace::default();
        assert_eq!(pace.depth(64), 2);
        assert_eq!(pace.depth(1), 1);
        pace.started();
        pace.finished_job(false);
        assert!(pace.depth(64) > 2, "a job of microseconds: {pace:?}");
        pace.started();
        std::thread::sleep(AHEAD * 2);
        for _ in 0..8 {
            pace.finished_job(false);
            std::thread::sleep(AHEAD * 2);
        }
        pace.finished_job(true);
        assert_eq!(pace.depth(64), 2);
    }
}
