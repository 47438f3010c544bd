//! Shared (not process-private) futex wait, wake and waitv, and the `CLOCK_MONOTONIC` clock.
//!
//! The futex calls deliberately omit `FUTEX_PRIVATE_FLAG`: the words live in a `MAP_SHARED`
//! memfd mapping, possibly at different addresses in different processes, and only the
//! shared flavour keys the wait queue on the underlying page rather than the virtual address.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use crate::deadline::Deadline;

/// Reads `CLOCK_MONOTONIC`, the clock every [`Deadline`] is measured on.
pub fn monotonic_now() -> Duration {
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

/// The longest one sleep in the kernel lasts inside any wait of the crate (and of
/// [`futex_wait`], [`futex_waitv`]): a longer or unbounded wait is made of slices, so that a
/// wake-up lost because the process meant to make it died costs one slice, never forever.
pub const MAX_SLEEP: Duration = Duration::from_millis(50);

/// Sleeps while `word` holds `expected`, until woken, or `deadline` passes.
///
/// Returns `false` only when the deadline passed; every other return (a wake-up, the word no
/// longer holding `expected`, a spurious wake-up) is `true`. A signal (`EINTR`) is retried: the
/// deadline is absolute, so retrying never stretches the wait. One call sleeps at most
/// [`MAX_SLEEP`] and then returns `true` as a spurious wake-up, so callers, which re-check their
/// condition after every return anyway, also re-check it at least that often: nothing waits
/// without bound for a wake-up that a dead process was meant to make.
pub fn futex_wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    wait_sliced(deadline, |ts_ptr| {
        // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
        // SAFETY: `word` is a live, aligned u32 for the duration of the call; `ts_ptr`
        // points at a timespec that outlives the call; the other arguments are integers.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT_BITSET,
                expected,
                ts_ptr,
                std::ptr::null::<u32>(),
                libc::FUTEX_BITSET_MATCH_ANY,
            )
        }
    })
}

/// Runs a futex wait `call` (given an absolute deadline as a timespec pointer) until it
/// returns other than by a signal or one [`MAX_SLEEP`] slice ends; `false` only when the
/// caller's `deadline` passed.
fn wait_sliced(
    deadline: Option<Deadline>,
    call: impl Fn(*const libc::timespec) -> libc::c_long,
) -> bool {
    let ts = to_timespec(Deadline::slice(deadline, MAX_SLEEP));
    loop {
        match outcome(call(&ts)) {
            Some(true) => return true,
            // The slice ended: the caller's deadline passed, or this is a spurious wake-up.
            Some(false) => return deadline.is_none_or(|d| !d.has_passed()),
            None => {}
        }
    }
}

/// What a futex wait's return code means: `Some(false)` when the deadline passed,
/// `Some(true)` for a wake-up or a changed word, `None` for a signal (retry).
fn outcome(rc: libc::c_long) -> Option<bool> {
    if rc >= 0 {
        return Some(true);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EINTR) => None,
        Some(libc::ETIMEDOUT) => Some(false),
        _ => Some(true),
    }
}

/// Wakes up to `n` waiters sleeping on `word` (in any process); returns how many were woken.
pub fn futex_wake(word: &AtomicU32, n: u32) -> usize {
    let n = n.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE reads no other pointer.
    let rc = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n) };
    rc.max(0) as usize
}

/// The most words one [`futex_waitv`] call takes (the kernel's limit).
pub const MAX_WAITV: usize = 128;

/// The kernel's `struct futex_waitv` (Linux 5.16+).
#[repr(C)]
struct FutexWaitv {
    /// The value the word must hold for the caller to sleep.
    val: u64,
    /// The word's address.
    uaddr: u64,
    /// `FUTEX2_SIZE_U32`, without `FUTEX2_PRIVATE`: the words are shared.
    flags: u32,
    /// Must be zero.
    reserved: u32,
}

/// `FUTEX2_SIZE_U32`: the words are 32 bits.
const FUTEX2_SIZE_U32: u32 = 0x02;

/// Sleeps while every `(word, expected)` pair still holds, until one is woken or `deadline`
/// passes. Returns `false` only when the deadline passed (spurious returns are `true`); like
/// [`futex_wait`], one call sleeps at most [`MAX_SLEEP`].
///
/// # Panics
/// With more than [`MAX_WAITV`] words.
pub fn futex_waitv(words: &[(&AtomicU32, u32)], deadline: Option<Deadline>) -> bool {
    assert!(
        words.len() <= MAX_WAITV,
        "futex_waitv takes at most 128 words"
    );
    let waiters: Vec<FutexWaitv> = words
        .iter()
        .map(|(word, val)| FutexWaitv {
            val: u64::from(*val),
            uaddr: word.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32,
            reserved: 0,
        })
        .collect();
    wait_sliced(deadline, |ts_ptr| {
        // SAFETY: `waiters` is a live array of `words.len()` kernel-layout entries whose
        // addresses point at live aligned u32s borrowed for the call; `ts_ptr`
        // points at a timespec that outlives the call; flags 0; the clock is CLOCK_MONOTONIC.
        unsafe {
            libc::syscall(
                libc::SYS_futex_waitv,
                waiters.as_ptr(),
                waiters.len() as libc::c_uint,
                0 as libc::c_uint,
                ts_ptr,
                libc::CLOCK_MONOTONIC,
            )
        }
    })
}

/// Whether waiting may start with a short spin: only when this process can run on more than
/// one CPU. On a single CPU the process being waited for cannot run while we spin, so every
/// spin is pure delay. Computed once per process (forked children inherit the answer,
/// as they inherit the CPU mask) when the first primitive is created.
pub fn may_spin() -> bool {
    static MAY_SPIN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MAY_SPIN.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// How often a waiter re-checks its condition before it sleeps in the kernel (only with more
/// than one CPU, see [`may_spin`]); a kernel hand-off costs a few µs.
const SPINS: u32 = 40;

/// Spins briefly while `ready` is false (not at all on a single CPU); returns whether `ready`
/// became true.
#[inline]
pub fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
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
