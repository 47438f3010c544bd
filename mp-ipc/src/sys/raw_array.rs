//! [`RawArray`]: Python's `multiprocessing.RawArray`, shared elements without a lock. It lives
//! in the seam because its plain-slice accessors are `unsafe` (the caller excludes concurrent
//! writers); its integer elements are reached safely as atomics.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::pod::Pod;

use super::atomic::AtomicInteger;
use super::elems::Elems;

/// Python's `multiprocessing.RawArray`: shared elements without a lock.
///
/// Elements of an integer type are reached safely as atomics of the same size
/// ([`atomics`](Self::atomics)); plain slices are `unsafe` ([`as_slice`](Self::as_slice)):
/// the caller arranges that no one writes while others read.
///
/// ```
/// use std::sync::atomic::Ordering;
/// let counters = mp_ipc::RawArray::<u32>::zeroed(4)?;
/// counters.atomics()[2].fetch_add(5, Ordering::Relaxed);
/// assert_eq!(counters.atomics()[2].load(Ordering::Relaxed), 5);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Pod")]
pub struct RawArray<T: Pod> {
    /// The elements.
    elems: Elems<T>,
}

impl<T: Pod> Clone for RawArray<T> {
    fn clone(&self) -> Self {
        RawArray {
            elems: self.elems.clone(),
        }
    }
}

impl<T: Pod> std::fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The elements are not read: that needs the caller's guarantee that nobody writes.
        f.debug_struct("RawArray")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T: Pod> RawArray<T> {
    /// `len` zeroed elements.
    pub fn zeroed(len: usize) -> Result<Self, Error> {
        Ok(RawArray {
            elems: Elems::zeroed(len)?,
        })
    }

    /// A copy of `init`.
    pub fn from_slice(init: &[T]) -> Result<Self, Error> {
        Ok(RawArray {
            elems: Elems::from_slice(init)?,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.elems.len() == 0
    }

    /// The first element, for atomic or volatile access of your own (64-byte aligned).
    pub fn as_ptr(&self) -> *mut T {
        self.elems.as_ptr()
    }

    /// The elements as atomics of their own size (`AtomicU64` for `u64`, ...): lock-free,
    /// safe access from every process that holds the array.
    pub fn atomics(&self) -> &[T::Atomic]
    where
        T: AtomicInteger,
    {
        self.elems.atomics()
    }

    /// The elements.
    ///
    /// # Safety
    /// No thread of any process writes them while the slice is in use.
    pub unsafe fn as_slice(&self) -> &[T] {
        // SAFETY: forwarded to the caller.
        unsafe { self.elems.slice() }
    }

    /// The elements, mutably.
    ///
    /// # Safety
    /// No other thread of any process reads or writes them while the slice is in use.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice(&self) -> &mut [T] {
        // SAFETY: forwarded to the caller.
        unsafe { self.elems.slice_mut() }
    }
}
