//! The lazy result iterator of `imap` (input order) and `imap_unordered` (completion order):
//! it pulls its input only as results are taken, so at most a bounded number of tasks are in
//! flight (CPython main's `buffersize`), and an endless input does not fill memory.

use std::sync::Arc;

use crate::backend::Backend;
use crate::core::{JobSink, JobSpec};
use crate::error::{SubmitError, TaskError};
use crate::sink::{Collect, StreamSink};
use crate::supervisor::Runner;

/// How many jobs per worker an `imap` keeps in flight by default.
const IMAP_JOBS_PER_WORKER: usize = 4;

/// The one lazy stream behind every pool's `imap` forms: `sink_for` makes the sink that decodes
/// the backend's output into the stream, `job` the payload of a chunk (or why it cannot be
/// submitted).
pub(crate) fn open_stream<'p, B, T, R, I>(
    runner: &'p Runner<B>,
    items: I,
    chunksize: usize,
    ordered: bool,
    sink_for: impl FnOnce(Arc<dyn Collect<R>>) -> Arc<dyn JobSink<B::Output>>,
    mut job: impl FnMut(usize, Vec<T>) -> Result<B::Job, SubmitError> + 'p,
) -> Result<IMap<'p, T, R, I::IntoIter>, SubmitError>
where
    B: Backend,
    R: Send + 'static,
    I: IntoIterator<Item = T>,
{
    if chunksize == 0 {
        return Err(SubmitError::ZeroChunksize);
    }
    runner.check_running()?;
    let stream = Arc::new(StreamSink::new(ordered));
    let sink = sink_for(Arc::clone(&stream) as Arc<dyn Collect<R>>);
    let submit = Box::new(move |first, chunk| {
        let spec = JobSpec {
            payload: job(first, chunk)?,
            sink: Arc::clone(&sink),
            first,
            timeout: None,
        };
        runner.submit(vec![spec], true)
    });
    runner.stream(true);
    let end = Box::new(move || runner.stream(false));
    let in_flight = IMAP_JOBS_PER_WORKER * runner.size() * chunksize;
    Ok(IMap::new(
        items.into_iter(),
        submit,
        end,
        stream,
        chunksize,
        in_flight,
    ))
}

/// Submits a run of items whose first has the given index.
pub(crate) type SubmitChunk<'p, T> = Box<dyn FnMut(usize, Vec<T>) -> Result<(), SubmitError> + 'p>;

/// The results of `imap` or `imap_unordered`, as they come.
///
/// Nothing is submitted until the first `next`; then it keeps at most
/// [`in_flight`](Self::in_flight) tasks submitted and not yet taken, pulling the input one chunk
/// at a time. It is an [`ExactSizeIterator`] when its input is, so a progress bar can size
/// itself. While it lives it belongs to the pool's work: after `close`, the pool's `join` waits
/// until it was consumed or dropped. Dropping it early discards the results still to come (the
/// tasks in flight run to the end).
#[must_use = "an imap submits nothing until it is iterated"]
pub struct IMap<'p, T, R, I> {
    /// The input, pulled lazily.
    input: I,
    /// Where chunks go.
    submit: SubmitChunk<'p, T>,
    /// Run once, when the stream ends (tells the pool it submits no more).
    end: Option<Box<dyn FnOnce() + 'p>>,
    /// Where results arrive.
    sink: Arc<StreamSink<R>>,
    /// Items per job.
    chunksize: usize,
    /// The most tasks submitted and not yet taken.
    in_flight: usize,
    /// How many items were submitted.
    submitted: usize,
    /// How many results were taken.
    taken: usize,
    /// Whether the input ran out (or a submission failed: no more are tried).
    exhausted: bool,
}

impl<'p, T, R: Send, I: Iterator<Item = T>> IMap<'p, T, R, I> {
    /// A lazy stream over `input`, `chunksize` items a job, at most `in_flight` in flight.
    pub(crate) fn new(
        input: I,
        submit: SubmitChunk<'p, T>,
        end: Box<dyn FnOnce() + 'p>,
        sink: Arc<StreamSink<R>>,
        chunksize: usize,
        in_flight: usize,
    ) -> Self {
        IMap {
            input,
            submit,
            end: Some(end),
            sink,
            chunksize,
            in_flight: in_flight.max(chunksize),
            submitted: 0,
            taken: 0,
            exhausted: false,
        }
    }

    /// Sets the most tasks submitted and not yet taken (at least the chunk size): a larger
    /// window keeps every worker busy, a smaller one bounds memory. Takes effect at once.
    pub fn in_flight(mut self, tasks: usize) -> Self {
        self.in_flight = tasks.max(self.chunksize);
        self
    }

    /// Pulls and submits input until the window is full or the input ran out.
    fn top_up(&mut self) {
        while !self.exhausted && self.submitted - self.taken + self.chunksize <= self.in_flight {
            let chunk: Vec<T> = self.input.by_ref().take(self.chunksize).collect();
            let len = chunk.len();
            if len < self.chunksize {
                self.exhausted = true; // an iterator need not be fused: do not ask again
            }
            if len == 0 {
                break;
            }
            let first = self.submitted;
            self.submitted += len;
            if let Err(error) = (self.submit)(first, chunk) {
                for index in first..first + len {
                    self.sink.put(index, Err(TaskError::Submit(error.clone())));
                }
                self.exhausted = true;
            }
        }
    }

    /// Tells the pool this stream submits no more.
    fn end(&mut self) {
        if let Some(end) = self.end.take() {
            end();
        }
    }
}

impl<T, R: Send, I: Iterator<Item = T>> Iterator for IMap<'_, T, R, I> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.top_up();
        if self.exhausted {
            self.end();
        }
        if self.taken == self.submitted {
            return None;
        }
        let result = self.sink.take(self.taken);
        self.taken += 1;
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = self.submitted - self.taken;
        if self.exhausted {
            return (pending, Some(pending));
        }
        let (low, high) = self.input.size_hint();
        (
            low.saturating_add(pending),
            high.and_then(|h| h.checked_add(pending)),
        )
    }
}

impl<T, R: Send, I: ExactSizeIterator<Item = T>> ExactSizeIterator for IMap<'_, T, R, I> {}

impl<T, R, I> Drop for IMap<'_, T, R, I> {
    fn drop(&mut self) {
        if let Some(end) = self.end.take() {
            end();
        }
    }
}
