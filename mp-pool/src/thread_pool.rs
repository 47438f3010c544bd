//! [`ThreadPool`]: Python's `multiprocessing.pool.ThreadPool`, the pool's whole API over
//! threads of the calling process, on the same scheduling core as the process pool.
//!
//! Nothing is sent anywhere, so tasks are closures (`Send + 'static`). A thread cannot be
//! killed: a task past its time limit fails with [`TaskError::TimedOut`] at once and its
//! thread is abandoned and replaced; the abandoned thread runs the task to its end and the
//! result is discarded. `terminate` abandons every worker the same way.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::Schedule;
use crate::chunks::{cut, default_map_chunksize};
use crate::completion::Completion;
use crate::core::{JobSink, JobSpec};
use crate::error::{JoinError, PoolError, SubmitError, TaskError, WorkerRef};
use crate::imap::{IMap, open_stream};
use crate::result::{ApplyResult, AsyncResult, MapResult, Options};
use crate::sink::{ApplySink, Decoding, MapSink};
use crate::star::StarFn;
use crate::supervisor::Runner;
use crate::thread_backend::{
    Initializer, ThreadBackend, ThreadJob, ThreadOutput, decode_thread_output, thread_backend,
    thread_task,
};

/// Settings of a [`ThreadPool`], then [`build`](Self::build).
#[derive(Default)]
pub struct ThreadPoolBuilder {
    /// Worker count; default: the usable CPU count.
    workers: Option<usize>,
    /// Run once in each worker before its first task.
    initializer: Option<Initializer>,
    /// Jobs a worker runs before it is replaced; default: no limit.
    max_tasks_per_child: Option<usize>,
    /// Default time limit of a task; default: none.
    task_timeout: Option<Duration>,
}

impl ThreadPoolBuilder {
    /// The default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of worker threads (at least 1). Default: the usable CPU count
    /// ([`std::thread::available_parallelism`], which honours affinity and cgroup quotas, like
    /// Python's `process_cpu_count`).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Run once in each worker before its first task; a panic in it fails the pool's creation
    /// with [`PoolError::WorkerStart`].
    pub fn initializer(mut self, init: impl Fn() + Send + Sync + 'static) -> Self {
        self.initializer = Some(Arc::new(init));
        self
    }

    /// A worker is replaced after this many jobs (a job is one task, or one chunk of a map).
    pub fn max_tasks_per_child(mut self, tasks: usize) -> Self {
        self.max_tasks_per_child = Some(tasks);
        self
    }

    /// The default time limit of each task (per submission: [`Options::timeout`]).
    pub fn task_timeout(mut self, limit: Duration) -> Self {
        self.task_timeout = Some(limit);
        self
    }

    /// Starts the pool: every worker is up and its initializer ran when this returns.
    pub fn build(self) -> Result<ThreadPool, PoolError> {
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        let schedule = Schedule::checked(workers, self.max_tasks_per_child, self.task_timeout)?;
        let (backend, events) = thread_backend(self.initializer);
        let runner = Runner::start(backend, events, schedule)?;
        Ok(ThreadPool { runner })
    }
}

/// A pool of worker threads with Python's `Pool` API (`multiprocessing.pool.ThreadPool`), for
/// I/O-bound work and closures.
///
/// Dropping a running pool terminates it, as Python's `with ThreadPool()` does; for the work to
/// complete, `close` and `join` first.
pub struct ThreadPool {
    /// The core, its supervisor and the threads.
    runner: Runner<ThreadBackend>,
}

/// The sink of a submission's jobs: `target` fed with thread outputs.
fn job_sink<R: Send + 'static>(
    target: Arc<dyn crate::sink::Collect<R>>,
) -> Arc<dyn JobSink<ThreadOutput>> {
    Arc::new(Decoding::new(target, decode_thread_output::<R>, |_| 1))
}

