//! [`ReceiveState`]: where the receiving direction of a [`Connection`](crate::Connection)
//! stands.

/// Where the receiving direction of a [`Connection`](crate::Connection) stands.
///
/// On a pipe, a timed receive whose deadline passes in the middle of a message that streams
/// through the ring returns [`PartialMessage`](crate::Error::PartialMessage): that message is
/// abandoned, and the connection skips the rest of it as it arrives, inside the next receive
/// or poll (which honour their own deadlines). Nothing else is lost: the message after it
/// arrives whole. On a socket a timed receive loses nothing (what arrived stays buffered); a
/// message whose header announces more than
/// [`max_message`](crate::Connection::max_message) is refused with
/// [`TooLarge`](crate::Error::TooLarge) and skipped the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveState {
    /// The next byte to arrive starts a message.
    AtMessageBoundary,
    /// A message was abandoned mid-way; `remaining` of its bytes (padding included) are still
    /// to be skipped before the next message.
    SkippingAbandoned {
        /// Bytes still to skip.
        remaining: u64,
    },
}
