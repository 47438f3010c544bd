//! [`Array`]: a fixed-length array of [`Pod`] elements in shared memory, under a lock.

use std::ops::{Deref, DerefMut};

use mp_sync::{Lock, LockGuard};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::pod::Pod;
use crate::sys::Elems;

/// Python's `multiprocessing.Array(typecode, ...)`: a fixed-length array of `T` in shared
/// memory with a process-shared lock ([`mp_sync::Lock`], its own or the caller's). Clones and
/// copies sent to other processes name the same memory and the same lock.
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Pod")]
pub struct Array<T: Pod> {
    /// The elements.
    elems: Elems<T>,
    /// Guards them.
    lock: Lock,
}

impl<T: Pod> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            elems: self.elems.clone(),
            lock: self.lock.clone(),
        }
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.to_vec()).finish()
    }
}

impl<T: Pod> Array<T> {
    /// `len` zeroed elements (Python's `Array('i', 10)`).
    pub fn zeroed(len: usize) -> Result<Self, Error> {
        Ok(Array {
            elems: Elems::zeroed(len)?,
            lock: Lock::new()?,
        })
    }

    /// A copy of `init` (Python's `Array('i', [1, 2, 3])`).
    pub fn from_slice(init: &[T]) -> Result<Self, Error> {
        Ok(Array {
            elems: Elems::from_slice(init)?,
            lock: Lock::new()?,
        })
    }

    /// A copy of `init` guarded by the caller's `lock` (Python's `Array(..., lock=l)`).
    pub fn with_lock(init: &[T], lock: Lock) -> Result<Self, Error> {
        Ok(Array {
            elems: Elems::from_slice(init)?,
            lock,
        })
    }

    /// The lock guarding the elements (Python's `get_lock()`).
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.elems.len() == 0
    }

    /// Locks the array: the guard derefs to `[T]`. A holder that died mid-update is
    /// acknowledged (its write may be partial: the elements are plain bits).
    pub fn lock(&self) -> ArrayGuard<'_, T> {
        let guard = self.lock.acquire().unwrap_or_else(|died| died.into_inner());
        ArrayGuard {
            guard,
            elems: &self.elems,
        }
    }

    /// Element `i` (under the lock), `None` out of bounds.
    pub fn get(&self, i: usize) -> Option<T> {
        self.lock().get(i).copied()
    }

    /// Sets element `i` (under the lock); `false` out of bounds.
    pub fn set(&self, i: usize, value: T) -> bool {
        match self.lock().get_mut(i) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// A copy of every element (under the lock).
    pub fn to_vec(&self) -> Vec<T> {
        self.lock().to_vec()
    }
}

/// The elements of a locked [`Array`]; unlocks when dropped.
#[must_use = "if unused the Array will immediately unlock"]
pub struct ArrayGuard<'a, T: Pod> {
    /// Holds the lock.
    guard: LockGuard<'a>,
    /// The elements.
    elems: &'a Elems<T>,
}

impl<T: Pod> Deref for ArrayGuard<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.elems.locked(&self.guard)
    }
}

impl<T: Pod> DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.elems.locked_mut(&mut self.guard)
    }
}
