//! The shared segment: one `IpcSharedMemory` (a memfd mapped `MAP_SHARED`, no name in
//! `/dev/shm`) holding one primitive's state, seen through a typed shared reference.
//!
//! ipc-channel creates the memfd with `MFD_CLOEXEC` and maps it once; dropping the
//! `IpcSharedMemory` unmaps it and closes the fd. Cloning one would dup the fd and map it
//! again, so in-process clones of a primitive share one [`Shared`] (an `Arc`) instead.

use std::fmt;
use std::io;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use ipc_channel::ipc::IpcSharedMemory;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// Proof that a state is being initialized in a fresh segment nobody else can see yet.
/// Only [`Segment::create`] makes one.
pub(crate) struct Fresh(());

/// A primitive's state, stored in shared memory.
///
/// # Safety
/// An all-zero bit pattern is a valid `Self` (before [`SharedState::init`]), `Self` is
/// `repr(C)`, holds no pointers or other address-dependent data, and is mutated only through
/// atomics or [`RawMutex`](super::RawMutex), since other processes access it concurrently.
pub(crate) unsafe trait SharedState: Sync + Sized {
    /// Tag stored in the segment, checked when a segment arrives in a message.
    const KIND: u32;
    /// Sets up the zeroed state before the segment can be shared (nothing to do for
    /// plain atomics, which start at 0).
    fn init(&self, fresh: &Fresh) -> io::Result<()> {
        let _ = fresh;
        Ok(())
    }
}

/// What the memfd holds: a tag naming the primitive, then its state.
#[repr(C)]
struct Layout<T> {
    /// `T::KIND`, written before the segment is shared.
    kind: AtomicU32,
    /// The primitive's state.
    state: T,
}

/// One mapped segment holding a `T`; dropping it unmaps the memory and closes the fd.
pub(crate) struct Segment<T> {
    /// Points into `mem`'s mapping, which lives (at a fixed address) as long as `mem`.
    ptr: NonNull<Layout<T>>,
    /// Owns the fd and the mapping.
    mem: IpcSharedMemory,
}

// SAFETY: the segment only gives out `&T`, and `T: Sync`; the mapping may be used from any
// thread, and `IpcSharedMemory` is itself `Send + Sync`.
unsafe impl<T: SharedState> Send for Segment<T> {}
// SAFETY: as above.
unsafe impl<T: SharedState> Sync for Segment<T> {}

impl<T: SharedState> Segment<T> {
    /// Creates a zeroed segment and initializes its state.
    pub(crate) fn create() -> Result<Self, Error> {
        // Decide the spin policy now, not first in a forked child.
        super::futex::may_spin();
        let mut mem = IpcSharedMemory::from_byte(0, size_of::<Layout<T>>());
        // SAFETY: `mem` was just created, nobody else maps it; the raw pointer is taken once
        // and used only for shared access to atomics and pthread objects afterwards.
        let bytes = unsafe { mem.deref_mut() };
        let ptr = NonNull::from(bytes).cast::<Layout<T>>();
        // mmap returns page-aligned memory, more than any `T` here needs.
        assert!(ptr.as_ptr().is_aligned(), "shared mapping is misaligned");
        let seg = Segment { ptr, mem };
        seg.layout().state.init(&Fresh(()))?;
        seg.layout().kind.store(T::KIND, Ordering::Release);
        Ok(seg)
    }

    /// Adopts a segment that arrived in a message, checking its size and tag.
    fn adopt(mut mem: IpcSharedMemory) -> Result<Self, Error> {
        if mem.len() != size_of::<Layout<T>>() {
            return Err(Error::WrongKind);
        }
        // SAFETY: the length matches `Layout<T>`; the memory is mapped for as long as `mem`
        // lives; the pointer is only used for shared access (see `create`).
        let bytes = unsafe { mem.deref_mut() };
        let ptr = NonNull::from(bytes).cast::<Layout<T>>();
        if !ptr.as_ptr().is_aligned() {
            return Err(Error::WrongKind);
        }
        let seg = Segment { ptr, mem };
        if seg.layout().kind.load(Ordering::Acquire) != T::KIND {
            return Err(Error::WrongKind);
        }
        Ok(seg)
    }

    fn layout(&self) -> &Layout<T> {
        // SAFETY: `ptr` points into the live mapping owned by `self.mem`, sized and aligned
        // for `Layout<T>`; every `T: SharedState` is valid zeroed and only shared-mutated.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: SharedState> Deref for Segment<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.layout().state
    }
}

/// A primitive's handle on its segment: cheap to clone in-process (one mapping), sent as
/// the memfd when serialized inside an ipc-channel message.
pub(crate) struct Shared<T> {
    /// The state inside `segment`, cached so that reaching it is one load, not three.
    state: NonNull<T>,
    /// Keeps the mapping (and so `state`) alive.
    segment: Arc<Segment<T>>,
}

// SAFETY: `Shared` is an `Arc<Segment<T>>` (Send + Sync for `T: SharedState`) plus a pointer
// into that segment's mapping that is only used for `&T`, and `T: Sync`.
unsafe impl<T: SharedState> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: SharedState> Sync for Shared<T> {}

impl<T: SharedState> Shared<T> {
    /// Creates a new segment holding a freshly initialized `T`.
    pub(crate) fn new() -> Result<Self, Error> {
        Segment::create().map(Self::from_segment)
    }

    fn from_segment(segment: Segment<T>) -> Self {
        let state = NonNull::from(&*segment);
        Shared {
            state,
            segment: Arc::new(segment),
        }
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            state: self.state,
            segment: Arc::clone(&self.segment),
        }
    }
}

impl<T: SharedState> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `state` points into the mapping owned by `self.segment`, which lives at
        // least as long as `self` (an `Arc` never moves its contents); see `Segment::layout`.
        unsafe { self.state.as_ref() }
    }
}

impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").field("addr", &self.state).finish()
    }
}

impl<T> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.segment.mem.serialize(serializer)
    }
}

impl<'de, T: SharedState> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mem = IpcSharedMemory::deserialize(deserializer)?;
        let seg = Segment::adopt(mem).map_err(serde::de::Error::custom)?;
        Ok(Shared::from_segment(seg))
    }
}

/// Distinct tags per primitive (ASCII "mpL0" style, so a dump is readable).
pub(crate) mod kind {
    /// `Lock`.
    pub(crate) const LOCK: u32 = u32::from_le_bytes(*b"mpLk");
    /// `RLock`.
    pub(crate) const RLOCK: u32 = u32::from_le_bytes(*b"mpRL");
    /// `Semaphore` and `BoundedSemaphore`.
    pub(crate) const SEMAPHORE: u32 = u32::from_le_bytes(*b"mpSe");
    /// `Event`.
    pub(crate) const EVENT: u32 = u32::from_le_bytes(*b"mpEv");
    /// The condition-variable part of `Condition`.
    pub(crate) const CONDITION: u32 = u32::from_le_bytes(*b"mpCv");
    /// `Barrier`.
    pub(crate) const BARRIER: u32 = u32::from_le_bytes(*b"mpBa");
}
