//! glibc's robust, process-shared pthread mutex: the lock under `Lock`, `RLock`,
//! `Condition` and `Barrier`, and the reason a dead holder never deadlocks anyone.
//!
//! A robust mutex is on its holder thread's robust list (`set_robust_list(2)`); when that
//! thread or its whole process dies, the kernel walks the list, marks every mutex it still
//! held with `FUTEX_OWNER_DIED` and wakes one waiter, whose lock call then returns
//! `EOWNERDEAD`. This works even while the dead process is an unreaped zombie, and it needs
//! no polling and no pid (so no pid-reuse race).

use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use crate::deadline::Deadline;

use super::futex::{spin_with_backoff, to_timespec};
use super::shm::Fresh;

unsafe extern "C" {
    // glibc >= 2.30; the `libc` crate does not declare it. Like `pthread_mutex_timedlock`
    // but on CLOCK_MONOTONIC, so a wall-clock jump cannot stretch or cut a timeout.
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// glibc's `FUTEX_TID_MASK`: the bits of the mutex word that hold the owner's thread id.
const TID_MASK: i32 = 0x3fff_ffff;

/// The flavour of a [`RawMutex`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum MutexKind {
    /// Error-checking: a relock by the holder reports `WouldDeadlock` instead of hanging.
    Plain,
    /// Re-entrant by the holding thread, which must unlock it as often as it locked it.
    Recursive,
}

/// What a lock attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The caller holds the mutex and its state is consistent.
    Acquired,
    /// The caller holds the mutex, but a holder died since the state was last marked
    /// consistent (now or earlier: the mark stays until [`RawMutex::mark_consistent`]).
    OwnerDied,
    /// The mutex was busy until the deadline (or at once, for a try-lock).
    TimedOut,
    /// A [`MutexKind::Plain`] mutex is already held by the calling thread.
    WouldDeadlock,
}

/// The calling thread does not hold the mutex it tried to unlock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NotOwner;

/// A robust, process-shared pthread mutex plus the crate's own owner-died mark.
///
/// The mark exists so that the pthread state can be made consistent at once (never
/// `ENOTRECOVERABLE`), while every acquirer keeps hearing "a holder died" until some
/// holder deliberately recovers, like a poisoned `std::sync::Mutex`.
#[repr(C)]
pub(crate) struct RawMutex {
    /// The glibc mutex; only ever touched through pthread calls (and one atomic peek).
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    /// 1 once a holder died and no holder has recovered since; read and written only by
    /// the holder of `mutex`, so relaxed accesses suffice.
    owner_died: AtomicU32,
    /// 1 while the holder has condition wake-ups waiting for its unlock (see
    /// `condition::defer_wake`); holder-only, like `owner_died`.
    deferred: AtomicU32,
}

// SAFETY: a process-shared pthread mutex is made for concurrent use from any thread (and
// process); `RawMutex` only hands its address to pthread functions or reads it atomically.
unsafe impl Sync for RawMutex {}

// A panic while holding the mutex leaves it held by a live thread: the guard's drop releases
// it during unwinding, like `std::sync::Mutex` (which is `RefUnwindSafe` too).
impl std::panic::RefUnwindSafe for RawMutex {}
impl std::panic::UnwindSafe for RawMutex {}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

impl RawMutex {
    /// Initializes the mutex as robust and process-shared; `Fresh` proves that `self` is
    /// zeroed memory of a segment nobody else can see yet.
    pub(crate) fn init(&self, kind: MutexKind, _: &Fresh) -> io::Result<()> {
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        let ty = match kind {
            MutexKind::Plain => libc::PTHREAD_MUTEX_ERRORCHECK,
            MutexKind::Recursive => libc::PTHREAD_MUTEX_RECURSIVE,
        };
        // SAFETY: `attr` is initialized by `pthread_mutexattr_init` before any other use and
        // destroyed once; `Fresh` guarantees nobody else uses `self.mutex` during init.
        unsafe {
            check(libc::pthread_mutexattr_init(attr.as_mut_ptr()))?;
            let a = attr.as_mut_ptr();
            let result = check(libc::pthread_mutexattr_setpshared(
                a,
                libc::PTHREAD_PROCESS_SHARED,
            ))
            .and_then(|()| {
                check(libc::pthread_mutexattr_setrobust(
                    a,
                    libc::PTHREAD_MUTEX_ROBUST,
                ))
            })
            .and_then(|()| check(libc::pthread_mutexattr_settype(a, ty)))
            .and_then(|()| check(libc::pthread_mutex_init(self.mutex.get(), a)));
            libc::pthread_mutexattr_destroy(a);
            result
        }
    }

    /// Takes the mutex: at once with `deadline: Some(now or earlier)`, waiting until
    /// `deadline`, or for as long as it takes with `None`.
    #[inline(always)]
    pub(crate) fn lock(&self, deadline: Option<Deadline>) -> Outcome {
        // SAFETY: the mutex was initialized at creation and lives as long as `self`.
        let rc = unsafe { libc::pthread_mutex_trylock(self.mutex.get()) };
        if rc == 0 && self.owner_died.load(Ordering::Relaxed) == 0 {
            return Outcome::Acquired;
        }
        self.lock_slow(rc, deadline)
    }

