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
    /// The results of the tasks from `first` on, in order, still encoded: a sink that can
    /// decodes them straight into its list, when they continue it, without a vector of their
    /// own.
    fn put_encoded(&self, first: usize, run: Encoded<R>) {
        self.put_run(first, run.decode());
    }
}

/// The decoding that appends a run's results to a vector and says how many are errors.
type DecodeInto<R> = Box<dyn FnOnce(&mut Vec<Result<R, TaskError>>) -> usize + Send>;

/// A run of results not decoded yet (a worker's flush: its outcome records, some 10 bytes an
/// item where a result takes 56 or more), decoded once, where and when its sink wants them.
pub(crate) struct Encoded<R> {
    /// How many results.
    len: usize,
    /// Where they come from (named by the error of a result missing from the output).
    worker: WorkerRef,
    /// The submission index of the first.
    first: usize,
    /// The decoding.
    decode: DecodeInto<R>,
}

impl<R> Encoded<R> {
    /// Appends exactly `len` results to `out` (should the decoder give fewer, the rest fail;
    /// more are cut); returns whether any may be an error.
    fn decode_into(self, out: &mut Vec<Result<R, TaskError>>) -> bool {
        let start = out.len();
        let mut errors = (self.decode)(out) > 0;
        out.truncate(start + self.len);
        for task in self.first + (out.len() - start)..self.first + self.len {
            errors = true;
            out.push(Err(TaskError::ResultEncoding {
                task,
                worker: self.worker,
                message: "the worker sent no outcome for it".into(),
            }));
        }
        errors
    }

    /// The results in a vector of their own.
    fn decode(self) -> Vec<Result<R, TaskError>> {
        let mut results = Vec::with_capacity(self.len);
        self.decode_into(&mut results);
        results
    }
}

/// Turns a backend's output for the items from submission index `first` on into their
/// results, appended to the vector given; returns how many of them are errors.
pub(crate) type Decode<O, R> = fn(O, WorkerRef, usize, &mut Vec<Result<R, TaskError>>) -> usize;

/// A [`JobSink`] that decodes a backend's output and puts the results into a [`Collect`].
pub(crate) struct Decoding<O, R> {
    /// Where the results go.
    target: Arc<dyn Collect<R>>,
    /// How to read the backend's output.
    decode: Decode<O, R>,
    /// How many results an output holds.
    count: fn(&O) -> usize,
    /// Whether an output is decoded as it is delivered, on the delivering thread, rather than
    /// kept encoded for its target (see [`decoding_now`](Self::decoding_now)).
    now: fn(&O) -> bool,
}

impl<O, R> Decoding<O, R> {
    /// A sink feeding `target` through `decode`, for outputs of `count` results each.
    pub(crate) fn new(
        target: Arc<dyn Collect<R>>,
        decode: Decode<O, R>,
        count: fn(&O) -> usize,
    ) -> Self {
        Decoding {
            target,
            decode,
            count,
            now: |_| false,
        }
    }

    /// The same sink, decoding the outputs `now` picks as they are delivered, before the
    /// target's lock is taken: an output that holds memory its worker waits for (a block of
    /// its result arena) is not kept encoded behind a list's gap, and the decoding of large
    /// values (a copy and the fresh pages of each) runs on each worker's delivering thread
    /// side by side instead of one after the other under a map's lock.
    pub(crate) fn decoding_now(self, now: fn(&O) -> bool) -> Self {
        Decoding { now, ..self }
    }
}

