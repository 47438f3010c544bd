//! The server's Event: a flag that callers wait for.

use std::sync::{Condvar, Mutex};

use crate::error::Refusal;
use crate::server::waiting::{Caller, Waited, wait_for};
use crate::wire::{Reply, Wait};

/// Python's `threading.Event`, on the server.
#[derive(Debug, Default)]
pub(crate) struct Event {
    /// Set or not.
    flag: Mutex<bool>,
    /// Signalled when set.
    cv: Condvar,
}

impl Event {
    /// Sets the flag, waking every waiter.
    pub(crate) fn set(&self) -> Reply {
        *self.flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
        Reply::Done
    }

    /// Clears the flag.
    pub(crate) fn clear(&self) -> Reply {
        *self.flag.lock().unwrap_or_else(|p| p.into_inner()) = false;
        Reply::Done
    }

    /// Whether the flag is set.
    pub(crate) fn is_set(&self) -> Reply {
        Reply::Bool(*self.flag.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Waits for the flag, as allowed; whether it is set.
    pub(crate) fn wait(&self, wait: Wait, caller: &Caller<'_>) -> Reply {
        let guard = self.flag.lock().unwrap_or_else(|p| p.into_inner());
        match wait_for(guard, &self.cv, wait, caller, |set| *set).1 {
            Waited::Ready => Reply::Bool(true),
            Waited::TimedOut => Reply::Bool(false),
            Waited::Cancelled => Reply::Refused(Refusal::ShuttingDown),
        }
    }
}
