//! Benchmark figures for `cargo xtask bench`: `figures <figure-name> <ours|floor>` prints one
//! number, the median of several repeats, in the figure's unit (anything else goes to stderr).
//!
//! | figure | unit | ours | floor |
//! |---|---|---|---|
//! | `sync/lock_pair` | ns per uncontended acquire+release | `Lock` | process-shared pthread mutex |
//! | `sync/locked_increments` | ms for 2 processes x 100,000 locked increments, start to join | `Lock` | process-shared pthread mutex |
//! | `sync/semaphore_pingpong` | µs per round trip | two `Semaphore`s | raw futex on a shared word |
//! | `sync/event_pingpong` | µs per round trip | two `Event`s | raw futex on a shared word |
//! | `sync/condition_pingpong` | µs per round trip | `Condition` + shared state word | raw futex on a shared word |
//!
//! The definitions follow the reference programs (`py_mp_bench.py`, `raw_limit.c`); the
//! caller pins the process to one CPU for the ping-pong figures.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

#[path = "../../xtask/bench/protocol.rs"]
mod protocol;

use mp_sync::{Condition, Event, Lock, Semaphore};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork};

/// Repeats per figure; the median is printed.
const REPS: usize = 5;
/// Pairs per repeat of `sync/lock_pair`.
const PAIRS: u64 = 5_000_000;
/// Increments per process in `sync/locked_increments`.
const INCREMENTS: u64 = 100_000;
/// Round trips per repeat of a ping-pong (the first one is a warm-up).
const ROUNDS: u32 = 10_000;

const FIGURES: &[(&str, protocol::Figure)] = &[
    ("sync/lock_pair", lock_pair),
    ("sync/locked_increments", locked_increments),
    ("sync/semaphore_pingpong", semaphore_pingpong),
    ("sync/event_pingpong", event_pingpong),
    ("sync/condition_pingpong", condition_pingpong),
];

fn main() {
    protocol::run(FIGURES, REPS);
}

/// Anonymous shared memory (inherited by forked children), zeroed, never unmapped.
fn shared<T>() -> &'static T {
    // SAFETY: a fresh anonymous shared mapping; no fd, no address hint.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size_of::<T>().max(64),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap");
    // SAFETY: page-aligned zeroed memory, valid for the types used here (atomics, a pthread
    // mutex initialized before use), and never unmapped.
    unsafe { &*p.cast::<T>() }
}

/// Forks a child that runs `f` and leaves with `_exit(0)`.
fn child(f: impl FnOnce()) -> Pid {
    // SAFETY: the bench is single-threaded; the child runs `f` and `_exit`s.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            f();
            // SAFETY: `_exit` never returns and is always safe to call.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => child,
    }
}

/// A process-shared (non-robust) pthread mutex in shared memory: the floor for the locks.
fn pthread_mutex() -> *mut libc::pthread_mutex_t {
    let m = shared::<libc::pthread_mutex_t>() as *const _ as *mut libc::pthread_mutex_t;
    // SAFETY: `m` points to zeroed shared memory used by nobody yet; `attr` is initialized
    // before use and destroyed after.
    unsafe {
        let mut attr = std::mem::MaybeUninit::uninit();
        libc::pthread_mutexattr_init(attr.as_mut_ptr());
        libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
        assert_eq!(libc::pthread_mutex_init(m, attr.as_ptr()), 0);
        libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
    }
    m
}

fn lock_pair(floor: bool) -> f64 {
    let start;
    if floor {
        let m = pthread_mutex();
        start = Instant::now();
        for _ in 0..PAIRS {
            // SAFETY: `m` is an initialized mutex that lives for the whole program.
            unsafe {
                libc::pthread_mutex_lock(black_box(m));
                libc::pthread_mutex_unlock(m);
            }
        }
    } else {
        let lock = Lock::new().expect("Lock::new");
        start = Instant::now();
        for _ in 0..PAIRS {
            if let Ok(guard) = black_box(&lock).acquire() {
                drop(guard);
            }
        }
    }
    start.elapsed().as_nanos() as f64 / PAIRS as f64
}

