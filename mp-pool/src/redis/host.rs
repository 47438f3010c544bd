//! A worker host: this same program, serving a broker's pool. It reads task entries as a member
//! of the pool's consumer group, runs them in a local process [`Pool`] (a task that crashes or
//! overruns fails alone; the host lives on), commits each result with its acknowledgement,
//! renews its lease on what it holds, and reclaims a dead host's entries after the lease.

use std::collections::HashMap;
use std::convert::Infallible;
use std::ffi::OsStr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mp_sync::raw::FnRef;
use redis::Value;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};

use super::BrokerError;
use super::connection::connect;
use super::entry::{EntryError, parse_task, result_fields, task_address};
use super::keys::{Keys, RESULTS_MAXLEN, RESULTS_TTL_SECS, ensure_group};
use crate::core::JobSink;
use crate::error::{PoolError, TaskError, WorkerExit, WorkerRef};
use crate::frames;
use crate::pool::Pool;
use crate::process_backend::ProcessOutput;
use crate::task::{decode, push_failure};
use crate::wire::{ItemCall, ItemFailure};

/// The environment variable that makes an execution of the program a worker host:
/// `MP_POOL_WORKER='redis://[user:password@]host[:port][/db]#pool-name'`. Further settings:
/// `MP_POOL_WORKER_PROCESSES` (local worker processes; default: the usable CPU count),
/// `MP_POOL_WORKER_LEASE_MS` (default 10000), `MP_POOL_WORKER_POISON_AFTER` (default 3),
/// `MP_POOL_WORKER_DIE_WITH_PARENT=1` (the host dies with the process that started it).
pub const WORKER_ENV: &str = "MP_POOL_WORKER";

/// How long one blocking read of the task stream waits.
const READ_BLOCK: Duration = Duration::from_millis(100);

/// How long the host waits before it tries a lost connection again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

/// How a worker host runs.
#[derive(Clone, Debug)]
pub struct HostSettings {
    /// Local worker processes.
    pub processes: usize,
    /// How long an entry a host holds may go without renewal before another host takes it.
    pub lease: Duration,
    /// Deliveries after which an entry is given up as poison (it killed that many hosts).
    pub poison_after: usize,
}

impl Default for HostSettings {
    fn default() -> Self {
        HostSettings {
            processes: mp_process::process_cpu_count(),
            lease: Duration::from_secs(10),
            poison_after: 3,
        }
    }
}

/// A whole number from the environment, if set and valid.
fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

impl HostSettings {
    /// The defaults, overridden by the `MP_POOL_WORKER_*` variables ([`WORKER_ENV`]).
    pub fn from_env() -> Self {
        let mut settings = HostSettings::default();
        if let Some(n) = env_number("MP_POOL_WORKER_PROCESSES").filter(|&n| n > 0) {
            settings.processes = usize::try_from(n).unwrap_or(1);
        }
        if let Some(ms) = env_number("MP_POOL_WORKER_LEASE_MS").filter(|&ms| ms > 0) {
            settings.lease = Duration::from_millis(ms);
        }
        if let Some(n) = env_number("MP_POOL_WORKER_POISON_AFTER").filter(|&n| n > 0) {
            settings.poison_after = usize::try_from(n).unwrap_or(usize::MAX);
        }
        settings
    }
}

/// Splits `redis://...#pool-name` into the URL and the pool name.
fn parse_setting(setting: &str) -> Result<(&str, &str), BrokerError> {
    match setting.rsplit_once('#') {
        Some((url, name)) if !url.is_empty() && !name.is_empty() => Ok((url, name)),
        _ => Err(BrokerError::WorkerSetting(setting.to_owned())),
    }
}

/// Becomes a worker host if [`WORKER_ENV`] is set (then never returns); returns at once
/// otherwise. Programs built with the `redis` feature need not call it: an entry before
/// `main` does. A host that cannot serve prints why and exits with code 2.
pub fn serve_if_worker() {
    let Ok(setting) = std::env::var(WORKER_ENV) else {
        return;
    };
    serve_setting(&setting)
}

