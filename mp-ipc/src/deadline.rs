//! One internal deadline on `CLOCK_MONOTONIC` that every timeout funnels into.

use std::time::Duration;

use crate::sys::monotonic_now;

/// An absolute point on `CLOCK_MONOTONIC` (the clock futexes take), so retrying a wait after
/// a signal or a spurious wake-up never extends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Deadline(Duration);

impl Deadline {
    /// The deadline `timeout` from now (saturating).
    pub(crate) fn after(timeout: Duration) -> Self {
        Deadline(monotonic_now().saturating_add(timeout))
    }

    /// `None` (wait forever) or the deadline `timeout` from now.
    pub(crate) fn from_timeout(timeout: Option<Duration>) -> Option<Self> {
        timeout.map(Self::after)
    }

    /// Whether the deadline is behind us.
    pub(crate) fn has_passed(self) -> bool {
        monotonic_now() >= self.0
    }

    /// Time left, zero once passed.
    pub(crate) fn remaining(self) -> Duration {
        self.0.saturating_sub(monotonic_now())
    }

    /// The deadline as time since the `CLOCK_MONOTONIC` epoch.
    pub(crate) fn as_monotonic(self) -> Duration {
        self.0
    }

    /// The earlier of `deadline` and one `slice` from now: how long one bounded wait may last.
    pub(crate) fn slice(deadline: Option<Deadline>, slice: Duration) -> Deadline {
        let s = Deadline::after(slice);
        deadline.map_or(s, |d| d.min(s))
    }
}

impl Deadline {
    /// A deadline that has already passed: "try once, do not wait".
    pub(crate) fn expired() -> Self {
        Deadline(Duration::ZERO)
    }
}
