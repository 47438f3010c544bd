//! Where encoded bytes go: what the pool's encoder ([`crate::encoder`]) and its record framing
//! ([`crate::frames`]) write through. A plain vector (a job's argument records) is one; a
//! worker's outcome records ([`crate::outcomes`]) are the other, which may place a large byte
//! string straight in the worker's result arena instead of copying it twice (into the records,
//! then into the arena).

/// A growing run of bytes, written at its end; [`len`](Self::len) counts every byte written,
/// wherever it lies.
pub(crate) trait EncodeTarget {
    /// How many bytes were written.
    fn len(&self) -> usize;
    /// Appends one byte.
    fn push(&mut self, byte: u8);
    /// Appends `bytes`.
    fn extend_from_slice(&mut self, bytes: &[u8]);
    /// Appends the first `len` (at most 8) bytes of `word`: one store of the whole word, then
    /// the length cut back (how a varint is written).
    fn push_word(&mut self, word: [u8; 8], len: usize);
    /// Appends the contents of a byte string (a target may place a large one elsewhere).
    #[inline]
    fn extend_string(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    /// Cuts back to the first `len` bytes written.
    fn truncate(&mut self, len: usize);
    /// Overwrites the 4 bytes written at `at` (a record's length, once known).
    fn patch(&mut self, at: usize, bytes: [u8; 4]);
}

impl EncodeTarget for Vec<u8> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }

    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes);
    }

    #[inline]
    fn push_word(&mut self, word: [u8; 8], len: usize) {
        let end = Vec::len(self) + len.min(8);
        Vec::extend_from_slice(self, &word);
        Vec::truncate(self, end);
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }

    #[inline]
    fn patch(&mut self, at: usize, bytes: [u8; 4]) {
        if let Some(place) = self.get_mut(at..at + 4) {
            place.copy_from_slice(&bytes);
        }
    }
}
