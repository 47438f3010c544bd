//! Quiet threads (for mp-process's fork start method): threads of this process parked on nothing but their own wake-up, holding no
//! lock a fork child could need, which the fork start method does not count against a fork.
//!
//! A fork-method start is refused while the caller has other threads, and a fork child of a
//! process with other threads leaves without its at-exit handlers: their locks are copied in
//! whatever state they are. A thread that only waits to be woken (mp-pool's watcher threads,
//! kept parked between pools) holds none, so it says so with a [`QuietThread`] while it waits.
//!
//! Exact, not a guess: the fork path closes a gate ([`ForkGate`]) before it counts, and holds
//! it until the fork returned in the parent; a quiet thread that wakes passes through the gate
//! before it runs anything else, so no thread counted as quiet runs while the fork is under
//! way. The state word holds the id of the process it counts for: a fork child (whose copy
//! may say a fork is under way, with the parent's quiet threads, none of which it has) reads
//! another process's word as no quiet thread and an open gate; our own fork path clears it in
//! the child too.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::sys::{futex_wait, futex_wake};

/// The state: this process's id (high 32 bits), a fork under way ([`FORKING`]), and how many
/// threads are quiet (the low 31 bits).
static STATE: AtomicU64 = AtomicU64::new(0);

/// Bumped each time a fork opens the gate: threads waiting to pass sleep on it.
static OPENED: AtomicU32 = AtomicU32::new(0);

/// The state's bit for a fork under way.
const FORKING: u64 = 1 << 31;

/// The state's bits for the count of quiet threads.
const COUNT: u64 = FORKING - 1;

/// The state's process id.
fn owner(state: u64) -> u32 {
    (state >> 32) as u32
}

/// The state as this process (`here`) sees it: another process's word counts nothing.
fn own(state: u64, here: u32) -> u64 {
    if owner(state) == here {
        state
    } else {
        u64::from(here) << 32
    }
}

/// Changes the state with `change` (given it as this process sees it), waiting first while a
/// fork is under way if `wait_for_fork`. Returns the state as it was.
fn update(wait_for_fork: bool, change: impl Fn(u64) -> u64) -> u64 {
    let here = std::process::id();
    loop {
        let opened = OPENED.load(Ordering::Acquire);
        let seen = STATE.load(Ordering::Acquire);
        let state = own(seen, here);
        if wait_for_fork && state & FORKING != 0 {
            // The forking thread bumps `opened` after it opens the gate.
            futex_wait(&OPENED, opened, None);
            continue;
        }
        if STATE
            .compare_exchange_weak(seen, change(state), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return state;
        }
    }
}

/// Held by a thread while it is quiet: parked on nothing but its own wake-up (a futex or
/// condition variable of its own), holding no lock a fork child of this process could need,
/// and running nothing. While it is held, a fork-method start (mp-process's `Process::start`) does
/// not count the thread: a fork is not refused for it, and the child still counts as a
/// fork of a single-threaded process.
///
/// Take it just before the wait and drop it as soon as the wait returns: dropping it waits
/// while a fork that counted the thread as quiet is under way (in the parent, until the fork
/// returned), so the thread runs nothing that fork could catch half-done. The thread may
/// hold, at most, locks that no fork child ever takes (mp-pool's set of parked threads,
/// which a fork child never uses), since the wait may return with one taken before the
/// guard is dropped.
///
/// ```
/// use std::sync::{Condvar, Mutex};
///
/// let woken = Mutex::new(true);
/// let wake = Condvar::new();
/// let mut guard = woken.lock().unwrap();
/// while !*guard {
///     let quiet = mp_sync::raw::QuietThread::enter();
///     guard = wake.wait(guard).unwrap();
///     drop(quiet);
/// }
/// ```
#[must_use = "the thread is quiet only while the guard is held"]
pub struct QuietThread {
    /// Not `Send`: the thread that took it is the quiet one.
    _here: std::marker::PhantomData<*const ()>,
}

impl QuietThread {
    /// Marks this thread quiet until the guard is dropped (see [`QuietThread`]).
    pub fn enter() -> QuietThread {
        // A fork under way counted without this thread: one more quiet thread only makes it
        // more careful than it had to be.
        update(false, |state| {
            if state & COUNT == COUNT {
                state
            } else {
                state + 1
            }
        });
        QuietThread {
            _here: std::marker::PhantomData,
        }
    }
}

impl Drop for QuietThread {
    /// Passes through the fork gate: waits while a fork is under way, then is no longer
    /// quiet.
    fn drop(&mut self) {
        update(true, |state| state - u64::from(state & COUNT != 0));
    }
}

impl std::fmt::Debug for QuietThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuietThread")
    }
}

/// Held by a fork path (mp-process's fork start method) from its count of threads to the fork's return in the parent: no
/// quiet thread counted stops being quiet meanwhile. Dropping it opens the gate.
pub struct ForkGate {
    /// How many threads were quiet when it closed (they stay quiet while it is held).
    quiet: usize,
}

impl ForkGate {
    /// Closes the gate (after a fork under way by another thread of this process opened it).
    pub fn close() -> ForkGate {
        let state = update(true, |state| state | FORKING);
        ForkGate {
            quiet: (state & COUNT) as usize,
        }
    }

    /// How many threads were quiet when the gate closed.
    pub fn quiet(&self) -> usize {
        self.quiet
    }
}

impl Drop for ForkGate {
    fn drop(&mut self) {
        update(false, |state| state & !FORKING);
        OPENED.fetch_add(1, Ordering::Release);
        futex_wake(&OPENED, u32::MAX);
    }
}

impl ForkGate {
    /// In a fork child, first: none of the parent's quiet threads is here, and no fork is
    /// under way in this process (the state's process id already says so; this also covers a
    /// child whose id is one an ancestor had).
    pub fn forget_in_child() {
        STATE.store(u64::from(std::process::id()) << 32, Ordering::Release);
    }
}

impl std::fmt::Debug for ForkGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForkGate")
            .field("quiet", &self.quiet)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, mpsc};
    use std::time::Duration;

    /// One test for the gate's steps (the state is process-wide: tests in parallel would see
    /// each other's quiet threads).
    #[test]
    fn a_quiet_thread_is_counted_and_waits_at_a_closed_gate() {
        let before = ForkGate::close().quiet();
        let (entered, is_quiet) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let left = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let left = Arc::clone(&left);
            move || {
                let quiet = QuietThread::enter();
                entered.send(()).unwrap();
                let _ = released.recv();
                drop(quiet);
                left.store(true, Ordering::Release);
            }
        });
        is_quiet.recv_timeout(Duration::from_secs(20)).unwrap();
        let gate = ForkGate::close();
        assert_eq!(gate.quiet(), before + 1);
        release.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !left.load(Ordering::Acquire),
            "a quiet thread left a closed gate"
        );
        drop(gate);
        thread.join().unwrap();
        assert!(left.load(Ordering::Acquire));
        assert_eq!(ForkGate::close().quiet(), before);
    }

    #[test]
    fn another_process_word_counts_nothing() {
        let other = (u64::from(std::process::id().wrapping_add(1)) << 32) | FORKING | 3;
        let here = std::process::id();
        assert_eq!(own(other, here), u64::from(here) << 32);
    }
}
