//! Shared (not process-private) futex wait and wake, and the `CLOCK_MONOTONIC` clock.
//!
//! The futex calls deliberately omit `FUTEX_PRIVATE_FLAG`: the words live in a `MAP_SHARED`
//! memfd mapping, possibly at different addresses in different processes, and only the
//! shared flavour keys the wait queue on the underlying page rather than the virtual address.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use crate::deadline::Deadline;

/// Reads `CLOCK_MONOTONIC`, the clock every [`Deadline`] is measured on.
pub(crate) fn monotonic_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    debug_assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Converts a deadline into the absolute `timespec` the kernel expects.
pub(super) fn to_timespec(deadline: Deadline) -> libc::timespec {
    let at = deadline.as_monotonic();
    libc::timespec {
        tv_sec: at.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: at.subsec_nanos() as libc::c_long,
    }
}

/// Sleeps while `word` holds `expected`, until woken, interrupted or `deadline` passes.
///
/// Returns `false` only when the deadline passed; every other return (a wake-up, a signal,
/// the word no longer holding `expected`) is `true`, and the caller re-checks its condition,
/// so spurious returns are harmless.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    let ts = deadline.map(to_timespec);
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // FUTEX_WAIT_BITSET takes an absolute deadline on CLOCK_MONOTONIC (no FUTEX_CLOCK_REALTIME),
    // so retrying after EINTR never stretches the total wait.
    // SAFETY: `word` is a live, aligned u32 for the duration of the call; `ts_ptr` is null or
    // points at `ts`, which outlives the call; the other arguments are plain integers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ETIMEDOUT)
}

/// Wakes up to `n` processes or threads sleeping on `word`; returns how many were woken.
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) -> usize {
    let n = n.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE reads no other pointer.
    let rc = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n) };
    rc.max(0) as usize
}

/// Whether waiting may start with a short spin: only when this process can run on more than
/// one CPU. On a single CPU the process being waited for cannot run while we spin, so every
/// spin is pure delay. Computed once per process (forked children inherit the answer,
/// as they inherit the CPU mask) when the first primitive is created.
pub(crate) fn may_spin() -> bool {
    static MAY_SPIN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MAY_SPIN.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// How often a waiter re-checks its condition before it sleeps in the kernel (only with more
/// than one CPU, see [`may_spin`]); a kernel hand-off costs a few µs.
const SPINS: u32 = 40;

/// Spins briefly while `ready` is false (not at all on a single CPU); returns whether `ready`
/// became true.
#[inline]
pub(crate) fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    if may_spin() {
        for _ in 0..SPINS {
            std::hint::spin_loop();
            if ready() {
                return true;
            }
        }
    }
    false
}

/// Like [`spin_until`], with exponential back-off between looks (1, 2, 4, ... pauses), for
/// a lock: a waiter that keeps away from the lock's cache line lets the holder run whole bursts
/// uncontended, and never sleeping means the holder's unlocks need no wake-up system call.
#[inline]
pub(crate) fn spin_with_backoff(mut ready: impl FnMut() -> bool) -> bool {
    if may_spin() {
        for round in 0..BACKOFF_ROUNDS {
            for _ in 0..1u32 << round {
                std::hint::spin_loop();
            }
            if ready() {
                return true;
            }
        }
    }
    false
}

/// Rounds of [`spin_with_backoff`]: about 2^BACKOFF_ROUNDS pauses in all.
const BACKOFF_ROUNDS: u32 = 10;
