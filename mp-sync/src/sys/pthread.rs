//! [`RobustMutex`], glibc's robust, process-shared pthread mutex: the lock under `Lock`,
//! `RLock`, `Condition` and `Barrier` (and mp-ipc's queues), and the reason a dead holder
//! never deadlocks anyone.
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

use super::deferred;
use super::futex::{MAX_SLEEP, spin_with_backoff, to_timespec};
use super::tid::caller_tid;

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

/// The flavour of a [`RobustMutex`], chosen at [`init`](RobustMutex::init).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexKind {
    /// Error-checking: a relock by the holder reports `WouldDeadlock` instead of hanging.
    Plain,
    /// Re-entrant by the holding thread, which must unlock it as often as it locked it.
    Recursive,
}

/// What a lock attempt came to.
#[must_use = "the caller may hold the mutex now"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// The caller holds the mutex and its state is consistent.
    Acquired,
    /// The caller holds the mutex, but a holder died since the state was last marked
    /// consistent (now or earlier: the mark stays until [`RobustMutex::mark_consistent`]).
    OwnerDied,
    /// The mutex was busy until the deadline (or at once, for a try-lock).
    TimedOut,
    /// A [`MutexKind::Plain`] mutex is already held by the calling thread.
    WouldDeadlock,
}

/// The calling thread does not hold the mutex it tried to unlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the calling thread does not hold the mutex")]
pub struct NotOwner;

/// A robust, process-shared pthread mutex plus an owner-died mark, to be placed inside any
/// [`SharedHeader`](super::SharedHeader) (the raw lock under [`Lock`](crate::Lock) and
/// [`RLock`](crate::RLock), lock_api style: no guard, no protected data).
///
/// # Set-up
/// An all-zero `RobustMutex` (as in a fresh [`Segment`](super::Segment)) is not usable yet:
/// call [`init`](Self::init) once, in [`Segment::create`](super::Segment::create)'s `init`
/// closure, before the segment is shared.
///
/// # A dead holder
/// When the holding thread dies (even by `SIGKILL`) the next locker gets
/// [`LockOutcome::OwnerDied`], and so does every later one until a holder calls
/// [`mark_consistent`](Self::mark_consistent) (like a poisoned `std::sync::Mutex`). The
/// pthread state itself is made consistent at once, so it never becomes `ENOTRECOVERABLE`.
///
/// # Waiting
/// A contended lock spins briefly, then sleeps in slices of at most
/// [`MAX_SLEEP`](super::MAX_SLEEP), honouring the caller's deadline: see
/// [`lock_until`](Self::lock_until).
///
/// ```
/// use mp_sync::raw::{LockOutcome, MutexKind, RobustMutex, Segment, SharedHeader};
///
/// #[repr(C)]
/// struct Header { lock: RobustMutex }
/// // SAFETY: repr(C), valid zeroed, no addresses, shared mutation only through the mutex.
/// unsafe impl SharedHeader for Header { const KIND: u32 = 0x1234_5678; }
///
/// // SAFETY: the segment is fresh and nobody else can see it during `init`.
/// let seg = Segment::<Header>::create(0, |h| unsafe { h.lock.init(MutexKind::Plain) })?;
/// let lock = &seg.header().lock;
/// assert_eq!(lock.lock_until(None), LockOutcome::Acquired);
/// assert!(lock.is_held_by_caller());
/// // SAFETY: this thread holds it, and nothing relies on that any more.
/// unsafe { lock.unlock() }.expect("held");
/// assert!(!lock.is_locked());
/// # Ok::<(), std::io::Error>(())
/// ```
#[repr(C)]
pub struct RobustMutex {
    /// The glibc mutex; only ever touched through pthread calls (and one atomic peek).
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    /// 1 once a holder died and no holder has recovered since; read and written only by
    /// the holder of `mutex`, so relaxed accesses suffice.
    owner_died: AtomicU32,
}

// SAFETY: a process-shared pthread mutex is made for concurrent use from any thread (and
// process); `RobustMutex` only hands its address to pthread functions or reads it atomically.
unsafe impl Sync for RobustMutex {}

// A panic while holding the mutex leaves it held by a live thread: the guard's drop releases
// it during unwinding, like `std::sync::Mutex` (which is `RefUnwindSafe` too).
impl std::panic::RefUnwindSafe for RobustMutex {}
impl std::panic::UnwindSafe for RobustMutex {}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