/// Serves what `setting` names until the process is killed; a host that cannot serve prints
/// why and exits with code 2.
fn serve_setting(setting: &str) -> ! {
    let settings = HostSettings::from_env();
    let error = match parse_setting(setting) {
        Ok((url, name)) => match serve(url, name, &settings) {
            Ok(never) => match never {},
            Err(error) => error,
        },
        Err(error) => error,
    };
    eprintln!("mp-pool worker host: {error}");
    std::process::exit(2);
}

/// The pre-`main` entry's work: a worker host takes over this execution.
pub(super) fn take_over_if_worker() {
    if std::env::var_os(WORKER_ENV).is_none() {
        return;
    }
    if std::env::var_os("MP_POOL_WORKER_DIE_WITH_PARENT").is_some_and(|v| v == "1") {
        let _ = crate::sys::die_with_parent();
    }
    let setting = std::env::var(WORKER_ENV).unwrap_or_default();
    // The host's own worker processes (fresh executions of this program) must not serve too.
    crate::sys::remove_env_single_threaded(OsStr::new(WORKER_ENV));
    serve_setting(&setting)
}

/// This image's fingerprint, as task entries carry it.
fn own_fingerprint() -> u64 {
    FnRef::new(serve_if_worker as fn()).to_wire().1
}

/// This host's name in errors and its consumer name: the host name, the pid and a start time.
fn host_name() -> String {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{machine}:{}:{nanos:x}", std::process::id())
}

/// A finished entry, for the committer.
struct Done {
    /// The entry's id in the task stream.
    entry: String,
    /// The task id and result stream, if the entry named them (else it is only dropped).
    answer: Option<(u64, String)>,
    /// How many items the outcomes cover.
    items: usize,
    /// Their outcome records (`crate::frames`).
    outcomes: Vec<u8>,
    /// Whether it held a place in the local pool.
    ran: bool,
}

/// How many entries the local pool runs, shared by the reader and the committer.
struct Load {
    /// The count.
    running: Mutex<usize>,
    /// Notified when it drops.
    freed: Condvar,
}

impl Load {
    /// Locks the count.
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves the pool `name` at `url` until the process is killed: the worker host's loop.
pub fn serve(url: &str, name: &str, settings: &HostSettings) -> Result<Infallible, BrokerError> {
    let client = redis::Client::open(url)?;
    let keys = Keys::of(name);
    let me = host_name();
    let mut con = connect(&client)?;
    ensure_group(&mut con, &keys)?;
    let pool = Pool::builder()
        .processes(settings.processes)
        .build()
        .map_err(|e| BrokerError::LocalPool(Box::new(e)))?;
    let load = Arc::new(Load {
        running: Mutex::new(0),
        freed: Condvar::new(),
    });
    let (done_tx, done_rx) = mpsc::channel();
    let committer = Committer {
        client: client.clone(),
        con: None,
        keys: keys.clone(),
        me: me.clone(),
        lease: settings.lease,
        load: Arc::clone(&load),
        retry: Vec::new(),
    };
    thread::Builder::new()
        .name("mp-pool host committer".into())
        .spawn(move || committer.run(&done_rx))
        .map_err(|e| {
            BrokerError::LocalPool(Box::new(PoolError::WorkerStart(
                crate::error::WorkerStartError::Spawn(Arc::new(e)),
            )))
        })?;
    let mut reader = Reader {
        client,
        con: Some(con),
        keys,
        me,
        settings: settings.clone(),
        fingerprint: own_fingerprint(),
        pool,
        load,
        done: done_tx,
        capacity: settings.processes * 2,
        last_claim: Instant::now(),
    };
    loop {
        reader.round();
    }
}

/// The host's reading side (its main thread).
struct Reader {
    /// To reconnect.
    client: redis::Client,
    /// The connection, while it works.
    con: Option<redis::Connection>,
    /// The pool's keys.
    keys: Keys,
    /// This host's name.
    me: String,
    /// Lease and poison bound.
    settings: HostSettings,
    /// This image's fingerprint.
    fingerprint: u64,
    /// The local pool.
    pool: Pool,
    /// Entries running.
    load: Arc<Load>,
    /// To the committer.
    done: Sender<Done>,
    /// The most entries run at once.
    capacity: usize,
    /// When dead hosts' entries were last looked for.
    last_claim: Instant,
}

impl Reader {
    /// Room for this many more entries (waits a little for some).
    fn room(&self) -> usize {
        let running = self.load.lock();
        let (running, _) = self
            .load
            .freed
            .wait_timeout_while(running, READ_BLOCK, |r| *r >= self.capacity)
            .unwrap_or_else(PoisonError::into_inner);
        self.capacity.saturating_sub(*running)
    }

