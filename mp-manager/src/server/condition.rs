//! The server's re-entrant lock and condition variable: [`RLock`] (held by one connection at
//! a time, re-entered by it, released by it only) with the waits of a Condition over it
//! (Python's `threading.Condition` over an `RLock`, what `SyncManager.Condition()` serves).
//! A holder that disconnects (or is killed) frees it.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Condvar, Mutex};

use crate::error::Refusal;
use crate::server::waiting::{Caller, Waited, wait_for};
use crate::wire::{Reply, Wait};

/// A re-entrant lock, and the condition waits over it.
#[derive(Debug, Default)]
pub(crate) struct RLock {
    /// The holder and the waiters.
    state: Mutex<Held>,
    /// Signalled on every release and notify.
    cv: Condvar,
}

/// Who holds it, and who waits on its condition.
#[derive(Debug, Default)]
struct Held {
    /// The holder and its depth.
    owner: Option<(u64, u64)>,
    /// Condition waiters' tickets, oldest first.
    waiting: VecDeque<u64>,
    /// Tickets notified and not yet woken.
    notified: BTreeSet<u64>,
    /// The last ticket given.
    last_ticket: u64,
}

impl Held {
    /// Whether `conn` may take the lock now.
    fn free_for(&self, conn: u64) -> bool {
        self.owner.is_none_or(|(holder, _)| holder == conn)
    }

    /// Whether `conn` holds it.
    fn held_by(&self, conn: u64) -> bool {
        self.owner.is_some_and(|(holder, _)| holder == conn)
    }
}

impl RLock {
    /// Takes it (again, if the caller holds it), waiting as allowed.
    pub(crate) fn acquire(&self, wait: Wait, caller: &Caller<'_>) -> Reply {
        let guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let me = caller.conn;
        let (mut held, waited) = wait_for(guard, &self.cv, wait, caller, |h| h.free_for(me));
        match waited {
            Waited::Ready => {
                let depth = held.owner.map_or(0, |(_, d)| d);
                held.owner = Some((me, depth + 1));
                Reply::Bool(true)
            }
            Waited::TimedOut => Reply::Bool(false),
            Waited::Cancelled => Reply::Refused(Refusal::ShuttingDown),
        }
    }

    /// Releases one level, if `conn` holds it.
    pub(crate) fn release(&self, conn: u64) -> Reply {
        let mut held = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match held.owner {
            Some((holder, depth)) if holder == conn => {
                held.owner = (depth > 1).then_some((holder, depth - 1));
                self.cv.notify_all();
                Reply::Done
            }
            _ => Reply::Refused(Refusal::NotHeld),
        }
    }

    /// Frees it if connection `conn` (gone) held it.
    pub(crate) fn forget(&self, conn: u64) {
        let mut held = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if held.held_by(conn) {
            held.owner = None;
            self.cv.notify_all();
        }
    }

    /// The condition's wait: releases the lock (every level) the caller holds, waits for a
    /// notify as allowed, takes the lock back (at its depth) and says whether it was
    /// notified. Python re-acquires after a timeout too; so does this.
    pub(crate) fn wait(&self, wait: Wait, caller: &Caller<'_>) -> Reply {
        let me = caller.conn;
        let mut held = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some((_, depth)) = held.owner.filter(|(holder, _)| *holder == me) else {
            return Reply::Refused(Refusal::NotHeld);
        };
        held.last_ticket += 1;
        let ticket = held.last_ticket;
        held.waiting.push_back(ticket);
        held.owner = None;
        self.cv.notify_all();
        let (mut held, waited) = wait_for(held, &self.cv, wait, caller, |h| {
            h.notified.contains(&ticket)
        });
        let notified = held.notified.remove(&ticket);
        held.waiting.retain(|t| *t != ticket);
        if waited == Waited::Cancelled {
            return Reply::Refused(Refusal::ShuttingDown);
        }
        let (mut held, back) = wait_for(held, &self.cv, Wait::Forever, caller, |h| h.free_for(me));
        if back != Waited::Ready {
            return Reply::Refused(Refusal::ShuttingDown);
        }
        held.owner = Some((me, depth));
        Reply::Bool(notified)
    }

    /// The condition's notify: wakes up to `n` waiters, oldest first (the caller must hold
    /// the lock).
    pub(crate) fn notify(&self, n: u64, conn: u64) -> Reply {
        let mut held = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !held.held_by(conn) {
            return Reply::Refused(Refusal::NotHeld);
        }
        for _ in 0..n {
            let Some(ticket) = held.waiting.pop_front() else {
                break;
            };
            held.notified.insert(ticket);
        }
        self.cv.notify_all();
        Reply::Done
    }
}
