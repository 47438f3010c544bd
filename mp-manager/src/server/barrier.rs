//! The server's Barrier (Python's `threading.Barrier`, which `SyncManager.Barrier` serves):
//! `parties` callers meet; a wait that times out, an `abort`, a `reset` with callers waiting,
//! or a waiting caller that hangs up (killed) breaks it, so no party waits for ever for one
//! that will not come.

use std::sync::{Condvar, Mutex};

use crate::error::Refusal;
use crate::server::waiting::{Caller, Waited, wait_for};
use crate::wire::{Reply, Wait};

/// A barrier for `parties` callers.
#[derive(Debug)]
pub(crate) struct Barrier {
    /// Who is waiting, and the barrier's epochs.
    state: Mutex<Meeting>,
    /// Signalled when the barrier trips, breaks or is reset.
    cv: Condvar,
    /// How many callers meet.
    parties: u64,
}

/// A barrier's state.
#[derive(Debug, Default)]
struct Meeting {
    /// Callers waiting now.
    count: u64,
    /// Trips so far (a waiter passes when it changes).
    trips: u64,
    /// Resets so far (a waiter of an earlier one is broken off).
    resets: u64,
    /// Broken until the next reset.
    broken: bool,
}

impl Barrier {
    /// A barrier for `parties` callers (at least one).
    pub(crate) fn new(parties: u64) -> Barrier {
        Barrier {
            state: Mutex::default(),
            cv: Condvar::new(),
            parties: parties.max(1),
        }
    }

    /// Waits for the other parties, as allowed: the caller's arrival index (0 for the first),
    /// or [`Refusal::BrokenBarrier`].
    pub(crate) fn wait(&self, wait: Wait, caller: &Caller<'_>) -> Reply {
        let mut m = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if m.broken {
            return Reply::Refused(Refusal::BrokenBarrier);
        }
        let index = m.count;
        if index + 1 == self.parties {
            m.count = 0;
            m.trips += 1;
            self.cv.notify_all();
            return Reply::Len(index);
        }
        m.count += 1;
        let (trips, resets) = (m.trips, m.resets);
        let (mut m, waited) = wait_for(m, &self.cv, wait, caller, |m| {
            m.trips != trips || m.resets != resets || m.broken
        });
        if m.trips != trips {
            return Reply::Len(index);
        }
        if waited != Waited::Ready && m.resets == resets && !m.broken {
            // This party gives up: the others must not wait for it.
            m.broken = true;
            self.cv.notify_all();
        }
        match waited {
            Waited::Cancelled => Reply::Refused(Refusal::ShuttingDown),
            _ => Reply::Refused(Refusal::BrokenBarrier),
        }
    }

    /// Breaks it: every waiter, and every wait until a reset, gets
    /// [`Refusal::BrokenBarrier`].
    pub(crate) fn abort(&self) -> Reply {
        let mut m = self.state.lock().unwrap_or_else(|p| p.into_inner());
        m.broken = true;
        self.cv.notify_all();
        Reply::Done
    }

    /// Makes it whole and empty again; callers waiting are broken off.
    pub(crate) fn reset(&self) -> Reply {
        let mut m = self.state.lock().unwrap_or_else(|p| p.into_inner());
        m.count = 0;
        m.resets += 1;
        m.broken = false;
        self.cv.notify_all();
        Reply::Done
    }

    /// Callers waiting now.
    pub(crate) fn n_waiting(&self) -> Reply {
        Reply::Len(self.state.lock().unwrap_or_else(|p| p.into_inner()).count)
    }

    /// Whether it is broken.
    pub(crate) fn broken(&self) -> Reply {
        Reply::Bool(self.state.lock().unwrap_or_else(|p| p.into_inner()).broken)
    }
}
