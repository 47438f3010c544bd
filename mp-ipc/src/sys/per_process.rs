//! [`PerProcess`]: one value per process, made lazily, found without a lock, and made afresh
//! in a forked child (which inherits the parent's memory but not its threads).

use std::io;
use std::sync::atomic::{AtomicPtr, Ordering};

use super::this_pid::this_pid;

/// A value owned by the process that made it: the first [`get_or_try_init`] in each process
/// (by pid) makes one. A value inherited across `fork` is never used, changed or freed by the
/// child (it may describe threads the child does not have, or kernel objects it shares with
/// the parent); it is leaked there, once per fork generation.
///
/// No lock is taken, so a fork in the middle of another thread's call cannot leave the child
/// blocked on a lock nobody will release.
///
/// [`get_or_try_init`]: PerProcess::get_or_try_init
pub(crate) struct PerProcess<T: 'static> {
    /// The current value with the pid that made it; null before the first.
    current: AtomicPtr<(u32, T)>,
}

impl<T: Send + Sync + 'static> PerProcess<T> {
    /// No value yet.
    pub(crate) const fn new() -> Self {
        PerProcess {
            current: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// This process's value, made by `init` if it has none yet. Two threads racing to make the
    /// first one both run `init`; one value wins and the other is dropped, so `init` must not
    /// start anything that outlives it (start threads once the value is returned).
    pub(crate) fn get_or_try_init(
        &self,
        init: impl Fn() -> io::Result<T>,
    ) -> io::Result<&'static T> {
        let pid = this_pid();
        let mut seen = self.current.load(Ordering::Acquire);
        loop {
            if let Some((owner, value)) = Self::deref(seen)
                && *owner == pid
            {
                return Ok(value);
            }
            let fresh = Box::into_raw(Box::new((pid, init()?)));
            match self
                .current
                .compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                // The value `seen` (null, or another process's) is leaked on purpose.
                Ok(_) => return Ok(&Self::deref(fresh).expect("just made").1),
                Err(now) => {
                    // SAFETY: `fresh` came from `Box::into_raw` above and was never published.
                    drop(unsafe { Box::from_raw(fresh) });
                    seen = now;
                }
            }
        }
    }

    /// This process's value, if it made one.
    pub(crate) fn get(&self) -> Option<&'static T> {
        let (owner, value) = Self::deref(self.current.load(Ordering::Acquire))?;
        (*owner == this_pid()).then_some(value)
    }

    /// The value behind a published pointer, if any.
    fn deref(ptr: *mut (u32, T)) -> Option<&'static (u32, T)> {
        // SAFETY: every non-null pointer stored in `current` came from `Box::into_raw` and is
        // never freed once published (replaced values are leaked), so it lives for the rest of
        // the process; it is only read through shared references.
        unsafe { ptr.as_ref() }
    }
}
