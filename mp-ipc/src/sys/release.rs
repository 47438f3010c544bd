//! Giving consumed pages of a queue's ring back to the kernel, so that an unbounded queue's
//! memory follows what is unconsumed rather than what was ever put.

/// Frees the pages of `len` bytes at `addr` (page-aligned, inside a live `MAP_SHARED` memfd
/// mapping): their contents become zero and cost no memory until written again. Best effort:
/// a refusal only means the memory stays in use.
pub(crate) fn release_pages(addr: *mut u8, len: usize) {
    if len == 0 {
        return;
    }
    // SAFETY: MADV_REMOVE only punches a hole in the memfd behind the mapping; the caller
    // guarantees that no one uses these bytes (consumed, not yet handed back to producers).
    // No Rust reference into the range is alive across the call.
    let _ = unsafe { libc::madvise(addr.cast(), len, libc::MADV_REMOVE) };
}
