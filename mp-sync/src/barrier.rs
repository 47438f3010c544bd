//! `Barrier`: Python's `multiprocessing.Barrier` (the `threading.Barrier` algorithm, with
//! its filling / draining / resetting / broken states) over a robust mutex and a futex.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::error::{BrokenBarrier, Error};
use crate::sys::{BarrierState, FnRef, LockOutcome, MAX_SLEEP, MutexKind, RobustMutex, Shared};

/// The most parties a barrier takes (each has a presence mutex in the segment, 48 bytes).
pub const MAX_PARTIES: u32 = 1 << 16;

/// Parties arrive; the round is not complete yet.
const FILLING: i32 = 0;
/// The round completed; its parties are leaving, new arrivals wait until they all left.
const DRAINING: i32 = 1;
/// `reset` was called with parties inside; they leave with `BrokenBarrier`.
const RESETTING: i32 = -1;
/// Broken (timeout, abort, panicking action, a party that died inside `wait`).
const BROKEN: i32 = -2;

/// The barrier's internal lock, held; released on drop. Carries the parties' presence
/// mutexes (the segment's data area): a party holds one while it is inside `wait`, so a
/// party that dies there leaves its mutex owner-died for the others to find.
struct Held<'a>(&'a BarrierState, &'a [RobustMutex]);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // A `Held` is made only by `lock`, on this thread.
        let _ = self.0.raw.unlock_owned();
    }
}

impl BarrierState {
    fn lock<'a>(&'a self, presence: &'a [RobustMutex]) -> Held<'a> {
        let outcome = self.raw.lock_until(None);
        self.after_lock(outcome);
        Held(self, presence)
    }

    /// A process died holding the barrier's lock: the round it was in cannot be trusted.
    fn after_lock(&self, outcome: LockOutcome) {
        if outcome == LockOutcome::OwnerDied {
            self.raw.mark_consistent();
            self.break_barrier();
        }
    }

    /// Waits on the condition (lock held) for one slice at most; `false` if `deadline`
    /// passed. After a slice without news, looks for parties that died inside `wait`.
    fn wait(&self, held: &Held<'_>, deadline: Option<Deadline>) -> bool {
        let slice = Deadline::slice(deadline, MAX_SLEEP);
        // `held` proves this thread holds `raw`, the mutex of `cv`; the fields are read
        // afresh after the wait.
        let (outcome, notified) = self.cv.wait_owned(&self.raw, Some(slice));
        self.after_lock(outcome);
        if !notified {
            self.bury_dead_parties(held);
        }
        notified || deadline.is_none_or(|d| !d.has_passed())
    }

    /// Breaks the barrier for every party found dead inside `wait` (lock held): its presence
    /// mutex is owner-died. Each is counted out of the round and its mutex freed.
    fn bury_dead_parties(&self, held: &Held<'_>) {
        for presence in held.1 {
            match presence.try_lock() {
                LockOutcome::OwnerDied => {
                    presence.mark_consistent();
                    // Just locked by this thread; it guards nothing.
                    let _ = presence.unlock_owned();
                    let count = self.count.load(Ordering::Relaxed);
                    self.count.store(count.saturating_sub(1), Ordering::Relaxed);
                    self.break_barrier();
                }
                // A free presence mutex, taken only to look.
                LockOutcome::Acquired => drop(presence.unlock_owned()),
                LockOutcome::TimedOut | LockOutcome::WouldDeadlock => {}
            }
        }
    }

    /// Takes a free presence mutex for the calling party (lock held, dead ones buried).
    fn enter<'a>(&self, held: &Held<'a>) -> Option<&'a RobustMutex> {
        held.1
            .iter()
            .find(|presence| presence.try_lock() == LockOutcome::Acquired)
    }

    fn state(&self) -> i32 {
        self.state.load(Ordering::Relaxed)
    }

    fn set_state(&self, state: i32) {
        self.state.store(state, Ordering::Relaxed);
        self.cv.notify(u32::MAX);
    }

    fn break_barrier(&self) {
        self.set_state(BROKEN);
    }
}

