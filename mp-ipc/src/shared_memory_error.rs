//! [`SharedMemoryError`]: what can go wrong with named shared memory ([`SharedMemory`],
//! [`ShareableList`], [`SharedMemoryManager`]).
//!
//! [`SharedMemory`]: crate::SharedMemory
//! [`ShareableList`]: crate::ShareableList
//! [`SharedMemoryManager`]: crate::SharedMemoryManager

use std::io;

/// What can go wrong with a named segment, a shareable list or a manager (Python's
/// `ValueError`, `FileNotFoundError`, `FileExistsError`, `IndexError`). Every error concerns
/// only the call that returned it; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SharedMemoryError {
    /// A segment of size 0 was asked for (Python's `ValueError`).
    #[error("a shared memory segment needs a size greater than zero")]
    ZeroSize,
    /// The name is empty, too long, `.` or `..`, or holds a NUL or a slash after its optional
    /// leading one.
    #[error("invalid shared memory name {name:?}: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No segment has this name (Python's `FileNotFoundError`); also a second `unlink`.
    #[error("no shared memory segment named {name:?}")]
    NotFound {
        /// The name.
        name: String,
    },
    /// A segment with this name exists already (Python's `FileExistsError`).
    #[error("a shared memory segment named {name:?} exists already")]
    AlreadyExists {
        /// The name.
        name: String,
    },
    /// The operating system refused an operation (e.g. permission, no memory).
    #[error("{op} failed")]
    Os {
        /// What was being done.
        op: &'static str,
        /// The system's reason.
        #[source]
        source: io::Error,
    },
    /// `len` bytes at `offset` do not lie inside the segment's `size` bytes.
    #[error("{len} bytes at offset {offset} exceed the segment's {size} bytes")]
    OutOfBounds {
        /// Where the access started.
        offset: usize,
        /// Bytes asked for.
        len: usize,
        /// The segment's size.
        size: usize,
    },
    /// `offset` is not a multiple of the alignment the view's type needs.
    #[error("offset {offset} is not aligned to {align} bytes")]
    Misaligned {
        /// The offset asked for.
        offset: usize,
        /// The alignment needed.
        align: usize,
    },
    /// A list index is out of range (Python's `IndexError`).
    #[error("index {index} out of range for a list of {len} items")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The list's length.
        len: usize,
    },
    /// A value does not fit in its list slot (Python's `ValueError: exceeds available
    /// storage`); the slot keeps its old value.
    #[error("a value of {len} bytes exceeds the {capacity} bytes of slot {index}")]
    ExceedsSlot {
        /// The slot.
        index: usize,
        /// The value's encoded length.
        len: usize,
        /// The slot's storage.
        capacity: usize,
    },
    /// A list slot holds a value of another type than the list's element type.
    #[error("slot {index} holds a {found}, not the list's element type")]
    WrongType {
        /// The slot.
        index: usize,
        /// What it holds.
        found: &'static str,
    },
    /// `index` found no equal value (Python's `ValueError`).
    #[error("value not in list")]
    NotInList,
    /// The segment's list layout, written by another process, is inconsistent: nothing was
    /// read or written out of bounds.
    #[error("corrupt shareable list: {0}")]
    Corrupt(&'static str),
    /// A [`SharedMemoryManager`](crate::SharedMemoryManager) used before `start` or after
    /// `shutdown` (Python's `ValueError`).
    #[error("the shared memory manager is not running")]
    NotRunning,
    /// `start` on a manager that was started already.
    #[error("the shared memory manager was started already")]
    AlreadyStarted,
}

impl SharedMemoryError {
    /// The error for `op` on `name` from the system's `e`: not-found and already-exists get
    /// their own variants.
    pub(crate) fn from_os(op: &'static str, name: &str, e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => SharedMemoryError::NotFound {
                name: name.to_owned(),
            },
            io::ErrorKind::AlreadyExists => SharedMemoryError::AlreadyExists {
                name: name.to_owned(),
            },
            _ => SharedMemoryError::Os { op, source: e },
        }
    }
}
