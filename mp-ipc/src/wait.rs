//! [`wait`]: block until any of several connections, queues or process sentinels is ready
//! (Python's `multiprocessing.connection.wait`), in the crate's timeout convention: [`wait`],
//! [`wait_timeout`], [`wait_deadline`], [`try_wait`]. Each call builds a [`WaitSet`] over its
//! list; a loop over the same objects keeps one `WaitSet` instead.

use std::time::Duration;

use mp_sync::raw::Deadline;

use crate::error::Error;
use crate::wait_set::WaitSet;
use crate::waitable::Waitable;

/// Blocks until at least one of `objects` is ready and returns the indices of the ready ones,
/// in order, like Python's `multiprocessing.connection.wait(objects)`. Nothing is consumed.
///
/// At most [`MAX_CHANNELS`](crate::MAX_CHANNELS) connections and queues; any number of
/// descriptors. Descriptors are watched by the process's one watcher thread (started by the
/// first wait that has to sleep on one), so a call starts no thread.
///
/// ```
/// use std::time::Duration;
/// use mp_ipc::{Pipe, Queue, try_wait, wait};
///
/// let (a, b) = Pipe(true)?;
/// let q = Queue::<u32>::new()?;
/// q.put(5).unwrap();
/// assert_eq!(try_wait(&[&a, &q])?, vec![1]);
/// b.send_bytes(b"x")?;
/// assert_eq!(wait(&[&a, &q])?, vec![0, 1]);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
pub fn wait(objects: &[&dyn Waitable]) -> Result<Vec<usize>, Error> {
    wait_until(objects, None)
}

/// Like [`wait`] for at most `timeout`; empty when nothing became ready (Python's
/// `wait(objects, timeout)`).
pub fn wait_timeout(objects: &[&dyn Waitable], timeout: Duration) -> Result<Vec<usize>, Error> {
    wait_until(objects, Some(Deadline::after(timeout)))
}

/// Like [`wait`] until `deadline`; empty when nothing became ready.
pub fn wait_deadline(objects: &[&dyn Waitable], deadline: Deadline) -> Result<Vec<usize>, Error> {
    wait_until(objects, Some(deadline))
}

/// The indices of the objects ready now, without waiting (Python's `wait(objects, 0)`).
pub fn try_wait(objects: &[&dyn Waitable]) -> Result<Vec<usize>, Error> {
    wait_until(objects, Some(Deadline::now()))
}

/// The one wait: the list in a fresh set, whose tokens are the list's indices.
fn wait_until(objects: &[&dyn Waitable], deadline: Option<Deadline>) -> Result<Vec<usize>, Error> {
    let mut set = WaitSet::new();
    for object in objects {
        set.add(*object)?;
    }
    let ready = match deadline {
        None => set.wait()?,
        Some(deadline) => set.wait_deadline(deadline)?,
    };
    Ok(ready.iter().map(|t| t.index()).collect())
}
