//! The low-level layer under the primitives, public for crates that build their own
//! process-shared structures on shared memory (mp-ipc's rings and queues do):
//!
//! * the typed shared [`Segment`] (a memfd that travels inside ipc-channel messages) and its
//!   [`SharedHeader`];
//! * what can live inside any header: [`RobustMutex`] (the lock under `Lock` and `RLock`, with
//!   [`LockOutcome`]), [`WakeWord`] (a sequence word sleepers wait on and every change bumps)
//!   and [`Condvar`] (a condition variable over a `RobustMutex`);
//! * futex wait, wake and waitv on words in `MAP_SHARED` mappings, every sleep at most
//!   [`MAX_SLEEP`] long, so that a wake-up lost with a dead process costs one slice;
//! * the `CLOCK_MONOTONIC` clock, an absolute [`Deadline`], the spin policy, and
//!   [`poll_readable`] for descriptors;
//! * [`QuietThread`], which a thread parked on nothing but its own wake-up holds, and the
//!   [`ForkGate`] a fork path holds while it counts threads less the quiet ones (mp-process's
//!   fork start method);
//! * [`FnRef`], a plain function that travels to processes running the same executable image
//!   (process targets, barrier actions and pool tasks are all sent this way).
//!
//! The futex calls never use `FUTEX_PRIVATE_FLAG`: a word in a shared mapping sits at different
//! addresses in different processes, and only the shared flavour keys the wait queue on the page.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use mp_sync::raw::{Deadline, futex_wait, futex_wake};
//!
//! let word = AtomicU32::new(0);
//! // Nobody changes the word: the wait ends at its deadline, and says so.
//! assert!(!futex_wait(&word, 0, Some(Deadline::after(Duration::from_millis(5)))));
//! // A word that no longer holds the expected value returns at once.
//! word.store(1, Ordering::Release);
//! assert!(futex_wait(&word, 0, None));
//! assert_eq!(futex_wake(&word, 1), 0, "nobody was waiting");
//! ```

pub use crate::deadline::Deadline;
pub use crate::quiet::{ForkGate, QuietThread};
pub use crate::sys::{Condvar, LockOutcome, MutexKind, NotOwner, RobustMutex, WakeWord};
pub use crate::sys::{FnPointer, FnRef, ForeignFunction, Segment, SharedHeader};
pub use crate::sys::{
    MAX_SLEEP, MAX_WAITV, futex_wait, futex_waitv, futex_wake, may_spin, monotonic_now,
    poll_readable, spin_until,
};
