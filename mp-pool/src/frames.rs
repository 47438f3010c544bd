//! Many variable-size records in one buffer, each a little-endian `u32` length and its bytes:
//! how a job's arguments and a flush's outcomes travel, one allocation and one message for a
//! whole run of items instead of one per item.

use std::ops::Range;

use crate::encode_target::EncodeTarget;

/// The bytes of a record's length.
const LEN: usize = 4;

/// Appends one record whose bytes `write` appends to `out`. On an error of `write`, or a
/// record longer than `u32::MAX` bytes (`too_large`), `out` is left as it was.
#[inline]
pub(crate) fn push<O: EncodeTarget, E>(
    out: &mut O,
    write: impl FnOnce(&mut O) -> Result<(), E>,
    too_large: impl FnOnce(usize) -> E,
) -> Result<(), E> {
    let mark = out.len();
    out.extend_from_slice(&[0; LEN]);
    if let Err(error) = write(out) {
        out.truncate(mark);
        return Err(error);
    }
    let len = out.len() - mark - LEN;
    let Ok(len32) = u32::try_from(len) else {
        out.truncate(mark);
        return Err(too_large(len));
    };
    out.patch(mark, len32.to_le_bytes());
    Ok(())
}

/// The records of `bytes`, in order. A truncated last record ends the iteration.
#[inline]
pub(crate) fn records(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    ranges(bytes).map(|range| &bytes[range])
}

/// Where the records of `bytes` lie in it, in order.
pub(crate) fn ranges(bytes: &[u8]) -> Ranges<'_> {
    Ranges { bytes, at: 0 }
}

/// Where the record whose length starts at offset `at` of `bytes` lies (`None` past the last,
/// or at a truncated one).
#[inline]
pub(crate) fn range_at(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    Ranges { bytes, at }.next()
}

/// The byte offset in `bytes` after its first `n` records (or its end).
pub(crate) fn skip(bytes: &[u8], n: usize) -> usize {
    let mut ranges = ranges(bytes);
    for _ in 0..n {
        if ranges.next().is_none() {
            break;
        }
    }
    ranges.at
}

/// The iterator of [`ranges`].
pub(crate) struct Ranges<'a> {
    /// The records.
    bytes: &'a [u8],
    /// Where the next one's length starts.
    at: usize,
}

impl Iterator for Ranges<'_> {
    type Item = Range<usize>;

    #[inline]
    fn next(&mut self) -> Option<Range<usize>> {
        let rest = self.bytes.get(self.at..)?;
        let (len, body) = rest.split_first_chunk::<LEN>()?;
        let len = u32::from_le_bytes(*len) as usize;
        if body.len() < len {
            self.at = self.bytes.len();
            return None;
        }
        let start = self.at + LEN;
        self.at = start + len;
        Some(start..self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(out: &mut Vec<u8>, bytes: &[u8]) {
        push(
            out,
            |o| {
                o.extend_from_slice(bytes);
                Ok::<(), usize>(())
            },
            |n| n,
        )
        .unwrap();
    }

    #[test]
    fn records_come_back_in_order_and_skip_finds_them() {
        let mut out = Vec::new();
        for r in [&b"ab"[..], b"", b"xyz"] {
            put(&mut out, r);
        }
        let back: Vec<&[u8]> = records(&out).collect();
        assert_eq!(back, vec![&b"ab"[..], b"", b"xyz"]);
        assert_eq!(records(&out[skip(&out, 2)..]).next(), Some(&b"xyz"[..]));
        assert_eq!(skip(&out, 9), out.len());
    }

    #[test]
    fn a_failed_write_leaves_the_buffer_as_it_was() {
        let mut out = Vec::new();
        put(&mut out, b"ok");
        let before = out.clone();
        let r = push(
            &mut out,
            |o| {
                o.push(1);
                Err(7usize)
            },
            |n| n,
        );
        assert_eq!(r, Err(7));
        assert_eq!(out, before);
        // A truncated record ends the records.
        assert_eq!(records(&out[..out.len() - 1]).count(), 0);
    }
}
