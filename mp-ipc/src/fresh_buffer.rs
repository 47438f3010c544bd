//! The new buffers a receiver fills with what arrived: a decoded byte string, a received byte
//! message. A large one is memory the allocator has just mapped, so each of its pages would
//! fault on its first write, one trap a page (about 1.5 us a 4 KiB page on the machines
//! measured here, 0.4 ms a MiB: more than the copy). Its pages are faulted in by one call
//! before the copy instead ([`crate::sys::populate_for_write`]).

/// An empty vector with room for `len` bytes, its pages already present when it is large.
pub(crate) fn fresh_vec(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    if len >= crate::sys::POPULATE_MIN {
        crate::sys::populate_for_write(v.spare_capacity_mut());
    }
    v
}

/// A copy of `bytes` in a [`fresh_vec`].
pub(crate) fn fresh_copy(bytes: &[u8]) -> Vec<u8> {
    let mut copy = fresh_vec(bytes.len());
    copy.extend_from_slice(bytes);
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_small_and_large_alike() {
        for len in [
            0,
            1,
            4095,
            crate::sys::POPULATE_MIN,
            3 * crate::sys::POPULATE_MIN + 17,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let copy = fresh_copy(&bytes);
            assert_eq!(copy, bytes);
            assert!(fresh_vec(len).is_empty() && fresh_vec(len).capacity() >= len);
        }
    }
}