fn locked_increments(floor: bool) -> f64 {
    let counter = shared::<AtomicU64>();
    counter.store(0, Ordering::SeqCst);
    let increment = || {
        let v = counter.load(Ordering::Relaxed);
        counter.store(v + 1, Ordering::Relaxed);
    };
    let (lock, m) = if floor {
        (None, pthread_mutex())
    } else {
        (Some(Lock::new().unwrap()), std::ptr::null_mut())
    };
    let work = || {
        for _ in 0..INCREMENTS {
            match &lock {
                Some(lock) => {
                    let _guard = lock.acquire().expect("no holder dies here");
                    increment();
                }
                // SAFETY: `m` is an initialized process-shared mutex in shared memory.
                None => unsafe {
                    libc::pthread_mutex_lock(m);
                    increment();
                    libc::pthread_mutex_unlock(m);
                },
            }
        }
    };
    let start = Instant::now();
    let children = [child(work), child(work)];
    for pid in children {
        waitpid(pid, None).expect("waitpid");
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(
        counter.load(Ordering::SeqCst),
        2 * INCREMENTS,
        "lost increments"
    );
    ms
}

/// Runs `ROUNDS` round trips: the child runs `echo` that often, the parent `ping`; the first
/// round is a warm-up. Returns µs per timed round trip.
fn pingpong(ping: impl Fn(), echo: impl Fn()) -> f64 {
    let pid = child(|| (0..ROUNDS).for_each(|_| echo()));
    ping();
    let start = Instant::now();
    (1..ROUNDS).for_each(|_| ping());
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS - 1);
    waitpid(pid, None).expect("waitpid");
    us
}

/// The floor: `raw_limit.c`'s futex ping-pong (0 = parent's turn, 1 = child's turn).
fn futex_pingpong() -> f64 {
    let word = shared::<AtomicU32>();
    let futex = |op: libc::c_int, val: u32| {
        // SAFETY: `word` is a live shared u32; FUTEX_WAIT/WAKE read no other pointer.
        unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), op, val, 0usize, 0usize, 0) };
    };
    pingpong(
        || {
            word.store(1, Ordering::Release);
            futex(libc::FUTEX_WAKE, 1);
            while word.load(Ordering::Acquire) != 0 {
                futex(libc::FUTEX_WAIT, 1);
            }
        },
        || {
            while word.load(Ordering::Acquire) != 1 {
                futex(libc::FUTEX_WAIT, 0);
            }
            word.store(0, Ordering::Release);
            futex(libc::FUTEX_WAKE, 1);
        },
    )
}

fn semaphore_pingpong(floor: bool) -> f64 {
    if floor {
        return futex_pingpong();
    }
    let (ping, pong) = (Semaphore::new(0).unwrap(), Semaphore::new(0).unwrap());
    pingpong(
        || {
            ping.release().unwrap();
            pong.acquire();
        },
        || {
            ping.acquire();
            pong.release().unwrap();
        },
    )
}

fn event_pingpong(floor: bool) -> f64 {
    if floor {
        return futex_pingpong();
    }
    let (ping, pong) = (Event::new().unwrap(), Event::new().unwrap());
    pingpong(
        || {
            ping.set();
            pong.wait();
            pong.clear();
        },
        || {
            ping.wait();
            ping.clear();
            pong.set();
        },
    )
}

fn condition_pingpong(floor: bool) -> f64 {
    if floor {
        return futex_pingpong();
    }
    let cond = Condition::new().unwrap();
    let state = shared::<AtomicU32>();
    let handoff = |set: u32, until: u32| {
        let mut guard = cond.acquire().expect("no holder dies here");
        if set == 1 {
            state.store(1, Ordering::Relaxed);
            cond.notify(1);
        }
        while state.load(Ordering::Relaxed) != until {
            guard = cond.wait(guard).expect("no holder dies here");
        }
        if set == 2 {
            state.store(2, Ordering::Relaxed);
            cond.notify(1);
        }
        drop(guard);
    };
    pingpong(|| handoff(1, 2), || handoff(2, 1))
}
