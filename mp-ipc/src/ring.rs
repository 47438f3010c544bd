//! A byte ring in a shared segment: `cap` bytes (a power of two) addressed by free-running
//! positions, so `tail - head` is the number of bytes in use. Positions are `u64` here; a
//! caller that keeps narrower free-running positions (a pipe's `u32`, a queue's 8-byte units)
//! passes them widened, which is consistent as long as `cap` divides the narrow range.
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

/// Tag of a queue frame whose item has handles: its descriptors travel on the queue's side
/// channel (`crate::handles`).
pub(crate) const WITH_HANDLES: u32 = 2;

/// Size of a frame header.
pub(crate) const HEADER: u32 = 8;

/// The bytes a frame with a `len`-byte payload occupies (header and padding included).
#[inline]
pub(crate) const fn frame_len(len: u32) -> u64 {
    HEADER as u64 + (len as u64).div_ceil(8) * 8
}

/// A payload read out of a ring: in place, or copied because it wrapped around the end.
pub(crate) enum Payload<'a> {
    /// The bytes where they lie in the ring.
    InPlace(&'a [u8]),
    /// A copy of bytes that wrapped around the end.
    Copied(Vec<u8>),
}

impl std::ops::Deref for Payload<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Payload::InPlace(slice) => slice,
            Payload::Copied(v) => v,
        }
    }
}

/// A view of one ring inside a segment's data area, valid while the segment is borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Ring<'a> {
    /// First byte of the ring, inside the segment's mapping.
    buf: *mut u8,
    /// `cap - 1`, `cap` a power of two.
    mask: u64,
    /// Ties the view to the segment that keeps the mapping alive.
    _seg: PhantomData<&'a ()>,
}

