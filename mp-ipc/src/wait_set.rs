//! [`WaitSet`]: a reusable set of connections, queues and descriptors that a supervisor adds
//! objects to once and then waits on in a loop, learning which are ready.
//!
//! A wait is one `futex_waitv` over the channels' words and the set's [`Bell`]; descriptors
//! are watched by the process's [watcher](crate::watcher) thread, which rings the bell. So a
//! wait starts no thread, makes no descriptor, and sleeps in no polling slices: it wakes when
//! something happens (the futex layer's [`MAX_SLEEP`](mp_sync::raw::MAX_SLEEP) bound aside).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mp_sync::raw::Deadline;

use crate::error::Error;
use crate::sys::{Interest, MAX_WAITV, futex_waitv, poll_readable, socket};
use crate::waitable::Waitable;
use crate::watcher::{Bell, Slot, Watcher};

/// Channels (connections and queues) one set takes: the kernel's `futex_waitv` limit, less
/// the set's own word.
pub const MAX_CHANNELS: usize = MAX_WAITV - 1;

/// Names an object added to a [`WaitSet`]; [`index`](Self::index) is its place in adding
/// order among the objects present (a removed object's token may be given to a later one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(usize);

impl Token {
    /// The token's number: 0 for the first object added, 1 for the next, ... (the free
    /// function [`wait`](crate::wait) returns these as indices into its list).
    pub fn index(self) -> usize {
        self.0
    }
}

/// A set of objects (connections, queues, descriptors such as process sentinels) waited on
/// together, again and again: Python's `multiprocessing.connection.wait` for a loop that
/// keeps the same objects, without rebuilding a list each time.
///
/// Add each object once ([`add`](Self::add), a [`Token`] back), then
/// [`wait`](Self::wait), [`wait_timeout`](Self::wait_timeout),
/// [`wait_deadline`](Self::wait_deadline) or [`try_wait`](Self::try_wait) return the tokens
/// of the ready ones, in token order (none after a timeout). Nothing is consumed: an object
/// stays ready until it is read from (a queue emptied, a message received), and an exited
/// process's sentinel stays ready until removed.
///
/// At most [`MAX_CHANNELS`] connections and queues; any number of descriptors. A set made in
/// one process keeps working in a forked child (which watches its descriptors with a watcher
/// of its own).
///
/// ```
/// use std::time::Duration;
/// use mp_ipc::{Pipe, Queue, WaitSet};
///
/// let (a, b) = Pipe(true)?;
/// let q = Queue::<u32>::new()?;
/// let mut set = WaitSet::new();
/// let (ta, tq) = (set.add(&a)?, set.add(&q)?);
/// assert!(set.try_wait()?.is_empty());
/// q.put(5).unwrap();
/// assert_eq!(set.wait_timeout(Duration::from_secs(10))?, [tq]);
/// b.send_bytes(b"x")?;
/// assert_eq!(set.wait()?, [ta, tq]);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
pub struct WaitSet<'a> {
    /// The objects by token; `None` where one was removed.
    members: Vec<Option<Member<'a>>>,
    /// Connections and queues present (each with a futex word).
    channels: usize,
    /// Rung by the watcher when a watched descriptor reports.
    bell: Arc<Bell>,
    /// The watcher the descriptors are armed with (none armed yet: `None`).
    watcher: Option<&'static Watcher>,
    /// The last wait's answer.
    ready: Vec<Token>,
}

/// One object of the set.
struct Member<'a> {
    /// The object.
    object: Box<dyn Waitable + 'a>,
    /// Its descriptor's watch, if it has one.
    watch: Option<Watch>,
}

/// A watched descriptor: the set's own duplicate once armed (so the watch never outlives the
/// descriptor, whatever the object does), its slot, and its key once armed.
struct Watch {
    /// The duplicate (made at the first arming for a descriptor object).
    fd: Option<OwnedFd>,
    /// Shared with the watcher.
    slot: Arc<Slot>,
    /// The watch's key with [`WaitSet::watcher`], once armed.
    key: Option<u64>,
}

