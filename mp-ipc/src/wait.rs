//! [`wait`]: block until any of several connections, queues or process sentinels is ready
//! (Python's `multiprocessing.connection.wait`).
//!
//! Connections and queues are waited for with one `futex_waitv` over their "data available"
//! words (each registers as a waiter so that writers wake it). When sentinels (descriptors)
//! are present, a helper thread `poll`s them and wakes a private futex word that is part of
//! the same `futex_waitv`. Sleeps last at most 20 ms so that a
//! connection whose other end died is reported ready (its `recv` returns EOF).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use crate::connection::{Connection, SLICE};
use crate::error::Error;
use crate::joinable_queue::JoinableQueue;
use crate::queue::Queue;
use crate::simple_queue::SimpleQueue;
use crate::sys::{EventFd, MAX_WAITV, futex_waitv, futex_wake, poll_readable};
use mp_sync::raw::Deadline;

/// Something [`wait`] can wait for: a [`Connection`] (readable: a message or EOF), a queue
/// (readable: not empty) or a descriptor such as `mp_process::Process::sentinel()` (readable:
/// the process exited).
pub trait Waitable: sealed::Sealed {}

/// The seam between `wait` and the objects; not nameable outside the crate.
#[allow(unreachable_pub, missing_docs)]
mod sealed {
    use std::os::fd::BorrowedFd;
    use std::sync::atomic::AtomicU32;

    /// How an object is waited for.
    pub enum Source<'a> {
        /// A futex word bumped on every change, with its waiter count.
        Word {
            seq: &'a AtomicU32,
            waiters: &'a AtomicU32,
        },
        /// A descriptor that becomes readable.
        Fd(BorrowedFd<'a>),
    }

    pub trait Sealed {
        /// How to wait for it.
        fn source(&self) -> Source<'_>;
        /// Whether it is ready now, cheaply (no system call); false for descriptors.
        fn ready(&self) -> bool;
        /// Whether it is ready now, looking harder (e.g. the other end's liveness).
        fn ready_slow(&self) -> bool {
            self.ready()
        }
    }
}

use sealed::{Sealed, Source};

impl Sealed for Connection {
    fn source(&self) -> Source<'_> {
        let (seq, waiters) = self.data_word();
        Source::Word { seq, waiters }
    }
    fn ready(&self) -> bool {
        self.ready_now()
    }
    fn ready_slow(&self) -> bool {
        self.ready_now() || self.peer_gone()
    }
}
impl Waitable for Connection {}

impl<T> Sealed for Queue<T> {
    fn source(&self) -> Source<'_> {
        let (seq, waiters) = self.raw().data_word();
        Source::Word { seq, waiters }
    }
    fn ready(&self) -> bool {
        !self.empty() || self.is_closed()
    }
}
impl<T> Waitable for Queue<T> {}

impl<T> Sealed for JoinableQueue<T> {
    fn source(&self) -> Source<'_> {
        (**self).source()
    }
    fn ready(&self) -> bool {
        (**self).ready()
    }
}
impl<T> Waitable for JoinableQueue<T> {}

impl<T> Sealed for SimpleQueue<T> {
    fn source(&self) -> Source<'_> {
        self.inner().source()
    }
    fn ready(&self) -> bool {
        self.inner().ready()
    }
}
impl<T> Waitable for SimpleQueue<T> {}

impl Sealed for BorrowedFd<'_> {
    fn source(&self) -> Source<'_> {
        Source::Fd(self.as_fd())
    }
    fn ready(&self) -> bool {
        false
    }
}
impl Waitable for BorrowedFd<'_> {}

impl Sealed for OwnedFd {
    fn source(&self) -> Source<'_> {
        Source::Fd(self.as_fd())
    }
    fn ready(&self) -> bool {
        false
    }
}
impl Waitable for OwnedFd {}

