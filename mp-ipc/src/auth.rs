//! The authkey handshake of Python's `multiprocessing.connection`, as a step machine that a
//! listener can drive for many clients at once (each step runs when a message arrives, so a
//! silent client holds up nobody) and a client drives alone.
//!
//! Each side challenges the other: the listener delivers a challenge, then answers the
//! client's; the client answers first, then delivers. A challenge is `#CHALLENGE#` and a
//! random message; the answer is the HMAC of the message under the authkey; the challenger
//! replies `#WELCOME#` or `#FAILURE#`. Two forms:
//!
//! * 3.12+: the message is `{sha256}` and 40 random bytes; the answer is `{digest}` and the
//!   HMAC (with the digest the challenge named) of the whole message, prefix included;
//! * 3.11 and older: the message is 20 random bytes (no prefix); the answer is the raw
//!   HMAC-MD5 (16 bytes). A modern challenger accepts it (as CPython 3.12 does): a 3.11 peer
//!   answers our prefixed challenge that way.
//!
//! We always deliver the modern form and answer either. Digests are compared in constant time
//! (`subtle`), and every handshake message is at most [`HANDSHAKE_MAX`] bytes.

use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::error::{AuthenticationError, Error};
use crate::socket_end::SocketEnd;

/// Largest handshake message (Python's `recv_bytes(256)`).
pub(crate) const HANDSHAKE_MAX: usize = 256;

/// The challenge's marker.
const CHALLENGE: &[u8] = b"#CHALLENGE#";
/// The challenger's reply to a right answer.
const WELCOME: &[u8] = b"#WELCOME#";
/// The challenger's reply to a wrong answer.
const FAILURE: &[u8] = b"#FAILURE#";
/// Random bytes in a modern challenge (CPython 3.12's `MESSAGE_LENGTH`).
const MESSAGE_LENGTH: usize = 40;
/// Lengths that mark the legacy form: a 3.11 challenge (20) or a raw HMAC-MD5 answer (16).
const LEGACY_LENGTHS: [usize; 2] = [20, 16];
/// Longest digest name in a prefix (CPython's `_MAX_DIGEST_LEN`, for `sha3_256`).
const MAX_DIGEST_NAME: usize = 8;
/// The digest we challenge with.
const OUR_DIGEST: &str = "sha256";

/// HMAC of `message` under `key` with the digest called `name` (Python's names).
fn hmac_digest(name: &str, key: &[u8], message: &[u8]) -> Result<Vec<u8>, AuthenticationError> {
    /// One HMAC over the message.
    fn mac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length: this never fails.
        let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(message);
        m.finalize().into_bytes().to_vec()
    }
    Ok(match name {
        "md5" => mac::<Hmac<md5::Md5>>(key, message),
        "sha256" => mac::<Hmac<sha2::Sha256>>(key, message),
        "sha384" => mac::<Hmac<sha2::Sha384>>(key, message),
        "sha512" => mac::<Hmac<sha2::Sha512>>(key, message),
        other => return Err(AuthenticationError::UnsupportedDigest(other.to_owned())),
    })
}

/// Splits a challenge or an answer into its digest name (`None`: the legacy form, MD5) and
/// its payload (CPython's `_get_digest_name_and_payload`).
fn digest_and_payload(message: &[u8]) -> Result<(Option<&str>, &[u8]), AuthenticationError> {
    if LEGACY_LENGTHS.contains(&message.len()) {
        return Ok((None, message));
    }
    let rest = message
        .strip_prefix(b"{")
        .ok_or(AuthenticationError::Protocol("missing digest prefix"))?;
    let close = rest
        .iter()
        .take(MAX_DIGEST_NAME + 1)
        .position(|&b| b == b'}')
        .ok_or(AuthenticationError::Protocol("missing digest prefix"))?;
    let name = std::str::from_utf8(&rest[..close])
        .map_err(|_| AuthenticationError::Protocol("digest name is not ASCII"))?;
    Ok((Some(name), &rest[close + 1..]))
}

/// Our answer to a challenge `message` (the bytes after `#CHALLENGE#`).
fn answer(key: &[u8], message: &[u8]) -> Result<Vec<u8>, AuthenticationError> {
    match digest_and_payload(message)?.0 {
        None => hmac_digest("md5", key, message),
        Some(name) => {
            let mut out = format!("{{{name}}}").into_bytes();
            out.extend(hmac_digest(name, key, message)?);
            Ok(out)
        }
    }
}

/// Checks the peer's `response` to our challenge `message`, in constant time.
fn verify(key: &[u8], message: &[u8], response: &[u8]) -> Result<(), AuthenticationError> {
    let (name, mac) = digest_and_payload(response)?;
    let expected = hmac_digest(name.unwrap_or("md5"), key, message)?;
    if expected.len() == mac.len() && bool::from(expected.ct_eq(mac)) {
        Ok(())
    } else {
        Err(AuthenticationError::WrongDigest)
    }
}

/// Fills `buf` from the kernel's random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|e| Error::Io(std::io::Error::other(e.to_string())))
}