impl Default for WaitSet<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WaitSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitSet")
            .field("objects", &self.len())
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl<'a> WaitSet<'a> {
    /// An empty set.
    pub fn new() -> Self {
        WaitSet {
            members: Vec::new(),
            channels: 0,
            bell: Arc::default(),
            watcher: None,
            ready: Vec::new(),
        }
    }

    /// Objects in the set.
    pub fn len(&self) -> usize {
        self.members.iter().flatten().count()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `object` (by reference, `&queue`, or by value, e.g. an owned descriptor) and
    /// returns its token. [`Error::Invalid`] beyond [`MAX_CHANNELS`] connections and queues;
    /// [`Error::Os`] when its descriptor cannot be duplicated (out of descriptors).
    pub fn add(&mut self, object: impl Waitable + 'a) -> Result<Token, Error> {
        let has_word = object.word().is_some();
        if has_word && self.channels >= MAX_CHANNELS {
            return Err(Error::Invalid(
                "a WaitSet takes at most 127 connections and queues",
            ));
        }
        // A descriptor object is polled as it is and duplicated only when a wait arms it;
        // another object's descriptor (a connection's liveness socket) is duplicated now.
        let fd = match object.fd() {
            Some(_) => Some(None),
            None => object.watch_fd().transpose().map_err(Error::Os)?.map(Some),
        };
        let watch = fd.map(|fd| Watch {
            fd,
            slot: Slot::new(Arc::clone(&self.bell)),
            key: None,
        });
        self.channels += usize::from(has_word);
        let member = Some(Member {
            object: Box::new(object),
            watch,
        });
        let index = match self.members.iter().position(Option::is_none) {
            Some(free) => {
                self.members[free] = member;
                free
            }
            None => {
                self.members.push(member);
                self.members.len() - 1
            }
        };
        Ok(Token(index))
    }

    /// Removes the object of `token` (and stops watching its descriptor); `false` if it was
    /// not in the set.
    pub fn remove(&mut self, token: Token) -> bool {
        let Some(member) = self.members.get_mut(token.0).and_then(Option::take) else {
            return false;
        };
        self.channels -= usize::from(member.object.word().is_some());
        self.unwatch(member.watch);
        true
    }

    /// Blocks until at least one object is ready; returns the ready ones' tokens.
    pub fn wait(&mut self) -> Result<&[Token], Error> {
        self.wait_until(None)
    }

    /// Like [`wait`](Self::wait) for at most `timeout`; no tokens when none became ready.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<&[Token], Error> {
        self.wait_until(Some(Deadline::after(timeout)))
    }

    /// Like [`wait`](Self::wait) until `deadline`; no tokens when none became ready.
    pub fn wait_deadline(&mut self, deadline: Deadline) -> Result<&[Token], Error> {
        self.wait_until(Some(deadline))
    }

    /// The objects ready now, without waiting.
    pub fn try_wait(&mut self) -> Result<&[Token], Error> {
        self.wait_until(Some(Deadline::now()))
    }

    /// The one wait. Each round reads the bell, then every channel's word before its
    /// readiness, polls the descriptors that reported (or were never looked at) and re-arms
    /// those that are not ready after all, then sleeps on all the words read: a change made
    /// after a look alters a word read before it, so the sleep returns at once.
    fn wait_until(&mut self, deadline: Option<Deadline>) -> Result<&[Token], Error> {
        self.leave_inherited_watcher();
        loop {
            let rung = self.bell.word().load(Ordering::SeqCst);
            self.ready.clear();
            let unready = self.check_descriptors()?;
            let mut words: Vec<(&AtomicU32, u32)> = Vec::with_capacity(self.channels + 1);
            words.push((self.bell.word(), rung));
            let mut sleepers: Vec<&AtomicU32> = Vec::with_capacity(self.channels);
            for (i, member) in self.members.iter().enumerate() {
                let Some(member) = member else { continue };
                if let Some(word) = member.object.word() {
                    let seq = word.futex_word();
                    words.push((seq, seq.load(Ordering::SeqCst)));
                    sleepers.push(word.sleepers());
                }
                if member.object.ready() {
                    self.ready.push(Token(i));
                }
            }
            if !self.ready.is_empty() || deadline.is_some_and(Deadline::has_passed) {
                self.ready.sort_unstable();
                self.ready.dedup();
                return Ok(&self.ready);
            }
            if !unready.is_empty() {
                // Armed only now that the wait must sleep (a wait answered at once arms
                // nothing), then looked at once more before sleeping.
                for i in unready {
                    self.arm(i)?;
                }
                continue;
            }
            for waiters in &sleepers {
                waiters.fetch_add(1, Ordering::SeqCst);
            }
            futex_waitv(&words, deadline);
            for waiters in &sleepers {
                waiters.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Polls the descriptors that reported (or were never looked at): the readable ones go
    /// into `ready`; returns the others (to arm for the watcher's next report before a sleep).
    fn check_descriptors(&mut self) -> Result<Vec<usize>, Error> {
        let fired: Vec<usize> = (self.members.iter().enumerate())
            .filter_map(|(i, m)| {
                let watch = m.as_ref()?.watch.as_ref()?;
                watch.slot.fired().then_some(i)
            })
            .collect();
        if fired.is_empty() {
            return Ok(fired);
        }
        // A descriptor object is ready when readable (or hung up); a connection's watch (its
        // link, readable whenever a side message waits on it) only when hung up.
        let mut unready = Vec::new();
        let (mut polled, mut fds) = (Vec::new(), Vec::new());
        for &i in &fired {
            let Some(member) = self.members.get(i).and_then(Option::as_ref) else {
                continue;
            };
            if let Some(fd) = member.object.fd() {
                polled.push(i);
                fds.push(fd);
            } else if let Some(fd) = member.watch.as_ref().and_then(|w| w.fd.as_ref()) {
                if socket::peer_hung_up(fd.as_fd()) {
                    self.ready.push(Token(i));
                } else {
                    unready.push(i);
                }
            }
        }
        if !fds.is_empty() {
            let readable = poll_readable(&fds, Some(Deadline::now())).map_err(Error::Os)?;
            for (n, &i) in polled.iter().enumerate() {
                if readable.contains(&n) {
                    self.ready.push(Token(i));
                } else {
                    unready.push(i);
                }
            }
        }
        Ok(unready)
    }

    /// Arms member `i`'s watch with this process's watcher (started if need be).
    fn arm(&mut self, i: usize) -> Result<(), Error> {
        let watcher = match self.watcher {
            Some(w) => w,
            None => *self.watcher.insert(Watcher::current().map_err(Error::Os)?),
        };
        let Some(Member {
            object,
            watch: Some(watch),
        }) = self.members[i].as_mut()
        else {
            return Ok(());
        };
        // A descriptor object's own descriptor is watched for readiness; a connection's
        // watch (its link) for the hang-up only.
        let interest = if object.fd().is_some() {
            Interest::Readable
        } else {
            Interest::HangUp
        };
        let fd = match &mut watch.fd {
            Some(fd) => fd,
            None => match object.fd() {
                Some(own) => watch
                    .fd
                    .insert(own.try_clone_to_owned().map_err(Error::Os)?),
                None => return Ok(()),
            },
        };
        watch.key = Some(
            watcher
                .arm(fd.as_fd(), &watch.slot, watch.key, interest)
                .map_err(Error::Os)?,
        );
        Ok(())
    }

    /// In a forked child, forgets the watches armed with the parent's watcher (whose epoll
    /// instance the child shares with the parent: it must not change it): each descriptor is
    /// looked at again and armed with the child's own watcher.
    fn leave_inherited_watcher(&mut self) {
        if self.watcher.is_none_or(Watcher::is_current) {
            return;
        }
        self.watcher = None;
        for watch in self
            .members
            .iter_mut()
            .flatten()
            .filter_map(|m| m.watch.as_mut())
        {
            watch.key = None;
            watch.slot = Slot::new(Arc::clone(&self.bell));
        }
    }

    /// Stops watching a removed member's descriptor (then closed with `watch`).
    fn unwatch(&self, watch: Option<Watch>) {
        if let (Some(watch), Some(watcher)) = (watch, self.watcher)
            && let (Some(key), Some(fd)) = (watch.key, &watch.fd)
            && watcher.is_current()
        {
            watcher.unwatch(fd.as_fd(), key);
        }
    }
}

impl Drop for WaitSet<'_> {
    fn drop(&mut self) {
        for member in std::mem::take(&mut self.members).into_iter().flatten() {
            self.unwatch(member.watch);
        }
    }
}
