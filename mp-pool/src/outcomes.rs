//! A worker's outcome records held back for its next flush, written straight into its result
//! arena ([`crate::result_arena`]) where that saves a copy.
//!
//! The records are written into a vector; a byte string of at least [`STRING_MIN`] bytes (a
//! large result's `Vec<u8>`, `String` or `mp_ipc::Bytes`), once the worker has an arena, is
//! copied straight into a block placed in the arena instead, at the offset it has in the
//! records: the bytes before it and after it stay in the vector (a *gap* where the string
//! is), and the flush copies those around it into the block. A 1 MiB result is then copied
//! once in the worker (into the arena), not twice (into the records, then into the arena).
//! Only one string a flush goes there (a flush is due as soon as its records hold a large
//! one); should the block not grow to the records' whole length (the rest would cross the
//! ring's end), the string is copied back into the vector and the flush goes the old way.

use crate::encode_target::EncodeTarget;
use crate::result_arena::{ARENA_BYTES, ArenaWriter, SHARED_MIN};

/// The smallest byte string placed in the arena as it is encoded: a flush holding one goes
/// through the arena anyway.
pub(crate) const STRING_MIN: usize = SHARED_MIN;

/// Room placed for what follows the string in its record (the rest of the result's fields);
/// more is waited for at the flush.
const AFTER_STRING: usize = 4 << 10;

/// A byte string of the records placed in the arena.
struct Gap {
    /// The block's position in the arena.
    at: u64,
    /// Where the string starts in the records (and in the block).
    offset: usize,
    /// The block's room placed so far.
    room: usize,
}

/// The outcome records of a worker's next flush.
pub(crate) struct Outcomes {
    /// The records, but for the string in the gap.
    bytes: Vec<u8>,
    /// The string's length, if one is in the arena (else 0).
    gap_len: usize,
    /// Where it is.
    gap: Option<Gap>,
    /// The worker's arena, once made.
    arena: Option<ArenaWriter>,
}

impl Outcomes {
    /// No records, no arena yet.
    pub(crate) fn new() -> Self {
        Outcomes {
            bytes: Vec::new(),
            gap_len: 0,
            gap: None,
            arena: None,
        }
    }

    /// Large strings go to `arena` from now on.
    pub(crate) fn set_arena(&mut self, arena: ArenaWriter) {
        self.arena = Some(arena);
    }

    /// The worker's arena, if made.
    pub(crate) fn arena(&mut self) -> Option<&mut ArenaWriter> {
        self.arena.as_mut()
    }

    /// Whether no record is held.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.gap_len == 0
    }

    /// Completes the block of a string in the arena with the records around it and returns
    /// where the records lie (position, length), now empty; `None` (the string copied back
    /// into the records) if there is none or the block cannot hold them all.
    pub(crate) fn take_placed(&mut self) -> Option<(u64, u64)> {
        let gap = self.gap.as_ref()?;
        let (at, offset) = (gap.at, gap.offset);
        let len = self.bytes.len() + self.gap_len;
        let arena = self.arena.as_mut()?;
        let written = (len <= gap.room || arena.grow(at, len as u64))
            && arena.write(at, 0, &self.bytes[..offset])
            && arena.write(at, offset + self.gap_len, &self.bytes[offset..]);
        if !written {
            self.close_gap();
            return None;
        }
        arena.commit(at + len as u64);
        self.gap = None;
        self.gap_len = 0;
        self.bytes.clear();
        Some((at, len as u64))
    }

    /// The records as one vector (the string in the arena, if any, copied back).
    pub(crate) fn bytes(&mut self) -> &mut Vec<u8> {
        self.close_gap();
        &mut self.bytes
    }

    /// Copies the string in the arena, if any, back into its place in the records (its block
    /// is not placed: the next one may take its room).
    fn close_gap(&mut self) {
        let (Some(gap), Some(arena)) = (self.gap.take(), self.arena.as_ref()) else {
            return;
        };
        let string = arena.written(gap.at, gap.offset, self.gap_len);
        let tail = self.bytes.split_off(gap.offset);
        self.bytes.extend_from_slice(string);
        self.bytes.extend_from_slice(&tail);
        self.gap_len = 0;
    }
}

impl EncodeTarget for Outcomes {
    #[inline]
    fn len(&self) -> usize {
        self.bytes.len() + self.gap_len
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        self.bytes.push(byte);
    }

    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    #[inline]
    fn push_word(&mut self, word: [u8; 8], len: usize) {
        self.bytes.push_word(word, len);
    }

    #[inline]
    fn extend_string(&mut self, bytes: &[u8]) {
        if bytes.len() < STRING_MIN || self.gap.is_some() || !self.place_string(bytes) {
            self.bytes.extend_from_slice(bytes);
        }
    }

    fn truncate(&mut self, len: usize) {
        if let Some(gap) = &self.gap {
            if len <= gap.offset {
                // The string is cut off: its block is not placed.
                self.gap = None;
                self.gap_len = 0;
            } else if len < gap.offset + self.gap_len {
                self.close_gap();
            }
        }
        self.bytes.truncate(len - self.gap_len);
    }

