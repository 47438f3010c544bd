//! Process-shared synchronization primitives: Python's `multiprocessing` `Lock`, `RLock`,
//! `Semaphore`, `BoundedSemaphore`, `Event`, `Condition` and `Barrier`, for Linux.
//!
//! Every primitive lives in its own anonymous shared-memory segment (a memfd mapped
//! `MAP_SHARED`, never a name in `/dev/shm` that could leak) and works between any processes
//! that map it. The crate depends on no other `mp` crate: use it with processes created any
//! way you like.
//!
//! # A first example
//!
//! Two processes increment a counter, each under the lock:
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use mp_sync::Lock;
//!
//! let lock = Lock::new()?;
//! // Shared memory for the counter; here from an anonymous shared mapping via `libc`.
//! let counter = unsafe {
//!     let p = libc::mmap(std::ptr::null_mut(), 8, libc::PROT_READ | libc::PROT_WRITE,
//!                        libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0);
//!     assert_ne!(p, libc::MAP_FAILED);
//!     &*(p as *const AtomicU64)
//! };
//! let work = || for _ in 0..1000 {
//!     let _guard = lock.acquire().expect("no holder died");
//!     // Not atomic as a whole: the lock makes the read-modify-write exclusive.
//!     counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
//! };
//! match unsafe { libc::fork() } {
//!     0 => { work(); unsafe { libc::_exit(0) } }
//!     child => {
//!         work();
//!         unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
//!     }
//! }
//! assert_eq!(counter.load(Ordering::Relaxed), 2000);
//! # Ok::<(), mp_sync::Error>(())
//! ```
//!
//! # Python names
//!
//! | Python (`multiprocessing`) | here |
//! |---|---|
//! | `Lock()`, `acquire()`, `acquire(False)`, `acquire(timeout=t)` | [`Lock::new`], [`Lock::acquire`], [`Lock::try_acquire`], [`Lock::acquire_timeout`] |
//! | `release()`, `with lock:` | drop the [`LockGuard`] (or [`LockGuard::leak`], then [`Lock::release`]) |
//! | `RLock()` | [`RLock`], [`RLockGuard`] |
//! | `lock.locked()`, `rlock.locked()` (3.14) | [`Lock::locked`], [`RLock::locked`] |
//! | `Semaphore(n)`, `BoundedSemaphore(n)` | [`Semaphore::new`], [`BoundedSemaphore::new`] |
//! | `sem.acquire(timeout=t)`, `sem.release()`, `sem.get_value()` | [`Semaphore::acquire_timeout`], [`Semaphore::release`], [`Semaphore::value`] |
//! | `Event()`, `set`, `clear`, `is_set`, `wait()`, `wait(t)` | [`Event`], [`Event::set`], [`Event::clear`], [`Event::is_set`], [`Event::wait`], [`Event::wait_timeout`] |
//! | `Condition(lock)`, `wait(t)`, `wait_for(p, t)`, `notify(n)`, `notify_all()` | [`Condition::with_lock`], [`Condition::wait_timeout`], [`Condition::wait_for_timeout`], [`Condition::notify`], [`Condition::notify_all`] |
//! | `Condition()` (over an `RLock`), `Condition(rlock)` | [`Condition::recursive`], [`Condition::with_rlock`] (a `Condition<RLock>`; see [`ConditionLock`]) |
//! | `Barrier(n, action)`, `wait(t)`, `abort`, `reset`, `n_waiting`, `broken`, `parties` | [`Barrier::with_action`], [`Barrier::wait_timeout`], [`Barrier::abort`], [`Barrier::reset`], [`Barrier::n_waiting`], [`Barrier::broken`], [`Barrier::parties`] |
//! | `Barrier(n, action, timeout)` (a `wait()` bounded by default) | [`Barrier::with_timeout`], [`Barrier::builder`] ([`BarrierBuilder`]), [`Barrier::timeout`] |
//! | `BrokenBarrierError` | [`BrokenBarrier`] |
//! | `ValueError` (bounded release, bad values) | [`Error`] |
//!
//! # A holder that dies
//!
//! In Python a lock whose holder is killed stays locked forever. Here `Lock`, `RLock`, the
//! lock under a `Condition` and the internal lock of a `Barrier` are glibc **robust**,
//! process-shared pthread mutexes. The kernel keeps a list of the robust mutexes each thread
//! holds; when the thread or its process dies (even by `SIGKILL`, even while it is an
//! unreaped zombie) the kernel marks them owner-died and wakes a waiter. The next acquirer then
//! gets [`OwnerDied`] carrying its guard: it holds the lock, repairs what the dead holder may
//! have left half-done, and calls [`OwnerDied::into_inner`] to mark the lock consistent. Until
//! someone does, every acquirer hears of the death (like a poisoned `std::sync::Mutex`).
//!
//! Why this and not an own futex word holding the owner's pid: the robust mutex learns of a
//! death at once, without polling, pidfds, or a pid-reuse race, and costs ~18.5 ns per
//! uncontended pair against ~12.9 ns, within the 20 ns budget. Its one constraint is that
//! only the holding thread may unlock, so **a `Lock` is owned by the thread that acquired
//! it** (Python lets any process release a `Lock`): guards are `!Send`, and
//! [`Lock::release`] from another thread or process is [`Error::NotOwner`], never undefined
//! behaviour. Use a [`Semaphore`] (`Semaphore::new(1)`) for a lock released elsewhere.
//!
//! The robust list is per thread and set up by glibc; processes must therefore be created by
//! glibc's `fork` or by exec (as every start method of `mp-process` does), not by a raw
//! `clone` syscall.
//!
//! # Reaching other processes
//!
//! * **fork**: a child inherits the mapping at the same address; use the primitive created
//!   before the fork directly (capture it in the child's closure).
//! * **spawn and forkserver children, or any process reached by an ipc-channel message**:
//!   every primitive implements `Serialize`/`Deserialize` by sending its memfd, which
//!   ipc-channel carries inside any message (`IpcSender<Lock>`, a struct with a `Lock` field,
//!   or the arguments `mp-process` sends to a child). The receiver maps the same memory.
//!   A primitive can be created before or after the children exist.
//! * The serde implementation **only works inside an ipc-channel send/recv** (it hands the fd
//!   to ipc-channel's side table); serializing with another format (JSON, bincode, ...) does
//!   not carry the memory, and a received segment that is not the primitive expected fails
//!   to deserialize (the receive returns an error).
//! * A [`Barrier`]'s action is a plain `fn()`; it crosses into processes that run the same
//!   executable file (spawn and forkserver children do), and deserializing it elsewhere fails
//!   with [`raw::ForeignFunction`]. The function must live in the same loaded object as this
//!   crate (true of every function of a statically linked Rust program).
//!
//! Clones of a primitive in one process share one mapping; each primitive costs one fd and
//! one mapping per process that holds it, both released when its last clone is dropped.
//!
//! # Waiting
//!
//! Every blocking call comes in the same shapes (crossbeam's): `x()` blocks,
//! `x_timeout(Duration)` and `x_deadline(`[`Deadline`]`)` bound it, `try_x()` (where it makes
//! sense) does not wait. Deadlines are absolute on `CLOCK_MONOTONIC`, so a signal or a retry
//! never stretches a wait.
//!
//! Uncontended operations make no system call: an atomic instruction for `Semaphore`,
//! `Event` and `Condition`, glibc's user-space fast path for the robust mutex. Contended
//! waits spin briefly (only when the process may run on more than one CPU; on one CPU the
//! process waited for cannot run meanwhile), a lock with exponential back-off, and then sleep
//! in the kernel on a shared futex. **No sleep lasts longer than [`raw::MAX_SLEEP`]** (50 ms):
//! a longer wait is made of slices that look again, so a wake-up that a killed process was
//! about to make (or, for the robust mutex, one that glibc lost when a chosen waiter was
//! killed) costs at most one slice, never a hang. A [`Condition::notify`] made while holding
//! the lock wakes the waiters when the lock is released, so that they do not wake only to
//! block on the lock again.
//!
//! # A process that dies elsewhere
//!
//! * A [`Barrier`] party killed inside `wait` breaks the barrier for the others
//!   ([`BrokenBarrier`], within a slice), as a timeout does.
//! * A [`Semaphore`] permit held by a process that dies is **lost**, as in Python: a
//!   semaphore does not know who holds its permits. Where a holder may die, use a [`Lock`]
//!   (its death is reported to the next acquirer), or a [`BoundedSemaphore`] with a supervisor
//!   that releases the permits of the workers it sees die (their sentinels).
//!
//! # Building your own
//!
//! The layer under the primitives is public as [`raw`]: the typed shared [`raw::Segment`]
//! (what every primitive lives in, and what travels inside ipc-channel messages), the
//! [`raw::RobustMutex`] under `Lock` and `RLock`, the [`raw::WakeWord`] and [`raw::Condvar`]
//! that can live in any shared header, futex wait, wake and waitv on shared words, and an
//! absolute [`Deadline`]. mp-ipc's rings and queues are built on it.
//!
//! # Differences from Python
//!
//! * A `Lock` (and an `RLock`) belongs to the thread that acquired it (see above): Python
//!   lets any thread or process release a `Lock`; here that is [`Error::NotOwner`]. This stays
//!   a difference: the robust mutex that tells the next owner of a dead holder is owned by a
//!   thread (the kernel's robust list is per thread), and no design found gives both
//!   owner-death detection and release by anyone. A [`Semaphore`] of 1 is the lock to release
//!   elsewhere (a dead holder's permit is then lost, as in Python).
//! * [`Condition::new`] is built over a [`Lock`]; Python's default `Condition()` lock, an
//!   `RLock`, is [`Condition::recursive`] (waiting releases and restores every level, as in
//!   Python).
//! * Timeouts are separate methods (`wait_timeout`, `acquire_timeout`, ...), not an optional
//!   argument.
//! * A `Barrier` takes at most [`MAX_PARTIES`] parties.
//! * Values are `u32`: a negative semaphore value does not compile rather than raising.
//!
//! # Examples that use it
//!
//! The programs of the Python `multiprocessing` article, in `mp-examples/examples/`
//! (`cargo run -p mp-examples --example NAME`, each with the article's Python beside it):
//! `semaphore_admits_two`, `event_releases_workers`, `condition_producer_consumer`,
//! `lock_guards_resource`, `semaphore_guards_resource`, `event_triggers_workers`,
//! `condition_notify_all`.

#![deny(unsafe_code)]

mod barrier;
mod condition;
mod condition_lock;
mod deadline;
mod error;
mod event;
mod lock;
mod quiet;
pub mod raw;
mod raw_lock;
mod rlock;
mod semaphore;
// The one place of the crate where `unsafe` code and OS calls are allowed.
#[allow(unsafe_code)]
mod sys;

pub use barrier::{Barrier, BarrierBuilder, MAX_PARTIES};
pub use condition::Condition;
pub use condition_lock::ConditionLock;
pub use deadline::Deadline;
pub use error::{BrokenBarrier, Error, LockResult, OwnerDied, TryLockResult};
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, MAX_SEMAPHORE_VALUE, Semaphore};
