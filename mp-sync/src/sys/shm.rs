//! The shared segment: one `IpcSharedMemory` (a memfd mapped `MAP_SHARED`, no name in
//! `/dev/shm`) holding a tag, a typed header, then a raw data area (empty for the primitives;
//! ring buffers and array elements in mp-ipc). Public through [`crate::raw`].
//!
//! ipc-channel creates the memfd with `MFD_CLOEXEC` and maps it once; dropping the
//! `IpcSharedMemory` unmaps it and closes the fd. Cloning one would dup the fd and map it
//! again, so in-process clones of a handle share one mapping through an `Arc`; serializing a
//! handle inside an ipc-channel message sends the memfd.

use std::fmt;
use std::io;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use ipc_channel::ipc::IpcSharedMemory;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A header stored at the start of a segment.
///
/// # Safety
/// An all-zero bit pattern is a valid `Self`, `Self` is `repr(C)`, holds no pointers or other
/// address-dependent data, and is mutated only through atomics (other processes access it
/// concurrently).
pub unsafe trait SharedHeader: Sync + Sized {
    /// Tag stored in the segment, checked when a segment arrives in a message.
    const KIND: u32;
}

/// Alignment of the header and of the data area: a cache line.
const ALIGN: usize = 64;

/// What precedes the header: the tag and the data area's length.
#[repr(C)]
struct Prefix {
    /// `H::KIND`, written last, before the segment is shared.
    kind: AtomicU32,
    /// Length of the data area in bytes.
    data_len: AtomicU64,
}

/// Offset of the data area for a header `H`.
const fn data_offset<H>() -> usize {
    ALIGN + size_of::<H>().div_ceil(ALIGN) * ALIGN
}

/// One mapped segment; dropping the last handle unmaps the memory and closes the fd.
struct Mapping {
    /// Start of `mem`'s mapping, which lives (at a fixed address) as long as `mem`.
    ptr: NonNull<u8>,
    /// Length of the data area.
    data_len: usize,
    /// Owns the fd and the mapping.
    mem: IpcSharedMemory,
}

/// A handle on a shared segment with header `H`: cheap to clone in-process, sent as the memfd
/// when serialized inside an ipc-channel message.
pub struct Segment<H> {
    /// The mapping, shared by in-process clones.
    map: Arc<Mapping>,
    /// The header type.
    _header: std::marker::PhantomData<fn() -> H>,
}

