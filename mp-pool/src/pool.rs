//! [`Pool`]: Python's `multiprocessing.Pool`, the pool's whole API over worker processes, on
//! the same scheduling core as [`ThreadPool`](crate::ThreadPool).
//!
//! Tasks are plain functions (`fn(T) -> R`, serde `T` and `R`) so that they reach workers
//! under every start method; each job carries the function's [`FnRef`](mp_sync::raw::FnRef)
//! and a trampoline monomorphized for its types. Arguments are encoded at submission (an
//! argument that cannot be encoded is a [`SubmitError`] then, and nothing is submitted).

use std::sync::Arc;
use std::time::Duration;

use mp_process::StartMethod;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::Schedule;
use crate::chunks::default_map_chunksize;
use crate::completion::{Completion, ReaderHint};
use crate::core::{JobSink, JobSpec};
use crate::error::{JoinError, PoolError, SubmitError, TaskError, WorkerRef};
use crate::frames;
use crate::imap::{IMap, open_stream};
use crate::pool_backend::PoolBackend;
use crate::process_backend::{Launch, ProcessOutput, decode_process_output, process_backend};
use crate::process_job::ProcessJob;
use crate::result::{ApplyResult, AsyncResult, MapResult, Options};
use crate::sink::{ApplySink, Collect, Decoding, MapSink};
use crate::supervisor::Runner;
use crate::task::{Task, encode_into, init_call, item_call};
use crate::wire::{InitCall, ItemCall};

/// Settings of a [`Pool`], then [`build`](Self::build).
#[derive(Default)]
pub struct PoolBuilder {
    /// Worker count; default: the usable CPU count.
    processes: Option<usize>,
    /// Run once in each worker before its first task (or why its arguments cannot travel).
    initializer: Option<Result<InitCall, String>>,
    /// Jobs a worker runs before it is replaced; default: no limit.
    max_tasks_per_child: Option<usize>,
    /// Resident memory in bytes past which a worker is replaced after a task; default: none.
    max_memory_per_child: Option<u64>,
    /// Default time limit of a task; default: none.
    task_timeout: Option<Duration>,
    /// Start method; default: the global one.
    start_method: Option<StartMethod>,
    /// The broker whose worker hosts run the tasks; default: none (worker processes here).
    #[cfg(feature = "redis")]
    broker: Option<crate::redis::RedisBroker>,
}

impl PoolBuilder {
    /// The default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of worker processes (at least 1). Default: the usable CPU count
    /// ([`mp_process::process_cpu_count`], Python's `process_cpu_count`).
    pub fn processes(mut self, processes: usize) -> Self {
        self.processes = Some(processes);
        self
    }

    /// Runs `f(args)` once in each worker before its first task (Python's `initializer` and
    /// `initargs`); a panic in it fails the pool's creation with [`PoolError::WorkerStart`].
    pub fn initializer<A>(mut self, f: fn(A), args: A) -> Self
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        self.initializer = Some(init_call(f, &args));
        self
    }

    /// A worker is replaced after this many jobs (a job is one task, or one chunk of a map, as
    /// in Python's `maxtasksperchild`).
    pub fn max_tasks_per_child(mut self, tasks: usize) -> Self {
        self.max_tasks_per_child = Some(tasks);
        self
    }

    /// A worker whose resident memory is above `bytes` after a task is replaced (billiard's
    /// and loky's `max_memory_per_child`): it reports its results (they are kept), leaves, and
    /// a new worker takes its place; the tasks it had not started go to other workers. It is
    /// checked whenever the worker reports: after every task that ran longer than about
    /// 100 us, and at the end of every job. Zero is refused at [`build`](Self::build).
    pub fn max_memory_per_child(mut self, bytes: u64) -> Self {
        self.max_memory_per_child = Some(bytes);
        self
    }

    /// The default time limit of each task (per submission: [`Options::timeout`]): a task
    /// past it has its worker killed and replaced, and fails with [`TaskError::TimedOut`].
    pub fn task_timeout(mut self, limit: Duration) -> Self {
        self.task_timeout = Some(limit);
        self
    }

    /// How workers are started (default: the global start method,
    /// [`mp_process::get_start_method`], forkserver unless set).
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.start_method = Some(method);
        self
    }

    /// Runs the tasks on the worker hosts of a Redis broker instead of worker processes here
    /// (see [`crate::redis`]); [`processes`](Self::processes) is then the number of jobs in
    /// flight (default 16), and an initializer is refused ([`PoolError::Broker`]).
    #[cfg(feature = "redis")]
    pub fn broker(mut self, broker: crate::redis::RedisBroker) -> Self {
        self.broker = Some(broker);
        self
    }

    /// Starts the pool: every worker is started when this returns, and with an
    /// [`initializer`](Self::initializer) every worker is up and its initializer ran (without
    /// one, as Python's `Pool`, it does not wait for the workers to boot: the first jobs go to
    /// them once they are up). On a failure (a worker that could not be started, an
    /// initializer that failed), the workers already started are stopped.
    pub fn build(self) -> Result<Pool, PoolError> {
        #[cfg(feature = "redis")]
        if let Some(broker) = self.broker {
            if self.initializer.is_some() {
                return Err(crate::redis::BrokerError::Initializer.into());
            }
            let slots = self.processes.unwrap_or(crate::redis::DEFAULT_IN_FLIGHT);
            let schedule = Schedule::checked(slots, self.max_tasks_per_child, self.task_timeout)?;
            let (backend, events) = crate::redis::submitter::redis_backend(&broker)?;
            let runner = Runner::start(PoolBackend::Redis(backend), events, schedule)?;
            return Ok(Pool { runner });
        }
        let processes = self.processes.unwrap_or_else(mp_process::process_cpu_count);
        let schedule = Schedule::checked(processes, self.max_tasks_per_child, self.task_timeout)?;
        if self.max_memory_per_child == Some(0) {
            return Err(PoolError::ZeroMaxMemory);
        }
        let init = self
            .initializer
            .transpose()
            .map_err(PoolError::InitializerArgs)?;
        let launch = Launch {
            method: self
                .start_method
                .unwrap_or_else(mp_process::get_start_method),
            init,
            max_memory: self.max_memory_per_child,
        };
        let (backend, events) = process_backend(launch);
        let runner = Runner::start(PoolBackend::Local(backend), events, schedule)?;
        Ok(Pool { runner })
    }
}

