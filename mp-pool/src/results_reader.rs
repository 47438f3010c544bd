//! Who reads one worker process's reports: its watcher thread, or a thread waiting for a result
//! the worker brings, one reader at a time.
//!
//! A round trip `apply_async(..).get()` through the watcher takes three threads in turn: the
//! caller hands the job over and sleeps, the worker runs it and wakes its watcher, the watcher
//! books the result and wakes the caller. When the caller reads the worker's reports itself,
//! the worker's report wakes the caller (or, when the worker ran the job before the caller came
//! to wait, wakes nobody): two threads, one wake-up less.
//!
//! The reading is handed between them exactly:
//!
//! - The pipe sits behind one lock, [`ResultsReader::conn`]: whoever holds it is the reader,
//!   and books every report it reads, in order, before it lets go. A worker's reports are thus
//!   read once, booked in order, and all booked before its death is (the watcher takes the lock
//!   to drain the pipe, then reaps).
//! - The watcher holds the lock while it *reads* (asleep on the pipe and the sentinel). A
//!   waiting thread that finds the lock taken says so ([`ResultsReader::wanted`]) and waits for
//!   the booking as before; the watcher, after its next reports, *lends* the pipe: it lets go
//!   of the lock and sleeps on the worker's sentinel alone, so the worker's reports no longer
//!   wake it. Waiting threads then take the lock and read.
//! - While the pipe is lent, the watcher looks every [`TICK`]: a report in the pipe that nobody
//!   reads (a job whose result nobody waits for: callbacks, `map_async`) makes it read again,
//!   as does a lent pipe no thread read from for [`LENT_FOR`]. So nothing waits more than a tick
//!   for a reader, and an idle pool's watchers sleep without ticks.
//! - A waiting thread reads reports of the kind only the watcher handles (the worker leaving, the
//!   end of the pipe) into [`ResultsReader::stash`] and stops; so does every waiting thread once
//!   [`ResultsReader::halted`] is set (the worker is gone): within a [`SLICE`] it lets go, and
//!   the watcher takes over, handles what was stashed, drains the pipe and reaps.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use mp_ipc::Connection;
use mp_sync::Deadline;

use crate::completion::Reader;
use crate::wire::FromWorker;

/// How often a watcher that lent its pipe looks whether a report waits for no reader.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// A lent pipe that no waiting thread read from for this long goes back to its watcher.
pub(crate) const LENT_FOR: Duration = Duration::from_millis(50);

/// The longest a waiting thread sleeps on the pipe before it looks whether it must let go.
const SLICE: Duration = Duration::from_millis(10);

/// What a reader found after the reports it booked: a report only the watcher handles, or the
/// end of the pipe (a receive that failed).
pub(crate) type Unbooked = Result<FromWorker, mp_ipc::Error>;

/// Reads the reports ready in a pipe and books those it can (finished items); returns the first
/// it cannot, if any (it reads nothing after it).
pub(crate) type Drain = Box<dyn Fn(&Connection) -> Option<Unbooked> + Send + Sync>;

/// One worker's reports pipe and who reads it.
pub(crate) struct ResultsReader {
    /// The pipe; the reader holds the lock. `None` once the watcher freed it (the worker is
    /// gone, see [`ResultsReader::close`]).
    conn: Mutex<Option<Connection>>,
    /// Reads and books what is ready.
    drain: Drain,
    /// A waiting thread found the watcher reading: it should lend the pipe.
    wanted: AtomicBool,
    /// The worker is gone, or a report only the watcher handles was read: waiting threads
    /// stop reading.
    halted: AtomicBool,
    /// The report a waiting thread read and could not book, for the watcher.
    stash: Mutex<Option<Unbooked>>,
    /// Counts the readings of waiting threads (the watcher takes back a pipe nobody reads).
    readings: AtomicU64,
}