/// A fresh modern challenge message: `{sha256}` and 40 random bytes.
fn new_challenge() -> Result<Vec<u8>, Error> {
    let mut random = [0; MESSAGE_LENGTH];
    fill_random(&mut random)?;
    let mut message = format!("{{{OUR_DIGEST}}}").into_bytes();
    message.extend_from_slice(&random);
    Ok(message)
}

/// Which side of the handshake we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The listener: challenges first.
    Listener,
    /// The client: answers first.
    Client,
}

/// What the handshake waits for next.
#[derive(Debug)]
enum Step {
    /// The answer to the challenge we sent (the message is kept to check it).
    Response(Vec<u8>),
    /// The peer's challenge.
    Challenge,
    /// `#WELCOME#` for our answer.
    Welcome,
}

/// One handshake in progress.
#[derive(Debug)]
pub(crate) struct Handshake {
    /// The connection (its message limit is [`HANDSHAKE_MAX`] until the end).
    pub(crate) end: SocketEnd,
    /// What comes next.
    step: Step,
    /// We have challenged the peer and it answered right.
    delivered: bool,
    /// We answered the peer's challenge and it welcomed us.
    answered: bool,
}

/// What a step of the handshake came to.
#[derive(Debug)]
pub(crate) enum Progress {
    /// Waiting for the peer's next message.
    Waiting,
    /// Both sides are authenticated.
    Done,
}

impl Handshake {
    /// Starts the handshake on a fresh connection (the listener sends its challenge now).
    pub(crate) fn start(mut end: SocketEnd, role: Role) -> Result<Handshake, Error> {
        end.set_max_message(HANDSHAKE_MAX);
        let mut h = Handshake {
            end,
            step: Step::Challenge,
            delivered: false,
            answered: false,
        };
        if role == Role::Listener {
            h.deliver()?;
        }
        Ok(h)
    }

    /// Sends our challenge.
    fn deliver(&mut self) -> Result<(), Error> {
        let message = new_challenge()?;
        self.end.send_frame(&[CHALLENGE, &message].concat())?;
        self.step = Step::Response(message);
        Ok(())
    }

    /// Handles the messages that arrived, without waiting for more; `key` is the authkey.
    pub(crate) fn advance(&mut self, key: &[u8]) -> Result<Progress, Error> {
        loop {
            let got = self
                .end
                .recv_frame(Some(mp_sync::raw::Deadline::now()), |m, _| m.to_vec());
            let message = match got {
                Ok(m) => m,
                Err(Error::Timeout) => return Ok(Progress::Waiting),
                Err(Error::TooLarge { .. }) => {
                    return Err(AuthenticationError::Protocol("handshake message too long").into());
                }
                Err(Error::Eof) => {
                    return Err(AuthenticationError::Protocol("connection closed").into());
                }
                Err(Error::Corrupt(_)) => {
                    return Err(AuthenticationError::Protocol("not Python's framing").into());
                }
                Err(e) => return Err(e),
            };
            match std::mem::replace(&mut self.step, Step::Challenge) {
                Step::Response(challenge) => {
                    if let Err(e) = verify(key, &challenge, &message) {
                        // Tell the peer, as CPython does; it may be gone already.
                        let _ = self.end.send_frame(FAILURE);
                        return Err(e.into());
                    }
                    self.end.send_frame(WELCOME)?;
                    self.delivered = true;
                }
                Step::Challenge => {
                    let challenge = message
                        .strip_prefix(CHALLENGE)
                        .ok_or(AuthenticationError::Protocol("expected a challenge"))?;
                    if challenge.len() < LEGACY_LENGTHS[0] {
                        return Err(AuthenticationError::Protocol("challenge too short").into());
                    }
                    self.end.send_frame(&answer(key, challenge)?)?;
                    self.step = Step::Welcome;
                    continue;
                }
                Step::Welcome => {
                    if message != WELCOME {
                        return Err(AuthenticationError::Rejected.into());
                    }
                    self.answered = true;
                }
            }
            match (self.delivered, self.answered) {
                (true, true) => return Ok(Progress::Done),
                (true, false) => self.step = Step::Challenge,
                (false, _) => self.deliver()?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_check_in_both_forms() {
        let key = b"secret";
        // Modern: prefixed answer over the whole prefixed message.
        let m = new_challenge().unwrap();
        let a = answer(key, &m).unwrap();
        assert!(a.starts_with(b"{sha256}"));
        verify(key, &m, &a).unwrap();
        assert_eq!(
            verify(b"other", &m, &a),
            Err(AuthenticationError::WrongDigest)
        );
        // Legacy (a 3.11 peer): 20 bytes, raw HMAC-MD5 of 16 bytes.
        let legacy = [7u8; 20];
        let a = answer(key, &legacy).unwrap();
        assert_eq!(a.len(), 16);
        verify(key, &legacy, &a).unwrap();
        // A 3.11 peer's raw MD5 answer to our modern challenge is accepted.
        verify(key, &m, &hmac_digest("md5", key, &m).unwrap()).unwrap();
        // Unknown digests and junk are typed errors.
        assert!(matches!(
            answer(key, b"{sha3_256}0123456789abcdefghijkl"),
            Err(AuthenticationError::UnsupportedDigest(_))
        ));
        assert!(matches!(
            verify(key, &m, b"garbage-of-odd-len"),
            Err(AuthenticationError::Protocol(_))
        ));
    }
}