    /// One round: reclaim dead hosts' entries when due, then read new ones.
    fn round(&mut self) {
        let room = self.room();
        if room == 0 {
            return;
        }
        let Some(mut con) = self.con.take().or_else(|| self.reconnect()) else {
            thread::sleep(RECONNECT_PAUSE);
            return;
        };
        let result = self.reclaim(&mut con, room).and_then(|claimed| {
            let room = room.saturating_sub(claimed);
            if room == 0 {
                return Ok(());
            }
            self.read_new(&mut con, room)
        });
        match result {
            Ok(()) => self.con = Some(con),
            Err(e) if e.code() == Some("NOGROUP") => {
                // The stream expired: make it again, from its start.
                let _ = ensure_group(&mut con, &self.keys);
                self.con = Some(con);
            }
            Err(_) => thread::sleep(RECONNECT_PAUSE),
        }
    }

    /// A new connection, if the server answers.
    fn reconnect(&self) -> Option<redis::Connection> {
        let mut con = connect(&self.client).ok()?;
        ensure_group(&mut con, &self.keys).ok()?;
        Some(con)
    }

    /// Takes over entries idle past the lease (their host is dead or cut off), every half
    /// lease; returns how many it took.
    fn reclaim(&mut self, con: &mut redis::Connection, room: usize) -> redis::RedisResult<usize> {
        if self.last_claim.elapsed() < self.settings.lease / 2 {
            return Ok(0);
        }
        self.last_claim = Instant::now();
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.keys.tasks)
            .arg(&self.keys.group)
            .arg(&self.me)
            .arg(self.settings.lease.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(room)
            .query(con)?;
        let claimed = reply.claimed.len();
        for entry in reply.claimed {
            let pending: StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(&self.keys.tasks)
                .arg(&self.keys.group)
                .arg(&entry.id)
                .arg(&entry.id)
                .arg(1)
                .query(con)?;
            let delivered = pending.ids.first().map_or(1, |p| p.times_delivered);
            self.take(entry, delivered);
        }
        Ok(claimed)
    }

    /// Reads up to `room` new entries, waiting a little for them.
    fn read_new(&mut self, con: &mut redis::Connection, room: usize) -> redis::RedisResult<()> {
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&self.keys.group)
            .arg(&self.me)
            .arg("COUNT")
            .arg(room)
            .arg("BLOCK")
            .arg(READ_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.keys.tasks)
            .arg(">")
            .query(con)?;
        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            self.take(entry, 1);
        }
        Ok(())
    }

    /// Runs an entry, or answers it with why not.
    fn take(&mut self, entry: StreamId, delivered: usize) {
        let answer = task_address(&entry.map);
        let refuse = |reason: String| {
            let mut outcomes = Vec::new();
            push_failure(&mut outcomes, &ItemFailure::Refused(reason));
            Done {
                entry: entry.id.clone(),
                answer: answer.clone(),
                items: 1,
                outcomes,
                ran: false,
            }
        };
        let done = match self.runnable(&entry.map, delivered) {
            Ok((call, args, len, limit)) => {
                let Some((task, reply)) = answer.clone() else {
                    return;
                };
                *self.load.lock() += 1;
                let sink = Arc::new(HostSink::new(
                    len,
                    entry.id.clone(),
                    (task, reply),
                    self.done.clone(),
                ));
                match self.pool.submit_encoded(call, args, len, limit, sink) {
                    Ok(()) => return,
                    Err(e) => {
                        let mut done = refuse(format!("host {}: {e}", self.me));
                        done.ran = true;
                        done
                    }
                }
            }
            Err(reason) => refuse(reason),
        };
        let _ = self.done.send(done);
    }

    /// What to run for an entry, or why it is refused.
    fn runnable(
        &self,
        map: &HashMap<String, Value>,
        delivered: usize,
    ) -> Result<(ItemCall, Vec<u8>, usize, Option<Duration>), String> {
        let me = &self.me;
        let malformed = |e: EntryError| format!("host {me}: its stream entry is malformed: {e}");
        let task = parse_task(map).map_err(malformed)?;
        if delivered > self.settings.poison_after {
            return Err(format!(
                "host {me}: it was delivered {delivered} times and every host before died \
                 holding it (a poison task): given up"
            ));
        }
        if task.fingerprint != self.fingerprint {
            return Err(format!(
                "host {me} runs another build of the program (image fingerprint {:016x}, the \
                 task's {:016x}): not run",
                self.fingerprint, task.fingerprint
            ));
        }
        let call: ItemCall = decode(&task.call)
            .map_err(|e| format!("host {me}: its stream entry's call does not decode: {e}"))?;
        if task.len == 0 || frames::records(&task.args).count() != task.len {
            return Err(format!(
                "host {me}: its stream entry's arguments are not {} records",
                task.len
            ));
        }
        Ok((call, task.args, task.len, task.limit))
    }
}

