//! A scripted backend for testing the core's books fast and deterministically: its "workers"
//! run nothing; the test finishes their items one by one, or makes them die, on command. (Not
//! a mock of the OS: the real backends have their own tests.)

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mp_sync::Deadline;

use crate::backend::{Backend, Event, Events, Handover, Held, JobId, Payload, Schedule};
use crate::completion::{Callbacks, Completion};
use crate::core::{JobSink, JobSpec};
use crate::error::{PoolError, TaskError, WorkerExit, WorkerId, WorkerRef, WorkerStartError};
use crate::result::{AsyncResult, MapResult};
use crate::sink::{Decoding, MapSink};
use crate::supervisor::Runner;

/// The longest any test here waits for the supervisor.
const BOUND: Duration = Duration::from_secs(20);

/// A job: numbers; a worker's result for `x` is `10 * x`.
#[derive(Clone, Debug)]
struct FakeJob {
    /// Every item as submitted.
    items: Arc<Vec<u64>>,
    /// The first item this payload covers.
    start: usize,
    /// One past the last.
    end: usize,
}

impl Payload for FakeJob {
    fn len(&self) -> usize {
        self.end - self.start
    }

    fn tail(&self, skip: usize) -> Self {
        FakeJob {
            items: Arc::clone(&self.items),
            start: (self.start + skip).min(self.end),
            end: self.end,
        }
    }

    fn head(&self, take: usize) -> Self {
        FakeJob {
            items: Arc::clone(&self.items),
            start: self.start,
            end: (self.start + take).min(self.end),
        }
    }
}

/// One scripted worker.
#[derive(Default)]
struct FakeWorker {
    /// Its jobs (and how many items of the first it finished).
    queue: VecDeque<(JobId, FakeJob)>,
    /// Told to exit after its jobs.
    retired: bool,
}

/// What the test sees and drives.
#[derive(Default)]
struct Script {
    /// The live workers.
    workers: BTreeMap<WorkerId, FakeWorker>,
    /// Every worker ever started, in order.
    started: Vec<WorkerId>,
    /// Workers killed by the core.
    killed: Vec<WorkerId>,
    /// How many of the next starts fail.
    failing_starts: usize,
    /// Started workers report ready only when the test says ([`Fake::ready_all`]), and the
    /// pool's creation does not wait for it.
    ready_later: bool,
    /// Workers started and not yet reported ready (with `ready_later`).
    unready: Vec<WorkerId>,
}

/// The test's handle.
#[derive(Clone)]
struct Fake {
    /// The script, shared with the backend.
    script: Arc<(Mutex<Script>, Condvar)>,
    /// Where events go.
    events: Sender<Option<Event<Vec<u64>>>>,
}

