//! A worker's result arena: large flushes travel through shared memory instead of the
//! results pipe. The pipe's ring is 256 KiB, so a 1 MiB flush sent through it was encoded into
//! a message (a copy), streamed through the ring a quarter at a time (a copy in, a copy out,
//! both sides waiting on each other four times) and decoded into the report's bytes (a
//! fourth copy) before the result itself was decoded. Here the worker copies a flush of at
//! least [`SHARED_MIN`] bytes into its arena once and sends only where it lies
//! ([`FromWorker::DoneShared`](crate::wire::FromWorker::DoneShared)); the pool decodes the
//! results straight from there and gives the space back.
//!
//! The arena is a ring of [`ARENA_BYTES`] after a header word: blocks are placed at growing
//! positions (a block that would cross the ring's end starts again at its beginning), and the
//! header word is the position below which the pool gave every block back. Blocks are given
//! back when their [`SharedBlock`]s drop, in any order; the word moves over those at the front,
//! and the pool sets the arena's event. A worker that finds no room waits for that event, as
//! it would wait for room in the pipe: the pool's watcher decodes each output (and so gives its
//! block back) as soon as it booked it, before anything of the caller's runs. Only a flush
//! larger than the ring goes through the pipe.
//! (Sending through the pipe when the ring is full, instead, made a worker that outruns its
//! parent, which must fault in a fresh vector per result, stream most results the old way.)
//!
//! The worker makes its arena on its first large flush and sends it to the pool first
//! ([`FromWorker::Arena`](crate::wire::FromWorker::Arena)): a pool whose results are small
//! makes none. The pool's watcher checks every block named against the ring and the blocks
//! it holds (a block it cannot place ends the watch, as a report that does not decode does).
//! A worker killed while it writes a block never named it: nothing of it is read. The
//! mapping goes with the last of the watcher's handle and the blocks still held.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use mp_ipc::RawArray;
use mp_sync::Event;
use serde::{Deserialize, Serialize};

use crate::sys;

/// The ring's bytes: room for several large results in flight (pages are only backed once
/// written, so a pool whose results stay small pays nothing).
pub(crate) const ARENA_BYTES: u64 = 8 << 20;

/// The smallest flush that goes through the arena: below it the pipe's ring takes the message
/// in one piece and the copies cost little. It is above a flush's byte bound (64 KiB), so only a
/// flush holding a large result takes the arena: at 32 KiB, flushes of many small results did,
/// and the ring's touched pages stayed resident in the parent (an `imap` of 10^7 squares peaked
/// at 12-21 MiB instead of 6.5).
pub(crate) const SHARED_MIN: usize = 256 << 10;

/// The header's words before the ring (one cache line): word 0 is the position given back.
const HEADER_WORDS: usize = 8;

/// The ring's first byte in the mapping.
const RING_START: usize = HEADER_WORDS * 8;

/// A worker's arena as it travels from the worker to its pool (the mapping's handle).
#[derive(Serialize, Deserialize)]
pub(crate) struct ArenaHandle {
    /// The header words, then the ring (as bytes).
    words: RawArray<u64>,
    /// Set by the pool when it gave space back.
    given: Event,
}

impl std::fmt::Debug for ArenaHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArenaHandle").finish_non_exhaustive()
    }
}

/// How long a worker waiting for room sleeps before it looks again (a lost wake-up cannot
/// happen, see [`ArenaWriter::put`]; this only bounds the wait on the event itself).
const ROOM_SLICE: std::time::Duration = std::time::Duration::from_millis(100);

/// The position below which every block was given back (the header's word 0).
fn given_back(words: &RawArray<u64>) -> Option<&std::sync::atomic::AtomicU64> {
    words.atomics().first()
}

/// The worker's side: places flushes in the ring.
pub(crate) struct ArenaWriter {
    /// The mapping.
    words: RawArray<u64>,
    /// Set by the pool when it gave space back.
    given: Event,
    /// Where the next block may start (every block so far lies below).
    head: u64,
}

impl ArenaWriter {
    /// A new, empty arena, and its handle for the pool.
    pub(crate) fn new() -> Result<(Self, ArenaHandle), mp_ipc::Error> {
        let words = RawArray::zeroed(HEADER_WORDS + (ARENA_BYTES / 8) as usize)?;
        let given = Event::new()?;
        let handle = ArenaHandle {
            words: words.clone(),
            given: given.clone(),
        };
        let writer = ArenaWriter {
            words,
            given,
            head: 0,
        };
        Ok((writer, handle))
    }