/// The outcomes of one entry's items, from the local pool.
struct HostSink {
    /// The outcomes so far, and where the finished entry goes.
    state: Mutex<SinkState>,
}

/// A [`HostSink`]'s state.
struct SinkState {
    /// One place per item: its outcome record, framed.
    outcomes: Vec<Option<Vec<u8>>>,
    /// Places not yet filled.
    left: usize,
    /// The entry's id.
    entry: String,
    /// Its task id and result stream.
    answer: (u64, String),
    /// To the committer.
    done: Sender<Done>,
}

impl HostSink {
    /// A sink for `items` outcomes.
    fn new(items: usize, entry: String, answer: (u64, String), done: Sender<Done>) -> Self {
        HostSink {
            state: Mutex::new(SinkState {
                outcomes: vec![None; items],
                left: items,
                entry,
                answer,
                done,
            }),
        }
    }

    /// Fills the place of item `index` with its framed outcome record; the last one sends the
    /// entry to the committer.
    fn put(&self, index: usize, outcome: Vec<u8>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(place) = state.outcomes.get_mut(index) else {
            return;
        };
        if place.replace(outcome).is_none() {
            state.left -= 1;
        }
        if state.left == 0 {
            let items = state.outcomes.len();
            let outcomes = state
                .outcomes
                .iter_mut()
                .filter_map(Option::take)
                .flatten()
                .collect();
            let done = Done {
                entry: state.entry.clone(),
                answer: Some(state.answer.clone()),
                items,
                outcomes,
                ran: true,
            };
            let _ = state.done.send(done);
        }
    }
}

/// A local pool's error for one item, as it travels back to the submitter.
fn failure_of(error: TaskError) -> ItemFailure {
    match error {
        TaskError::Panicked { message, .. } => ItemFailure::Panicked(message),
        TaskError::TimedOut { limit, .. } => ItemFailure::TimedOut(limit),
        TaskError::ResultEncoding { message, .. } => ItemFailure::ResultEncoding(message),
        TaskError::WorkerLost { how, .. } => match how {
            WorkerExit::Code(code) => ItemFailure::Lost {
                code: Some(code),
                signal: None,
            },
            WorkerExit::Signal(signal) => ItemFailure::Lost {
                code: None,
                signal: Some(signal),
            },
            _ => ItemFailure::Lost {
                code: None,
                signal: None,
            },
        },
        TaskError::Refused { reason, .. } => ItemFailure::Refused(reason),
        other => ItemFailure::Refused(other.to_string()),
    }
}

impl JobSink<ProcessOutput> for HostSink {
    fn deliver(&self, first: usize, _worker: WorkerRef, output: ProcessOutput) {
        let (_, records) = output.into_parts();
        for (k, record) in frames::records(&records).enumerate() {
            let mut framed = Vec::with_capacity(record.len() + 4);
            let copy = |o: &mut Vec<u8>| {
                o.extend_from_slice(record);
                Ok::<(), ()>(())
            };
            let _ = frames::push(&mut framed, copy, |_| ());
            self.put(first + k, framed);
        }
    }