impl RobustMutex {
    /// Initializes the mutex as robust and process-shared, of flavour `kind`.
    ///
    /// # Safety
    /// `self` is zeroed (or was never initialized) memory, and no other thread or process
    /// uses it until this call has returned: call it in the `init` closure of
    /// [`Segment::create`](super::Segment::create), before the segment is shared.
    pub unsafe fn init(&self, kind: MutexKind) -> io::Result<()> {
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        let ty = match kind {
            MutexKind::Plain => libc::PTHREAD_MUTEX_ERRORCHECK,
            MutexKind::Recursive => libc::PTHREAD_MUTEX_RECURSIVE,
        };
        // SAFETY: `attr` is initialized by `pthread_mutexattr_init` before any other use and
        // destroyed once; the caller guarantees nobody else uses `self.mutex` during init.
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

    /// Takes the mutex: waiting until `deadline`, or for as long as it takes with `None`
    /// (a deadline already passed tries once without waiting).
    ///
    /// A relock by the holding thread is [`LockOutcome::WouldDeadlock`] for a
    /// [`MutexKind::Plain`] mutex (at once, whatever the deadline) and one more level for a
    /// [`MutexKind::Recursive`] one.
    #[inline(always)]
    pub fn lock_until(&self, deadline: Option<Deadline>) -> LockOutcome {
        // SAFETY: the mutex was initialized at creation and lives as long as `self`.
        let rc = unsafe { libc::pthread_mutex_trylock(self.mutex.get()) };
        if rc == 0 && self.owner_died.load(Ordering::Relaxed) == 0 {
            return LockOutcome::Acquired;
        }
        self.lock_slow(rc, deadline)
    }

    /// Takes the mutex if that needs no waiting: [`LockOutcome::TimedOut`] when it is busy.
    #[inline]
    pub fn try_lock(&self) -> LockOutcome {
        self.lock_until(Some(Deadline::now()))
    }

    /// Everything but the uncontended, consistent case.
    #[cold]
    #[inline(never)]
    fn lock_slow(&self, rc: libc::c_int, deadline: Option<Deadline>) -> LockOutcome {
        if rc == libc::EBUSY && deadline.is_none_or(|d| !d.has_passed()) {
            return self.lock_contended(deadline);
        }
        self.outcome(rc)
    }

    /// The slow path: spin a little while the word shows a holder, then sleep in glibc, in
    /// slices of at most [`MAX_SLEEP`].
    ///
    /// Never one unbounded sleep: glibc re-arms the word's `FUTEX_WAITERS` bit only in a
    /// waiter that has itself slept, so a waiter killed between being chosen by an unlock's
    /// wake-up and re-arming the bit leaves the others asleep on a lock that may be free (the
    /// kernel skips the dead waiter's exit-time wake when the word shows a new owner, and that
    /// owner's unlock, seeing no waiters bit, wakes nobody). Each new slice re-reads the word
    /// and re-arms the bit, so such a lost wake-up costs one slice, not forever.
    #[cold]
    fn lock_contended(&self, deadline: Option<Deadline>) -> LockOutcome {
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
        loop {
            let ts = to_timespec(Deadline::slice(deadline, MAX_SLEEP));
            // SAFETY: as in `lock`; `ts` outlives the call.
            let rc =
                unsafe { pthread_mutex_clocklock(self.mutex.get(), libc::CLOCK_MONOTONIC, &ts) };
            // A slice that ended before the caller's deadline: look again.
            if rc == libc::ETIMEDOUT && deadline.is_none_or(|d| !d.has_passed()) {
                continue;
            }
            return self.outcome(rc);
        }
    }

    /// Turns a pthread return code into a [`LockOutcome`], making the state consistent at once
    /// after `EOWNERDEAD` and remembering the death in `owner_died` instead.
    #[inline]
    fn outcome(&self, rc: libc::c_int) -> LockOutcome {
        match rc {
            0 if self.owner_died.load(Ordering::Relaxed) == 0 => LockOutcome::Acquired,
            0 => LockOutcome::OwnerDied,
            libc::EOWNERDEAD => {
                self.owner_died.store(1, Ordering::Relaxed);
                // SAFETY: we hold the mutex (EOWNERDEAD means it was handed to us).
                let rc = unsafe { libc::pthread_mutex_consistent(self.mutex.get()) };
                debug_assert_eq!(rc, 0);
                LockOutcome::OwnerDied
            }
            libc::EBUSY | libc::ETIMEDOUT => LockOutcome::TimedOut,
            libc::EDEADLK => LockOutcome::WouldDeadlock,
            // EAGAIN (recursion count overflow), EINVAL (corrupted memory), ENOTRECOVERABLE
            // (impossible: we never unlock an inconsistent mutex) are bugs, not conditions.
            rc => panic!(
                "pthread mutex lock failed: {}",
                io::Error::from_raw_os_error(rc)
            ),
        }
    }

    /// Releases the mutex once (one level of a recursive one), then makes the wake-ups this
    /// thread deferred to it ([`defer_until_unlock`](Self::defer_until_unlock)).
    ///
    /// Fails with [`NotOwner`], changing nothing, when the calling thread does not hold it
    /// (glibc checks the owner of a robust mutex).
    ///
    /// # Safety
    /// The caller acquired the mutex on this thread and nothing relies any more on its being
    /// held: whatever it protects may be used by another holder as soon as this returns.
    #[inline(always)]
    pub unsafe fn unlock(&self) -> Result<(), NotOwner> {
        // SAFETY: the mutex is initialized; robust mutexes check the owner (EPERM otherwise).
        match unsafe { libc::pthread_mutex_unlock(self.mutex.get()) } {
            0 => {
                deferred::run_owed(self.address());
                Ok(())
            }
            _ => Err(NotOwner),
        }
    }

    /// The safe face of [`unlock`](Self::unlock) for mp-sync's own guards (a guard's drop, a
    /// `release` after a forgotten guard, the barrier's internal locks): releases the mutex
    /// if the calling thread holds it, and is [`NotOwner`] changing nothing otherwise.
    ///
    /// Sound without a contract because of what the crate's mutexes guard: ownership is
    /// checked, not assumed (glibc's robust mutex refuses an unlock by a thread that is not
    /// its owner with `EPERM`), and the only memory mp-sync keeps under these mutexes is
    /// atomics (every field of every state in `state.rs`), so an unlock at the wrong moment
    /// can break a protocol's logic but never make a data race.
    #[inline(always)]
    pub(crate) fn unlock_owned(&self) -> Result<(), NotOwner> {
        // SAFETY: see above: the owner is checked by glibc, and what the mutex guards inside
        // this crate is atomics only, so nothing relies on it being held for memory safety.
        unsafe { self.unlock() }
    }

    /// Has `wake` run right after the calling thread's next successful
    /// [`unlock`](Self::unlock) of this mutex (the calling thread should hold it): how a
    /// condition variable's notify, made under the lock, wakes its waiters only once the
    /// lock they will want is free. The owed wake-ups are per thread; an unlock by another
    /// thread (or a stale guard's failed one) runs none of them.
    pub fn defer_until_unlock(&self, wake: impl FnOnce() + 'static) {
        deferred::owe(self.address(), Box::new(wake));
    }

    /// Forgets that a holder died: later lockers get [`LockOutcome::Acquired`] again. Only
    /// meaningful while the caller holds the mutex, after repairing what it protects.
    pub fn mark_consistent(&self) {
        self.owner_died.store(0, Ordering::Relaxed);
    }

    /// Whether the calling thread holds the mutex.
    pub fn is_held_by_caller(&self) -> bool {
        self.word() & TID_MASK == caller_tid()
    }

    /// This mutex's address, which keys the wake-ups owed to its unlock.
    fn address(&self) -> usize {
        self.mutex.get() as usize
    }

    /// Whether a live thread holds the mutex right now (a snapshot).
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.word() & TID_MASK != 0
    }

    /// How many levels the calling thread holds: glibc's recursion count of a recursive
    /// mutex (1 for a plain one), 0 when the caller does not hold it. What a condition over
    /// an `RLock` releases before it sleeps and takes again after.
    pub(crate) fn levels_held_by_caller(&self) -> u32 {
        if !self.is_held_by_caller() {
            return 0;
        }
        // glibc's `struct __pthread_mutex_s` has `unsigned int __count` right after `__lock`
        // (every architecture's layout): the recursion depth, written only by the holder
        // (this thread, checked above), so the read races with nothing.
        // SAFETY: the pointer is valid and aligned for a u32 one i32 into the mutex.
        let count = unsafe { &*self.mutex.get().cast::<AtomicU32>().add(1) };
        count.load(Ordering::Relaxed).max(1)
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
