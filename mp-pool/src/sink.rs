//! Where results land: the one-result sink of `apply_async`, the list of `map_async`, the
//! stream of `imap`, and the decoding that turns a backend's output into typed results.

use std::collections::{BTreeMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::completion::{Callbacks, Completion};
use crate::core::JobSink;
use crate::error::{TaskError, WorkerRef};

/// Takes typed results by their submission index.
pub(crate) trait Collect<R>: Send + Sync {
    /// The result of the task at `index`.
    fn put(&self, index: usize, result: Result<R, TaskError>);
    /// The results of the tasks from `first` on, in order: one lock and one wake-up for a
    /// whole run (a flush of a worker carries thousands).
    fn put_run(&self, first: usize, results: Vec<Result<R, TaskError>>) {
        for (k, result) in results.into_iter().enumerate() {
            self.put(first + k, result);
        }
    }
}

/// Turns a backend's output for the items from submission index `first` on into their results.
pub(crate) type Decode<O, R> = fn(O, WorkerRef, usize) -> Vec<Result<R, TaskError>>;

/// A [`JobSink`] that decodes a backend's output and puts the results into a [`Collect`].
pub(crate) struct Decoding<O, R> {
    /// Where the results go.
    target: Arc<dyn Collect<R>>,
    /// How to read the backend's output.
    decode: Decode<O, R>,
}

impl<O, R> Decoding<O, R> {
    /// A sink feeding `target` through `decode`.
    pub(crate) fn new(target: Arc<dyn Collect<R>>, decode: Decode<O, R>) -> Self {
        Decoding { target, decode }
    }
}

impl<O: Send + 'static, R: 'static> JobSink<O> for Decoding<O, R> {
    fn deliver(&self, first: usize, worker: WorkerRef, output: O) {
        self.target
            .put_run(first, (self.decode)(output, worker, first));
    }

    fn fail(&self, index: usize, error: TaskError) {
        self.target.put(index, Err(error));
    }
}

/// Locks a mutex whose holders run no user code (poison carries no meaning).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the callback that fits `outcome`; a panicking callback is caught (it must not take the
/// supervisor down) and its result is still delivered.
fn run_callbacks<V>(callbacks: Callbacks<V>, outcome: Result<&V, &TaskError>) {
    let _ = panic::catch_unwind(AssertUnwindSafe(|| match outcome {
        Ok(value) => callbacks.on_success.map(|f| f(value)),
        Err(error) => callbacks.on_error.map(|f| f(error)),
    }));
}

/// The one result of `apply_async`.
pub(crate) struct ApplySink<R> {
    /// Where the result shows.
    completion: Arc<Completion<Result<R, TaskError>>>,
    /// Run before it shows.
    callbacks: Mutex<Option<Callbacks<R>>>,
}

impl<R> ApplySink<R> {
    /// A sink completing `completion`, running `callbacks` first.
    pub(crate) fn new(
        completion: Arc<Completion<Result<R, TaskError>>>,
        callbacks: Callbacks<R>,
    ) -> Self {
        ApplySink {
            completion,
            callbacks: Mutex::new(Some(callbacks)),
        }
    }
}

impl<R: Send> Collect<R> for ApplySink<R> {
    fn put(&self, _index: usize, result: Result<R, TaskError>) {
        if let Some(callbacks) = lock(&self.callbacks).take() {
            run_callbacks(callbacks, result.as_ref());
        }
        self.completion.complete(result);
    }
}

/// The list `map_async` fills.
struct MapParts<R> {
    /// Each task's result, once in.
    slots: Vec<Option<Result<R, TaskError>>>,
    /// How many are still out.
    missing: usize,
    /// Run when the last one is in.
    callbacks: Option<Callbacks<Vec<R>>>,
}

/// The results of `map_async`, completing when the last one is in.
pub(crate) struct MapSink<R> {
    /// The list so far.
    parts: Mutex<MapParts<R>>,
    /// Where the whole list shows.
    completion: Arc<Completion<Vec<Result<R, TaskError>>>>,
}

impl<R> MapSink<R> {
    /// A sink for `len` results; with `len == 0` it completes at once.
    pub(crate) fn new(
        len: usize,
        completion: Arc<Completion<Vec<Result<R, TaskError>>>>,
        callbacks: Callbacks<Vec<R>>,
    ) -> Self {
        let sink = MapSink {
            parts: Mutex::new(MapParts {
                slots: (0..len).map(|_| None).collect(),
                missing: len,
                callbacks: Some(callbacks),
            }),
            completion,
        };
        if len == 0 {
            sink.finish(Vec::new());
        }
        sink
    }

    /// Completes with every result, after the callback: on success it sees the values (Python
    /// passes the whole list), on failure the first error.
    fn finish(&self, results: Vec<Result<R, TaskError>>) {
        let callbacks = lock(&self.parts).callbacks.take().unwrap_or_default();
        let results = match results.iter().find_map(|r| r.as_ref().err()) {
            Some(first_error) => {
                run_callbacks(callbacks, Err(first_error));
                results
            }
            None => {
                let values: Vec<R> = results.into_iter().flatten().collect();
                run_callbacks(callbacks, Ok(&values));
                values.into_iter().map(Ok).collect()
            }
        };
        self.completion.complete(results);
    }
}

impl<R> MapParts<R> {
    /// Fills the slot at `index` (a slot filled already, or out of range, is left alone).
    fn fill(&mut self, index: usize, result: Result<R, TaskError>) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if slot.is_none() {
            *slot = Some(result);
            self.missing -= 1;
        }
    }

    /// Every result, once the last is in.
    fn complete(&mut self) -> Option<Vec<Result<R, TaskError>>> {
        (self.missing == 0 && !self.slots.is_empty()).then(|| {
            std::mem::take(&mut self.slots)
                .into_iter()
                .flatten()
                .collect()
        })
    }
}

