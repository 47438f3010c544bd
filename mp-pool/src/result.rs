//! The handles of asynchronous submissions ([`AsyncResult`], with the [`ApplyResult`] and
//! [`MapResult`] forms) and the options a submission takes ([`Options`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use mp_sync::Deadline;

use crate::completion::{Callbacks, Completion};
use crate::error::{NotReady, TaskError};

/// What an asynchronous submission yields, and whether that counts as success.
pub trait Outcome: Send + 'static {
    /// Whether every task of the submission succeeded.
    fn succeeded(&self) -> bool;
}

impl<R: Send + 'static> Outcome for Result<R, TaskError> {
    fn succeeded(&self) -> bool {
        self.is_ok()
    }
}

impl<R: Send + 'static> Outcome for Vec<Result<R, TaskError>> {
    fn succeeded(&self) -> bool {
        self.iter().all(Result::is_ok)
    }
}

/// The handle of `apply_async`: one task's result.
pub type ApplyResult<R> = AsyncResult<Result<R, TaskError>>;

/// The handle of `map_async` and `starmap_async`: every task's result, in input order.
pub type MapResult<R> = AsyncResult<Vec<Result<R, TaskError>>>;

/// The result of an asynchronous submission, to wait for, poll, or await (Python's
/// `AsyncResult`).
///
/// The value is taken out once, by a `get` (which consumes the handle) or by awaiting. The
/// callbacks given at submission run in the parent before the
/// value shows here. It implements [`Future`], woken when the result arrives, with no
/// particular async runtime.
#[must_use = "the result of a submission is lost unless it is waited for"]
pub struct AsyncResult<V> {
    /// Where the value arrives.
    completion: Arc<Completion<V>>,
}

impl<V: Outcome> AsyncResult<V> {
    /// A handle on `completion`.
    pub(crate) fn new(completion: Arc<Completion<V>>) -> Self {
        AsyncResult { completion }
    }

    /// Waits for the result and returns it.
    ///
    /// # Panics
    ///
    /// If the handle was polled as a future to completion before (the value went there).
    pub fn get(self) -> V {
        self.completion.wait_until(None);
        self.completion
            .take()
            .expect("an AsyncResult polled to completion has no value left to get")
    }

    /// Waits at most `timeout` for the result; [`Waited::Pending`] hands the handle back if it
    /// did not arrive in time (Python's `TimeoutError`; the task runs on).
    pub fn get_timeout(self, timeout: Duration) -> Waited<V> {
        self.get_until(Some(Deadline::after(timeout)))
    }

    /// Waits until `deadline` for the result, as [`get_timeout`](Self::get_timeout) does.
    pub fn get_deadline(self, deadline: Deadline) -> Waited<V> {
        self.get_until(Some(deadline))
    }

    /// The result if it is there, without waiting.
    pub fn try_get(self) -> Waited<V> {
        self.get_until(Some(Deadline::now()))
    }

    /// The one get, bounded by `deadline` (`None`: unbounded). Only this handle takes the value
    /// out, and it is consumed doing so, so an arrived value is always there.
    fn get_until(self, deadline: Option<Deadline>) -> Waited<V> {
        if self.completion.wait_until(deadline)
            && let Some(value) = self.completion.take()
        {
            return Waited::Ready(value);
        }
        Waited::Pending(self)
    }

    /// Waits until the result arrived.
    pub fn wait(&self) {
        self.completion.wait_until(None);
    }

    /// Waits at most `timeout`; true if the result arrived.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.completion.wait_until(Some(Deadline::after(timeout)))
    }

    /// Waits until `deadline`; true if the result arrived.
    pub fn wait_deadline(&self, deadline: Deadline) -> bool {
        self.completion.wait_until(Some(deadline))
    }

    /// Whether the result arrived.
    pub fn ready(&self) -> bool {
        self.completion.arrived()
    }

    /// Whether every task succeeded; [`NotReady`] before the result arrived (Python raises
    /// `ValueError` there too).
    pub fn successful(&self) -> Result<bool, NotReady> {
        self.completion.inspect(V::succeeded).ok_or(NotReady)
    }
}

impl<V: Outcome> Future for AsyncResult<V> {
    type Output = V;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<V> {
        self.completion.poll_take(cx)
    }
}

/// What a bounded `get` found.
#[must_use = "a pending result is lost unless it is waited for again"]
pub enum Waited<V> {
    /// The result.
    Ready(V),
    /// Not there yet: the handle, to wait again.
    Pending(AsyncResult<V>),
}

impl<V> Waited<V> {
    /// The result, if it was there.
    pub fn ready(self) -> Option<V> {
        match self {
            Waited::Ready(value) => Some(value),
            Waited::Pending(_) => None,
        }
    }
}

/// Options of one submission: chunk size, time limit, callbacks. `V` is what the success
/// callback sees: the value for `apply_async`, the list of values for the map forms.
pub struct Options<V> {
    /// Items per job; `None`: Python's rule.
    pub(crate) chunksize: Option<usize>,
    /// Time limit of each task; `None`: the pool's default.
    pub(crate) timeout: Option<Duration>,
    /// Run in the parent when the result arrives.
    pub(crate) callbacks: Callbacks<V>,
}

impl<V> Default for Options<V> {
    fn default() -> Self {
        Options {
            chunksize: None,
            timeout: None,
            callbacks: Callbacks::default(),
        }
    }
}

impl<V> Options<V> {
    /// No options: Python's chunk size rule, the pool's time limit, no callbacks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Items sent to a worker at a time (map forms only; at least 1).
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.chunksize = Some(chunksize);
        self
    }

    /// The time limit of each task of this submission, instead of the pool's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Run with the value (the map forms: the whole list) when every task succeeded, before
    /// `get` or `wait` return.
    pub fn on_success(mut self, callback: impl FnOnce(&V) + Send + 'static) -> Self {
        self.callbacks.on_success = Some(Box::new(callback));
        self
    }

    /// Run with the (first) error when a task failed, before `get` or `wait` return.
    pub fn on_error(mut self, callback: impl FnOnce(&TaskError) + Send + 'static) -> Self {
        self.callbacks.on_error = Some(Box::new(callback));
        self
    }
}