    fn fail(&self, index: usize, error: TaskError) {
        let mut framed = Vec::new();
        push_failure(&mut framed, &failure_of(error));
        self.put(index, framed);
    }
}

/// The host's committing side: each finished entry's result and acknowledgement in one
/// transaction, and the lease renewal of what the host holds.
struct Committer {
    /// To reconnect.
    client: redis::Client,
    /// The connection, while it works.
    con: Option<redis::Connection>,
    /// The pool's keys.
    keys: Keys,
    /// This host's name (its consumer name).
    me: String,
    /// The lease to renew.
    lease: Duration,
    /// Entries running.
    load: Arc<Load>,
    /// Finished entries not yet committed (the server could not be reached).
    retry: Vec<Done>,
}

impl Committer {
    /// Commits and renews until the host ends.
    fn run(mut self, done: &Receiver<Done>) {
        let renew_every = self.lease / 3;
        let mut last_renewal = Instant::now();
        loop {
            match done.recv_timeout(renew_every) {
                Ok(first) => {
                    self.retry.push(first);
                    self.retry.extend(done.try_iter());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let Some(mut con) = self.con.take().or_else(|| self.reconnect()) else {
                thread::sleep(RECONNECT_PAUSE);
                continue;
            };
            let mut ok = self.commit(&mut con);
            if ok && last_renewal.elapsed() >= renew_every {
                ok = self.renew(&mut con).is_ok();
                last_renewal = Instant::now();
            }
            if ok {
                self.con = Some(con);
            }
        }
    }

    /// A new connection, if the server answers.
    fn reconnect(&self) -> Option<redis::Connection> {
        connect(&self.client).ok()
    }

    /// Commits every finished entry: result, acknowledgement and deletion in one `MULTI` each.
    fn commit(&mut self, con: &mut redis::Connection) -> bool {
        if self.retry.is_empty() {
            return true;
        }
        let mut pipe = redis::pipe();
        for done in &self.retry {
            pipe.cmd("MULTI").ignore();
            if let Some((task, reply)) = &done.answer {
                let fields = result_fields(*task, &self.me, done.items, &done.outcomes);
                let cmd = pipe
                    .cmd("XADD")
                    .arg(reply)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(RESULTS_MAXLEN)
                    .arg("*");
                for (name, value) in &fields {
                    cmd.arg(*name).arg(value.as_slice());
                }
                cmd.ignore();
                pipe.cmd("EXPIRE").arg(reply).arg(RESULTS_TTL_SECS).ignore();
            }
            pipe.cmd("XACK")
                .arg(&self.keys.tasks)
                .arg(&self.keys.group)
                .arg(&done.entry)
                .ignore();
            pipe.cmd("XDEL")
                .arg(&self.keys.tasks)
                .arg(&done.entry)
                .ignore();
            pipe.cmd("EXEC").ignore();
        }
        if pipe.query::<()>(con).is_err() {
            return false;
        }
        let finished = self.retry.drain(..).filter(|d| d.ran).count();
        if finished > 0 {
            let mut running = self.load.lock();
            *running = running.saturating_sub(finished);
            self.load.freed.notify_all();
        }
        true
    }

    /// Renews the lease on every entry this host still holds (re-claims them, which resets
    /// their idle time without counting a delivery).
    fn renew(&mut self, con: &mut redis::Connection) -> redis::RedisResult<()> {
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&self.keys.tasks)
            .arg(&self.keys.group)
            .arg("-")
            .arg("+")
            .arg(10_000)
            .arg(&self.me)
            .query(con)?;
        if pending.ids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&self.keys.tasks)
            .arg(&self.keys.group)
            .arg(&self.me)
            .arg(0);
        for id in &pending.ids {
            cmd.arg(&id.id);
        }
        cmd.arg("JUSTID").query::<Vec<String>>(con).map(|_| ())
    }
}
