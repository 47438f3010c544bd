//! Which CPU this thread runs on, so that a waiter can tell whether the process it waits for
//! shares its CPU (then spinning is pure delay, and yielding lets the peer run) or not.

/// The CPU this thread is running on now (it may move at any moment: a hint), `None` if the
/// system does not say. Cheap: glibc reads it from the thread's `rseq` area, no system call.
pub(crate) fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu takes no argument and touches no memory of ours.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}
