//! Pins the children a benchmark binary forks to one CPU (`XTASK_BENCH_PIN=split`): a
//! `pthread_atfork` child handler, so every fork (libc's, nix's, mp-process's) is covered
//! without touching the figures.

/// The CPU [`pin_children_to`] pins children to (read by the fork handler).
static CHILD_CPU_CHOSEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Makes every child this process forks from now on run on `cpu` only.
pub(crate) fn pin_children_to(cpu: usize) {
    CHILD_CPU_CHOSEN.store(cpu, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: `pin_forked_child` is an `extern "C" fn()` that only reads an atomic and makes
    // one raw syscall, which is async-signal-safe as a handler run in a forked child must be.
    let rc = unsafe { libc::pthread_atfork(None, None, Some(pin_forked_child)) };
    assert_eq!(rc, 0, "pthread_atfork");
}

/// `pthread_atfork` child handler: restricts the new child to the chosen CPU.
extern "C" fn pin_forked_child() {
    let cpu = CHILD_CPU_CHOSEN.load(std::sync::atomic::Ordering::SeqCst);
    // SAFETY: cpu_set_t is a plain bit array, for which all-zero bytes are a valid (empty)
    // value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit of the set we own; `cpu` is below CPU_SETSIZE (the harness
    // asks for split pinning only with two usable CPUs).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: the pointer and size describe `set`, which outlives the call; pid 0 is the
    // calling process. A failure leaves the child where it was: the harness checks the mode.
    unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
}
