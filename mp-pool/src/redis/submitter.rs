//! The submitter's side of a broker's pool: the [`Backend`] whose workers are in-flight slots
//! (see `backend.rs`), a writer thread that adds task entries and a reader thread that takes
//! result entries and hands them to the core, once per task id.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::streams::StreamReadReply;

use super::connection::connect;
use super::entry::{ResultOutcomes, parse_result, task_fields};
use super::keys::{Keys, TASKS_TTL_SECS, ensure_group};
use super::{BrokerError, RedisBroker};
use crate::backend::{Backend, Event, Handover, Held, JobId, Payload};
use crate::error::{WorkerExit, WorkerId, WorkerStartError};
use crate::event_channel::{EventReceiver, EventSender, Message, event_channel};
use crate::frames;
use crate::process_backend::ProcessOutput;
use crate::process_job::ProcessJob;
use crate::task::push_failure;
use crate::wire::{ItemFailure, OUTCOME_FAILED};

/// How long one blocking read of the result stream waits before it looks at the stop flag.
const READ_BLOCK: Duration = Duration::from_millis(100);

/// The most result entries one read takes.
const READ_COUNT: usize = 512;

/// How long the writer waits before it tries a lost connection again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

/// One job handed out: where its result goes in the books.
struct Given {
    /// The slot that holds it.
    slot: WorkerId,
    /// How many items it has.
    items: usize,
}

/// A slot's jobs, in the order given, each with its result once it came.
#[derive(Default)]
struct Slot {
    /// Task id, job, item count and result (if in) of each job the slot holds.
    queue: VecDeque<(u64, JobId, usize, Option<ProcessOutput>)>,
    /// The core retired it: it leaves once its queue is empty.
    retiring: bool,
}

/// What the backend and its reader share.
struct Books {
    /// Every task id handed out and not yet answered.
    given: HashMap<u64, Given>,
    /// Every live slot.
    slots: HashMap<WorkerId, Slot>,
    /// Where events go.
    events: EventSender<ProcessOutput>,
}

impl Books {
    /// Sends an event to the supervisor (gone only with the pool).
    fn emit(&self, event: Event<ProcessOutput>) {
        let _ = self.events.send(Message::Event(event));
    }

    /// Takes in the result of task `task`: dropped if the id was answered already (a late
    /// duplicate) or its slot was killed; else reported once every job before it in its slot
    /// was.
    fn answer(&mut self, task: u64, output: ResultOutcomes) {
        let Some(given) = self.given.remove(&task) else {
            return;
        };
        let output = fitted(given.items, output);
        let Some(slot) = self.slots.get_mut(&given.slot) else {
            return;
        };
        if let Some(place) = slot.queue.iter_mut().find(|(t, ..)| *t == task) {
            place.3 = Some(output);
        }
        self.report_ready(given.slot);
    }

    /// Reports the slot's results that are next in order; lets a retired, empty slot go.
    fn report_ready(&mut self, worker: WorkerId) {
        let Some(slot) = self.slots.get_mut(&worker) else {
            return;
        };
        let mut ready = Vec::new();
        while slot.queue.front().is_some_and(|(.., out)| out.is_some()) {
            if let Some((_, job, items, Some(output))) = slot.queue.pop_front() {
                ready.push((job, items, output));
            }
        }
        let leaves = slot.retiring && slot.queue.is_empty();
        if leaves {
            self.slots.remove(&worker);
        }
        for (job, items, output) in ready {
            self.emit(Event::Output {
                worker,
                job,
                items,
                output,
            });
        }
        if leaves {
            self.emit(Event::Exited {
                worker,
                how: WorkerExit::Code(0),
                held: Held::Nothing,
            });
        }
    }
}

/// The outcome records of a job of `items` items from its result entry: as they are when they
/// count `items`; the one failure record of a host that refused the whole entry, for each item;
/// else a malformed-result failure for each (the core counts items, and so do the sinks).
fn fitted(items: usize, output: ResultOutcomes) -> ProcessOutput {
    let refused = |why: String| {
        let mut out = Vec::new();
        let failure = ItemFailure::Refused(why);
        for _ in 0..items {
            push_failure(&mut out, &failure);
        }
        ProcessOutput::from_parts(items, out)
    };
    match output {
        Ok((n, records)) if n == items => ProcessOutput::from_parts(items, records),
        Ok((n, records)) => {
            let Some(record) = frames::records(&records)
                .next()
                .filter(|r| r.first() == Some(&OUTCOME_FAILED))
            else {
                return refused(format!(
                    "its result entry holds {n} outcomes for its {items} items"
                ));
            };
            let mut out = Vec::new();
            for _ in 0..items {
                let copy = |o: &mut Vec<u8>| {
                    o.extend_from_slice(record);
                    Ok::<(), ()>(())
                };
                let _ = frames::push(&mut out, copy, |_| ());
            }
            ProcessOutput::from_parts(items, out)
        }
        Err(why) => refused(why),
    }
}

