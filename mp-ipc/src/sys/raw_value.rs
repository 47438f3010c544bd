//! [`RawValue`]: Python's `multiprocessing.RawValue`, one [`Pod`] in shared memory without a
//! lock (a [`RawArray`] of one element). In the seam for its `unsafe` plain accessors; an
//! integer value is reached safely as an atomic.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::pod::Pod;

use super::atomic::AtomicInteger;
use super::raw_array::RawArray;

/// Python's `multiprocessing.RawValue`: one `T` in shared memory without a lock.
///
/// A value of an integer type is read and written safely through the atomic of its size
/// ([`atomic`](Self::atomic): `load`, `store`, `fetch_add`, ...). Plain reads and writes
/// ([`get`](Self::get), [`set`](Self::set)) are `unsafe`: the caller arranges that no one
/// writes while others access it.
///
/// ```
/// use std::sync::atomic::Ordering;
/// let hits = mp_ipc::RawValue::new(0u64)?;
/// hits.atomic().fetch_add(1, Ordering::Relaxed);
/// assert_eq!(hits.atomic().load(Ordering::Relaxed), 1);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Pod")]
pub struct RawValue<T: Pod> {
    /// One element.
    array: RawArray<T>,
}

impl<T: Pod> Clone for RawValue<T> {
    fn clone(&self) -> Self {
        RawValue {
            array: self.array.clone(),
        }
    }
}

impl<T: Pod> RawValue<T> {
    /// A shared `value`.
    pub fn new(value: T) -> Result<Self, Error> {
        Ok(RawValue {
            array: RawArray::from_slice(&[value])?,
        })
    }

    /// The value's address in this process (64-byte aligned), e.g. for an `AtomicU64`.
    pub fn as_ptr(&self) -> *mut T {
        self.array.as_ptr()
    }

    /// The value as the atomic of its size (`AtomicU64` for `u64`, ...): lock-free, safe
    /// access from every process that holds it.
    pub fn atomic(&self) -> &T::Atomic
    where
        T: AtomicInteger,
    {
        &self.array.atomics()[0]
    }

    /// Reads the value.
    ///
    /// # Safety
    /// No thread of any process writes it concurrently.
    pub unsafe fn get(&self) -> T {
        // SAFETY: forwarded to the caller.
        unsafe { self.array.as_slice()[0] }
    }

    /// Writes the value.
    ///
    /// # Safety
    /// No other thread of any process reads or writes it concurrently.
    pub unsafe fn set(&self, value: T) {
        // SAFETY: forwarded to the caller.
        unsafe { self.array.as_mut_slice()[0] = value }
    }
}