/// A pool of worker processes with Python's `multiprocessing.Pool` API.
///
/// ```
/// use mp_pool::Pool;
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let pool = Pool::new(2)?;
/// let squares: Vec<u64> = pool
///     .map(square, 0..10)?
///     .into_iter()
///     .collect::<Result<_, _>>()?;
/// assert_eq!(squares, (0..10).map(|x| x * x).collect::<Vec<_>>());
/// pool.close();
/// pool.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A worker that dies (killed, crashed, `exit`) fails exactly the task it held, with
/// [`TaskError::WorkerLost`] naming the task, the worker's pid and the signal or exit code; it
/// is replaced, and every other task completes. Dropping a running pool terminates it, as
/// Python's `with Pool()` does; for the work to complete, `close` and `join` first.
pub struct Pool {
    /// The core, its supervisor and the workers.
    runner: Runner<PoolBackend>,
}

/// The sink of a submission's jobs: `target` fed with the workers' encoded results.
fn job_sink<R: DeserializeOwned + Send + 'static>(
    target: Arc<dyn Collect<R>>,
) -> Arc<dyn JobSink<ProcessOutput>> {
    Arc::new(
        Decoding::new(target, decode_process_output::<R>, ProcessOutput::items)
            .decoding_now(ProcessOutput::is_shared),
    )
}

/// The most items of one job: a worker's running-item word counts them in 32 bits.
const MAX_JOB_ITEMS: usize = u32::MAX as usize - 1;

/// Encodes `items` as one job's argument records ([`crate::frames`]), with how many there
/// are; the error names the task (`first` is the index of the first).
fn encode_job<A: Serialize>(
    items: impl IntoIterator<Item = A>,
    first: usize,
) -> Result<(Vec<u8>, usize), SubmitError> {
    let items = items.into_iter();
    let mut args = Vec::with_capacity(items.size_hint().0.saturating_mul(8));
    let mut len = 0;
    for (k, item) in items.enumerate() {
        frames::push(
            &mut args,
            |out| encode_into(&item, out),
            |bytes| format!("its {bytes} bytes are too many"),
        )
        .map_err(|message| SubmitError::ArgumentEncoding {
            task: first + k,
            message,
        })?;
        len += 1;
    }
    Ok((args, len))
}

/// Encodes `items` as jobs of `chunksize` argument records each (the last may be shorter):
/// for each, the index of its first item, its records and how many.
fn encode_jobs<A: Serialize>(
    items: impl IntoIterator<Item = A>,
    chunksize: usize,
) -> Result<Vec<(usize, Vec<u8>, usize)>, SubmitError> {
    let mut items = items.into_iter();
    let mut jobs = Vec::new();
    let mut first = 0;
    loop {
        let (args, len) = encode_job(items.by_ref().take(chunksize), first)?;
        if len == 0 {
            return Ok(jobs);
        }
        jobs.push((first, args, len));
        first += len;
    }
}

