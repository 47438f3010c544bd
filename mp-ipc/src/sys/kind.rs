//! Distinct tags per object kind (ASCII, so a dump is readable), stored in each segment and
//! checked when a segment arrives in a message.

/// A `Connection` pair.
pub(crate) const PIPE: u32 = u32::from_le_bytes(*b"mpPi");
/// A `Queue` (and the queues under `JoinableQueue` and `SimpleQueue`).
pub(crate) const QUEUE: u32 = u32::from_le_bytes(*b"mpQu");
/// An `Array`, `RawArray`, `Value` or `RawValue`.
pub(crate) const ARRAY: u32 = u32::from_le_bytes(*b"mpAr");