    /// Everything but the uncontended, consistent case.
    #[cold]
    #[inline(never)]
    fn lock_slow(&self, rc: libc::c_int, deadline: Option<Deadline>) -> Outcome {
        if rc == libc::EBUSY && deadline.is_none_or(|d| !d.has_passed()) {
            return self.lock_contended(deadline);
        }
        self.outcome(rc)
    }

    /// The slow path: spin a little while the word shows a holder, then sleep in glibc.
    #[cold]
    fn lock_contended(&self, deadline: Option<Deadline>) -> Outcome {
        // Peek at the word; only when it shows no holder, try to take it.
        let mut rc = libc::EBUSY;
        let taken = spin_with_backoff(|| {
            if !self.is_locked() {
                // SAFETY: as in `lock`.
                rc = unsafe { libc::pthread_mutex_trylock(self.mutex.get()) };
            }
            rc != libc::EBUSY
        });
        if taken {
            return self.outcome(rc);
        }
        let rc = match deadline {
            // SAFETY: as in `lock`.
            None => unsafe { libc::pthread_mutex_lock(self.mutex.get()) },
            Some(d) => {
                let ts = to_timespec(d);
                // SAFETY: as in `lock`; `ts` outlives the call.
                unsafe { pthread_mutex_clocklock(self.mutex.get(), libc::CLOCK_MONOTONIC, &ts) }
            }
        };
        self.outcome(rc)
    }

    /// Turns a pthread return code into an [`Outcome`], making the state consistent at once
    /// after `EOWNERDEAD` and remembering the death in `owner_died` instead.
    #[inline]
    fn outcome(&self, rc: libc::c_int) -> Outcome {
        match rc {
            0 if self.owner_died.load(Ordering::Relaxed) == 0 => Outcome::Acquired,
            0 => Outcome::OwnerDied,
            libc::EOWNERDEAD => {
                self.owner_died.store(1, Ordering::Relaxed);
                // SAFETY: we hold the mutex (EOWNERDEAD means it was handed to us).
                let rc = unsafe { libc::pthread_mutex_consistent(self.mutex.get()) };
                debug_assert_eq!(rc, 0);
                Outcome::OwnerDied
            }
            libc::EBUSY | libc::ETIMEDOUT => Outcome::TimedOut,
            libc::EDEADLK => Outcome::WouldDeadlock,
            // EAGAIN (recursion count overflow), EINVAL (corrupted memory), ENOTRECOVERABLE
            // (impossible: we never unlock an inconsistent mutex) are bugs, not conditions.
            rc => panic!(
                "pthread mutex lock failed: {}",
                io::Error::from_raw_os_error(rc)
            ),
        }
    }

    /// Releases the mutex once; fails if the calling thread does not hold it.
    #[inline(always)]
    pub(crate) fn unlock(&self) -> Result<(), NotOwner> {
        // SAFETY: the mutex is initialized; robust mutexes check the owner (EPERM otherwise).
        match unsafe { libc::pthread_mutex_unlock(self.mutex.get()) } {
            0 => Ok(()),
            _ => Err(NotOwner),
        }
    }

    /// Forgets that a holder died. Only meaningful while the caller holds the mutex.
    pub(crate) fn mark_consistent(&self) {
        self.owner_died.store(0, Ordering::Relaxed);
    }

    /// Whether the calling thread holds the mutex.
    pub(crate) fn is_held_by_caller(&self) -> bool {
        // SAFETY: `gettid` has no preconditions (and, unlike a cached value, is right after fork).
        let tid = unsafe { libc::gettid() };
        self.word() & TID_MASK == tid
    }

    /// Notes (holder only) that wake-ups wait for this thread's next unlock of the mutex.
    pub(crate) fn set_deferred(&self) {
        self.deferred.store(1, Ordering::Relaxed);
    }

    /// Takes (holder only) the note left by [`set_deferred`](Self::set_deferred).
    #[inline(always)]
    pub(crate) fn take_deferred(&self) -> bool {
        self.deferred.load(Ordering::Relaxed) != 0 && self.deferred.swap(0, Ordering::Relaxed) != 0
    }

    /// Whether a live thread holds the mutex right now (a snapshot).
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.word() & TID_MASK != 0
    }

    #[inline]
    fn word(&self) -> i32 {
        // glibc's `struct __pthread_mutex_s` starts with `int __lock`, the futex word holding
        // the owner's tid (0 when free; FUTEX_OWNER_DIED with tid 0 once the holder died).
        // SAFETY: the pointer is valid and aligned for an i32; glibc itself only accesses the
        // word atomically, so an atomic load races with nothing.
        let word = unsafe { &*self.mutex.get().cast::<AtomicI32>() };
        word.load(Ordering::Relaxed)
    }
}
