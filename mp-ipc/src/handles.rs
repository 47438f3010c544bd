//! Handles inside messages: a queue's side channel, which carries the descriptors of the mp
//! handles (and any ipc-channel values) inside an item beside the item's bytes in the ring.
//!
//! A producer encodes such an item while ipc-channel collects the descriptors its values hand
//! over, writes `token` and the bytes into its frame, and sends `token` with the descriptors
//! over the side channel, all under the put lock and before the commit. The consumer that takes
//! the frame (under the get lock) reads side messages until the one with its frame's token:
//! the ones before it were sent by producers that died before committing, and are dropped
//! (closing their descriptors). Side messages are sent in commit order and read in frame
//! order, so none is ever skipped that a later frame needs. A message never received leaks
//! nothing: the channel's socket holds its descriptors until the last copy of the queue goes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::CodecError;

/// Bytes of the token at the start of a frame that has a side message.
pub(crate) const TOKEN_BYTES: usize = 8;

/// The side channel of a queue: every producer sends, every consumer receives.
#[derive(Clone, Debug)]
pub(crate) struct SideChannel(Arc<Ends>);

/// Both ends, shared by the in-process clones of a queue.
#[derive(Debug)]
struct Ends {
    /// Producers send here.
    tx: IpcBytesSender,
    /// Consumers take from here (under the get lock; the mutex only makes the receiver,
    /// which is not `Sync`, shareable between threads).
    rx: Mutex<IpcBytesReceiver>,
}

/// What a queue's side channel looks like in a message (both ends).
#[derive(Serialize, Deserialize)]
struct Wire {
    /// A copy of the sending end.
    tx: IpcBytesSender,
    /// A duplicate of the receiving end (serializing consumes it).
    rx: IpcBytesReceiver,
}

impl Serialize for SideChannel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rx = self.0.rx().try_clone().map_err(serde::ser::Error::custom)?;
        Wire {
            tx: self.0.tx.clone(),
            rx,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SideChannel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Wire { tx, rx } = Wire::deserialize(deserializer)?;
        Ok(SideChannel(Arc::new(Ends {
            tx,
            rx: Mutex::new(rx),
        })))
    }
}

/// A token no other frame of any live process carries: the pid, and a per-process counter
/// that starts at a clock-derived value (a reused pid does not repeat a dead process's).
fn next_token() -> [u8; TOKEN_BYTES] {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    static START: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32)
    });
    let n = start.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed));
    ((u64::from(std::process::id()) << 32) | u64::from(n)).to_le_bytes()
}

impl Ends {
    /// The receiving end (a panic elsewhere while it was held leaves it usable).
    fn rx(&self) -> MutexGuard<'_, IpcBytesReceiver> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SideChannel {
    /// A new side channel.
    pub(crate) fn new() -> std::io::Result<SideChannel> {
        let (tx, rx) = ipc::bytes_channel()?;
        Ok(SideChannel(Arc::new(Ends {
            tx,
            rx: Mutex::new(rx),
        })))
    }

    /// Encodes `value` into `slot` (its token, then its bytes: [`TOKEN_BYTES`] plus
    /// [`codec::encoded_len`]) and sends its descriptors with the token (producer, put lock
    /// held, before the commit). The descriptors of the values inside are handed over as an
    /// ipc-channel send hands them (a receiver inside is moved).
    pub(crate) fn encode_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        slot: &mut [u8],
    ) -> Result<(), CodecError> {
        let (token, body) = slot.split_at_mut(TOKEN_BYTES);
        let (encoded, handles) = ipc::collect_handles(|| codec::encode_into(value, body));
        encoded?;
        let t = next_token();
        token.copy_from_slice(&t);
        self.0
            .tx
            .send_with_handles(&t, handles)
            .map_err(|e| CodecError::SideChannel(e.raw_os_error()))
    }

    /// Decodes a frame made by [`encode_into`](Self::encode_into) with the descriptors sent
    /// for it (consumer, get lock held).
    pub(crate) fn decode<T: DeserializeOwned>(&self, frame: &[u8]) -> Result<T, CodecError> {
        let Some((token, body)) = frame.split_first_chunk::<TOKEN_BYTES>() else {
            return Err(CodecError::HandlesMissing);
        };
        loop {
            // Sent before the frame was committed: waiting is never needed.
            let Ok((sent, handles)) = self.0.rx().try_recv_with_handles() else {
                return Err(CodecError::HandlesMissing);
            };
            if sent == token {
                return ipc::with_received_handles(handles, || codec::decode(body));
            }
            // A producer died between its send and its commit: its descriptors close here.
        }
    }
}

/// How many descriptors the ipc-channel values inside `value` hand over when it is sent,
/// and its encoded length (a dry run: no descriptor is touched).
pub(crate) fn encoded_len_and_handles<T: Serialize + ?Sized>(
    value: &T,
) -> (Result<usize, CodecError>, usize) {
    ipc::count_handles(|| codec::encoded_len(value))
}
