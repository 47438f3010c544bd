//! [`SharedMemory`]: Python's `multiprocessing.shared_memory.SharedMemory`, a block of memory
//! any process on the machine can attach to by name (a POSIX `shm_open` name, so Python's
//! `SharedMemory(name)` attaches to ours and we to Python's).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pod::Pod;
use crate::shared_memory_error::SharedMemoryError;
use crate::shm_name::ShmName;
use crate::sys::{
    AtomicInteger, FileIdentity, Mapping, Registration, identity_and_len, identity_of, register,
    set_len, shm_attach, shm_create, shm_unlink,
};

/// Generated names tried before giving up (each collision is a 1 in 2^64 event: a run of
/// them means something else is wrong).
const GENERATED_NAME_ATTEMPTS: usize = 16;

/// The default mode of a created segment: owner only.
pub const DEFAULT_SHM_MODE: u32 = 0o600;

/// A named block of shared memory (Python's `SharedMemory`).
///
/// * **Names.** [`create`](Self::create) picks an unguessable `psm_` name (16 random hex
///   digits; a collision retries with a new one); [`create_named`](Self::create_named) takes
///   yours (`AlreadyExists` if taken); [`attach`](Self::attach) opens an existing one
///   (`NotFound` if none). Names are what Python's `SharedMemory.name` shows, without the
///   leading slash (one given with it is accepted).
/// * **Lifetime.** The creating process owns the name: it is unlinked when the creator's last
///   handle (clones included) is dropped, unless [`keep`](Self::keep) was called, and also
///   when the creator dies, SIGKILL included: a small watcher process, forked once per
///   creating process, unlinks what a dead creator still owned. Attaching never takes
///   ownership (unlike Python 3.8–3.12, whose resource tracker unlinks segments that other
///   processes still use, CPython gh-82300). Mappings stay valid after an unlink: the name
///   goes, the memory stays until every process has dropped its mapping.
/// * **Access.** Other processes may write the bytes at any moment, so they are never a
///   `&mut [u8]`: copy in and out ([`read`](Self::read), [`write`](Self::write),
///   [`read_pod`](Self::read_pod), [`write_pod`](Self::write_pod)), use integer cells as
///   atomics ([`atomics`](Self::atomics)), or take a typed view with the `unsafe`
///   [`as_slice`](Self::as_slice)/[`as_mut_slice`](Self::as_mut_slice) when you synchronise
///   yourself (e.g. under an [`mp_sync::Lock`] you pass along).
/// * **Travel.** A handle serializes as its name, so it travels as an `mp-process` argument
///   (every start method), inside an ipc-channel message and inside this crate's own queues
///   and connections; the receiver attaches by name (a `NotFound` error if the name was
///   unlinked meanwhile) and does not own it.
/// * **Security.** Created segments have mode 0600 (owner only) unless
///   [`SharedMemoryOptions::mode`] says otherwise; the mode is set exactly, whatever the umask.
///
/// ```
/// use mp_ipc::SharedMemory;
/// let shm = SharedMemory::create(16)?;
/// let other = SharedMemory::attach(shm.name())?;   // e.g. in another process
/// other.write(0, b"hello")?;
/// let mut buf = [0u8; 5];
/// shm.read(0, &mut buf)?;
/// assert_eq!(&buf, b"hello");
/// assert_eq!(other.size(), 16);
/// # Ok::<(), mp_ipc::SharedMemoryError>(())
/// ```
#[derive(Clone)]
pub struct SharedMemory {
    /// Shared by this process's clones: the mapping goes with the last one.
    inner: Arc<Inner>,
}

/// One process's attachment to a segment.
struct Inner {
    /// The segment's name.
    name: ShmName,
    /// Its bytes in this process.
    map: Mapping,
    /// The name's ownership, for a handle made by [`SharedMemory::create`].
    owner: Option<Owner>,
}

/// A creator's ownership of a name: unlinks it when dropped, unless it was given up.
#[derive(Debug)]
pub(crate) struct Owner {
    /// The name.
    name: ShmName,
    /// The file it was created as (an unlink on our behalf touches only that file).
    identity: FileIdentity,
    /// The creating process: a fork child's inherited copy unlinks nothing.
    pid: u32,
    /// The watcher's entry, while the name is ours to unlink.
    registration: Mutex<Option<Registration>>,
}

impl Owner {
    /// Gives the name up (it was unlinked, or is kept); whether it was still ours.
    fn disown(&self) -> bool {
        if self.pid != std::process::id() {
            return false;
        }
        let taken = self
            .registration
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        taken.map(Registration::release).is_some()
    }

    /// Unlinks the name now if it is still ours and still refers to the file we created.
    pub(crate) fn unlink_now(&self) {
        if self.disown() && identity_of(self.name.path()).is_ok_and(|id| id == self.identity) {
            let _ = shm_unlink(self.name.c_name());
        }
    }

    /// The name owned.
    pub(crate) fn name(&self) -> &str {
        self.name.as_str()
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.unlink_now();
    }
}

