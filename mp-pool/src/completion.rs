//! A value that arrives once, from the supervisor thread, to a waiting thread or an awaiting
//! task: the shared state behind [`AsyncResult`](crate::AsyncResult) and
//! [`MapResult`](crate::MapResult), and the callbacks that run before it shows.
//!
//! A completion may name, through a [`ReaderHint`], the reader of the worker its one job went
//! to: a thread that waits for it then reads that worker's reports itself
//! ([`Reader::read_until`]) rather than sleep until another thread has read and booked them,
//! one wake-up less per round trip (`apply_async(..).get()`).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mp_sync::Deadline;

use crate::error::TaskError;

/// The success callback of a value `V`.
pub(crate) type OnSuccess<V> = Box<dyn FnOnce(&V) + Send>;

/// The error callback.
pub(crate) type OnError = Box<dyn FnOnce(&TaskError) + Send>;

/// Callbacks run in the parent when a result arrives, before `get` or `wait` return (Python's
/// `callback` and `error_callback`).
pub(crate) struct Callbacks<V> {
    /// Run with the value on success.
    pub(crate) on_success: Option<OnSuccess<V>>,
    /// Run with the (first) error on failure.
    pub(crate) on_error: Option<OnError>,
}

impl<V> Default for Callbacks<V> {
    fn default() -> Self {
        Callbacks {
            on_success: None,
            on_error: None,
        }
    }
}

/// Who can read the reports of the worker a job went to, for a thread that waits for it.
pub(crate) trait Reader: Send + Sync {
    /// Reads the worker's reports and books them, on this thread, until `arrived()` holds or
    /// `deadline` passed (`true`); `false` at once or later when this thread cannot read them
    /// (another thread reads them, or the worker is gone): the caller then waits for the
    /// value to be booked by whoever reads.
    fn read_until(&self, arrived: &dyn Fn() -> bool, deadline: Option<Deadline>) -> bool;
}

/// The reader of the worker a job was last given to, set by the backend at each give (a job
/// given again after a death names its new worker).
#[derive(Default)]
pub(crate) struct ReaderHint {
    /// The reader, once the job was given.
    reader: Mutex<Option<Arc<dyn Reader>>>,
}

impl ReaderHint {
    /// The job went to the worker `reader` reads.
    pub(crate) fn set(&self, reader: Arc<dyn Reader>) {
        *self.reader.lock().unwrap_or_else(PoisonError::into_inner) = Some(reader);
    }

    /// The reader of the worker the job went to last, if it was given.
    fn get(&self) -> Option<Arc<dyn Reader>> {
        self.reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The state of a value that arrives once.
struct Slot<V> {
    /// The value, until taken.
    value: Option<V>,
    /// Whether it arrived (stays true once it is taken).
    arrived: bool,
    /// The task to wake when it arrives, if one awaits it.
    waker: Option<Waker>,
    /// Threads sleeping on [`Completion::arrived`]: std's notify makes a system call even
    /// when nobody sleeps, so it is called only when someone does.
    sleepers: usize,
}

/// A value that arrives once.
pub(crate) struct Completion<V> {
    /// The value and its waiters.
    slot: Mutex<Slot<V>>,
    /// Notified when the value arrives.
    arrived: Condvar,
    /// Who may read the reports that bring it, if known.
    hint: Option<Arc<ReaderHint>>,
}

impl<V> Completion<V> {
    /// A completion that has not arrived yet.
    pub(crate) fn new() -> Self {
        Self::read_by(None)
    }

    /// A completion that has not arrived yet, brought by the reports `hint` names the reader
    /// of, once the job is given.
    pub(crate) fn read_by(hint: Option<Arc<ReaderHint>>) -> Self {
        Completion {
            slot: Mutex::new(Slot {
                value: None,
                arrived: false,
                waker: None,
                sleepers: 0,
            }),
            arrived: Condvar::new(),
            hint,
        }
    }

    /// Locks the slot (no user code runs under it, so poison carries no meaning).
    fn lock(&self) -> MutexGuard<'_, Slot<V>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value arrives: waiters and an awaiting task wake.
    pub(crate) fn complete(&self, value: V) {
        let (waker, sleepers) = {
            let mut slot = self.lock();
            slot.value = Some(value);
            slot.arrived = true;
            (slot.waker.take(), slot.sleepers)
        };
        // A sleeper counted itself under the lock before it slept, and looks at `arrived`
        // under it when it wakes: none is missed.
        if sleepers > 0 {
            self.arrived.notify_all();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Waits until the value arrived or `deadline` passed (`None`: no bound); true if it arrived.
    pub(crate) fn wait_until(&self, deadline: Option<Deadline>) -> bool {
        // Read the reports that bring it, while this thread can.
        if let Some(hint) = &self.hint {
            while !self.arrived() {
                let Some(reader) = hint.get() else { break };
                if !reader.read_until(&|| self.arrived(), deadline) {
                    break;
                }
                if deadline.is_some_and(Deadline::has_passed) {
                    return self.arrived();
                }
            }
        }
        let mut slot = self.lock();
        while !slot.arrived {
            let left = deadline.map(Deadline::remaining);
            if left == Some(Duration::ZERO) {
                return false;
            }
            slot.sleepers += 1;
            slot = match left {
                None => self
                    .arrived
                    .wait(slot)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    self.arrived
                        .wait_timeout(slot, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            slot.sleepers -= 1;
        }
        true
    }

    /// Whether the value arrived.
    pub(crate) fn arrived(&self) -> bool {
        self.lock().arrived
    }

    /// Looks at the value, if it arrived and was not taken.
    pub(crate) fn inspect<T>(&self, look: impl FnOnce(&V) -> T) -> Option<T> {
        self.lock().value.as_ref().map(look)
    }

    /// Takes the value, if it arrived.
    pub(crate) fn take(&self) -> Option<V> {
        self.lock().value.take()
    }

    /// Takes the value, or registers `cx`'s waker to be woken when it arrives.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<V> {
        let mut slot = self.lock();
        match slot.value.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