    /// Copies `bytes` into the ring as one block, once the pool gave back room for it, and
    /// returns its position; `None` if it is larger than the ring.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Option<u64> {
        let at = self.place(bytes.len() as u64)?;
        if !self.write(at, 0, bytes) {
            return None;
        }
        self.commit(at + bytes.len() as u64);
        Some(at)
    }

    /// Where the next block, of `len` bytes, goes (after every block so far; a block that
    /// would cross the ring's end starts again at its beginning), once the pool gave back room
    /// for it; `None` if it is larger than the ring. Nothing is placed until
    /// [`commit`](Self::commit): the block may still [`grow`](Self::grow).
    pub(crate) fn place(&mut self, len: u64) -> Option<u64> {
        if len > ARENA_BYTES {
            return None;
        }
        let offset = self.head % ARENA_BYTES;
        let at = if offset + len > ARENA_BYTES {
            self.head + (ARENA_BYTES - offset)
        } else {
            self.head
        };
        self.wait_for_room(at, len).then_some(at)
    }

    /// Whether the block placed at `at` can be `len` bytes long (it does not cross the ring's
    /// end), once the pool gave back room for that.
    pub(crate) fn grow(&mut self, at: u64, len: u64) -> bool {
        at % ARENA_BYTES + len <= ARENA_BYTES && self.wait_for_room(at, len)
    }

    /// Waits until the pool gave back room for a block of `len` bytes at `at`; `false` if the
    /// header cannot be read.
    fn wait_for_room(&self, at: u64, len: u64) -> bool {
        let Some(word) = given_back(&self.words) else {
            return false;
        };
        // Acquire: the pool's reads of what it gave back happened before this overwrites it.
        // Every block given back, the whole ring is free (the gap a wrap leaves included).
        let room = || {
            let given = word.load(Ordering::Acquire);
            given == self.head || at + len <= given + ARENA_BYTES
        };
        // Cleared before the look: a give-back after the look sets it, and the wait returns.
        while !room() {
            self.given.clear();
            if room() {
                break;
            }
            self.given.wait_timeout(ROOM_SLICE);
        }
        true
    }

    /// Copies `bytes` into the block placed at `at`, `offset` bytes in; `false` (nothing
    /// written) if they would cross the ring's end.
    pub(crate) fn write(&self, at: u64, offset: usize, bytes: &[u8]) -> bool {
        let start = (at % ARENA_BYTES) as usize + offset;
        start + bytes.len() <= ARENA_BYTES as usize
            && sys::arena_write(&self.words, RING_START + start, bytes)
    }

    /// The `len` bytes written `offset` bytes into the block placed at `at` (empty if they
    /// would cross the ring's end).
    pub(crate) fn written(&self, at: u64, offset: usize, len: usize) -> &[u8] {
        let start = (at % ARENA_BYTES) as usize + offset;
        if start + len > ARENA_BYTES as usize {
            return &[];
        }
        sys::arena_bytes(&self.words, RING_START + start..RING_START + start + len)
            .unwrap_or_default()
    }

    /// The blocks placed end at `end`: the next one starts there or after.
    pub(crate) fn commit(&mut self, end: u64) {
        self.head = end;
    }
}

/// The pool's side of one worker's arena: which blocks it holds.
pub(crate) struct ArenaReader {
    /// The mapping.
    words: RawArray<u64>,
    /// Set when space is given back (a waiting worker wakes).
    given: Event,
    /// The blocks named and not yet passed by the given-back word.
    book: Mutex<Book>,
}

/// The blocks the pool holds, in the order the worker placed them.
#[derive(Default)]
struct Book {
    /// Each block's position, end, and whether it was given back.
    blocks: VecDeque<(u64, u64, bool)>,
    /// The end of the last block named (the next one starts at or after it).
    end: u64,
}

impl ArenaReader {
    /// The pool's side of the arena `handle` maps.
    pub(crate) fn new(handle: ArenaHandle) -> Option<Arc<Self>> {
        let ArenaHandle { words, given } = handle;
        // An arena of another size is not one a worker of this build made.
        (words.len() == HEADER_WORDS + (ARENA_BYTES / 8) as usize).then(|| {
            Arc::new(ArenaReader {
                words,
                given,
                book: Mutex::new(Book::default()),
            })
        })
    }

    /// The block of `len` bytes at position `at` the worker says it wrote, held until the
    /// last of its parts drops; `None` if it cannot be one (not after the blocks before it,
    /// across the ring's end, or over space not given back while blocks are held).
    pub(crate) fn take(self: &Arc<Self>, at: u64, len: u64) -> Option<SharedBlock> {
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        let given = given_back(&self.words)?.load(Ordering::Relaxed);
        let end = at.checked_add(len)?;
        let offset = at % ARENA_BYTES;
        let over_held = !book.blocks.is_empty() && end > given + ARENA_BYTES;
        if at < book.end || offset + len > ARENA_BYTES || over_held {
            return None;
        }
        book.blocks.push_back((at, end, false));
        book.end = end;
        let start = RING_START + offset as usize;
        Some(SharedBlock {
            held: Arc::new(HeldBlock {
                arena: Arc::clone(self),
                at,
            }),
            range: start..start + len as usize,
        })
    }

    /// The block at `at` is read: gives back every block at the front that is.
    fn give_back(&self, at: u64) {
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(block) = book.blocks.iter_mut().find(|(a, _, _)| *a == at) {
            block.2 = true;
        }
        let mut passed = None;
        while let Some(&(_, end, true)) = book.blocks.front() {
            passed = Some(end);
            book.blocks.pop_front();
        }
        if let (Some(end), Some(word)) = (passed, given_back(&self.words)) {
            // Release: every read of these blocks happened before the worker may reuse them.
            word.store(end, Ordering::Release);
            self.given.set();
        }
    }
}

