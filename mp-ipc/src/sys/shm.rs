//! POSIX named shared memory: `shm_open`, `ftruncate`, `fchmod`, `fstat`, `mmap`,
//! `shm_unlink`, random bytes for unguessable names, and [`Mapping`], the bytes of a segment
//! mapped in this process with the only ways of reaching them (copies, atomics, and `unsafe`
//! plain views for callers who synchronise themselves).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use crate::pod::Pod;

use super::atomic::AtomicInteger;

/// Which file a name referred to when we created it (device and inode of the `/dev/shm`
/// entry): a name is unlinked on our behalf only while it still refers to that file, never
/// after someone else re-created it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    /// `st_dev`.
    pub(crate) dev: u64,
    /// `st_ino`.
    pub(crate) ino: u64,
}

/// Creates the segment `name` (with its leading slash) with `mode`, failing with
/// `AlreadyExists` if the name is taken. The mode is set with `fchmod` after the creation, so
/// the umask does not change what was asked; the segment is created 0600 first, so no one
/// else can open it in between.
pub(crate) fn shm_create(name: &CStr, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a NUL-terminated string that lives through the call.
    let fd = unsafe {
        libc::shm_open(
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC,
            0o600 as libc::mode_t,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an integer descriptor we own and a mode.
    if unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) } < 0 {
        let e = io::Error::last_os_error();
        let _ = shm_unlink(name);
        return Err(e);
    }
    Ok(fd)
}

