//! This process's resident memory, for tests that bound it (included with `#[path]`): read
//! from `/proc/self/status`, so it counts everything the process touched, its heap, stacks and
//! the shared segments it maps.

#![allow(dead_code, unreachable_pub)]

/// This process's resident memory now, in KiB (`VmRSS`).
pub fn resident_kib() -> u64 {
    status_kib("VmRSS:")
}

/// The value in KiB of the `/proc/self/status` line that starts with `field` (e.g. `"VmRSS:"`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("a {field} line in /proc/self/status"))
}

/// The highest resident memory seen by [`sample`](Self::sample) calls, over a baseline.
pub struct PeakResident {
    /// Resident KiB when it was made.
    baseline: u64,
    /// The highest resident KiB sampled.
    peak: u64,
}

impl PeakResident {
    /// Starts from this process's resident memory now.
    pub fn from_now() -> PeakResident {
        let baseline = resident_kib();
        PeakResident {
            baseline,
            peak: baseline,
        }
    }

    /// Reads the resident memory and keeps it if it is the highest yet.
    pub fn sample(&mut self) {
        self.peak = self.peak.max(resident_kib());
    }

    /// How many KiB the highest sample was above the baseline.
    pub fn growth_kib(&self) -> u64 {
        self.peak.saturating_sub(self.baseline)
    }
}