/// A block held for reading; given back when dropped.
struct HeldBlock {
    /// Its arena.
    arena: Arc<ArenaReader>,
    /// Its position.
    at: u64,
}

impl Drop for HeldBlock {
    fn drop(&mut self) {
        self.arena.give_back(self.at);
    }
}

/// Bytes of a block in a worker's arena (the whole block, or the part of one run of it).
#[derive(Clone)]
pub(crate) struct SharedBlock {
    /// The block, given back once its last part drops.
    held: Arc<HeldBlock>,
    /// These bytes' range in the mapping.
    range: Range<usize>,
}

impl SharedBlock {
    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        sys::arena_bytes(&self.held.arena.words, self.range.clone()).unwrap_or_default()
    }

    /// The part `part` (a range within [`bytes`](Self::bytes)), held with the same block.
    pub(crate) fn part(&self, part: Range<usize>) -> SharedBlock {
        let start = (self.range.start + part.start).min(self.range.end);
        let end = (self.range.start + part.end).clamp(start, self.range.end);
        SharedBlock {
            held: Arc::clone(&self.held),
            range: start..end,
        }
    }
}

/// A report's outcome records: its own bytes, or a block of the worker's arena.
pub(crate) enum OutcomeBytes {
    /// Bytes that came through the pipe (or from a broker).
    Owned(Vec<u8>),
    /// A block in the worker's arena.
    Shared(SharedBlock),
}

impl OutcomeBytes {
    /// The records.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            OutcomeBytes::Owned(bytes) => bytes,
            OutcomeBytes::Shared(block) => block.bytes(),
        }
    }

    /// The records as a vector of their own (a copy for a block).
    #[cfg(feature = "redis")]
    pub(crate) fn into_vec(self) -> Vec<u8> {
        match self {
            OutcomeBytes::Owned(bytes) => bytes,
            OutcomeBytes::Shared(block) => block.bytes().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arena() -> (ArenaWriter, Arc<ArenaReader>) {
        let (writer, handle) = ArenaWriter::new().unwrap();
        (writer, ArenaReader::new(handle).unwrap())
    }

    #[test]
    fn blocks_come_back_whole_and_space_returns_when_they_drop() {
        let (mut writer, reader) = arena();
        let big = vec![7u8; (ARENA_BYTES / 3) as usize];
        let a = writer.put(&big).unwrap();
        let b = writer.put(&big).unwrap();
        let c = writer.put(&big).unwrap();
        let blocks: Vec<SharedBlock> = [a, b, c]
            .iter()
            .map(|&at| reader.take(at, big.len() as u64).unwrap())
            .collect();
        assert!(blocks.iter().all(|block| block.bytes() == &big[..]));
        let mut blocks = blocks.into_iter();
        let (first, second, third) = (blocks.next(), blocks.next(), blocks.next());
        // Given back out of order; the writer waits for room until the first is.
        drop(second);
        let later = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(first);
        });
        let d = writer.put(&[1, 2, 3]).unwrap();
        later.join().unwrap();
        assert_eq!(
            d % ARENA_BYTES,
            0,
            "a block across the end starts at the beginning"
        );
        let part = reader.take(d, 3).unwrap().part(1..3);
        assert_eq!(part.bytes(), &[2, 3]);
        drop((third, part));
        // Everything given back: room again.
        let e = writer.put(&big).unwrap();
        assert_eq!(reader.take(e, big.len() as u64).unwrap().bytes(), &big[..]);
    }

    #[test]
    fn a_block_that_must_wrap_fits_once_every_block_is_given_back() {
        // Checked: with room counted only below the given-back word, the wrap's gap was never
        // given back and this put waited for ever (a 1 MiB result, then one of 8 MiB - 64).
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut writer, reader) = arena();
            let first = writer.put(&[1; 1 << 20]).unwrap();
            drop(reader.take(first, 1 << 20).unwrap());
            let len = ARENA_BYTES as usize - 64;
            let second = writer.put(&vec![2; len]).unwrap();
            assert_eq!(second % ARENA_BYTES, 0);
            let block = reader.take(second, len as u64).unwrap();
            let _ = done.send(block.bytes().iter().all(|&b| b == 2));
        });
        let whole = finished.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(
            whole,
            Ok(true),
            "the put did not return, or the block differs"
        );
    }

    #[test]
    fn blocks_that_cannot_be_are_refused() {
        let (mut writer, reader) = arena();
        let at = writer.put(&[1; 100]).unwrap();
        assert!(
            reader.take(at + ARENA_BYTES - 10, 100).is_none(),
            "across the end"
        );
        assert!(reader.take(u64::MAX, 2).is_none(), "past every position");
        let block = reader.take(at, 100).unwrap();
        assert!(
            reader.take(at + 2 * ARENA_BYTES, 1).is_none(),
            "over held space"
        );
        assert!(
            reader.take(at, 100).is_none(),
            "before the last block's end"
        );
        assert_eq!(block.bytes(), &[1; 100]);
        assert!(writer.put(&vec![0; ARENA_BYTES as usize + 1]).is_none());
    }
}