/// A process- and thread-safe barrier for a fixed number of parties (Python's
/// `multiprocessing.Barrier`).
///
/// Each round, [`wait`](Barrier::wait) returns a distinct index in `0..parties` to each party
/// (exactly one gets 0) once all have arrived; the optional action runs once per round, in the
/// last party to arrive, before anyone leaves. A timeout in one party, [`abort`](Barrier::abort)
/// or a panicking action breaks the barrier for everyone ([`BrokenBarrier`]) until
/// [`reset`](Barrier::reset).
///
/// The action is a plain `fn()` so that it can cross processes: inherited through fork, and
/// carried in a message as its offset inside the executable, which only a process running the
/// same executable (a spawn or forkserver child) accepts (receiving it elsewhere fails: see
/// [`raw::FnRef`](crate::raw::FnRef)).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Barrier {
    /// The segment holding the barrier's state.
    shared: Shared<BarrierState>,
    /// Run by the last party of each round.
    action: Option<FnRef<fn()>>,
    /// The bound of a [`wait`](Barrier::wait) (Python's `Barrier(timeout=...)`); it travels
    /// with the handle, as Python's attribute is pickled with the barrier.
    timeout: Option<Duration>,
}

/// Options of a [`Barrier`] beyond its parties (Python's `Barrier(parties, action, timeout)`);
/// from [`Barrier::builder`].
#[derive(Clone, Copy, Debug)]
#[must_use = "a builder does nothing until build()"]
pub struct BarrierBuilder {
    /// Parties per round.
    parties: u32,
    /// Run by the last party of each round.
    action: Option<fn()>,
    /// The bound of a `wait` without one of its own.
    timeout: Option<Duration>,
}

impl BarrierBuilder {
    /// The last party of each round runs `action` before the round ends.
    pub fn action(self, action: fn()) -> Self {
        BarrierBuilder {
            action: Some(action),
            ..self
        }
    }

    /// A [`wait`](Barrier::wait) (the one without a timeout of its own) gives up after
    /// `timeout`, breaking the barrier, as [`wait_timeout`](Barrier::wait_timeout) does.
    pub fn timeout(self, timeout: Duration) -> Self {
        BarrierBuilder {
            timeout: Some(timeout),
            ..self
        }
    }

    /// Creates the barrier.
    pub fn build(self) -> Result<Barrier, Error> {
        Barrier::create(self.parties, self.action.map(FnRef::new), self.timeout)
    }
}

impl Barrier {
    /// Creates a barrier for `parties` parties (at least one) without an action.
    pub fn new(parties: u32) -> Result<Self, Error> {
        Self::create(parties, None, None)
    }

    /// Creates a barrier whose last party of each round runs `action` before the round ends.
    pub fn with_action(parties: u32, action: fn()) -> Result<Self, Error> {
        Self::create(parties, Some(FnRef::new(action)), None)
    }

    /// Python's `Barrier(parties, action, timeout)`: `action` (if any) as in
    /// [`with_action`](Self::with_action), and `timeout` the bound of every
    /// [`wait`](Self::wait) that has none of its own.
    pub fn with_timeout(
        parties: u32,
        action: Option<fn()>,
        timeout: Duration,
    ) -> Result<Self, Error> {
        Self::create(parties, action.map(FnRef::new), Some(timeout))
    }

    /// A barrier for `parties` parties with the options set on the builder.
    pub fn builder(parties: u32) -> BarrierBuilder {
        BarrierBuilder {
            parties,
            action: None,
            timeout: None,
        }
    }

    fn create(
        parties: u32,
        action: Option<FnRef<fn()>>,
        timeout: Option<Duration>,
    ) -> Result<Self, Error> {
        if parties == 0 {
            return Err(Error::NoParties);
        }
        if parties > MAX_PARTIES {
            return Err(Error::TooManyParties(parties));
        }
        let shared = Shared::<BarrierState>::with_mutexes(parties as usize, MutexKind::Plain)?;
        shared.parties.store(parties, Ordering::Relaxed);
        Ok(Barrier {
            shared,
            action,
            timeout,
        })
    }

    /// Waits until all parties have called `wait` in this round. Returns this party's index
    /// in the round. With a default timeout ([`with_timeout`](Self::with_timeout),
    /// [`BarrierBuilder::timeout`]) this is [`wait_timeout`](Self::wait_timeout) with it.
    ///
    /// # Panics
    /// Re-raises a panic of the action (in the party that ran it), after breaking the barrier.
    pub fn wait(&self) -> Result<usize, BrokenBarrier> {
        self.wait_until(self.timeout.map(Deadline::after))
    }

