//! `Elems`: `len` [`Pod`] elements in a shared segment, the storage under `Array`, `RawArray`,
//! `Value` and `RawValue`, and every way of reaching them: under the array's lock, as
//! atomics, or (for the raw types' `unsafe` accessors) as plain slices.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use mp_sync::LockGuard;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::pod::Pod;

use super::atomic::AtomicInteger;
use super::{ElemHeader, Segment, create_segment};

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
        // SAFETY: `self.len` elements of `T` fit in the data area (checked at adoption, true
        // at creation; never re-read from shared memory), which is 64-byte aligned and lives
        // as long as `self`; every bit pattern is a valid `T: Pod`; the caller excludes
        // concurrent writers.
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

    /// The elements, for the holder of the lock that guards them (an `Array`'s guard).
    ///
    /// Safe because of what the guard proves: `held` is the guard of the array's own lock
    /// (the one pairing of elements and lock, made in `Array` and never changed), and every
    /// access to an `Array`'s elements goes through that lock, so no one writes them while
    /// the returned slice, which borrows the guard, is in use.
    pub(crate) fn locked<'a>(&'a self, held: &'a LockGuard<'_>) -> &'a [T] {
        let _ = held;
        // SAFETY: see above: writers are excluded by the lock `held` holds.
        unsafe { self.slice() }
    }

    /// The elements, exclusively, for the holder of the lock that guards them, borrowed
    /// mutably (see [`locked`](Self::locked)): no other locked user reads or writes them.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn locked_mut<'a>(&'a self, held: &'a mut LockGuard<'_>) -> &'a mut [T] {
        let _ = held;
        // SAFETY: as in `locked`; the guard is borrowed mutably, so this is the one slice.
        unsafe { self.slice_mut() }
    }

    /// The elements as atomics of the same size, for lock-free access from any process.
    pub(crate) fn atomics(&self) -> &[T::Atomic]
    where
        T: AtomicInteger,
    {
        // SAFETY: `T::Atomic` has the size and alignment of `T` (checked at compile time for
        // every `AtomicInteger` impl), the elements lie in the 64-byte aligned data area that
        // lives as long as `self`, and an atomic type may be made over any memory that is
        // only accessed atomically while it is in use: the non-atomic accesses (`RawArray`'s
        // `as_slice`, `RawValue`'s `get`) are `unsafe` and exclude concurrent writers.
        unsafe { std::slice::from_raw_parts(self.as_ptr().cast::<T::Atomic>(), self.len) }
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