    fn patch(&mut self, at: usize, bytes: [u8; 4]) {
        match &self.gap {
            Some(gap) if at + 4 > gap.offset && at < gap.offset + self.gap_len => {
                self.close_gap();
                self.bytes.patch(at, bytes);
            }
            Some(gap) if at >= gap.offset => self.bytes.patch(at - self.gap_len, bytes),
            _ => self.bytes.patch(at, bytes),
        }
    }
}

impl Outcomes {
    /// Places `string` (at least [`STRING_MIN`] bytes) in the arena at its offset in the
    /// records, once there is room; `false` if there is no arena or the block would not fit.
    #[cold]
    fn place_string(&mut self, string: &[u8]) -> bool {
        let offset = self.bytes.len();
        let room = offset + string.len() + AFTER_STRING;
        let Some(arena) = self.arena.as_mut() else {
            return false;
        };
        if room as u64 > ARENA_BYTES {
            return false;
        }
        let Some(at) = arena.place(room as u64) else {
            return false;
        };
        if !arena.write(at, offset, string) {
            return false;
        }
        self.gap = Some(Gap { at, offset, room });
        self.gap_len = string.len();
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::frames;
    use crate::result_arena::ArenaReader;

    fn outcomes() -> (Outcomes, Arc<ArenaReader>) {
        let (writer, handle) = ArenaWriter::new().unwrap();
        let mut outcomes = Outcomes::new();
        outcomes.set_arena(writer);
        (outcomes, ArenaReader::new(handle).unwrap())
    }

    /// Records as a vector makes them: a small one, one holding a large string between small
    /// fields, a small one.
    fn write_records(out: &mut impl EncodeTarget, large: &[u8]) {
        let value = (7u32, mp_ipc::Bytes(large.to_vec()), 300u64);
        let small = |out: &mut _| crate::encoder::encode_into(&(1u8, "x"), out);
        frames::push(out, small, |_| unreachable!()).unwrap();
        frames::push(
            out,
            |out| crate::encoder::encode_into(&value, out),
            |_| unreachable!(),
        )
        .unwrap();
        frames::push(out, small, |_| unreachable!()).unwrap();
    }

    /// Appends the record of `value`.
    fn push_record(out: &mut impl EncodeTarget, value: &impl serde::Serialize) {
        let encode = |out: &mut _| crate::encoder::encode_into(value, out);
        frames::push(out, encode, |_| unreachable!()).unwrap();
    }

    #[test]
    fn a_large_string_goes_to_the_arena_and_the_block_is_the_records() {
        let (mut out, reader) = outcomes();
        let large: Vec<u8> = (0..STRING_MIN + 5).map(|i| i as u8).collect();
        let mut expected = Vec::new();
        write_records(&mut expected, &large);
        for _ in 0..40 {
            // Forty rounds of 256 KiB and more: the 8 MiB ring wraps.
            write_records(&mut out, &large);
            assert_eq!(EncodeTarget::len(&out), expected.len());
            let (at, len) = out.take_placed().expect("placed");
            assert!(out.is_empty());
            let block = reader.take(at, len).unwrap();
            assert_eq!(block.bytes(), &expected[..]);
        }
    }

    #[test]
    fn records_come_back_whole_when_asked_for_or_cut_back() {
        let (mut out, _reader) = outcomes();
        let large = vec![3u8; STRING_MIN];
        let mut expected = Vec::new();
        write_records(&mut expected, &large);
        write_records(&mut out, &large);
        assert_eq!(out.bytes(), &expected);
        // A record cut back over its string (its encoding failed): the string is gone.
        let mut out = outcomes().0;
        out.push(9);
        let mark = EncodeTarget::len(&out);
        out.extend_string(&large);
        out.push(1);
        out.truncate(mark);
        assert_eq!(out.bytes(), &[9]);
        // Cut back inside the string: the part before the cut stays.
        let mut out = outcomes().0;
        out.extend_string(&large);
        out.truncate(10);
        assert_eq!(out.bytes(), &large[..10]);
    }

    #[test]
    fn a_block_that_cannot_grow_over_the_rings_end_comes_back_whole() {
        let (mut out, reader) = outcomes();
        // The next block starts a little over a large string before the ring's end.
        let first = ARENA_BYTES as usize - STRING_MIN - AFTER_STRING - 100;
        let arena = out.arena().unwrap();
        let at = arena.put(&vec![0; first]).unwrap();
        drop(reader.take(at, first as u64).unwrap());
        // A record with two large strings: the second one stays in the records, after the
        // room placed, and the whole would cross the end.
        let value = (
            mp_ipc::Bytes(vec![1u8; STRING_MIN]),
            mp_ipc::Bytes(vec![2u8; STRING_MIN]),
        );
        let mut expected = Vec::new();
        push_record(&mut expected, &value);
        push_record(&mut out, &value);
        assert!(out.gap.is_some(), "the first string went to the arena");
        assert!(out.take_placed().is_none());
        assert_eq!(out.bytes(), &expected);
    }

    #[test]
    fn without_an_arena_everything_stays_in_the_records() {
        let mut out = Outcomes::new();
        let large = vec![5u8; STRING_MIN];
        let mut expected = Vec::new();
        write_records(&mut expected, &large);
        write_records(&mut out, &large);
        assert!(out.take_placed().is_none());
        assert_eq!(out.bytes(), &expected);
    }
}