/// Opens the existing segment `name` (with its leading slash) for reading and writing.
pub(crate) fn shm_attach(name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a NUL-terminated string that lives through the call.
    let fd = unsafe { libc::shm_open(name.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Removes the name `name` (with its leading slash); `NotFound` if it is gone already.
pub(crate) fn shm_unlink(name: &CStr) -> io::Result<()> {
    // SAFETY: `name` is a NUL-terminated string that lives through the call.
    if unsafe { libc::shm_unlink(name.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Gives the segment behind `fd` its size.
pub(crate) fn set_len(fd: &OwnedFd, len: usize) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: an integer descriptor we own and a length.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The identity and the size of the segment behind `fd`.
pub(crate) fn identity_and_len(fd: &OwnedFd) -> io::Result<(FileIdentity, usize)> {
    // SAFETY: `stat` is plain data; zero is a valid value that fstat overwrites.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `stat` for the call.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let len = usize::try_from(st.st_size).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    Ok((
        FileIdentity {
            dev: st.st_dev,
            ino: st.st_ino,
        },
        len,
    ))
}

/// The identity of the file `path` names now (`/dev/shm/NAME`).
pub(crate) fn identity_of(path: &CStr) -> io::Result<FileIdentity> {
    // SAFETY: `stat` is plain data; zero is a valid value that stat overwrites.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a valid, writable `stat` for the call.
    if unsafe { libc::stat(path.as_ptr(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(FileIdentity {
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// Fills `buf` from the kernel's random source (for unguessable names).
pub(crate) fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the unfilled, writable rest of `buf`.
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// A segment's bytes mapped `MAP_SHARED` in this process, unmapped when dropped.
///
/// Other processes may write these bytes at any moment, so no safe `&[u8]`/`&mut [u8]` over
/// them is ever made: they are copied in and out, reached as atomics, or viewed through the
/// `unsafe` [`slice`](Self::slice) accessors whose callers exclude concurrent writers.
pub(crate) struct Mapping {
    /// The first byte (dangling, never dereferenced, for an empty segment).
    ptr: NonNull<u8>,
    /// Bytes mapped.
    len: usize,
}

// SAFETY: the mapping is plain shared memory, valid until dropped; every access through it is
// a copy, an atomic, or an `unsafe` view whose caller excludes concurrent writers.
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`: no method hands out unsynchronised safe references.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of the segment behind `fd` for reading and writing.
    pub(crate) fn map(fd: &OwnedFd, len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Ok(Mapping {
                ptr: NonNull::dangling(),
                len: 0,
            });
        }
        // SAFETY: a fresh mapping chosen by the kernel, of a descriptor we own; no existing
        // memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Mapping { ptr, len })
    }

    /// Bytes mapped.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first byte, for the caller's own volatile or atomic access.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Whether `count` items of `size` bytes from byte `offset` lie inside the mapping.
    fn fits(&self, offset: usize, count: usize, size: usize) -> bool {
        count
            .checked_mul(size)
            .and_then(|b| b.checked_add(offset))
            .is_some_and(|end| end <= self.len)
    }

    /// Whether `count` items of `size` bytes from byte `offset` lie inside the mapping, with
    /// `offset`'s address a multiple of `align`.
    fn view_fits(&self, offset: usize, count: usize, size: usize, align: usize) -> bool {
        self.fits(offset, count, size)
            && (self.ptr.as_ptr() as usize)
                .wrapping_add(offset)
                .is_multiple_of(align)
    }

    /// Copies the bytes at `offset` into `out`; `false` (nothing copied) if they do not all
    /// lie inside the mapping.
    pub(crate) fn read_at(&self, offset: usize, out: &mut [u8]) -> bool {
        if !self.fits(offset, out.len(), 1) {
            return false;
        }
        // SAFETY: `offset..offset + out.len()` lies inside the mapping (checked above), which
        // cannot overlap `out` (a Rust allocation or stack); a byte copy from memory another
        // process may be writing yields whatever bytes were there (plain data, no invariant).
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(offset),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        true
    }

    /// Copies `data` to `offset`; `false` (nothing written) if it does not all fit.
    pub(crate) fn write_at(&self, offset: usize, data: &[u8]) -> bool {
        if !self.fits(offset, data.len(), 1) {
            return false;
        }
        // SAFETY: as in `read_at`, the other way round: the destination lies inside the
        // mapping and no Rust reference to those bytes exists (none is ever handed out safely).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len())
        };
        true
    }

    /// `count` atomics of `T`'s size from byte `offset`; `None` if they do not fit or
    /// `offset` is not aligned for them.
    pub(crate) fn atomics<T: AtomicInteger>(
        &self,
        offset: usize,
        count: usize,
    ) -> Option<&[T::Atomic]> {
        if !self.view_fits(offset, count, size_of::<T>(), align_of::<T::Atomic>()) {
            return None;
        }
        // SAFETY: the range lies inside the mapping, which lives as long as `self`, and is
        // aligned for `T::Atomic` (checked above; `T::Atomic` has `T`'s size, checked at
        // compile time in `atomic.rs`); an atomic may be made over any memory that is only
        // accessed atomically while it is in use: the plain accessors are `unsafe` and their
        // callers exclude concurrent access.
        Some(unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr().add(offset).cast::<T::Atomic>(), count)
        })
    }

    /// `count` values of `T` from byte `offset`; `None` if they do not fit or are misaligned.
    ///
    /// # Safety
    /// No thread of any process writes these bytes while the slice is in use.
    pub(crate) unsafe fn slice<T: Pod>(&self, offset: usize, count: usize) -> Option<&[T]> {
        if !self.view_fits(offset, count, size_of::<T>(), align_of::<T>()) {
            return None;
        }
        // SAFETY: in bounds and aligned (checked above), every bit pattern is a valid `T: Pod`,
        // the mapping outlives the borrow, and the caller excludes concurrent writers.
        Some(unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr().add(offset).cast::<T>(), count)
        })
    }

    /// `count` values of `T` from byte `offset`, mutably; `None` if they do not fit or are
    /// misaligned.
    ///
    /// # Safety
    /// No other thread of any process reads or writes these bytes while the slice is in use.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut<T: Pod>(&self, offset: usize, count: usize) -> Option<&mut [T]> {
        if !self.view_fits(offset, count, size_of::<T>(), align_of::<T>()) {
            return None;
        }
        // SAFETY: as in `slice`; the caller guarantees exclusive access.
        Some(unsafe {
            std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(offset).cast::<T>(), count)
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: our own mapping, made in `map` with this address and length; no reference
            // into it outlives `self` (every view borrows it).
            unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        }
    }
}