impl Fake {
    /// Locks the script.
    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.0.lock().unwrap()
    }

    /// Waits (bounded) until `cond` holds on the script.
    fn wait_for(&self, what: &str, mut cond: impl FnMut(&Script) -> bool) {
        let until = Instant::now() + BOUND;
        let mut script = self.lock();
        while !cond(&script) {
            let left = until.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for: {what}");
            script = self.script.1.wait_timeout(script, left).unwrap().0;
        }
    }

    /// Every worker started so far reports ready (with `ready_later`).
    fn ready_all(&self) {
        for worker in std::mem::take(&mut self.lock().unready) {
            let _ = self.events.send(Some(Event::Ready { worker }));
        }
    }

    /// Worker `w` finishes the next item of its first job.
    fn finish_item(&self, w: WorkerId) {
        let mut script = self.lock();
        let worker = script.workers.get_mut(&w).expect("a live worker");
        let (job_id, job) = worker.queue.front_mut().expect("a job to finish");
        let x = job.items[job.start];
        let event = Event::Output {
            worker: w,
            job: *job_id,
            items: 1,
            output: vec![10 * x],
        };
        job.start += 1;
        if job.len() == 0 {
            worker.queue.pop_front();
        }
        let _ = self.events.send(Some(event));
        if worker.retired && worker.queue.is_empty() {
            script.workers.remove(&w);
            let gone = Event::Exited {
                worker: w,
                how: WorkerExit::Code(0),
                held: Held::FirstUnreported,
            };
            let _ = self.events.send(Some(gone));
        }
    }

    /// Worker `w` dies.
    fn crash(&self, w: WorkerId, how: WorkerExit) {
        self.crash_holding(w, how, Held::FirstUnreported);
    }

    /// Worker `w` dies, its backend naming `held` as the item it ran.
    fn crash_holding(&self, w: WorkerId, how: WorkerExit, held: Held) {
        self.lock().workers.remove(&w);
        let gone = Event::Exited {
            worker: w,
            how,
            held,
        };
        let _ = self.events.send(Some(gone));
    }

    /// The first worker holding a job, if any.
    fn busy_worker(script: &Script) -> Option<WorkerId> {
        let busy = script.workers.iter().find(|(_, w)| !w.queue.is_empty());
        busy.map(|(id, _)| *id)
    }

    /// Finishes items on whichever worker holds one, until `done` holds.
    fn run_until(&self, done: impl Fn() -> bool) {
        let until = Instant::now() + BOUND;
        while !done() {
            assert!(Instant::now() < until, "the work did not complete");
            let busy = Self::busy_worker(&self.lock());
            match busy {
                Some(w) => self.finish_item(w),
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

/// The backend side.
struct FakeBackend(Fake);

impl Backend for FakeBackend {
    type Job = FakeJob;
    type Output = Vec<u64>;
    const QUEUE_DEPTH: usize = 2;

    fn start(&mut self, worker: WorkerId) -> Result<Option<u32>, WorkerStartError> {
        let mut script = self.0.lock();
        if script.failing_starts > 0 {
            script.failing_starts -= 1;
            let error = WorkerStartError::Initializer {
                worker: WorkerRef {
                    id: worker,
                    pid: None,
                },
                message: "scripted failure".into(),
            };
            let _ = self
                .0
                .events
                .send(Some(Event::StartFailed { worker, error }));
        } else {
            script.workers.insert(worker, FakeWorker::default());
            if script.ready_later {
                script.unready.push(worker);
            } else {
                let _ = self.0.events.send(Some(Event::Ready { worker }));
            }
        }
        script.started.push(worker);
        self.0.script.1.notify_all();
        Ok(Some(1000 + worker.0 as u32))
    }

    fn give(&mut self, worker: WorkerId, job: JobId, payload: FakeJob, _: Handover) {
        let mut script = self.0.lock();
        if let Some(w) = script.workers.get_mut(&worker) {
            w.queue.push_back((job, payload));
        }
        self.0.script.1.notify_all();
    }

    fn retire(&mut self, worker: WorkerId) {
        let mut script = self.0.lock();
        let Some(w) = script.workers.get_mut(&worker) else {
            return;
        };
        w.retired = true;
        if w.queue.is_empty() {
            script.workers.remove(&worker);
            let gone = Event::Exited {
                worker,
                how: WorkerExit::Code(0),
                held: Held::FirstUnreported,
            };
            let _ = self.0.events.send(Some(gone));
        }
        self.0.script.1.notify_all();
    }

    fn kill(&mut self, worker: WorkerId) {
        let mut script = self.0.lock();
        script.killed.push(worker);
        if script.workers.remove(&worker).is_some() {
            let gone = Event::Exited {
                worker,
                how: WorkerExit::Signal(9),
                held: Held::FirstUnreported,
            };
            let _ = self.0.events.send(Some(gone));
        }
        self.0.script.1.notify_all();
    }

    fn held(&self, _worker: WorkerId) -> Held {
        Held::FirstUnreported
    }

    fn wake(&mut self) {
        let _ = self.0.events.send(None);
    }

    fn creation_waits_for_ready(&self) -> bool {
        !self.0.lock().ready_later
    }
}

/// The events side.
struct FakeEvents(Receiver<Option<Event<Vec<u64>>>>);

impl Events<Vec<u64>> for FakeEvents {
    fn next(&mut self, deadline: Option<Deadline>) -> Option<Event<Vec<u64>>> {
        match deadline {
            None => self.0.recv().ok().flatten(),
            Some(d) => self.0.recv_timeout(d.remaining()).ok().flatten(),
        }
    }
}

/// A pool over the fake backend.
fn fake_pool(
    schedule: Schedule,
    failing_starts: usize,
) -> (Result<Runner<FakeBackend>, PoolError>, Fake) {
    fake_pool_with(schedule, |script| script.failing_starts = failing_starts)
}

/// A pool over the fake backend, its script set up by `setup` before the workers start.
fn fake_pool_with(
    schedule: Schedule,
    setup: impl FnOnce(&mut Script),
) -> (Result<Runner<FakeBackend>, PoolError>, Fake) {
    let (tx, rx) = mpsc::channel();
    let fake = Fake {
        script: Arc::new((Mutex::new(Script::default()), Condvar::new())),
        events: tx,
    };
    setup(&mut fake.lock());
    let runner = Runner::start(FakeBackend(fake.clone()), FakeEvents(rx), schedule);
    (runner, fake)
}

/// The schedule of most tests: 2 workers, no limits.
fn two_workers() -> Schedule {
    Schedule {
        workers: 2,
        max_tasks_per_child: None,
        task_timeout: None,
    }
}

/// Decodes the fake's output.
fn decode(
    output: Vec<u64>,
    _worker: WorkerRef,
    _first: usize,
    out: &mut Vec<Result<u64, TaskError>>,
) -> usize {
    out.extend(output.into_iter().map(Ok));
    0
}

/// Submits a map of `items` in chunks of `chunksize`.
fn map(runner: &Runner<FakeBackend>, items: Vec<u64>, chunksize: usize) -> MapResult<u64> {
    let completion = Arc::new(Completion::new());
    let target = Arc::new(MapSink::new(
        items.len(),
        Arc::clone(&completion),
        Callbacks::default(),
    ));
    let sink: Arc<dyn JobSink<Vec<u64>>> = Arc::new(Decoding::new(target, decode, Vec::len));
    let jobs = crate::chunks::cut(items, chunksize)
        .into_iter()
        .map(|(first, chunk)| JobSpec {
            payload: FakeJob {
                end: chunk.len(),
                items: Arc::new(chunk),
                start: 0,
            },
            sink: Arc::clone(&sink),
            first,
            timeout: None,
        })
        .collect();
    runner.submit(jobs, false).unwrap();
    AsyncResult::new(completion)
}

/// Waits until the workers hold `jobs` jobs in all.
fn wait_for_jobs_given(fake: &Fake, jobs: usize) {
    fake.wait_for("the jobs given", |s| {
        s.workers.values().map(|w| w.queue.len()).sum::<usize>() == jobs
    });
}

/// Asserts that every result but the one at `except` is its index times ten (the map's work).
fn assert_right_but(results: &[Result<u64, TaskError>], except: Option<usize>) {
    for (i, r) in results
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
    {
        assert_eq!(*r.as_ref().unwrap(), 10 * i as u64, "{results:?}");
    }
}

/// Worker 0 of a map of 0..10 in chunks of 5 dies before it reported anything, its backend
/// naming `held`; returns the map's results.
fn crash_first_worker_holding(held: impl FnOnce(JobId) -> Held) -> Vec<Result<u64, TaskError>> {
    let (runner, fake) = fake_pool(two_workers(), 0);
    let runner = runner.unwrap();
    let result = map(&runner, (0..10).collect(), 5);
    wait_for_jobs_given(&fake, 2);
    let w0 = WorkerId(0);
    let job = fake.lock().workers[&w0].queue[0].0;
    fake.crash_holding(w0, WorkerExit::Signal(9), held(job));
    fake.run_until(|| result.ready());
    let results = result.get();
    runner.close();
    runner.join().unwrap();
    results
}

#[test]
fn a_named_held_item_fails_alone_and_its_unreported_predecessors_rerun() {
    // Items 0..3 finished but their flush died with the worker: they run again; item 3 fails.
    let results = crash_first_worker_holding(|job| Held::Item {
        job: job.tag(),
        item: 3,
    });
    let failed: Vec<usize> = (0..10).filter(|&i| results[i].is_err()).collect();
    assert_eq!(failed, vec![3], "{results:?}");
    assert!(matches!(
        results[3],
        Err(TaskError::WorkerLost { task: 3, .. })
    ));
    assert_right_but(&results, Some(3));
}

#[test]
fn a_worker_leaving_mid_job_gives_back_only_what_it_did_not_report() {
    let (runner, fake) = fake_pool(two_workers(), 0);
    let runner = runner.unwrap();
    let result = map(&runner, (0..10).collect(), 5);
    wait_for_jobs_given(&fake, 2);
    let w0 = WorkerId(0);
    fake.finish_item(w0);
    fake.finish_item(w0);
    fake.crash_holding(w0, WorkerExit::Code(0), Held::Nothing);
    fake.run_until(|| result.ready());
    let results = result.get();
    assert_right_but(&results, None);
    runner.close();
    runner.join().unwrap();
}

#[test]
fn a_worker_between_items_fails_nothing() {
    let results = crash_first_worker_holding(|_| Held::Nothing);
    assert_right_but(&results, None);
}

#[test]
fn a_death_fails_exactly_the_held_task_and_redispatches_the_rest() {
    let (runner, fake) = fake_pool(two_workers(), 0);
    let runner = runner.unwrap();
    // 10 items in chunks of 3: jobs [0,1,2] [3,4,5] [6,7,8] [9]; depth 2 on 2 workers.
    let result = map(&runner, (0..10).collect(), 3);
    wait_for_jobs_given(&fake, 4);
    let w0 = WorkerId(0);
    fake.finish_item(w0); // item 0 (or 3) done; the next one is held
    let held = {
        let s = fake.lock();
        let (_, job) = &s.workers[&w0].queue[0];
        job.items[job.start]
    };
    fake.crash(w0, WorkerExit::Signal(9));
    fake.run_until(|| result.ready());
    let results = result.get();
    let failed: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .collect();
    assert_eq!(failed.len(), 1, "{results:?}");
    let (index, error) = failed[0];
    assert_eq!(index as u64, held);
    match error.as_ref().unwrap_err() {
        TaskError::WorkerLost { task, worker, how } => {
            assert_eq!(*task, index);
            assert_eq!(worker.id, w0);
            assert_eq!(worker.pid, Some(1000));
            assert_eq!(*how, WorkerExit::Signal(9));
        }
        other => panic!("expected WorkerLost, got {other}"),
    }
    assert_right_but(&results, Some(index));
    assert!(
        fake.lock().started.contains(&WorkerId(2)),
        "the dead worker was replaced"
    );
    runner.close();
    runner.join().unwrap();
}

#[test]
fn an_overrunning_task_times_out_and_its_worker_is_killed() {
    let schedule = Schedule {
        task_timeout: Some(Duration::from_millis(50)),
        ..two_workers()
    };
    let (runner, fake) = fake_pool(schedule, 0);
    let runner = runner.unwrap();
    let result = map(&runner, vec![7], 1);
    // Nobody finishes the item: the core must kill its worker.
    fake.wait_for("a kill", |s| !s.killed.is_empty());
    assert!(result.wait_timeout(BOUND));
    match &result.get()[0] {
        Err(TaskError::TimedOut { task: 0, limit, .. }) => {
            assert_eq!(*limit, Duration::from_millis(50));
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    // The pool is at size again and works.
    let again = map(&runner, vec![1, 2], 1);
    fake.run_until(|| again.ready());
    let values: Vec<u64> = again.get().into_iter().map(Result::unwrap).collect();
    assert_eq!(values, [10, 20]);
    runner.terminate();
    runner.join().unwrap();
}

#[test]
fn workers_are_replaced_after_max_tasks() {
    let schedule = Schedule {
        max_tasks_per_child: Some(2),
        ..two_workers()
    };
    let (runner, fake) = fake_pool(schedule, 0);
    let runner = runner.unwrap();
    let result = map(&runner, (0..20).collect(), 1);
    fake.run_until(|| result.ready());
    let values: Vec<u64> = result.get().into_iter().map(Result::unwrap).collect();
    assert_eq!(values, (0..20).map(|x| 10 * x).collect::<Vec<_>>());
    // 20 jobs, 2 a worker: at least 10 workers took part.
    assert!(fake.lock().started.len() >= 10);
    runner.close();
    runner.join().unwrap();
}

#[test]
fn close_with_pending_work_completes_it() {
    let schedule = Schedule {
        max_tasks_per_child: Some(1),
        ..two_workers()
    };
    let (runner, fake) = fake_pool(schedule, 0);
    let runner = runner.unwrap();
    let result = map(&runner, (0..6).collect(), 1);
    runner.close();
    fake.run_until(|| result.ready());
    assert!(result.get().iter().all(Result::is_ok));
    runner.join().unwrap();
    assert!(fake.lock().workers.is_empty());
}

#[test]
fn terminate_fails_every_unfinished_task_at_once() {
    let (runner, fake) = fake_pool(two_workers(), 0);
    let runner = runner.unwrap();
    let result = map(&runner, (0..10_000).collect(), 1);
    fake.wait_for("jobs given", |s| Fake::busy_worker(s).is_some());
    runner.terminate();
    assert!(result.wait_timeout(BOUND));
    let results = result.get();
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(TaskError::Terminated { .. })))
    );
    runner.join().unwrap();
    assert!(matches!(
        runner.submit(Vec::new(), false),
        Err(crate::error::SubmitError::NotRunning)
    ));
}

#[test]
fn a_worker_failing_to_start_fails_creation_and_stops_the_others() {
    let (runner, fake) = fake_pool(two_workers(), 1);
    assert!(matches!(runner, Err(PoolError::WorkerStart(_))));
    assert!(
        fake.lock().workers.is_empty(),
        "the started worker was stopped"
    );
}

#[test]
fn every_worker_failing_to_start_fails_creation_without_a_hang() {
    // Failed before terminate woke the supervisor: with no worker left to send an event, it
    // waited forever and creation never returned.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (runner, _fake) = fake_pool(two_workers(), 2);
        let _ = tx.send(matches!(runner, Err(PoolError::WorkerStart(_))));
    });
    assert_eq!(rx.recv_timeout(BOUND), Ok(true));
}

