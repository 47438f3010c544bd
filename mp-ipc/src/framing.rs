//! Python's message framing on a socket (`multiprocessing.connection.Connection`): a 4-byte
//! big-endian signed length before each message, and for a message above 2 GiB - 1 the
//! length -1 followed by an 8-byte big-endian unsigned length. Byte for byte what CPython
//! writes and reads, so `send_bytes`/`recv_bytes` interoperate with it.

/// Longest message in the 4-byte form (2 GiB - 1).
pub(crate) const SHORT_MAX: u64 = 0x7fff_ffff;

/// Longest header: the -1 marker and the 8-byte length.
pub(crate) const LONG_HEADER: usize = 12;

/// The header for a message of `len` bytes, in `buf`; returns the header's length.
pub(crate) fn encode_header(len: u64, buf: &mut [u8; LONG_HEADER]) -> usize {
    if len > SHORT_MAX {
        buf[..4].copy_from_slice(&(-1i32).to_be_bytes());
        buf[4..].copy_from_slice(&len.to_be_bytes());
        LONG_HEADER
    } else {
        buf[..4].copy_from_slice(&(len as u32).to_be_bytes());
        4
    }
}

/// What the start of a receive buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// Not enough bytes yet to know the length.
    Incomplete,
    /// A header of `header` bytes announcing a message of `len` bytes (only a claim: the
    /// bytes may never come, and nothing is allocated for them in advance).
    Frame {
        /// Length of the header itself (4 or 12).
        header: usize,
        /// The message's announced length.
        len: u64,
    },
    /// A negative length other than -1: not Python's framing (a corrupt or hostile peer).
    Bad,
}

/// Parses the header at the start of `buf`.
pub(crate) fn parse_header(buf: &[u8]) -> Header {
    let Some(short) = buf.first_chunk::<4>() else {
        return Header::Incomplete;
    };
    match i32::from_be_bytes(*short) {
        -1 => match buf.get(4..LONG_HEADER) {
            None => Header::Incomplete,
            Some(long) => Header::Frame {
                header: LONG_HEADER,
                len: u64::from_be_bytes(long.try_into().unwrap_or_default()),
            },
        },
        n if n < 0 => Header::Bad,
        n => Header::Frame {
            header: 4,
            len: n as u64,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms_round_trip() {
        let mut buf = [0; LONG_HEADER];
        for len in [0, 1, 16384, SHORT_MAX, SHORT_MAX + 1, u64::MAX] {
            let n = encode_header(len, &mut buf);
            assert_eq!(n, if len > SHORT_MAX { 12 } else { 4 });
            assert_eq!(parse_header(&buf[..n]), Header::Frame { header: n, len });
            assert_eq!(parse_header(&buf[..n - 1]), Header::Incomplete);
        }
        assert_eq!(parse_header(&(-2i32).to_be_bytes()), Header::Bad);
        // CPython's own bytes for b"abc": struct.pack("!i", 3).
        let n = encode_header(3, &mut buf);
        assert_eq!(&buf[..n], b"\0\0\0\x03");
    }
}
