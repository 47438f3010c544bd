//! [`Value`]: one [`Pod`] in shared memory under a lock (an array of one element).

use std::ops::{Deref, DerefMut};

use mp_sync::Lock;
use serde::{Deserialize, Serialize};

use crate::array::{Array, ArrayGuard};
use crate::error::Error;
use crate::pod::Pod;

/// Python's `multiprocessing.Value(typecode, v)`: one `T` in shared memory with a
/// process-shared lock (its own, or the caller's). A child's writes are seen by the parent.
///
/// ```
/// let v = mp_ipc::Value::new(41u64)?;
/// *v.lock() += 1;                       // `with v.get_lock(): v.value += 1`
/// assert_eq!(v.get(), 42);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Pod")]
pub struct Value<T: Pod> {
    /// One element.
    array: Array<T>,
}

impl<T: Pod> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value {
            array: self.array.clone(),
        }
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Value").field(&self.get()).finish()
    }
}

impl<T: Pod> Value<T> {
    /// A shared `value` with its own lock.
    pub fn new(value: T) -> Result<Self, Error> {
        Ok(Value {
            array: Array::from_slice(&[value])?,
        })
    }

    /// A shared `value` guarded by the caller's `lock`.
    pub fn with_lock(value: T, lock: Lock) -> Result<Self, Error> {
        Ok(Value {
            array: Array::with_lock(&[value], lock)?,
        })
    }

    /// The lock (Python's `get_lock()`).
    pub fn get_lock(&self) -> &Lock {
        self.array.get_lock()
    }

    /// Reads the value under the lock (Python's `v.value`).
    pub fn get(&self) -> T {
        *self.lock()
    }

    /// Writes the value under the lock (Python's `v.value = x`).
    pub fn set(&self, value: T) {
        *self.lock() = value;
    }

    /// Locks the value for a read-modify-write: the guard derefs to `T`.
    pub fn lock(&self) -> ValueGuard<'_, T> {
        ValueGuard {
            inner: self.array.lock(),
        }
    }
}

/// The locked value of a [`Value`]; unlocks when dropped.
#[must_use = "if unused the Value will immediately unlock"]
pub struct ValueGuard<'a, T: Pod> {
    /// The one-element array guard.
    inner: ArrayGuard<'a, T>,
}

impl<T: Pod> Deref for ValueGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner[0]
    }
}

impl<T: Pod> DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner[0]
    }
}
