//! The process's descriptor watcher: one long-lived thread per process that `epoll`s every
//! descriptor a [`WaitSet`](crate::WaitSet) waits on (process sentinels, connections' liveness
//! sockets, plain descriptors) and rings the set's [`Bell`], a futex word that the set's
//! `futex_waitv` includes beside the channels' words. So a wait over descriptors and channels
//! starts no thread and sleeps in no polling slices.
//!
//! Watches are one-shot: a report disarms the watch until the set, having found the
//! descriptor not ready after all (or consumed), re-arms it. A descriptor that stays readable
//! (an exited child's pidfd) thus costs the watcher one report, not a spin.
//!
//! The watcher is made lazily, by the first watch in each process (by pid): a forked child
//! has no watcher thread and shares its parent's epoll instance, so it makes its own and
//! never touches the inherited one.

use std::collections::HashMap;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::sys::{Epoll, Interest, PerProcess, futex_wake};

/// The futex word a waiting set sleeps on (among its channels' words): rung by the watcher
/// whenever one of the set's descriptors reports. Process-private memory.
#[derive(Debug, Default)]
pub(crate) struct Bell {
    /// Bumped by every ring.
    word: AtomicU32,
}

impl Bell {
    /// The word, for `futex_waitv`; read it before looking at the descriptors' state.
    pub(crate) fn word(&self) -> &AtomicU32 {
        &self.word
    }

    /// Bumps the word and wakes whoever sleeps on it.
    fn ring(&self) {
        self.word.fetch_add(1, Ordering::SeqCst);
        futex_wake(&self.word, u32::MAX);
    }
}

/// One watched descriptor's state, shared by its set and the watcher.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The descriptor reported (or has not been looked at yet): the set should poll it.
    fired: AtomicBool,
    /// The set's bell.
    bell: Arc<Bell>,
}

impl Slot {
    /// A slot ringing `bell`, marked fired so that the first wait looks at the descriptor
    /// itself rather than waiting for the watcher.
    pub(crate) fn new(bell: Arc<Bell>) -> Arc<Slot> {
        Arc::new(Slot {
            fired: AtomicBool::new(true),
            bell,
        })
    }

    /// Whether the descriptor may be ready (reported since last armed).
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Marks the slot fired again (e.g. the watch was lost with a fork).
    pub(crate) fn refire(&self) {
        self.fired.store(true, Ordering::SeqCst);
    }

    /// The watcher's report.
    fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.bell.ring();
    }
}

/// The process's watcher (see the module docs).
pub(crate) struct Watcher {
    /// Every watched descriptor, keyed by its slot's key.
    epoll: Epoll,
    /// The slots by key; keys are never reused, so a late report for a removed watch finds
    /// nothing.
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    /// The next key.
    next_key: AtomicU64,
    /// Whether the thread runs (started at the first watch).
    started: Mutex<bool>,
}

/// This process's watcher.
static CURRENT: PerProcess<Watcher> = PerProcess::new();

/// Pause after an unexpected `epoll_wait` failure before trying again.
const RETRY: Duration = Duration::from_millis(10);

impl Watcher {
    /// This process's watcher, with its thread running (made and started at the first call
    /// in each process).
    pub(crate) fn current() -> io::Result<&'static Watcher> {
        let watcher = CURRENT.get_or_try_init(|| {
            Ok(Watcher {
                epoll: Epoll::new()?,
                slots: Mutex::new(HashMap::new()),
                next_key: AtomicU64::new(0),
                started: Mutex::new(false),
            })
        })?;
        let mut started = lock(&watcher.started);
        if !*started {
            std::thread::Builder::new()
                .name("mp-ipc-watcher".into())
                .spawn(move || watcher.run())?;
            *started = true;
        }
        Ok(watcher)
    }

    /// Whether this watcher belongs to the calling process (not inherited across `fork`).
    pub(crate) fn is_current(&'static self) -> bool {
        CURRENT.get().is_some_and(|w| std::ptr::eq(w, self))
    }

    /// Clears `slot`'s report and arms a one-shot watch of `fd` for it, for `interest`: a
    /// new watch when `key` is `None`, else the watch made before under `key`. Returns the
    /// watch's key.
    pub(crate) fn arm(
        &self,
        fd: BorrowedFd<'_>,
        slot: &Arc<Slot>,
        key: Option<u64>,
        interest: Interest,
    ) -> io::Result<u64> {
        // Cleared before arming: a report that comes after sets it again.
        slot.fired.store(false, Ordering::SeqCst);
        let result = match key {
            Some(key) => self.epoll.rearm(fd, key, interest).map(|()| key),
            None => {
                let key = self.next_key.fetch_add(1, Ordering::Relaxed);
                lock(&self.slots).insert(key, Arc::clone(slot));
                self.epoll
                    .add(fd, key, interest)
                    .map(|()| key)
                    .inspect_err(|_| {
                        lock(&self.slots).remove(&key);
                    })
            }
        };
        if result.is_err() {
            slot.refire();
        }
        result
    }

    /// Stops watching `fd` (watched under `key`).
    pub(crate) fn unwatch(&self, fd: BorrowedFd<'_>, key: u64) {
        // A failure means the descriptor is not watched any more: nothing left to undo.
        let _ = self.epoll.remove(fd);
        lock(&self.slots).remove(&key);
    }

    /// The thread: report every ready descriptor to its slot, for good.
    fn run(&self) {
        let mut keys = Vec::new();
        loop {
            keys.clear();
            // Parked in the kernel, holding nothing: a fork-method start does not count it.
            let quiet = mp_sync::raw::QuietThread::enter();
            let waited = self.epoll.wait(&mut keys);
            drop(quiet);
            if waited.is_err() {
                // Not expected (the epoll descriptor is ours); never spin on it.
                std::thread::sleep(RETRY);
                continue;
            }
            let slots = lock(&self.slots);
            for key in &keys {
                if let Some(slot) = slots.get(key) {
                    slot.fire();
                }
            }
        }
    }
}

/// Locks `m`, whatever a panicking holder left (the maps stay consistent: every change is one
/// call).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