/// Locks `mutex`; a panic while it was held (in a user callback, caught there) leaves nothing
/// half-done here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ResultsReader {
    /// The reader of the pipe `conn`, booking with `drain`; the watcher reads first.
    pub(crate) fn new(conn: Connection, drain: Drain) -> Self {
        ResultsReader {
            conn: Mutex::new(Some(conn)),
            drain,
            wanted: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            stash: Mutex::new(None),
            readings: AtomicU64::new(0),
        }
    }

    /// For the watcher: takes the pipe (waiting threads let go within a [`SLICE`]); `None`
    /// only after [`close`](Self::close).
    pub(crate) fn take(&self) -> MutexGuard<'_, Option<Connection>> {
        lock(&self.conn)
    }

    /// For the watcher, once the worker is gone and every report it sent was read: halts the
    /// reading and frees the pipe (its descriptors and mapping) now, beside the worker's exit,
    /// rather than with the last handle on this reader (the pool's, or a result's that
    /// outlives the pool). A waiting thread that holds the pipe at that moment (it lets go
    /// within a [`SLICE`]) is not waited for: the pipe then goes with the last handle.
    pub(crate) fn close(&self) {
        self.halt();
        let pipe = match self.conn.try_lock() {
            Ok(mut conn) => conn.take(),
            Err(TryLockError::Poisoned(conn)) => conn.into_inner().take(),
            Err(TryLockError::WouldBlock) => None,
        };
        drop(pipe);
    }

    /// For the watcher: reads and books what is ready (see [`Drain`]).
    pub(crate) fn drain(&self, conn: &Connection) -> Option<Unbooked> {
        (self.drain)(conn)
    }

    /// For the watcher, after booking: whether a waiting thread asked for the pipe (the ask
    /// is consumed).
    pub(crate) fn take_wanted(&self) -> bool {
        self.wanted.swap(false, Ordering::SeqCst)
    }

    /// For the watcher: the worker is gone; waiting threads stop reading.
    pub(crate) fn halt(&self) {
        self.halted.store(true, Ordering::SeqCst);
    }

    /// For the watcher: the report a waiting thread could not book, if any.
    pub(crate) fn take_stash(&self) -> Option<Unbooked> {
        lock(&self.stash).take()
    }

    /// For the watcher, while the pipe is lent: sleeps with `lent` (on the worker's sentinel:
    /// true once it ended) a tick at a time until the pipe must come back, and returns it: the
    /// worker is gone, a waiting thread stashed a report, a report waits with no reader, or no
    /// waiting thread read for [`LENT_FOR`].
    pub(crate) fn lend(
        &self,
        mut lent: impl FnMut(Duration) -> bool,
    ) -> MutexGuard<'_, Option<Connection>> {
        let ticks = (LENT_FOR.as_micros() / TICK.as_micros()).max(1);
        let mut quiet = 0;
        let mut seen = self.readings.load(Ordering::SeqCst);
        loop {
            if lent(TICK) {
                self.halt();
                return self.take();
            }
            if self.halted.load(Ordering::SeqCst) {
                // A report was stashed: its thread lets go at once.
                return self.take();
            }
            let conn = match self.conn.try_lock() {
                Ok(conn) => conn,
                Err(TryLockError::Poisoned(conn)) => conn.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    quiet = 0;
                    continue; // a waiting thread reads
                }
            };
            let readings = self.readings.load(Ordering::SeqCst);
            if readings != seen {
                seen = readings;
                quiet = 0;
            } else {
                quiet += 1;
            }
            if conn.as_ref().is_none_or(Connection::ready_now) || quiet >= ticks {
                return conn;
            }
        }
    }
}

impl Reader for ResultsReader {
    fn read_until(&self, arrived: &dyn Fn() -> bool, deadline: Option<Deadline>) -> bool {
        let conn = match self.conn.try_lock() {
            Ok(conn) => conn,
            Err(TryLockError::Poisoned(conn)) => conn.into_inner(),
            Err(TryLockError::WouldBlock) => {
                // The watcher reads (or another waiting thread does): ask for the pipe.
                self.wanted.store(true, Ordering::SeqCst);
                return false;
            }
        };
        // Freed: the worker is gone (the watcher halted the reading first).
        let Some(conn) = conn.as_ref() else {
            return false;
        };
        loop {
            if self.halted.load(Ordering::SeqCst) {
                return false;
            }
            if let Some(unbooked) = self.drain(conn) {
                *lock(&self.stash) = Some(unbooked);
                self.halt();
                return false;
            }
            self.readings.fetch_add(1, Ordering::SeqCst);
            if arrived() {
                return true;
            }
            let slice = match deadline {
                None => SLICE,
                Some(deadline) => match deadline.remaining() {
                    Duration::ZERO => return true,
                    left => left.min(SLICE),
                },
            };
            // Sleeps on the pipe; a report, its end or the slice's end wakes it.
            let _ = conn.poll_timeout(slice);
        }
    }
}
