//! [`SpareWord`]: the one 64-bit word of a pipe's shared segment that the pipe leaves to its
//! users. Both ends (and their halves, in every process that holds one) reach the same word,
//! so a small piece of state shared beside a conversation needs no segment of its own (a pool
//! worker's running-item word rides on its pipe: a memfd, its mappings and descriptors fewer
//! per worker).

use std::sync::atomic::AtomicU64;

use crate::sys::{PipeHeader, Segment};

/// The spare word of a pipe's segment ([`Connection::spare_word`](crate::Connection::spare_word)):
/// zero in a new pipe, never read or written by the pipe itself, and shared by every process
/// that holds an end of the pipe. Either end's process can write it, so what it holds is only
/// as trustworthy as the other end. Cheap to clone (the segment's mapping is shared); it keeps
/// the segment mapped while it lives.
#[derive(Clone, Debug)]
pub struct SpareWord(Segment<PipeHeader>);

impl SpareWord {
    /// The spare word of `seg`.
    pub(crate) fn of(seg: &Segment<PipeHeader>) -> SpareWord {
        SpareWord(seg.clone())
    }

    /// The word.
    pub fn word(&self) -> &AtomicU64 {
        &self.0.header().spare
    }
}
