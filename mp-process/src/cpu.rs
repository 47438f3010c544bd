//! How many CPUs there are, and how many this process may use.

/// The number of logical CPUs in the system (Python's `cpu_count()`), whatever this process may
/// use of them; see [`process_cpu_count`] for that.
pub fn cpu_count() -> usize {
    crate::sys::cpus_online().unwrap_or_else(num_cpus::get)
}

/// The number of CPUs this process may actually use: its CPU affinity mask, further limited by a
/// cgroup CPU quota (Python 3.13's `process_cpu_count()`, which counts only the affinity). This is
/// the right default for a pool's size. From `num_cpus`.
pub fn process_cpu_count() -> usize {
    num_cpus::get()
}
