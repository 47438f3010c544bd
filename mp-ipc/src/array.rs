//! [`Array`] and [`RawArray`]: fixed-length arrays of [`Pod`] elements in shared memory.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use mp_sync::{Lock, LockGuard};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::pod::Pod;
use crate::sys::{Segment, SharedHeader, create_segment, kind};

/// The header of an element segment.
#[repr(C)]
pub(crate) struct ElemHeader {
    /// Number of elements.
    len: AtomicU64,
    /// `size_of` the element type, checked when a segment arrives in a message.
    elem_size: AtomicU32,
}

// SAFETY: `repr(C)`, atomics only (valid zeroed), no pointers.
unsafe impl SharedHeader for ElemHeader {
    const KIND: u32 = kind::ARRAY;
}

/// `len` elements of `T` in a segment (the data area is 64-byte aligned, enough for any `Pod`
/// up to that alignment).
pub(crate) struct Elems<T> {
    /// The segment.
    seg: Segment<ElemHeader>,
    /// Number of elements, checked against the segment's size once (at creation or arrival)
    /// and kept here: the shared `len` field is never trusted again, so a peer that rewrites
    /// it cannot make us reach past the mapping.
    len: usize,
    /// The element type.
    _t: PhantomData<T>,
}

impl<T> Clone for Elems<T> {
    fn clone(&self) -> Self {
        Elems {
            seg: self.seg.clone(),
            len: self.len,
            _t: PhantomData,
        }
    }
}

impl<T: Pod> Elems<T> {
    /// A segment holding a copy of `init`.
    pub(crate) fn from_slice(init: &[T]) -> Result<Elems<T>, Error> {
        assert!(
            align_of::<T>() <= 64,
            "Pod types aligned above 64 bytes are not supported"
        );
        let bytes = size_of_val(init);
        let seg = create_segment::<ElemHeader>(bytes, |h| {
            h.len.store(init.len() as u64, Ordering::Relaxed);
            h.elem_size.store(size_of::<T>() as u32, Ordering::Relaxed);
            Ok(())
        })?;
        let e = Elems {
            seg,
            len: init.len(),
            _t: PhantomData,
        };
        // SAFETY: fresh segment, not yet shared: no other access.
        unsafe { e.slice_mut() }.copy_from_slice(init);
        Ok(e)
    }

    /// A segment of `len` zeroed elements (zero is a valid `Pod`).
    pub(crate) fn zeroed(len: usize) -> Result<Elems<T>, Error> {
        assert!(
            align_of::<T>() <= 64,
            "Pod types aligned above 64 bytes are not supported"
        );
        // A caller's length: its byte size must neither wrap nor exceed what a mapping can be.
        let bytes = len
            .checked_mul(size_of::<T>())
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or(Error::TooManyElements {
                len,
                elem_size: size_of::<T>(),
            })?;
        let seg = create_segment::<ElemHeader>(bytes, |h| {
            h.len.store(len as u64, Ordering::Relaxed);
            h.elem_size.store(size_of::<T>() as u32, Ordering::Relaxed);
            Ok(())
        })?;
        Ok(Elems {
            seg,
            len,
            _t: PhantomData,
        })
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first element.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.seg.data().0.cast::<T>()
    }

    /// The elements, shared.
    ///
    /// # Safety
    /// No process or thread writes them while the slice is in use.
    pub(crate) unsafe fn slice(&self) -> &[T] {
        // SAFETY: `self.len` elements of `T` fit in the data area (checked at adoption, true at
        // creation; never re-read from shared memory), which is 64-byte aligned and lives as long as `self`; every bit pattern
        // is a valid `T: Pod`; the caller excludes concurrent writers.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.len()) }
    }

    /// The elements, exclusively.
    ///
    /// # Safety
    /// No other process or thread reads or writes them while the slice is in use.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut(&self) -> &mut [T] {
        // SAFETY: as in `slice`; the caller guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.as_ptr(), self.len()) }
    }
}

impl<T> Serialize for Elems<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.seg.serialize(serializer)
    }
}

impl<'de, T: Pod> Deserialize<'de> for Elems<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seg = Segment::<ElemHeader>::deserialize(deserializer)?;
        let h = seg.header();
        let len = usize::try_from(h.len.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        if h.elem_size.load(Ordering::Relaxed) as usize != size_of::<T>()
            || len.checked_mul(size_of::<T>()) != Some(seg.data().1)
            || (size_of::<T>() == 0 && len > isize::MAX as usize)
        {
            return Err(serde::de::Error::custom(
                "shared array received with another element type",
            ));
        }
        Ok(Elems {
            seg,
            len,
            _t: PhantomData,
        })
    }
}

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
            _guard: guard,
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
    _guard: LockGuard<'a>,
    /// The elements.
    elems: &'a Elems<T>,
}

impl<T: Pod> Deref for ArrayGuard<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: the lock is held; every locked user excludes writers.
        unsafe { self.elems.slice() }
    }
}

impl<T: Pod> DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: the lock is held and this guard is borrowed mutably: no other locked user.
        unsafe { self.elems.slice_mut() }
    }
}

/// Python's `multiprocessing.RawArray`: shared elements without a lock. Access is `unsafe`:
/// the caller arranges that no one writes while others read.
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