impl<'a> Ring<'a> {
    /// The ring of `cap` bytes at `offset` in `seg`'s data area.
    ///
    /// # Panics
    /// If `cap` is not a power of two of at least 64 or the ring does not fit in the data
    /// area: callers check sizes that come from shared memory before they get here.
    pub(crate) fn new<H: SharedHeader>(seg: &'a Segment<H>, offset: usize, cap: u64) -> Ring<'a> {
        let (data, len) = seg.data();
        assert!(cap.is_power_of_two() && cap >= 64);
        assert!(
            offset.is_multiple_of(8)
                && usize::try_from(cap)
                    .ok()
                    .and_then(|c| offset.checked_add(c))
                    .is_some_and(|end| end <= len),
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
    pub(crate) fn cap(&self) -> u64 {
        self.mask + 1
    }

    /// The offset of `pos` in the ring.
    #[inline]
    pub(crate) fn offset(&self, pos: u64) -> usize {
        (pos & self.mask) as usize
    }

    /// The ring's first byte (for releasing whole pages behind the readers).
    #[inline]
    pub(crate) fn base(&self) -> *mut u8 {
        self.buf
    }

    /// Copies `src` into the ring from position `pos` on, wrapping at the end.
    ///
    /// # Panics
    /// If `src` is longer than the ring.
    #[inline]
    pub(crate) fn write(&self, pos: u64, src: &[u8]) {
        assert!(src.len() as u64 <= self.cap());
        let at = self.offset(pos);
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
    pub(crate) fn read(&self, pos: u64, dst: &mut [u8]) {
        assert!(dst.len() as u64 <= self.cap());
        let at = self.offset(pos);
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
    /// # Panics
    /// If `len` exceeds the ring.
    #[inline]
    pub(crate) fn extend_vec(&self, pos: u64, len: usize, out: &mut Vec<u8>) {
        assert!(len as u64 <= self.cap());
        out.reserve(len);
        let at = self.offset(pos);
        let first = len.min(self.cap() as usize - at);
        // SAFETY: both ranges lie inside the ring (as in `read`); `out` has `len` spare bytes
        // of capacity, written here before the length is raised over them.
        unsafe {
            let dst = out.as_mut_ptr().add(out.len());
            std::ptr::copy_nonoverlapping(self.buf.add(at), dst, first);
            std::ptr::copy_nonoverlapping(self.buf, dst.add(first), len - first);
            out.set_len(out.len() + len);
        }
    }

    /// The `len` bytes from `pos` as one slice, if they do not wrap around the end.
    ///
    /// # Safety
    /// The caller holds the consumer's role over these bytes (they are committed and not yet
    /// released, so no producer writes them) for as long as it uses the slice: the slice is
    /// shared memory that another process may write otherwise.
    #[inline]
    pub(crate) unsafe fn contiguous(&self, pos: u64, len: usize) -> Option<&'a [u8]> {
        let at = self.offset(pos);
        (len <= self.cap() as usize - at).then(|| {
            // SAFETY: the range lies inside the ring (checked above); the caller excludes
            // writers for the slice's use.
            unsafe { std::slice::from_raw_parts(self.buf.add(at), len) }
        })
    }

    /// The `len` bytes from `pos` as one writable slice, if they do not wrap around the end.
    ///
    /// # Safety
    /// The caller holds the producer's role over these bytes (free, not yet committed, so no
    /// consumer reads them and no other producer writes them) for as long as it uses the
    /// slice, and makes no other slice over them meanwhile.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn contiguous_mut(&self, pos: u64, len: usize) -> Option<&'a mut [u8]> {
        let at = self.offset(pos);
        (len <= self.cap() as usize - at).then(|| {
            // SAFETY: the range lies inside the ring (checked above); the caller guarantees
            // exclusive access for the slice's use.
            unsafe { std::slice::from_raw_parts_mut(self.buf.add(at), len) }
        })
    }

    /// Hands the committed `len` bytes from `pos` to `f`: in place when they do not wrap
    /// around the end, copied into a vector when they do.
    ///
    /// For a caller that holds the consumer's role over these bytes (they are committed and
    /// not yet released, so no producer of the ring's protocol writes them), the role that
    /// [`Connection`](crate::Connection)'s ownership of its end and the [`Queue`](crate::Queue)'s
    /// get lock give: the same argument as for [`read`](Self::read)'s copies. The bytes are
    /// another process's writes: `f` treats them as untrusted input (decodes them, checks).
    #[inline]
    pub(crate) fn read_committed<R>(
        &self,
        pos: u64,
        len: usize,
        f: impl FnOnce(Payload<'_>) -> R,
    ) -> R {
        // SAFETY: the caller holds the consumer's role over the bytes for the whole call
        // (see above), and the slice does not outlive `f`.
        match unsafe { self.contiguous(pos, len) } {
            Some(slice) => f(Payload::InPlace(slice)),
            None => {
                let mut v = crate::fresh_buffer::fresh_vec(len);
                self.extend_vec(pos, len, &mut v);
                f(Payload::Copied(v))
            }
        }
    }

    /// Lets `fill` write the `len` free bytes from `pos`: in place when they do not wrap
    /// around the end, through a buffer copied in with [`write`](Self::write) otherwise.
    ///
    /// For a caller that holds the producer's role over these bytes (free and not yet
    /// committed: no consumer reads them, no other producer writes them), which the
    /// [`Queue`](crate::Queue)'s put lock gives.
    #[inline]
    pub(crate) fn fill_free<E>(
        &self,
        pos: u64,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        // SAFETY: the caller holds the producer's role over the bytes for the whole call (see
        // above); the one slice made here does not outlive `fill`.
        match unsafe { self.contiguous_mut(pos, len) } {
            Some(slot) => fill(slot),
            None => {
                let mut v = vec![0; len];
                fill(&mut v).map(|()| self.write(pos, &v))
            }
        }
    }

    /// Writes a frame header at `pos` (a multiple of 8).
    #[inline]
    pub(crate) fn write_header(&self, pos: u64, len: u32, tag: u32) {
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&len.to_le_bytes());
        h[4..].copy_from_slice(&tag.to_le_bytes());
        self.write(pos, &h);
    }

    /// Reads the frame header at `pos`: `(len, tag)`.
    #[inline]
    pub(crate) fn read_header(&self, pos: u64) -> (u32, u32) {
        let mut h = [0u8; 8];
        self.read(pos, &mut h);
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let tag = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        (len, tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::create_segment;

    /// A header-less test segment.
    #[repr(C)]
    struct Bare;
    // SAFETY: zero-sized, nothing to share.
    unsafe impl SharedHeader for Bare {
        const KIND: u32 = u32::from_le_bytes(*b"mpT0");
    }

    fn seg(len: usize) -> Segment<Bare> {
        create_segment::<Bare>(len, |_| Ok(())).unwrap()
    }

    #[test]
    fn frames_are_padded_to_eight_bytes() {
        assert_eq!(frame_len(0), 8);
        assert_eq!(frame_len(1), 16);
        assert_eq!(frame_len(8), 16);
        assert_eq!(frame_len(9), 24);
        assert_eq!(frame_len(u32::MAX), 8 + (1u64 << 32));
    }

    #[test]
    fn writes_and_reads_wrap_at_the_end() {
        let s = seg(64);
        let r = Ring::new(&s, 0, 64);
        let data: Vec<u8> = (0..40).collect();
        // From offset 48: 16 bytes at the end, 24 at the start; positions run past `cap`.
        r.write(64 * 3 + 48, &data);
        let mut back = vec![0; 40];
        r.read(48, &mut back);
        assert_eq!(back, data);
        let mut v = vec![9];
        r.extend_vec(u64::from(u32::MAX) + 1 + 48, 40, &mut v);
        assert_eq!(&v[1..], &data[..]);
        // SAFETY: a private segment in this test; nobody else writes it.
        unsafe {
            assert!(r.contiguous(48, 17).is_none(), "would wrap");
            assert_eq!(r.contiguous(48, 16).unwrap(), &data[..16]);
            assert!(r.contiguous_mut(0, 64).is_some());
        }
    }

    #[test]
    fn headers_round_trip_at_every_aligned_position() {
        let s = seg(128);
        let r = Ring::new(&s, 64, 64);
        for pos in (0..256).step_by(8) {
            r.write_header(pos, pos as u32 * 3, PAD);
            assert_eq!(r.read_header(pos), (pos as u32 * 3, PAD));
        }
    }

    #[test]
    #[should_panic(expected = "ring outside its segment")]
    fn a_ring_past_its_segment_is_refused() {
        let s = seg(64);
        let _ = Ring::new(&s, 8, 64);
    }
}