/// A job applying `f` to each item of `chunk`.
fn map_job<T, R, F>(f: &Arc<F>, chunk: Vec<T>) -> ThreadJob
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> R + Send + Sync + 'static,
{
    let tasks = chunk
        .into_iter()
        .map(|item| {
            let f = Arc::clone(f);
            thread_task(move || f(item))
        })
        .collect();
    ThreadJob::new(tasks)
}

impl ThreadPool {
    /// A pool of `workers` threads (at least 1), with default settings.
    pub fn new(workers: usize) -> Result<Self, PoolError> {
        ThreadPoolBuilder::new().workers(workers).build()
    }

    /// A builder for the other settings.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    /// The number of workers the pool keeps.
    pub fn size(&self) -> usize {
        self.runner.size()
    }

    /// The live workers, by name.
    pub fn workers(&self) -> Vec<WorkerRef> {
        self.runner.workers()
    }

    /// Runs `f(arg)` on a worker and waits for its result.
    pub fn apply<T, R, F>(&self, f: F, arg: T) -> Result<R, TaskError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: FnOnce(T) -> R + Send + 'static,
    {
        self.apply_async(f, arg)?.get()
    }

    /// Submits `f(arg)`; the handle gives its result.
    pub fn apply_async<T, R, F>(&self, f: F, arg: T) -> Result<ApplyResult<R>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: FnOnce(T) -> R + Send + 'static,
    {
        self.apply_async_with(f, arg, Options::new())
    }

    /// [`apply_async`](Self::apply_async) with callbacks or a time limit (the chunk size does
    /// not apply).
    pub fn apply_async_with<T, R, F>(
        &self,
        f: F,
        arg: T,
        options: Options<R>,
    ) -> Result<ApplyResult<R>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: FnOnce(T) -> R + Send + 'static,
    {
        let completion = Arc::new(Completion::new());
        let target = Arc::new(ApplySink::new(Arc::clone(&completion), options.callbacks));
        let job = JobSpec {
            payload: ThreadJob::new(vec![thread_task(move || f(arg))]),
            sink: job_sink(target),
            first: 0,
            timeout: options.timeout,
        };
        self.runner.submit(vec![job], false)?;
        Ok(AsyncResult::new(completion))
    }

    /// Applies `f` to every item and returns the results in input order, one per item (a
    /// failed task does not stop the others). The chunk size follows Python's rule.
    pub fn map<T, R, F, I>(&self, f: F, items: I) -> Result<Vec<Result<R, TaskError>>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
    {
        Ok(self.map_async(f, items)?.get())
    }

    /// [`map`](Self::map) with `chunksize` items sent to a worker at a time.
    pub fn map_chunked<T, R, F, I>(
        &self,
        f: F,
        items: I,
        chunksize: usize,
    ) -> Result<Vec<Result<R, TaskError>>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
    {
        let options = Options::new().chunksize(chunksize);
        Ok(self.map_async_with(f, items, options)?.get())
    }

    /// Submits `f` over every item; the handle gives the results in input order.
    pub fn map_async<T, R, F, I>(&self, f: F, items: I) -> Result<MapResult<R>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
    {
        self.map_async_with(f, items, Options::new())
    }

    /// [`map_async`](Self::map_async) with a chunk size, a time limit or callbacks (the success
    /// callback sees the whole list, the error callback the first error, as in Python).
    pub fn map_async_with<T, R, F, I>(
        &self,
        f: F,
        items: I,
        options: Options<Vec<R>>,
    ) -> Result<MapResult<R>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
    {
        // Refuse before the input is consumed.
        self.runner.check_running()?;
        let items: Vec<T> = items.into_iter().collect();
        let chunksize = match options.chunksize {
            Some(0) => return Err(SubmitError::ZeroChunksize),
            Some(chunksize) => chunksize,
            None => default_map_chunksize(items.len(), self.size()),
        };
        let completion = Arc::new(Completion::new());
        let target = Arc::new(MapSink::new(
            items.len(),
            Arc::clone(&completion),
            options.callbacks,
        ));
        let sink = job_sink(target);
        let f = Arc::new(f);
        let jobs = cut(items, chunksize)
            .into_iter()
            .map(|(first, chunk)| JobSpec {
                payload: map_job(&f, chunk),
                sink: Arc::clone(&sink),
                first,
                timeout: options.timeout,
            })
            .collect();
        self.runner.submit(jobs, false)?;
        Ok(AsyncResult::new(completion))
    }

