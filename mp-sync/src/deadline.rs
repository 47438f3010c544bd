//! One internal deadline on `CLOCK_MONOTONIC` that every timeout funnels into.

use std::time::Duration;

use crate::sys::monotonic_now;

/// An absolute point on `CLOCK_MONOTONIC` (the clock futexes and `pthread_mutex_clocklock`
/// take), so retrying a wait after a signal never extends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Duration);

impl Deadline {
    /// The deadline `timeout` from now (saturating: a huge timeout means "practically never").
    pub fn after(timeout: Duration) -> Self {
        Deadline(monotonic_now().saturating_add(timeout))
    }

    /// `None` (wait forever) or the deadline `timeout` from now.
    pub fn from_timeout(timeout: Option<Duration>) -> Option<Self> {
        timeout.map(Self::after)
    }

    /// A deadline that has already passed: "try once, do not wait".
    pub fn now() -> Self {
        Deadline(Duration::ZERO)
    }

    /// Whether the deadline is behind us.
    pub fn has_passed(self) -> bool {
        self.0 == Duration::ZERO || monotonic_now() >= self.0
    }

    /// Time left, zero once passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_sub(monotonic_now())
    }

    /// The earlier of `deadline` (`None`: never) and one `slice` from now: how long one bounded
    /// wait inside a longer one may last.
    pub fn slice(deadline: Option<Deadline>, slice: Duration) -> Deadline {
        let s = Deadline::after(slice);
        deadline.map_or(s, |d| d.min(s))
    }

    /// The deadline as time since the `CLOCK_MONOTONIC` epoch.
    pub fn as_monotonic(self) -> Duration {
        self.0
    }
}