// SAFETY: the mapping is plain shared memory usable from any thread; the segment gives out
// `&H` (with `H: Sync`) and raw pointers into the data area only; `IpcSharedMemory` is
// itself `Send + Sync`.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl<H: SharedHeader> Segment<H> {
    /// Creates a zeroed segment with a data area of `data_len` bytes; `init` sets the header
    /// up before anyone else can see it.
    pub fn create(
        data_len: usize,
        init: impl FnOnce(&H) -> io::Result<()>,
    ) -> io::Result<Segment<H>> {
        // Decide the spin policy now, not first in a forked child.
        super::futex::may_spin();
        // A caller's size must not wrap the total (it would map less than the data area).
        let len = data_offset::<H>()
            .checked_add(data_len)
            .filter(|&len| len <= isize::MAX as usize)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a shared-memory segment of {data_len} data bytes is too large"),
                )
            })?;
        // Zero-filled by the kernel, pages untouched until used (no cost per byte), and an
        // OS refusal (out of descriptors, of memory) is an error, not a panic.
        let mut mem = IpcSharedMemory::try_zeroed(len).map_err(|os| {
            io::Error::new(
                os.kind(),
                format!("creating a {len}-byte shared-memory segment failed: {os}"),
            )
        })?;
        // SAFETY: `mem` was just created and nobody else maps it; the raw pointer is taken
        // once and afterwards used only for atomics and the data area's byte copies.
        let bytes = unsafe { mem.deref_mut() };
        let ptr = NonNull::from(bytes).cast::<u8>();
        let seg = Segment {
            map: Arc::new(Mapping { ptr, data_len, mem }),
            _header: std::marker::PhantomData,
        };
        init(seg.header())?;
        let prefix = seg.prefix();
        prefix.data_len.store(data_len as u64, Ordering::Relaxed);
        prefix.kind.store(H::KIND, Ordering::Release);
        Ok(seg)
    }

    /// Adopts a segment that arrived in a message, checking its size and tag.
    fn adopt(mut mem: IpcSharedMemory) -> Result<Segment<H>, &'static str> {
        const WRONG: &str = "shared memory received does not hold this kind of object";
        let len = mem.len();
        if len < data_offset::<H>() {
            return Err(WRONG);
        }
        // SAFETY: the memory is mapped for as long as `mem` lives; the pointer is only used
        // for atomics and byte copies (see `create`).
        let bytes = unsafe { mem.deref_mut() };
        let ptr = NonNull::from(bytes).cast::<u8>();
        let seg = Segment {
            map: Arc::new(Mapping {
                ptr,
                data_len: len - data_offset::<H>(),
                mem,
            }),
            _header: std::marker::PhantomData,
        };
        let prefix = seg.prefix();
        if prefix.kind.load(Ordering::Acquire) != H::KIND
            || prefix.data_len.load(Ordering::Relaxed) != seg.map.data_len as u64
        {
            return Err(WRONG);
        }
        Ok(seg)
    }

    /// The tag and length before the header.
    fn prefix(&self) -> &Prefix {
        // SAFETY: the mapping starts page-aligned and is at least `ALIGN` bytes long (checked
        // in `adopt`, true by construction in `create`); `Prefix` is atomics only, valid zeroed.
        unsafe { self.map.ptr.cast::<Prefix>().as_ref() }
    }

    /// The shared header.
    #[inline]
    pub fn header(&self) -> &H {
        // SAFETY: the header lies at `ALIGN` (a multiple of its alignment), inside the live
        // mapping (length checked); `H: SharedHeader` is valid zeroed and only shared-mutated.
        unsafe { self.map.ptr.add(ALIGN).cast::<H>().as_ref() }
    }

    /// The data area of the segment whose header is `header` (with `data_len` data bytes),
    /// for use inside `create`'s `init`, before a `Segment` handle is returned.
    fn data_of(header: &H, data_len: usize) -> (*mut u8, usize) {
        let start = (header as *const H).cast::<u8>();
        // SAFETY: the header sits at `ALIGN` in the mapping, the data area at
        // `data_offset::<H>()`, both inside the live mapping of `data_offset + data_len` bytes.
        let ptr = unsafe { start.sub(ALIGN).add(data_offset::<H>()) };
        (ptr.cast_mut(), data_len)
    }

    /// The start of the data area (cache-line aligned) and its length in bytes. The pointer
    /// stays valid as long as this handle (or a clone) lives.
    #[inline]
    pub fn data(&self) -> (*mut u8, usize) {
        // SAFETY: the data area starts inside the mapping (or one past its end when empty).
        let ptr = unsafe { self.map.ptr.as_ptr().add(data_offset::<H>()) };
        (ptr, self.map.data_len)
    }
}

impl<H> Clone for Segment<H> {
    fn clone(&self) -> Self {
        Segment {
            map: Arc::clone(&self.map),
            _header: std::marker::PhantomData,
        }
    }
}

impl<H> fmt::Debug for Segment<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("addr", &self.map.ptr)
            .field("data_len", &self.map.data_len)
            .finish()
    }
}

impl<H> Serialize for Segment<H> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map.mem.serialize(serializer)
    }
}

impl<'de, H: SharedHeader> Deserialize<'de> for Segment<H> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mem = IpcSharedMemory::deserialize(deserializer)?;
        Segment::adopt(mem).map_err(serde::de::Error::custom)
    }
}

/// Proof that a state is being initialized in a fresh segment nobody else can see yet.
/// Only [`Shared::new`] makes one.
pub(crate) struct Fresh(());

