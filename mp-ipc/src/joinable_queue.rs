//! [`JoinableQueue`]: a [`Queue`] whose consumers say when each item is processed.

use std::ops::Deref;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, TaskError};
use crate::queue::{Queue, QueueOptions};
use mp_sync::raw::Deadline;

/// Python's `multiprocessing.JoinableQueue`: every [`Queue`] method (through `Deref`), plus
/// [`task_done`](Self::task_done) and [`join`](Self::join).
///
/// The count of unfinished tasks is "items ever put minus `task_done` calls", both kept in
/// shared memory with single atomic updates, so it stays exact when a producer is killed
/// mid-put. A consumer killed after taking an item and before `task_done` leaves that task
/// unfinished for good, as in Python: use [`join_timeout`](Self::join_timeout) when consumers
/// may die.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct JoinableQueue<T> {
    /// The queue itself.
    queue: Queue<T>,
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T> std::fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("JoinableQueue").field(&self.queue).finish()
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// An unbounded joinable queue.
    pub fn new() -> Result<Self, Error> {
        Queue::new().map(|queue| JoinableQueue { queue })
    }

    /// A joinable queue of at most `maxsize` items.
    pub fn with_maxsize(maxsize: u32) -> Result<Self, Error> {
        Queue::with_maxsize(maxsize).map(|queue| JoinableQueue { queue })
    }

    /// A joinable queue with explicit options.
    pub fn with_options(options: QueueOptions) -> Result<Self, Error> {
        Ok(JoinableQueue {
            queue: Queue::with_options(options)?,
        })
    }
}

impl<T> JoinableQueue<T> {
    /// Marks one taken item processed. More calls than items taken is
    /// [`TaskError::TooManyTaskDone`].
    pub fn task_done(&self) -> Result<(), TaskError> {
        if self.queue.raw().task_done() {
            Ok(())
        } else {
            Err(TaskError::TooManyTaskDone)
        }
    }

    /// Waits until every item ever put has been marked done (Python's `join()`).
    pub fn join(&self) {
        self.queue.raw().join_until(None);
    }

    /// [`join`](Self::join) for at most `timeout`: whether every item was done in time.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.queue.raw().join_until(Some(Deadline::after(timeout)))
    }

    /// [`join`](Self::join) until `deadline`: whether every item was done in time.
    pub fn join_deadline(&self, deadline: Deadline) -> bool {
        self.queue.raw().join_until(Some(deadline))
    }

    /// Items put and not yet marked done (a snapshot).
    pub fn unfinished_tasks(&self) -> usize {
        self.queue.raw().unfinished() as usize
    }
}

impl<T> Deref for JoinableQueue<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}