impl<R: Send> Collect<R> for MapSink<R> {
    fn put(&self, index: usize, result: Result<R, TaskError>) {
        self.put_run(index, vec![result]);
    }

    fn put_run(&self, first: usize, results: Vec<Result<R, TaskError>>) {
        let all = {
            let mut parts = lock(&self.parts);
            for (k, result) in results.into_iter().enumerate() {
                parts.fill(first + k, result);
            }
            parts.complete()
        };
        if let Some(all) = all {
            self.finish(all);
        }
    }
}

/// Results as they come, for `imap` (by index) and `imap_unordered` (by arrival).
struct StreamParts<R> {
    /// Results by index (`imap`).
    by_index: BTreeMap<usize, Result<R, TaskError>>,
    /// Results in arrival order (`imap_unordered`).
    arrivals: VecDeque<Result<R, TaskError>>,
}

/// The results of an `imap` or `imap_unordered`.
pub(crate) struct StreamSink<R> {
    /// Whether results are taken in input order.
    ordered: bool,
    /// The results in and not yet taken.
    parts: Mutex<StreamParts<R>>,
    /// Notified when one comes in.
    came: Condvar,
}

impl<R> StreamSink<R> {
    /// An empty stream, ordered (`imap`) or not.
    pub(crate) fn new(ordered: bool) -> Self {
        StreamSink {
            ordered,
            parts: Mutex::new(StreamParts {
                by_index: BTreeMap::new(),
                arrivals: VecDeque::new(),
            }),
            came: Condvar::new(),
        }
    }

    /// Waits for the next result: the one at `index` if ordered, else the next to arrive.
    pub(crate) fn take(&self, index: usize) -> Result<R, TaskError> {
        let mut parts = lock(&self.parts);
        loop {
            let next = if self.ordered {
                parts.by_index.remove(&index)
            } else {
                parts.arrivals.pop_front()
            };
            if let Some(result) = next {
                return result;
            }
            parts = self
                .came
                .wait(parts)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<R: Send> Collect<R> for StreamSink<R> {
    fn put(&self, index: usize, result: Result<R, TaskError>) {
        self.put_run(index, vec![result]);
    }

    fn put_run(&self, first: usize, results: Vec<Result<R, TaskError>>) {
        {
            let mut parts = lock(&self.parts);
            for (k, result) in results.into_iter().enumerate() {
                if self.ordered {
                    parts.by_index.insert(first + k, result);
                } else {
                    parts.arrivals.push_back(result);
                }
            }
        }
        self.came.notify_all();
    }
}