/// How to create a segment: its name (generated if none) and mode (0600 if none).
///
/// ```
/// let shm = mp_ipc::SharedMemoryOptions::new().mode(0o640).create(4096)?;
/// assert_eq!(shm.size(), 4096);
/// # Ok::<(), mp_ipc::SharedMemoryError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SharedMemoryOptions {
    /// The name asked for.
    name: Option<String>,
    /// Permission bits.
    mode: u32,
}

impl Default for SharedMemoryOptions {
    fn default() -> Self {
        SharedMemoryOptions {
            name: None,
            mode: DEFAULT_SHM_MODE,
        }
    }
}

impl SharedMemoryOptions {
    /// A generated name, mode 0600.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates under `name` instead of a generated one.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// The permission bits of the segment (e.g. `0o644` to let other users read it).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o7777;
        self
    }

    /// Creates a segment of `size` bytes (zeroed), owned by this process.
    pub fn create(&self, size: usize) -> Result<SharedMemory, SharedMemoryError> {
        let (name, map, owner) = self.create_parts(size)?;
        Ok(SharedMemory::from_parts(name, map, Some(owner)))
    }

    /// Creates a segment whose ownership the caller keeps apart from the handle (a manager):
    /// the handle's drop unlinks nothing, the `Owner`'s does.
    pub(crate) fn create_detached(
        &self,
        size: usize,
    ) -> Result<(SharedMemory, Owner), SharedMemoryError> {
        let (name, map, owner) = self.create_parts(size)?;
        Ok((SharedMemory::from_parts(name, map, None), owner))
    }

    /// Creates, sizes, maps and registers the segment; on any failure nothing is left behind.
    fn create_parts(&self, size: usize) -> Result<(ShmName, Mapping, Owner), SharedMemoryError> {
        if size == 0 {
            return Err(SharedMemoryError::ZeroSize);
        }
        let given = self.name.as_deref().map(ShmName::parse).transpose()?;
        let mut attempts = 0;
        let (name, fd) = loop {
            let name = match &given {
                Some(n) => n.clone(),
                None => ShmName::generate()?,
            };
            match shm_create(name.c_name(), self.mode) {
                Ok(fd) => break (name, fd),
                Err(e)
                    if e.kind() == std::io::ErrorKind::AlreadyExists
                        && given.is_none()
                        && attempts < GENERATED_NAME_ATTEMPTS =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(SharedMemoryError::from_os("shm_open", name.as_str(), e)),
            }
        };
        let undo = |op, source| {
            let _ = shm_unlink(name.c_name());
            SharedMemoryError::Os { op, source }
        };
        set_len(&fd, size).map_err(|e| undo("ftruncate", e))?;
        let (identity, _) = identity_and_len(&fd).map_err(|e| undo("fstat", e))?;
        let map = Mapping::map(&fd, size).map_err(|e| undo("mmap", e))?;
        let registration = register(name.as_str().as_bytes(), identity)
            .map_err(|e| undo("starting the name watcher", e))?;
        let owner = Owner {
            name: name.clone(),
            identity,
            pid: std::process::id(),
            registration: Mutex::new(Some(registration)),
        };
        Ok((name, map, owner))
    }
}

impl SharedMemory {
    /// Creates a zeroed segment of `size` bytes under a generated name, owned by this process
    /// (`ZeroSize` if `size` is 0).
    pub fn create(size: usize) -> Result<SharedMemory, SharedMemoryError> {
        SharedMemoryOptions::new().create(size)
    }

    /// Creates a zeroed segment of `size` bytes named `name` (`AlreadyExists` if taken).
    pub fn create_named(name: &str, size: usize) -> Result<SharedMemory, SharedMemoryError> {
        SharedMemoryOptions::new().name(name).create(size)
    }

    /// Options for a creation: name and mode.
    pub fn options() -> SharedMemoryOptions {
        SharedMemoryOptions::new()
    }

    /// Attaches to the existing segment `name` (`NotFound` if none); its [`size`](Self::size)
    /// is the segment's real size. Does not take ownership.
    pub fn attach(name: &str) -> Result<SharedMemory, SharedMemoryError> {
        let name = ShmName::parse(name)?;
        let fd = shm_attach(name.c_name())
            .map_err(|e| SharedMemoryError::from_os("shm_open", name.as_str(), e))?;
        let (_, len) = identity_and_len(&fd).map_err(|source| SharedMemoryError::Os {
            op: "fstat",
            source,
        })?;
        let map = Mapping::map(&fd, len)
            .map_err(|source| SharedMemoryError::Os { op: "mmap", source })?;
        Ok(SharedMemory::from_parts(name, map, None))
    }

    /// A handle over a mapping.
    fn from_parts(name: ShmName, map: Mapping, owner: Option<Owner>) -> SharedMemory {
        SharedMemory {
            inner: Arc::new(Inner { name, map, owner }),
        }
    }

    /// The name, as Python's `SharedMemory.name` shows it (no leading slash).
    pub fn name(&self) -> &str {
        self.inner.name.as_str()
    }

    /// The segment's size in bytes (when attached: the real size, whatever was asked).
    pub fn size(&self) -> usize {
        self.inner.map.len()
    }