    /// The bound of a [`wait`](Self::wait) without one of its own, if the barrier has one.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Like [`wait`](Self::wait), but a party still waiting after `timeout` breaks the
    /// barrier (and gets [`BrokenBarrier`], as everyone else then does).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, BrokenBarrier> {
        self.wait_until(Some(Deadline::after(timeout)))
    }

    /// Like [`wait`](Self::wait), but a party still waiting at `deadline` breaks the barrier.
    pub fn wait_deadline(&self, deadline: Deadline) -> Result<usize, BrokenBarrier> {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&self, deadline: Option<Deadline>) -> Result<usize, BrokenBarrier> {
        let st = &*self.shared;
        let held = st.lock(self.shared.mutexes());
        // Block while the previous round drains or a reset completes; timing out there
        // breaks the barrier like a timeout inside the round.
        while matches!(st.state(), DRAINING | RESETTING) {
            if !st.wait(&held, deadline) && matches!(st.state(), DRAINING | RESETTING) {
                st.break_barrier();
            }
        }
        st.bury_dead_parties(&held);
        if st.state() == BROKEN {
            return Err(BrokenBarrier);
        }
        let parties = st.parties.load(Ordering::Relaxed);
        let Some(presence) = st.enter(&held) else {
            // More callers than parties inside at once (or a foreign segment): no round.
            st.break_barrier();
            return Err(BrokenBarrier);
        };
        let index = st.count.fetch_add(1, Ordering::Relaxed);
        let result = if index.checked_add(1) == Some(parties) {
            self.release_round()
        } else {
            Self::await_round(st, &held, deadline).map_err(Ok)
        };
        // Leave; the last one out of a drain or reset reopens the barrier.
        if st.count.fetch_sub(1, Ordering::Relaxed) == 1
            && matches!(st.state(), DRAINING | RESETTING)
        {
            st.set_state(FILLING);
        }
        // Taken by this thread in `enter`; it guards nothing.
        let _ = presence.unlock_owned();
        drop(held);
        match result {
            Ok(()) => Ok(index as usize),
            Err(Ok(broken)) => Err(broken),
            Err(Err(panic)) => resume_unwind(panic),
        }
    }

    /// The last party: run the action, then let the round drain.
    fn release_round(&self) -> Result<(), Result<BrokenBarrier, Box<dyn std::any::Any + Send>>> {
        let st = &*self.shared;
        if let Some(action) = self.action
            && let Err(panic) = catch_unwind(AssertUnwindSafe(action.get()))
        {
            st.break_barrier();
            return Err(Err(panic));
        }
        st.set_state(DRAINING);
        Ok(())
    }

    /// The other parties: wait for the round to complete, breaking it on timeout.
    fn await_round(
        st: &BarrierState,
        held: &Held<'_>,
        deadline: Option<Deadline>,
    ) -> Result<(), BrokenBarrier> {
        while st.state() == FILLING {
            if !st.wait(held, deadline) && st.state() == FILLING {
                st.break_barrier();
            }
        }
        if st.state() < 0 {
            Err(BrokenBarrier)
        } else {
            Ok(())
        }
    }

    /// Puts the barrier back in its initial state; parties waiting in it get [`BrokenBarrier`].
    pub fn reset(&self) {
        let st = &*self.shared;
        let _held = st.lock(self.shared.mutexes());
        if st.count.load(Ordering::Relaxed) > 0 {
            if matches!(st.state(), FILLING | BROKEN) {
                st.set_state(RESETTING);
            } else {
                st.cv.notify(u32::MAX);
            }
        } else {
            st.set_state(FILLING);
        }
    }

    /// Breaks the barrier: current and future waiters get [`BrokenBarrier`] until
    /// [`reset`](Self::reset).
    pub fn abort(&self) {
        let st = &*self.shared;
        let _held = st.lock(self.shared.mutexes());
        st.break_barrier();
    }

    /// The number of parties the barrier waits for.
    pub fn parties(&self) -> usize {
        self.shared.parties.load(Ordering::Relaxed) as usize
    }

    /// The number of parties currently waiting in the barrier (0 while it drains).
    pub fn n_waiting(&self) -> usize {
        let st = &*self.shared;
        let _held = st.lock(self.shared.mutexes());
        if st.state() == FILLING {
            st.count.load(Ordering::Relaxed) as usize
        } else {
            0
        }
    }

    /// Whether the barrier is broken.
    pub fn broken(&self) -> bool {
        self.shared.state() == BROKEN
    }
}