#[test]
fn a_creation_that_need_not_wait_returns_before_the_workers_are_ready() {
    // Bounded: a creation that waited for the ready would never return here.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(fake_pool_with(two_workers(), |s| s.ready_later = true));
    });
    let (runner, fake) = rx.recv_timeout(BOUND).expect("the creation returned");
    let runner = runner.unwrap();
    assert_eq!(
        fake.lock().unready.len(),
        2,
        "returned with no worker ready"
    );
    // A job goes only to a ready worker.
    let result = map(&runner, (0..6).collect(), 1);
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        fake.lock().workers.values().all(|w| w.queue.is_empty()),
        "a job went to a worker not ready"
    );
    fake.ready_all();
    fake.run_until(|| result.ready());
    assert_right_but(&result.get(), None);
    runner.close();
    runner.join().unwrap();
    assert!(fake.lock().workers.is_empty());
}

#[test]
fn results_of_a_written_off_worker_are_ignored() {
    let schedule = Schedule {
        task_timeout: Some(Duration::from_millis(20)),
        ..two_workers()
    };
    let (runner, fake) = fake_pool(schedule, 0);
    let runner = runner.unwrap();
    let result = map(&runner, vec![3], 1);
    fake.wait_for("a kill", |s| !s.killed.is_empty());
    // A late result from the killed worker (as an abandoned thread would send).
    let late = Event::Output {
        worker: fake.lock().killed[0],
        job: JobId(0),
        items: 1,
        output: vec![999],
    };
    fake.events.send(Some(late)).unwrap();
    assert!(matches!(result.get()[0], Err(TaskError::TimedOut { .. })));
    runner.terminate();
    runner.join().unwrap();
}
