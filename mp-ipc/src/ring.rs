//! A byte ring in a shared segment: `cap` bytes (a power of two) addressed by free-running
//! `u32` positions, so `tail - head` (wrapping) is the number of bytes in use.
//!
//! The ring only copies bytes; who may write where is the caller's protocol (one producer and
//! one consumer at a time, enforced by [`Connection`](crate::Connection)'s ownership of its end
//! and by the [`Queue`](crate::Queue)'s put and get locks). Messages are framed as an 8-byte
//! header (`len: u32`, `tag: u32`, little-endian) followed by the payload padded to 8 bytes, so
//! a header never straddles the end of the ring.

use std::marker::PhantomData;

use crate::sys::{Segment, SharedHeader};

/// Tag of a padding frame: skipped by readers, never counted as an item.
pub(crate) const PAD: u32 = 1;

/// Size of a frame header.
pub(crate) const HEADER: u32 = 8;

/// The bytes a frame with a `len`-byte payload occupies (header and padding included).
#[inline]
pub(crate) const fn frame_len(len: u32) -> u64 {
    HEADER as u64 + (len as u64).div_ceil(8) * 8
}

/// A view of one ring inside a segment's data area, valid while the segment is borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Ring<'a> {
    /// First byte of the ring, inside the segment's mapping.
    buf: *mut u8,
    /// `cap - 1`, `cap` a power of two.
    mask: u32,
    /// Ties the view to the segment that keeps the mapping alive.
    _seg: PhantomData<&'a ()>,
}

impl<'a> Ring<'a> {
    /// The ring of `cap` bytes at `offset` in `seg`'s data area.
    ///
    /// # Panics
    /// If `cap` is not a power of two or the ring does not fit in the data area.
    pub(crate) fn new<H: SharedHeader>(seg: &'a Segment<H>, offset: usize, cap: u32) -> Ring<'a> {
        let (data, len) = seg.data();
        assert!(cap.is_power_of_two() && (64..=1 << 31).contains(&cap));
        assert!(
            offset.is_multiple_of(8) && offset + cap as usize <= len,
            "ring outside its segment"
        );
        Ring {
            // SAFETY: `offset + cap <= len`, so the ring lies inside the mapping.
            buf: unsafe { data.add(offset) },
            mask: cap - 1,
            _seg: PhantomData,
        }
    }

    /// The capacity in bytes.
    #[inline]
    pub(crate) fn cap(&self) -> u32 {
        self.mask + 1
    }

    /// Copies `src` into the ring from position `pos` on, wrapping at the end.
    ///
    /// # Panics
    /// If `src` is longer than the ring.
    #[inline]
    pub(crate) fn write(&self, pos: u32, src: &[u8]) {
        assert!(src.len() <= self.cap() as usize);
        let at = (pos & self.mask) as usize;
        let first = src.len().min(self.cap() as usize - at);
        // SAFETY: `at + first <= cap` and `src.len() - first <= at`, so both copies stay inside
        // the ring, which is inside the live mapping; `src` is ordinary memory that cannot
        // overlap the shared mapping's free area. The bytes are plain `u8`: a misbehaving
        // second writer in another process can only garble data, not break an invariant.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.buf.add(at), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), self.buf, src.len() - first);
        }
    }

    /// Copies bytes from position `pos` on into `dst`, wrapping at the end.
    ///
    /// # Panics
    /// If `dst` is longer than the ring.
    #[inline]
    pub(crate) fn read(&self, pos: u32, dst: &mut [u8]) {
        assert!(dst.len() <= self.cap() as usize);
        let at = (pos & self.mask) as usize;
        let first = dst.len().min(self.cap() as usize - at);
        // SAFETY: as in `write`, both source ranges lie inside the ring; `dst` is ordinary
        // memory, disjoint from the mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(self.buf.add(at), dst.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(self.buf, dst.as_mut_ptr().add(first), dst.len() - first);
        }
    }

    /// Appends the `len` bytes from `pos` to `out` (no zero-filling first).
    ///
    /// The caller must hold the consumer's role over these bytes (committed, not released).
    #[inline]
    pub(crate) fn extend_vec(&self, pos: u32, len: u32, out: &mut Vec<u8>) {
        assert!(len <= self.cap());
        let at = pos & self.mask;
        let first = len.min(self.cap() - at);
        for (p, n) in [(pos, first), (pos.wrapping_add(first), len - first)] {
            if let Some(s) = self.contiguous(p, n) {
                out.extend_from_slice(s);
            }
        }
    }

    /// The `len` bytes from `pos` as one slice, if they do not wrap around the end.
    ///
    /// The caller must hold the consumer's role over these bytes (they are committed and not
    /// yet released) for as long as it uses the slice.
    #[inline]
    pub(crate) fn contiguous(&self, pos: u32, len: u32) -> Option<&'a [u8]> {
        let at = (pos & self.mask) as usize;
        (at + len as usize <= self.cap() as usize).then(|| {
            // SAFETY: the range lies inside the ring (checked above); under the protocol the
            // producer does not write committed bytes until the consumer releases them.
            unsafe { std::slice::from_raw_parts(self.buf.add(at), len as usize) }
        })
    }

    /// The `len` bytes from `pos` as one writable slice, if they do not wrap around the end.
    ///
    /// The caller must hold the producer's role over these bytes (free, not yet committed)
    /// for as long as it uses the slice.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn contiguous_mut(&self, pos: u32, len: u32) -> Option<&'a mut [u8]> {
        let at = (pos & self.mask) as usize;
        (at + len as usize <= self.cap() as usize).then(|| {
            // SAFETY: the range lies inside the ring (checked above); under the protocol no
            // consumer reads free bytes and there is one producer at a time.
            unsafe { std::slice::from_raw_parts_mut(self.buf.add(at), len as usize) }
        })
    }

    /// Writes a frame header at `pos` (a multiple of 8).
    #[inline]
    pub(crate) fn write_header(&self, pos: u32, len: u32, tag: u32) {
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&len.to_le_bytes());
        h[4..].copy_from_slice(&tag.to_le_bytes());
        self.write(pos, &h);
    }

    /// Reads the frame header at `pos`: `(len, tag)`.
    #[inline]
    pub(crate) fn read_header(&self, pos: u32) -> (u32, u32) {
        let mut h = [0u8; 8];
        self.read(pos, &mut h);
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let tag = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        (len, tag)
    }
}