impl<O: Send + 'static, R: 'static> JobSink<O> for Decoding<O, R> {
    fn deliver(&self, first: usize, worker: WorkerRef, output: O) {
        let decode = self.decode;
        let now = (self.now)(&output);
        let run = Encoded {
            len: (self.count)(&output),
            worker,
            first,
            decode: Box::new(move |results| decode(output, worker, first, results)),
        };
        if now {
            self.target.put_run(first, run.decode());
        } else {
            self.target.put_encoded(first, run);
        }
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
    /// The results of the tasks from 0 on with no gap, in order: the list being made. Runs are
    /// appended as soon as they continue it, so that their buffers are freed (and reused by
    /// the next runs' decoding) rather than all kept until the end, each a fresh allocation
    /// whose pages fault (a third of a first map's time, by perf).
    prefix: Vec<Result<R, TaskError>>,
    /// The runs in that do not continue the prefix yet (a worker's flush: thousands of
    /// consecutive tasks), by the index of their first task.
    runs: BTreeMap<usize, Run<R>>,
    /// Which tasks' results are in (a second result for a task is dropped).
    filled: Vec<bool>,
    /// How many are still out.
    missing: usize,
    /// Whether an error was put (else the list needs no search for the first one).
    errors: bool,
    /// Run when the last one is in.
    callbacks: Option<Callbacks<Vec<R>>>,
}

/// A run of results waiting for the list to reach it.
enum Run<R> {
    /// Decoded (a run split around results that were in already, a single failure).
    Decoded(Vec<Result<R, TaskError>>),
    /// Still encoded: decoded into the list when it continues it.
    Encoded(Encoded<R>),
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
                // Room for the whole list, taken here, by the submitting thread (its pages are
                // touched only as the list fills): a watcher thread would take it from its own
                // allocator arena, a fresh one for each watcher, whose pages then fault anew.
                prefix: Vec::with_capacity(len),
                runs: BTreeMap::new(),
                filled: vec![false; len],
                missing: len,
                errors: false,
                callbacks: Some(callbacks),
            }),
            completion,
        };
        if len == 0 {
            sink.finish(Vec::new(), false);
        }
        sink
    }

    /// Completes with every result, after the callback: on success it sees the values (Python
    /// passes the whole list), on failure the first error.
    fn finish(&self, results: Vec<Result<R, TaskError>>, errors: bool) {
        let callbacks = lock(&self.parts).callbacks.take().unwrap_or_default();
        let first_error = if errors {
            results.iter().find_map(|r| r.as_ref().err())
        } else {
            None
        };
        let results = match first_error {
            Some(first_error) => {
                run_callbacks(callbacks, Err(first_error));
                results
            }
            // Without a success callback, nothing needs the values apart (a copy of the list).
            None if callbacks.on_success.is_none() => results,
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
    /// Takes the results of the tasks from `first` on. A task whose result is in already, or
    /// out of range, keeps what it has: the run is kept whole when none is (the rule), else
    /// split around them.
    fn fill_run(&mut self, first: usize, results: Vec<Result<R, TaskError>>) {
        self.errors |= results.iter().any(Result::is_err);
        let end = first.saturating_add(results.len());
        if let Some(marks) = self.filled.get_mut(first..end)
            && !marks.contains(&true)
        {
            marks.fill(true);
            self.missing -= results.len();
            self.runs.insert(first, Run::Decoded(results));
            self.extend_prefix();
            return;
        }
        let mut run: Option<(usize, Vec<Result<R, TaskError>>)> = None;
        let keep = |runs: &mut BTreeMap<usize, Run<R>>, run: Option<(usize, Vec<_>)>| {
            if let Some((start, items)) = run {
                runs.insert(start, Run::Decoded(items));
            }
        };
        for (k, result) in results.into_iter().enumerate() {
            let Some(index) = first.checked_add(k) else {
                break;
            };
            let fresh = self
                .filled
                .get_mut(index)
                .is_some_and(|mark| !std::mem::replace(mark, true));
            match (&mut run, fresh) {
                (Some((start, items)), true) if *start + items.len() == index => items.push(result),
                (_, true) => keep(&mut self.runs, run.replace((index, vec![result]))),
                (_, false) => {
                    keep(&mut self.runs, run.take());
                    continue;
                }
            }
            self.missing -= 1;
        }
        keep(&mut self.runs, run);
        self.extend_prefix();
    }

    /// Takes the still encoded results of the tasks from `first` on: decoded straight into
    /// the list when they continue it, else kept encoded until it reaches them; when some of
    /// them are in already, or out of range, decoded now under the rule of `fill_run`.
    fn put_encoded(&mut self, first: usize, run: Encoded<R>) {
        let end = first.saturating_add(run.len);
        match self.filled.get_mut(first..end) {
            Some(marks) if !marks.contains(&true) => {
                marks.fill(true);
                self.missing -= run.len;
                self.runs.insert(first, Run::Encoded(run));
                self.extend_prefix();
            }
            _ => self.fill_run(first, run.decode()),
        }
    }

    /// Room in the prefix for the whole list at once (its pages are touched only as it fills).
    fn reserve_list(&mut self) {
        if self.prefix.capacity() == 0 {
            self.prefix.reserve_exact(self.filled.len());
        }
    }

    /// Appends to the prefix the runs that continue it (decoding those still encoded into it).
    fn extend_prefix(&mut self) {
        while let Some(run) = self.runs.first_entry()
            && *run.key() == self.prefix.len()
        {
            let run = run.remove();
            self.reserve_list();
            match run {
                Run::Decoded(results) => self.prefix.extend(results),
                Run::Encoded(run) => self.errors |= run.decode_into(&mut self.prefix),
            }
        }
    }

    /// Every result in task order, once the last is in (once).
    /// With whether any of them may be an error.
    fn complete(&mut self) -> Option<(Vec<Result<R, TaskError>>, bool)> {
        if self.missing != 0 || self.filled.is_empty() {
            return None;
        }
        self.filled = Vec::new();
        // Every task is in and the runs are disjoint: the prefix is the whole list.
        self.extend_prefix();
        Some((std::mem::take(&mut self.prefix), self.errors))
    }
}

impl<R: Send> Collect<R> for MapSink<R> {
    fn put(&self, index: usize, result: Result<R, TaskError>) {
        self.put_run(index, vec![result]);
    }

    fn put_run(&self, first: usize, results: Vec<Result<R, TaskError>>) {
        self.fill(|parts| parts.fill_run(first, results));
    }

    fn put_encoded(&self, first: usize, run: Encoded<R>) {
        self.fill(|parts| parts.put_encoded(first, run));
    }
}

impl<R> MapSink<R> {
    /// Puts results in with `put`, under the lock, and completes if they were the last.
    fn fill(&self, put: impl FnOnce(&mut MapParts<R>)) {
        let all = {
            let mut parts = lock(&self.parts);
            put(&mut parts);
            parts.complete()
        };
        if let Some((all, errors)) = all {
            self.finish(all, errors);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts for `len` results.
    fn parts(len: usize) -> MapParts<u32> {
        MapParts {
            prefix: Vec::new(),
            runs: BTreeMap::new(),
            filled: vec![false; len],
            missing: len,
            errors: false,
            callbacks: None,
        }
    }

    /// The values of `results`, all `Ok`.
    fn values(results: Vec<Result<u32, TaskError>>) -> Vec<u32> {
        results.into_iter().map(|r| r.expect("ok")).collect()
    }

    #[test]
    fn runs_in_any_order_complete_once_in_task_order() {
        let mut p = parts(6);
        p.fill_run(3, vec![Ok(3), Ok(4), Ok(5)]);
        assert!(p.complete().is_none());
        p.fill_run(0, vec![Ok(0), Ok(1), Ok(2)]);
        assert_eq!(
            values(p.complete().expect("complete").0),
            [0, 1, 2, 3, 4, 5]
        );
        assert!(p.complete().is_none(), "completes once");
    }

    #[test]
    fn a_second_result_or_one_out_of_range_is_dropped() {
        let mut p = parts(5);
        p.fill_run(1, vec![Ok(1), Ok(2)]);
        // Tasks 1 and 2 have theirs: 0, 3 and 4 are taken, 2 and 6 are not.
        p.fill_run(0, vec![Ok(0), Ok(99), Ok(98), Ok(3)]);
        assert!(p.complete().is_none());
        p.fill_run(4, vec![Ok(4), Ok(97), Ok(96)]);
        assert_eq!(values(p.complete().expect("complete").0), [0, 1, 2, 3, 4]);
        let mut p = parts(2);
        p.fill_run(7, vec![Ok(7)]);
        p.fill_run(usize::MAX, vec![Ok(1), Ok(2)]);
        assert_eq!(p.missing, 2);
    }

    /// A run of `values` still encoded, from `first` on, whose decoder gives `extra` more.
    fn encoded(first: usize, values: Vec<u32>, extra: usize) -> Encoded<u32> {
        Encoded {
            len: values.len(),
            worker: WorkerRef {
                id: crate::error::WorkerId(0),
                pid: None,
            },
            first,
            decode: Box::new(move |out| {
                out.extend(values.iter().copied().map(Ok));
                out.extend((0..extra).map(|_| Ok(77)));
                0
            }),
        }
    }

    #[test]
    fn encoded_runs_are_decoded_into_the_list_under_the_rules() {
        let mut p = parts(7);
        p.put_encoded(0, encoded(0, vec![0, 1, 2], 0));
        assert_eq!(
            p.prefix.len(),
            3,
            "a run that continues the list goes straight in"
        );
        p.put_encoded(4, encoded(4, vec![4], 0));
        assert!(
            matches!(p.runs.get(&4), Some(Run::Encoded(_))),
            "kept encoded"
        );
        // Task 2 has its result: 99 is dropped, 3 taken, and the list reaches 4 and 5.
        p.put_encoded(2, encoded(2, vec![99, 3], 0));
        assert_eq!(p.prefix.len(), 5);
        // A decoder that gives more than it said is cut.
        p.put_encoded(5, encoded(5, vec![5], 1));
        assert!(!p.errors);
        let mut short = encoded(6, vec![], 0);
        short.len = 1;
        // One that gives fewer has the rest fail.
        p.put_encoded(6, short);
        let (all, errors) = p.complete().expect("complete");
        assert!(errors);
        assert!(matches!(
            all[6],
            Err(TaskError::ResultEncoding { task: 6, .. })
        ));
        assert_eq!(values(all[..6].to_vec()), [0, 1, 2, 3, 4, 5]);
    }
}
