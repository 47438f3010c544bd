//! Handles inside messages: a side channel carries the descriptors of the mp handles (and any
//! ipc-channel values) inside a message beside the message's bytes in a ring. Used by a
//! queue (one channel, every producer sends, every consumer receives) and by a pipe (one
//! channel per direction).
//!
//! A sender encodes such a message while ipc-channel collects the descriptors its values hand
//! over, writes `token` and the bytes into its frame, and sends `token` with the descriptors
//! over the side channel, before the frame is committed (for a queue, under the put lock). The
//! receiver that takes the frame (for a queue, under the get lock) reads side messages until
//! the one with its frame's token: the ones before it were sent by senders that died before
//! committing, and are dropped (closing their descriptors). Side messages are sent in commit
//! order and read in frame order, so none is ever skipped that a later frame needs. A message
//! never received leaks nothing: the channel's socket holds its descriptors until the last
//! copy of its receiving end goes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender, IpcHandles};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::CodecError;

/// Bytes of the token at the start of a frame that has a side message.
pub(crate) const TOKEN_BYTES: usize = 8;

/// The sending half of a side channel.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SideSender(IpcBytesSender);

/// The receiving half of a side channel (the mutex only makes the receiver, which is not
/// `Sync`, shareable between threads; a queue's consumers hold its get lock around it).
#[derive(Debug)]
pub(crate) struct SideReceiver(Mutex<IpcBytesReceiver>);

/// A new side channel.
pub(crate) fn side_channel() -> std::io::Result<(SideSender, SideReceiver)> {
    let (tx, rx) = ipc::bytes_channel()?;
    Ok((SideSender(tx), SideReceiver(Mutex::new(rx))))
}

impl SideSender {
    /// The sending half on a pipe end's socket (its link: clones share the descriptor).
    pub(crate) fn on_link(link: &IpcBytesSender) -> SideSender {
        SideSender(link.clone())
    }
}

impl SideReceiver {
    /// The receiving half on a duplicate of a pipe end's socket (its link): an end receives
    /// on its own socket what the other end sent on its own.
    pub(crate) fn on_link(link: &IpcBytesSender) -> std::io::Result<SideReceiver> {
        let fd = link.as_fd().try_clone_to_owned()?;
        Ok(SideReceiver(Mutex::new(IpcBytesReceiver::from_owned_fd(
            fd,
        ))))
    }
}

impl Serialize for SideReceiver {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Serializing consumes a receiver: a duplicate goes, the copy left behind still works.
        let rx = self.rx().try_clone().map_err(serde::ser::Error::custom)?;
        rx.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SideReceiver {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IpcBytesReceiver::deserialize(deserializer).map(|rx| SideReceiver(Mutex::new(rx)))
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

impl SideSender {
    /// Sends `handles` under a new token, written into the first [`TOKEN_BYTES`] of `frame`
    /// (before the frame is committed).
    pub(crate) fn send(&self, handles: IpcHandles, frame: &mut [u8]) -> Result<(), CodecError> {
        let token = frame
            .first_chunk_mut::<TOKEN_BYTES>()
            .ok_or(CodecError::HandlesMissing)?;
        *token = next_token();
        self.0
            .send_with_handles(token, handles)
            .map_err(|e| CodecError::SideChannel(e.raw_os_error()))
    }

    /// Encodes `value` into `slot` (its token, then its bytes: [`TOKEN_BYTES`] plus
    /// [`codec::encoded_len`]) and sends its descriptors with the token (a queue's producer,
    /// put lock held, before the commit). The descriptors of the values inside are handed
    /// over as an ipc-channel send hands them (a receiver inside is moved).
    pub(crate) fn encode_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        slot: &mut [u8],
    ) -> Result<(), CodecError> {
        let body = slot
            .get_mut(TOKEN_BYTES..)
            .ok_or(CodecError::HandlesMissing)?;
        let (encoded, handles) = ipc::collect_handles(|| codec::encode_into(value, body));
        encoded?;
        self.send(handles, slot)
    }
}

impl SideReceiver {
    /// The receiving end (a panic elsewhere while it was held leaves it usable).
    fn rx(&self) -> MutexGuard<'_, IpcBytesReceiver> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decodes a frame that starts with a token (made by [`SideSender::encode_into`] or
    /// [`with_encoded_collecting`]) with the descriptors sent for it.
    pub(crate) fn decode<T: DeserializeOwned>(&self, frame: &[u8]) -> Result<T, CodecError> {
        let Some((token, body)) = frame.split_first_chunk::<TOKEN_BYTES>() else {
            return Err(CodecError::HandlesMissing);
        };
        let rx = self.rx();
        loop {
            // Sent before the frame was committed: waiting is never needed.
            let Ok((sent, handles)) = rx.try_recv_with_handles() else {
                return Err(CodecError::HandlesMissing);
            };
            if sent == token {
                return ipc::with_received_handles(handles, || codec::decode(body));
            }
            // A sender died between its send and its commit: its descriptors close here.
        }
    }
}

/// The side channel of a queue: both halves, shared by the in-process clones of the queue.
#[derive(Clone, Debug)]
pub(crate) struct SideChannel(Arc<(SideSender, SideReceiver)>);

impl Serialize for SideChannel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.0.0, &self.0.1).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SideChannel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <(SideSender, SideReceiver)>::deserialize(deserializer).map(|s| SideChannel(Arc::new(s)))
    }
}

