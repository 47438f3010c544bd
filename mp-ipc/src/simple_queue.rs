//! [`SimpleQueue`]: an unbounded queue with the four methods of Python's `SimpleQueue`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, GetError, PutError};
use crate::queue::Queue;

/// Python's `multiprocessing.SimpleQueue`: `put`, `get`, `empty`, `close`. The same shared
/// ring and commit protocol as [`Queue`] (so the same safety when a process dies mid-call),
/// without a bound or timeouts.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SimpleQueue<T> {
    /// The queue underneath.
    queue: Queue<T>,
}

impl<T> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        SimpleQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T> std::fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SimpleQueue").field(&self.queue).finish()
    }
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// A new empty queue.
    pub fn new() -> Result<Self, Error> {
        Ok(SimpleQueue {
            queue: Queue::new()?,
        })
    }

    /// Puts `item` (an unbounded queue: it does not wait).
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.queue.put(item)
    }

    /// Takes the oldest item, waiting for one.
    pub fn get(&self) -> Result<T, GetError> {
        self.queue.get()
    }
}

impl<T> SimpleQueue<T> {
    /// Whether the queue is empty at this instant.
    pub fn empty(&self) -> bool {
        self.queue.empty()
    }

    /// Closes the queue in this process: later `put`/`get` here fail with `Closed`.
    pub fn close(&self) {
        self.queue.close();
    }

    /// Shuts the queue down for every process, as [`Queue::shutdown`] does.
    pub fn shutdown(&self, immediate: bool) {
        self.queue.shutdown(immediate);
    }

    /// The queue underneath (for [`wait`](crate::wait)).
    pub(crate) fn inner(&self) -> &Queue<T> {
        &self.queue
    }
}