/// Waits until at least one of `objects` is ready, or `timeout` passes (`None`: for good), and
/// returns the indices of the ready ones, in order (empty after a timeout), like Python's
/// `multiprocessing.connection.wait`. Nothing is consumed.
///
/// At most 126 connections and queues (the kernel's `futex_waitv` limit, less one word for
/// descriptors); any number of descriptors.
///
/// ```
/// use std::time::Duration;
/// use mp_ipc::{Pipe, Queue, wait};
///
/// let (a, b) = Pipe(true)?;
/// let q = Queue::<u32>::new()?;
/// q.put(5).unwrap();
/// assert_eq!(wait(&[&a, &q], Some(Duration::ZERO))?, vec![1]);
/// b.send_bytes(b"x")?;
/// assert_eq!(wait(&[&a, &q], None)?, vec![0, 1]);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>, Error> {
    let deadline = Deadline::from_timeout(timeout);
    let sources: Vec<Source<'_>> = objects.iter().map(|o| o.source()).collect();
    let fds: Vec<(usize, BorrowedFd<'_>)> = sources
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            Source::Fd(fd) => Some((i, *fd)),
            Source::Word { .. } => None,
        })
        .collect();
    let words = sources.len() - fds.len();
    if words + 1 > MAX_WAITV {
        return Err(Error::Invalid(
            "wait takes at most 126 connections and queues",
        ));
    }
    // Descriptors ready right now?
    let fd_ready = |t: Option<Duration>| -> Vec<usize> {
        if fds.is_empty() {
            return Vec::new();
        }
        let list: Vec<BorrowedFd<'_>> = fds.iter().map(|(_, fd)| *fd).collect();
        poll_readable(&list, t)
            .into_iter()
            .zip(&fds)
            .filter_map(|(r, (i, _))| r.then_some(*i))
            .collect()
    };
    let collect = |slow: bool, fd_hits: &[usize]| -> Vec<usize> {
        (0..objects.len())
            .filter(|&i| {
                fd_hits.contains(&i)
                    || if slow {
                        objects[i].ready_slow()
                    } else {
                        objects[i].ready()
                    }
            })
            .collect()
    };
    let ready = collect(true, &fd_ready(Some(Duration::ZERO)));
    if !ready.is_empty() || deadline.is_some_and(Deadline::has_passed) {
        return Ok(ready);
    }

    // The helper's word: bumped (and woken) when a descriptor becomes readable.
    let fd_word = AtomicU32::new(0);
    let stop = EventFd::new().map_err(Error::Os)?;
    let fd_fired = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if !fds.is_empty() {
            scope.spawn(|| {
                let mut list: Vec<BorrowedFd<'_>> = fds.iter().map(|(_, fd)| *fd).collect();
                list.push(stop.as_fd());
                let r = poll_readable(&list, None);
                if r[..r.len() - 1].iter().any(|&x| x) {
                    fd_fired.store(true, Ordering::SeqCst);
                }
                fd_word.fetch_add(1, Ordering::SeqCst);
                futex_wake(&fd_word, u32::MAX);
            });
        }
        let result = loop {
            let mut waitv: Vec<(&AtomicU32, u32)> = Vec::with_capacity(words + 1);
            waitv.push((&fd_word, fd_word.load(Ordering::SeqCst)));
            for s in &sources {
                if let Source::Word { seq, waiters } = s {
                    waitv.push((seq, seq.load(Ordering::SeqCst)));
                    waiters.fetch_add(1, Ordering::SeqCst);
                }
            }
            let hits = if fd_fired.load(Ordering::SeqCst) {
                fd_ready(Some(Duration::ZERO))
            } else {
                Vec::new()
            };
            let mut ready = collect(false, &hits);
            let mut slept = true;
            if ready.is_empty() && !deadline.is_some_and(Deadline::has_passed) {
                slept = futex_waitv(&waitv, Some(Deadline::slice(deadline, SLICE)));
            }
            for s in &sources {
                if let Source::Word { waiters, .. } = s {
                    waiters.fetch_sub(1, Ordering::SeqCst);
                }
            }
            if ready.is_empty() {
                let hits = if fd_fired.load(Ordering::SeqCst) {
                    fd_ready(Some(Duration::ZERO))
                } else {
                    Vec::new()
                };
                ready = collect(!slept, &hits);
            }
            if !ready.is_empty() || deadline.is_some_and(Deadline::has_passed) {
                break ready;
            }
        };
        stop.signal();
        Ok(result)
    })
}