impl Pool {
    /// A pool of `processes` workers (at least 1) with default settings.
    pub fn new(processes: usize) -> Result<Self, PoolError> {
        PoolBuilder::new().processes(processes).build()
    }

    /// A builder for the other settings.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::new()
    }

    /// The number of workers the pool keeps.
    pub fn size(&self) -> usize {
        self.runner.size()
    }

    /// The live workers, with their pids.
    pub fn workers(&self) -> Vec<WorkerRef> {
        self.runner.workers()
    }

    /// Runs `f(arg)` on a worker and waits for its result.
    pub fn apply<T, R>(&self, f: fn(T) -> R, arg: T) -> Result<R, TaskError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async(f, arg)?.get()
    }

    /// Submits `f(arg)`; the handle gives its result.
    pub fn apply_async<T, R>(&self, f: fn(T) -> R, arg: T) -> Result<ApplyResult<R>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async_with(f, arg, Options::new())
    }

    /// [`apply_async`](Self::apply_async) with callbacks or a time limit (the chunk size does
    /// not apply).
    pub fn apply_async_with<T, R>(
        &self,
        f: fn(T) -> R,
        arg: T,
        options: Options<R>,
    ) -> Result<ApplyResult<R>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let (args, len) = encode_job([arg], 0)?;
        // A thread that waits for the result reads it from its worker itself.
        let hint = Arc::new(ReaderHint::default());
        let completion = Arc::new(Completion::read_by(Some(Arc::clone(&hint))));
        let target = Arc::new(ApplySink::new(Arc::clone(&completion), options.callbacks));
        let job = JobSpec {
            payload: ProcessJob::new(item_call(f), args, len).hinting(hint),
            sink: job_sink(target),
            first: 0,
            timeout: options.timeout,
        };
        self.runner.submit(vec![job], false)?;
        Ok(AsyncResult::new(completion))
    }

    /// Applies `f` to every item and returns the results in input order, one per item (a
    /// failed task does not stop the others). Chunks by Python's rule.
    pub fn map<T, R, I>(
        &self,
        f: fn(T) -> R,
        items: I,
    ) -> Result<Vec<Result<R, TaskError>>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        Ok(self.map_async(f, items)?.get())
    }

    /// [`map`](Self::map) with `chunksize` items sent to a worker at a time.
    pub fn map_chunked<T, R, I>(
        &self,
        f: fn(T) -> R,
        items: I,
        chunksize: usize,
    ) -> Result<Vec<Result<R, TaskError>>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        let options = Options::new().chunksize(chunksize);
        Ok(self.map_async_with(f, items, options)?.get())
    }

    /// Submits `f` over every item; the handle gives the results in input order.
    pub fn map_async<T, R, I>(&self, f: fn(T) -> R, items: I) -> Result<MapResult<R>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        self.map_async_with(f, items, Options::new())
    }

    /// [`map_async`](Self::map_async) with a chunk size, a time limit or callbacks (the success
    /// callback sees the whole list, the error callback the first error, as in Python).
    pub fn map_async_with<T, R, I>(
        &self,
        f: fn(T) -> R,
        items: I,
        options: Options<Vec<R>>,
    ) -> Result<MapResult<R>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        self.submit_map(f, items, options)
    }

    /// Like [`map`](Self::map), each item a tuple of arguments for `f` (Python's `starmap`):
    /// `pool.starmap(mul as fn(u64, u64) -> u64, pairs)`.
    pub fn starmap<A, F, I>(
        &self,
        f: F,
        items: I,
    ) -> Result<Vec<Result<F::Output, TaskError>>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        F: Task<A>,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        Ok(self.submit_map(f, items, Options::new())?.get())
    }

    /// [`starmap`](Self::starmap) with `chunksize` items sent to a worker at a time.
    pub fn starmap_chunked<A, F, I>(
        &self,
        f: F,
        items: I,
        chunksize: usize,
    ) -> Result<Vec<Result<F::Output, TaskError>>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        F: Task<A>,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        let options = Options::new().chunksize(chunksize);
        Ok(self.submit_map(f, items, options)?.get())
    }

    /// Like [`map_async`](Self::map_async), each item a tuple of arguments for `f`.
    pub fn starmap_async<A, F, I>(
        &self,
        f: F,
        items: I,
    ) -> Result<MapResult<F::Output>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        F: Task<A>,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        self.submit_map(f, items, Options::new())
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
        A: Serialize + DeserializeOwned + 'static,
        F: Task<A>,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        self.submit_map(f, items, options)
    }

    /// The one submission behind the map and starmap forms.
    fn submit_map<A, F, I>(
        &self,
        f: F,
        items: I,
        options: Options<Vec<F::Output>>,
    ) -> Result<MapResult<F::Output>, SubmitError>
    where
        A: Serialize + DeserializeOwned + 'static,
        F: Task<A>,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        // Refuse before the input is consumed.
        self.runner.check_running()?;
        if options.chunksize == Some(0) {
            return Err(SubmitError::ZeroChunksize);
        }
        let chunksize = |len| {
            options
                .chunksize
                .unwrap_or_else(|| default_map_chunksize(len, self.size()))
                .min(MAX_JOB_ITEMS)
        };
        // Every argument is encoded before anything is submitted. An input that says its
        // length is encoded as it is read (no vector of the items first: a pass over them and,
        // for a large map on a fresh pool, its pages' faults); the count is the items read.
        let items = items.into_iter();
        let encoded = match items.size_hint() {
            (low, Some(high)) if low == high => encode_jobs(items, chunksize(low))?,
            _ => {
                let items: Vec<A> = items.collect();
                let chunksize = chunksize(items.len());
                encode_jobs(items, chunksize)?
            }
        };
        let len = encoded.iter().map(|(_, _, n)| n).sum();
        let completion = Arc::new(Completion::new());
        let target = Arc::new(MapSink::new(
            len,
            Arc::clone(&completion),
            options.callbacks,
        ));
        let sink = job_sink(target);
        let call = item_call(f);
        let jobs = encoded
            .into_iter()
            .map(|(first, args, len)| JobSpec {
                payload: ProcessJob::new(call, args, len),
                sink: Arc::clone(&sink),
                first,
                timeout: options.timeout,
            })
            .collect();
        self.runner.submit(jobs, false)?;
        Ok(AsyncResult::new(completion))
    }

    /// Applies `f` to every item lazily, yielding results in input order as they come (one
    /// item a job; see [`imap_chunked`](Self::imap_chunked)). An argument that cannot be
    /// encoded fails its chunk's results with [`TaskError::Submit`] and ends the input.
    pub fn imap<T, R, I>(
        &self,
        f: fn(T) -> R,
        items: I,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        self.stream(item_call(f), items, 1, true)
    }

    /// [`imap`](Self::imap) with `chunksize` items sent to a worker at a time.
    pub fn imap_chunked<T, R, I>(
        &self,
        f: fn(T) -> R,
        items: I,
        chunksize: usize,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        self.stream(item_call(f), items, chunksize, true)
    }

    /// Like [`imap`](Self::imap), yielding results in the order they complete.
    pub fn imap_unordered<T, R, I>(
        &self,
        f: fn(T) -> R,
        items: I,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        self.stream(item_call(f), items, 1, false)
    }

    /// [`imap_unordered`](Self::imap_unordered) with `chunksize` items a job.
    pub fn imap_unordered_chunked<T, R, I>(
        &self,
        f: fn(T) -> R,
        items: I,
        chunksize: usize,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        self.stream(item_call(f), items, chunksize, false)
    }

    /// The one lazy stream behind the `imap` forms.
    fn stream<T, R, I>(
        &self,
        call: ItemCall,
        items: I,
        chunksize: usize,
        ordered: bool,
    ) -> Result<IMap<'_, T, R, I::IntoIter>, SubmitError>
    where
        T: Serialize + 'static,
        R: DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        let job = move |first, chunk: Vec<T>| {
            let (args, len) = encode_job(chunk, first)?;
            Ok(ProcessJob::new(call, args, len))
        };
        let chunksize = chunksize.min(MAX_JOB_ITEMS);
        open_stream(&self.runner, items, chunksize, ordered, job_sink, job)
    }

    /// Submits one job of `len` already encoded argument records, its results to `sink` (a
    /// broker's host runs the entries it takes this way).
    #[cfg(feature = "redis")]
    pub(crate) fn submit_encoded(
        &self,
        call: ItemCall,
        args: Vec<u8>,
        len: usize,
        timeout: Option<Duration>,
        sink: Arc<dyn JobSink<ProcessOutput>>,
    ) -> Result<(), SubmitError> {
        let job = JobSpec {
            payload: ProcessJob::new(call, args, len),
            sink,
            first: 0,
            timeout,
        };
        self.runner.submit(vec![job], false)
    }

    /// No new submissions; what was submitted completes, then the workers exit.
    pub fn close(&self) {
        self.runner.close();
    }

    /// Stops at once: every unfinished task fails with [`TaskError::Terminated`] and every
    /// worker is killed (and reaped).
    pub fn terminate(&self) {
        self.runner.terminate();
    }

    /// Waits until every worker has exited and was reaped; only after
    /// [`close`](Self::close) or [`terminate`](Self::terminate), else
    /// [`JoinError::StillRunning`].
    pub fn join(&self) -> Result<(), JoinError> {
        self.runner.join()
    }
}
