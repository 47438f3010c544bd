//! A job of the process pool: how to run its items (an [`ItemCall`]) and their encoded
//! arguments, one [`frames`] record each, shared by every part of the job that
//! a death splits off (`tail` and `head` cut it by record, without re-encoding).

use std::ops::Range;
use std::sync::Arc;

use crate::backend::Payload;
use crate::completion::ReaderHint;
use crate::frames;
use crate::wire::ItemCall;

/// A job: how to run its items, and their encoded arguments.
#[derive(Clone)]
pub(crate) struct ProcessJob {
    /// The trampoline and function.
    call: ItemCall,
    /// Every item's argument record as submitted.
    args: Arc<Vec<u8>>,
    /// The byte range of `args` this payload covers (a job split after a death covers part).
    bytes: Range<usize>,
    /// How many records that range holds.
    len: usize,
    /// Told the reader of the worker the job goes to (a one-task job whose result a thread
    /// may wait for, and read itself).
    hint: Option<Arc<ReaderHint>>,
}

impl ProcessJob {
    /// A job running `call` on each of the `len` argument records of `args`, in order.
    pub(crate) fn new(call: ItemCall, args: Vec<u8>, len: usize) -> Self {
        ProcessJob {
            call,
            bytes: 0..args.len(),
            args: Arc::new(args),
            len,
            hint: None,
        }
    }

    /// The same job, telling `hint` the reader of each worker it is given to.
    pub(crate) fn hinting(mut self, hint: Arc<ReaderHint>) -> Self {
        self.hint = Some(hint);
        self
    }

    /// Where to tell the reader of the worker it is given to, if anywhere.
    pub(crate) fn hint(&self) -> Option<&ReaderHint> {
        self.hint.as_deref()
    }

    /// The argument records this payload covers.
    pub(crate) fn records(&self) -> &[u8] {
        &self.args[self.bytes.clone()]
    }

    /// How to run its items.
    pub(crate) fn call(&self) -> ItemCall {
        self.call
    }
}

impl Payload for ProcessJob {
    fn len(&self) -> usize {
        self.len
    }

    fn tail(&self, skip: usize) -> Self {
        let start = self.bytes.start + frames::skip(self.records(), skip);
        ProcessJob {
            call: self.call,
            args: Arc::clone(&self.args),
            bytes: start..self.bytes.end,
            len: self.len - skip.min(self.len),
            hint: self.hint.clone(),
        }
    }

    fn head(&self, take: usize) -> Self {
        let end = self.bytes.start + frames::skip(self.records(), take);
        ProcessJob {
            call: self.call,
            args: Arc::clone(&self.args),
            bytes: self.bytes.start..end,
            len: take.min(self.len),
            hint: self.hint.clone(),
        }
    }
}