/// A primitive's state, the header of its segment.
///
/// # Safety
/// As for [`SharedHeader`]; in addition the state is mutated only through atomics or
/// [`RobustMutex`](super::RobustMutex), since other processes access it concurrently.
pub(crate) unsafe trait SharedState: SharedHeader {
    /// Sets up the zeroed state before the segment can be shared (nothing to do for
    /// plain atomics, which start at 0).
    fn init(&self, fresh: &Fresh) -> io::Result<()> {
        let _ = fresh;
        Ok(())
    }
}

/// A primitive's handle on its segment: cheap to clone in-process (one mapping), sent as
/// the memfd when serialized inside an ipc-channel message.
pub(crate) struct Shared<T> {
    /// The state inside `segment`, cached so that reaching it is one load, not three.
    state: NonNull<T>,
    /// Keeps the mapping (and so `state`) alive.
    segment: Segment<T>,
}

// SAFETY: `Shared` is a `Segment<T>` (Send + Sync) plus a pointer into that segment's mapping
// that is only used for `&T`, and `T: Sync`.
unsafe impl<T: SharedState> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: SharedState> Sync for Shared<T> {}

impl<T: SharedState> Shared<T> {
    /// Creates a new segment holding a freshly initialized `T`.
    pub(crate) fn new() -> Result<Self, crate::Error> {
        let segment =
            Segment::create(0, |state: &T| state.init(&Fresh(()))).map_err(crate::Error::Os)?;
        Ok(Self::from_segment(segment))
    }

    /// Creates a new segment holding a freshly initialized `T` followed, in its data area, by
    /// `n` robust mutexes of flavour `kind` (see [`mutexes`](Self::mutexes)).
    pub(crate) fn with_mutexes(n: usize, kind: super::MutexKind) -> Result<Self, crate::Error> {
        let too_many = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{n} mutexes do not fit in a shared-memory segment"),
            )
        };
        let data_len = n
            .checked_mul(size_of::<super::RobustMutex>())
            .ok_or_else(too_many)?;
        let segment = Segment::create(data_len, |state: &T| {
            let fresh = Fresh(());
            state.init(&fresh)?;
            let (ptr, _) = Segment::<T>::data_of(state, data_len);
            // SAFETY: the data area holds `n` zeroed, suitably aligned (64) mutexes.
            let mutexes = unsafe { std::slice::from_raw_parts(ptr.cast(), n) };
            mutexes.iter().try_for_each(|m| init_fresh(&fresh, m, kind))
        })
        .map_err(crate::Error::Os)?;
        Ok(Self::from_segment(segment))
    }

    /// The robust mutexes in the data area (none unless made by
    /// [`with_mutexes`](Self::with_mutexes); a received segment of a foreign size gives the
    /// whole mutexes that fit).
    pub(crate) fn mutexes(&self) -> &[super::RobustMutex] {
        let (ptr, len) = self.segment.data();
        // SAFETY: the data area is cache-line aligned, lives as long as `self`, and holds
        // `len / size_of` whole mutexes (zeroed ones in a hostile segment are a normal,
        // non-robust glibc mutex: still no memory unsafety).
        unsafe {
            std::slice::from_raw_parts(
                ptr.cast::<super::RobustMutex>(),
                len / size_of::<super::RobustMutex>(),
            )
        }
    }

    fn from_segment(segment: Segment<T>) -> Self {
        Shared {
            state: NonNull::from(segment.header()),
            segment,
        }
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            state: self.state,
            segment: self.segment.clone(),
        }
    }
}

impl<T: SharedState> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `state` points into the mapping owned by `self.segment`, which lives at
        // least as long as `self` (the `Arc` inside never moves the mapping); see `header`.
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
        self.segment.serialize(serializer)
    }
}

impl<'de, T: SharedState> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Segment::deserialize(deserializer).map(Shared::from_segment)
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

/// Initializes a mutex inside a state being set up in a fresh segment.
pub(crate) fn init_fresh(
    _: &Fresh,
    mutex: &super::RobustMutex,
    kind: super::MutexKind,
) -> io::Result<()> {
    // SAFETY: a `Fresh` exists only during `Shared::new`'s init of a zeroed segment nobody
    // else can see yet, and callers pass a mutex of the state being initialized.
    unsafe { mutex.init(kind) }
}