    /// Like [`map`](Self::map), each item a tuple of arguments for `f` (Python's `starmap`).
    pub fn starmap<A, F, I>(
        &self,
        f: F,
        items: I,
    ) -> Result<Vec<Result<F::Output, TaskError>>, SubmitError>
    where
        A: Send + 'static,
        F: StarFn<A>,
        F::Output: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        self.map(move |args| f.call_star(args), items)
    }

    /// [`starmap`](Self::starmap) with `chunksize` items sent to a worker at a time.
    pub fn starmap_chunked<A, F, I>(
        &self,
        f: F,
        items: I,
        chunksize: usize,
    ) -> Result<Vec<Result<F::Output, TaskError>>, SubmitError>
    where
        A: Send + 'static,
        F: StarFn<A>,
        F::Output: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        self.map_chunked(move |args| f.call_star(args), items, chunksize)
    }

    /// Like [`map_async`](Self::map_async), each item a tuple of arguments for `f`.
    pub fn starmap_async<A, F, I>(
        &self,
        f: F,
        items: I,
    ) -> Result<MapResult<F::Output>, SubmitError>
    where
        A: Send + 'static,
        F: StarFn<A>,
        F::Output: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        self.starmap_async_with(f, items, Options::new())
    }

    /// [`starmap_async`](Self::starmap_async) with options, as
    /// [`map_async_with`](Self::map_async_with).
    pub fn starmap_async_with<A, F, I>(
        &self,
        f: F,
        items: I,
        options: Options<Vec<F::Output>>,
    ) -> Result<MapResult<F::Output>, SubmitError>
    where
        A: Send + 'static,
        F: StarFn<A>,
        F::Output: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        self.map_async_with(move |args| f.call_star(args), items, options)
    }

    /// Applies `f` to every item lazily, yielding results in input order as they come (one
    /// item a job; see [`imap_chunked`](Self::imap_chunked)).
    pub fn imap<T, R, F, I>(
        &self,
        f: F,
        items: I,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
    {
        self.stream(f, items, 1, true)
    }

    /// [`imap`](Self::imap) with `chunksize` items sent to a worker at a time.
    pub fn imap_chunked<T, R, F, I>(
        &self,
        f: F,
        items: I,
        chunksize: usize,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
    {
        self.stream(f, items, chunksize, true)
    }

    /// Like [`imap`](Self::imap), yielding results in the order they complete.
    pub fn imap_unordered<T, R, F, I>(
        &self,
        f: F,
        items: I,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
    {
        self.stream(f, items, 1, false)
    }

    /// [`imap_unordered`](Self::imap_unordered) with `chunksize` items a job.
    pub fn imap_unordered_chunked<T, R, F, I>(
        &self,
        f: F,
        items: I,
        chunksize: usize,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
    {
        self.stream(f, items, chunksize, false)
    }

    /// The one lazy stream behind the `imap` forms.
    fn stream<T, R, F, I>(
        &self,
        f: F,
        items: I,
        chunksize: usize,
        ordered: bool,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
    {
        let f = Arc::new(f);
        let job = move |_first, chunk| Ok(map_job(&f, chunk));
        open_stream(&self.runner, items, chunksize, ordered, job_sink, job)
    }

    /// No new submissions; what was submitted completes, then the workers exit.
    pub fn close(&self) {
        self.runner.close();
    }

    /// Stops at once: every unfinished task fails with [`TaskError::Terminated`]; running
    /// threads are abandoned (they finish their task unobserved).
    pub fn terminate(&self) {
        self.runner.terminate();
    }

    /// Waits until every worker has exited; only after [`close`](Self::close) or
    /// [`terminate`](Self::terminate), else [`JoinError::StillRunning`].
    pub fn join(&self) -> Result<(), JoinError> {
        self.runner.join()
    }
}