/// Locks the books (their holders run no user code: poison carries no meaning).
fn lock(books: &Mutex<Books>) -> MutexGuard<'_, Books> {
    books.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A task entry for the writer thread.
struct Write {
    /// The fields.
    fields: Vec<(&'static str, Vec<u8>)>,
}

/// The broker backend's control side.
pub(crate) struct RedisBackend {
    /// Shared with the reader thread.
    books: Arc<Mutex<Books>>,
    /// To the writer thread.
    writes: Sender<Write>,
    /// Set when the pool is dropped: the reader deletes the result stream and ends.
    stop: Arc<AtomicBool>,
    /// The next task id.
    next_task: u64,
    /// This submitter's result stream.
    reply: String,
}

/// A name for this submitter that no other shares: pid, time and a counter.
fn submitter_id() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{nanos:x}-{n}", std::process::id())
}

/// A broker backend for `broker` and its events: connects (a server that cannot be reached
/// or refuses the password fails the pool's creation), creates the group, starts the threads.
pub(crate) fn redis_backend(
    broker: &RedisBroker,
) -> Result<(RedisBackend, EventReceiver<ProcessOutput>), BrokerError> {
    let client = redis::Client::open(broker.url.as_str())?;
    let keys = Keys::of(&broker.name);
    let mut writer_con = connect(&client)?;
    ensure_group(&mut writer_con, &keys)?;
    let reader_con = connect(&client)?;
    let reply = Keys::results(&broker.name, &submitter_id());
    // Events are sent with the books locked, which the core's orders take too: outputs go
    // through the supervisor, never booked on the sending thread.
    let (events, rx) = event_channel(false);
    let books = Arc::new(Mutex::new(Books {
        given: HashMap::new(),
        slots: HashMap::new(),
        events,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let (writes, queue) = mpsc::channel();
    let writer = Writer {
        client: client.clone(),
        con: Some(writer_con),
        tasks: keys.tasks.clone(),
    };
    let reader = Reader {
        client,
        con: Some(reader_con),
        reply: reply.clone(),
        books: Arc::clone(&books),
        stop: Arc::clone(&stop),
    };
    let spawned = thread::Builder::new()
        .name("mp-pool redis writer".into())
        .spawn(move || writer.run(&queue))
        .and_then(|_| {
            thread::Builder::new()
                .name("mp-pool redis reader".into())
                .spawn(move || reader.run())
        });
    if let Err(error) = spawned {
        stop.store(true, Ordering::Release);
        return Err(BrokerError::LocalPool(Box::new(
            WorkerStartError::Spawn(Arc::new(error)).into(),
        )));
    }
    let backend = RedisBackend {
        books,
        writes,
        stop,
        next_task: 0,
        reply,
    };
    Ok((backend, rx))
}

impl Backend for RedisBackend {
    type Job = ProcessJob;
    type Output = ProcessOutput;
    // A slot answers any number of jobs in order; under a `Pool` the core paces it by
    // `PoolBackend`'s depth (the process backend's), like a worker process.
    const QUEUE_DEPTH: usize = crate::process_backend::ProcessBackend::QUEUE_DEPTH;

    fn start(&mut self, worker: WorkerId) -> Result<Option<u32>, WorkerStartError> {
        let mut books = lock(&self.books);
        books.slots.insert(worker, Slot::default());
        books.emit(Event::Ready { worker });
        Ok(None)
    }

    fn give(&mut self, worker: WorkerId, job: JobId, payload: ProcessJob, how: Handover) {
        let limit = how.limit;
        let task = self.next_task;
        self.next_task += 1;
        let items = payload.len();
        let mut books = lock(&self.books);
        let Some(slot) = books.slots.get_mut(&worker) else {
            return;
        };
        slot.queue.push_back((task, job, items, None));
        books.given.insert(
            task,
            Given {
                slot: worker,
                items,
            },
        );
        let fields = task_fields(
            task,
            &self.reply,
            payload.call(),
            payload.records(),
            items,
            limit,
        );
        match fields {
            Ok(fields) => {
                let _ = self.writes.send(Write { fields });
            }
            // Arguments encoded once already encode again; should it fail, the job fails.
            Err(why) => books.answer(task, Err(format!("its entry cannot be encoded: {why}"))),
        }
    }

    fn limits_at_worker(&self) -> bool {
        true
    }

    fn retire(&mut self, worker: WorkerId) {
        let mut books = lock(&self.books);
        if let Some(slot) = books.slots.get_mut(&worker) {
            slot.retiring = true;
        }
        books.report_ready(worker);
    }

    fn kill(&mut self, worker: WorkerId) {
        let mut books = lock(&self.books);
        if books.slots.remove(&worker).is_some() {
            // Its late results are dropped: their task ids are forgotten.
            books.given.retain(|_, g| g.slot != worker);
            books.emit(Event::Exited {
                worker,
                how: WorkerExit::Signal(9),
                held: Held::FirstUnreported,
            });
        }
    }

    fn held(&self, _worker: WorkerId) -> Held {
        // A slot's jobs are answered whole, in order: its first job is the one out.
        Held::FirstUnreported
    }

    fn wake(&mut self) {
        let _ = lock(&self.books).events.send(Message::Wake);
    }
}

impl Drop for RedisBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// The writer thread: adds task entries, as many as are queued in one round trip, each
/// refreshing the stream's time to live.
struct Writer {
    /// To reconnect.
    client: redis::Client,
    /// The connection, while it works.
    con: Option<redis::Connection>,
    /// The task stream.
    tasks: String,
}

impl Writer {
    /// Writes until the backend is dropped.
    fn run(mut self, queue: &Receiver<Write>) {
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            batch.extend(queue.try_iter());
            // A lost connection is tried again until the pool is gone: a task is never
            // dropped here (a doubled entry is answered once).
            while !self.write(&batch) {
                match queue.recv_timeout(RECONNECT_PAUSE) {
                    Ok(more) => batch.push(more),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        }
    }

    /// Adds the entries of `batch`; `false` if the server could not be reached.
    fn write(&mut self, batch: &[Write]) -> bool {
        let con = match self.con.take() {
            Some(con) => con,
            None => match connect(&self.client) {
                Ok(con) => con,
                Err(_) => return false,
            },
        };
        let mut con = con;
        let mut pipe = redis::pipe();
        for write in batch {
            let cmd = pipe.cmd("XADD").arg(&self.tasks).arg("*");
            for (name, value) in &write.fields {
                cmd.arg(*name).arg(value.as_slice());
            }
            cmd.ignore();
        }
        pipe.cmd("EXPIRE")
            .arg(&self.tasks)
            .arg(TASKS_TTL_SECS)
            .ignore();
        match pipe.query::<()>(&mut con) {
            Ok(()) => {
                self.con = Some(con);
                true
            }
            Err(_) => false,
        }
    }
}

/// The reader thread: takes result entries from the submitter's stream.
struct Reader {
    /// To reconnect.
    client: redis::Client,
    /// The connection, while it works.
    con: Option<redis::Connection>,
    /// The result stream.
    reply: String,
    /// Where results go.
    books: Arc<Mutex<Books>>,
    /// Set when the pool is dropped.
    stop: Arc<AtomicBool>,
}

impl Reader {
    /// Reads until the pool is dropped, then deletes the result stream.
    fn run(mut self) {
        let mut last = "0-0".to_owned();
        while !self.stop.load(Ordering::Acquire) {
            match self.read(&last) {
                Some(reply) => self.take(reply, &mut last),
                None => thread::sleep(RECONNECT_PAUSE),
            }
        }
        if let Some(con) = self.con.as_mut() {
            let _ = redis::cmd("DEL").arg(&self.reply).query::<()>(con);
        }
    }

    /// One blocking read of the entries after `last`; `None` if the server cannot be reached.
    fn read(&mut self, last: &str) -> Option<StreamReadReply> {
        let mut con = match self.con.take() {
            Some(con) => con,
            None => connect(&self.client).ok()?,
        };
        let reply = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(READ_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.reply)
            .arg(last)
            .query::<Option<StreamReadReply>>(&mut con);
        match reply {
            Ok(reply) => {
                self.con = Some(con);
                Some(reply.unwrap_or(StreamReadReply { keys: Vec::new() }))
            }
            Err(_) => None,
        }
    }

    /// Hands the results read to the books and trims what was read from the stream.
    fn take(&mut self, reply: StreamReadReply, last: &mut String) {
        let mut read = Vec::new();
        {
            let mut books = lock(&self.books);
            for entry in reply.keys.into_iter().flat_map(|k| k.ids) {
                if let Some((task, outcomes)) = parse_result(&entry.map) {
                    books.answer(task, outcomes);
                }
                read.push(entry.id.clone());
                *last = entry.id;
            }
        }
        if !read.is_empty()
            && let Some(con) = self.con.as_mut()
        {
            let _ = redis::cmd("XDEL")
                .arg(&self.reply)
                .arg(&read)
                .query::<()>(con);
        }
    }
}