    /// Whether this handle's process created the segment and will unlink it when its last
    /// handle goes (false once [`keep`](Self::keep) or [`unlink`](Self::unlink) was called,
    /// and for attached handles).
    pub fn owns_name(&self) -> bool {
        self.inner.owner.as_ref().is_some_and(|o| {
            o.pid == std::process::id()
                && o.registration
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_some()
        })
    }

    /// Copies `out.len()` bytes from `offset` into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), SharedMemoryError> {
        if self.inner.map.read_at(offset, out) {
            Ok(())
        } else {
            Err(self.out_of_bounds(offset, out.len()))
        }
    }

    /// Copies `data` to `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), SharedMemoryError> {
        if self.inner.map.write_at(offset, data) {
            Ok(())
        } else {
            Err(self.out_of_bounds(offset, data.len()))
        }
    }

    /// A copy of the whole segment.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0; self.size()];
        self.inner.map.read_at(0, &mut v);
        v
    }

    /// Reads a `T` at `offset` by copying (any alignment).
    pub fn read_pod<T: Pod>(&self, offset: usize) -> Result<T, SharedMemoryError> {
        let mut value = T::zeroed();
        self.read(offset, bytemuck::bytes_of_mut(&mut value))?;
        Ok(value)
    }

    /// Writes `value` at `offset` by copying (any alignment).
    pub fn write_pod<T: Pod>(&self, offset: usize, value: &T) -> Result<(), SharedMemoryError> {
        self.write(offset, bytemuck::bytes_of(value))
    }

    /// `count` integer cells of type `T` from byte `offset`, as atomics (`AtomicU64` for
    /// `u64`, ...): safe, lock-free access shared with every attached process (Python's side
    /// sees the plain integers). `offset` must be aligned for `T`.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// let shm = mp_ipc::SharedMemory::create(64)?;
    /// shm.atomics::<u64>(8, 2)?[1].fetch_add(3, Ordering::SeqCst);
    /// assert_eq!(shm.read_pod::<u64>(16)?, 3);
    /// # Ok::<(), mp_ipc::SharedMemoryError>(())
    /// ```
    pub fn atomics<T: AtomicInteger>(
        &self,
        offset: usize,
        count: usize,
    ) -> Result<&[T::Atomic], SharedMemoryError> {
        self.check_view::<T>(offset, count)?;
        self.inner
            .map
            .atomics::<T>(offset, count)
            .ok_or(SharedMemoryError::Corrupt("checked view refused"))
    }

    /// The mapping, for the `unsafe` typed views (in the OS seam, `sys/shm_view.rs`).
    pub(crate) fn mapping(&self) -> &Mapping {
        &self.inner.map
    }

    /// The first byte in this process, for your own atomic or volatile access; valid while
    /// this handle (or a clone) lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.inner.map.as_ptr()
    }

    /// Keeps the name after this process's handles are gone and after it dies: someone must
    /// [`unlink`](Self::unlink) it later (Python's default behaviour without a tracker).
    pub fn keep(&self) {
        if let Some(owner) = &self.inner.owner {
            owner.disown();
        }
    }

    /// Removes the name (Python's `unlink()`): no one can attach any more; mappings stay
    /// valid. A second unlink is `NotFound`. Any process may unlink.
    pub fn unlink(&self) -> Result<(), SharedMemoryError> {
        shm_unlink(self.inner.name.c_name())
            .map_err(|e| SharedMemoryError::from_os("shm_unlink", self.name(), e))?;
        if let Some(owner) = &self.inner.owner {
            owner.disown();
        }
        Ok(())
    }

    /// Drops this handle (Python's `close()`): the mapping goes with this process's last
    /// handle, and if that was the creator's, the name is unlinked unless kept.
    pub fn close(self) {
        drop(self);
    }

    /// The error for an access of `len` bytes at `offset`.
    fn out_of_bounds(&self, offset: usize, len: usize) -> SharedMemoryError {
        SharedMemoryError::OutOfBounds {
            offset,
            len,
            size: self.size(),
        }
    }

    /// Checks that `count` values of `T` at `offset` lie in the segment, aligned.
    pub(crate) fn check_view<T>(
        &self,
        offset: usize,
        count: usize,
    ) -> Result<(), SharedMemoryError> {
        let len = count.saturating_mul(size_of::<T>());
        if offset.checked_add(len).is_none_or(|end| end > self.size()) {
            return Err(self.out_of_bounds(offset, len));
        }
        if !(self.as_ptr() as usize)
            .wrapping_add(offset)
            .is_multiple_of(align_of::<T>())
        {
            return Err(SharedMemoryError::Misaligned {
                offset,
                align: align_of::<T>(),
            });
        }
        Ok(())
    }
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.name())
            .field("size", &self.size())
            .field("owns_name", &self.owns_name())
            .finish()
    }
}

/// A handle travels as its name.
impl Serialize for SharedMemory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The receiver attaches by name (an error if the name is gone) without taking ownership.
impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        SharedMemory::attach(&name).map_err(serde::de::Error::custom)
    }
}