impl SideChannel {
    /// A new side channel.
    pub(crate) fn new() -> std::io::Result<SideChannel> {
        side_channel().map(|s| SideChannel(Arc::new(s)))
    }

    /// The sending half.
    pub(crate) fn sender(&self) -> &SideSender {
        &self.0.0
    }

    /// The receiving half.
    pub(crate) fn receiver(&self) -> &SideReceiver {
        &self.0.1
    }
}

/// Encodes `value` into this thread's reused buffer, [`TOKEN_BYTES`] left free in front for
/// a token, while collecting the descriptors of the handles inside (handed over as an
/// ipc-channel send hands them: a receiver inside is moved), and hands both to `f`. With no
/// handle inside, the message is `&buf[TOKEN_BYTES..]`.
pub(crate) fn with_encoded_collecting<T: Serialize + ?Sized, R>(
    value: &T,
    f: impl FnOnce(&mut [u8], IpcHandles) -> R,
) -> Result<R, CodecError> {
    codec::with_scratch(|buf| {
        buf.resize(TOKEN_BYTES, 0);
        let (encoded, handles) = ipc::collect_handles(|| codec::encode_extend(value, buf));
        encoded?;
        Ok(f(buf, handles))
    })
}

/// How many descriptors the ipc-channel values inside `value` hand over when it is sent,
/// and its encoded length (a dry run: no descriptor is touched).
pub(crate) fn encoded_len_and_handles<T: Serialize + ?Sized>(
    value: &T,
) -> (Result<usize, CodecError>, usize) {
    ipc::count_handles(|| codec::encoded_len(value))
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};

    use super::*;
    use crate::sys::fd_passing::{send_all_with_fds, seqpacket_pair};

    #[test]
    fn a_side_message_with_a_descriptor_that_does_not_map_is_an_error_not_a_panic() {
        let (hostile, ours) = seqpacket_pair().unwrap();
        let rx = SideReceiver(Mutex::new(IpcBytesReceiver::from_owned_fd(ours)));
        // ipc-channel's framing: fragment size, total size, then the bytes (a token); the
        // "region" is a file open read-only (this test's program), which cannot be mapped
        // as shared memory.
        let token = [9u8; TOKEN_BYTES];
        let word = std::mem::size_of::<usize>();
        let mut packet = (2 * word + TOKEN_BYTES).to_ne_bytes().to_vec();
        packet.extend_from_slice(&TOKEN_BYTES.to_ne_bytes());
        packet.extend_from_slice(&token);
        let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
        send_all_with_fds(hostile.as_fd(), &packet, &[file.as_fd()]).unwrap();
        let mut frame = token.to_vec();
        frame.push(5);
        assert!(matches!(
            rx.decode::<u8>(&frame),
            Err(CodecError::HandlesMissing)
        ));
    }

    /// One word of ipc-channel's header, in its byte order.
    fn word(n: usize) -> Vec<u8> {
        n.to_ne_bytes().to_vec()
    }

    /// Sends `packet` (with `fds`) from a hostile peer to a side receiver and decodes a frame
    /// with token `[9; 8]`, on a thread of its own with a bound (a receive that blocks forever
    /// fails the test); returns the decode's result. The hostile end stays open meanwhile.
    fn decode_after_hostile(packet: Vec<u8>, fds: Vec<OwnedFd>) -> Result<u8, CodecError> {
        let (hostile, ours) = seqpacket_pair().unwrap();
        let rx = SideReceiver(Mutex::new(IpcBytesReceiver::from_owned_fd(ours)));
        let borrowed: Vec<_> = fds.iter().map(|fd| fd.as_fd()).collect();
        send_all_with_fds(hostile.as_fd(), &packet, &borrowed).unwrap();
        drop(fds);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut frame = vec![9u8; TOKEN_BYTES];
            frame.push(5);
            let _ = done_tx.send(rx.decode::<u8>(&frame));
        });
        let result = done_rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the decode panicked, or blocked on the hostile peer");
        drop(hostile);
        result
    }

    #[test]
    fn a_side_message_shorter_than_its_header_is_an_error_not_a_panic() {
        for len in [1, 8, 12, 15] {
            // The first word says the record is `len` bytes long, as it is.
            let mut packet = word(len);
            packet.resize(len, 0);
            assert!(
                matches!(
                    decode_after_hostile(packet, vec![]),
                    Err(CodecError::HandlesMissing)
                ),
                "{len}"
            );
        }
    }

    #[test]
    fn a_side_message_whose_header_claims_more_than_it_holds_is_an_error_not_a_wait() {
        let mut packet = word(1000);
        packet.extend(word(TOKEN_BYTES));
        packet.extend([9u8; TOKEN_BYTES]);
        assert!(matches!(
            decode_after_hostile(packet, vec![]),
            Err(CodecError::HandlesMissing)
        ));
    }

    #[test]
    fn fragmented_messages_still_arrive_whole_below_and_above_the_reserve_ahead() {
        // ipc-channel's own fragmented send, received by the bounded-reserve path (64 MiB
        // ahead: the second size grows the buffer past it).
        for len in [300 << 10, (64 << 20) + (3 << 20)] {
            let (tx, rx) = ipc::bytes_channel().unwrap();
            let data: Vec<u8> = (0..len).map(|i: usize| (i % 251) as u8).collect();
            let sender = {
                let data = data.clone();
                std::thread::spawn(move || tx.send(&data).unwrap())
            };
            let got = rx.recv().unwrap();
            sender.join().unwrap();
            assert!(got == data, "{len}");
        }
    }

    /// A first fragment (the token) of a message said to be `total` bytes long.
    fn first_fragment_of(total: usize) -> Vec<u8> {
        let mut packet = word(2 * size_of::<usize>() + TOKEN_BYTES);
        packet.extend(word(total));
        packet.extend([9u8; TOKEN_BYTES]);
        packet
    }

    #[test]
    fn a_fragmented_side_message_without_its_channel_or_shorter_than_its_start_is_an_error() {
        for total in [TOKEN_BYTES - 1, 1 << 40] {
            assert!(
                matches!(
                    decode_after_hostile(first_fragment_of(total), vec![]),
                    Err(CodecError::HandlesMissing)
                ),
                "{total}"
            );
        }
    }

    #[test]
    fn a_side_message_of_an_absurd_size_allocates_only_what_arrives() {
        // ipc-channel reserved the whole size the header claims before reading on: 1 TiB
        // (the allocator refuses: the process aborts) or near `usize::MAX` (a capacity
        // overflow panic). The rest of the message comes on the channel sent with the first
        // fragment: 100 bytes, and then that channel closes.
        for total in [1usize << 40, usize::MAX - 64] {
            let (rest_tx, rest_rx) = seqpacket_pair().unwrap();
            nix::sys::socket::send(
                rest_tx.as_raw_fd(),
                &[7u8; 100],
                nix::sys::socket::MsgFlags::empty(),
            )
            .unwrap();
            drop(rest_tx);
            assert!(
                matches!(
                    decode_after_hostile(first_fragment_of(total), vec![rest_rx]),
                    Err(CodecError::HandlesMissing)
                ),
                "{total}"
            );
        }
    }
}
