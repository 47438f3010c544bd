//! [`ShmName`]: a checked POSIX shared memory name, given or generated.

use std::ffi::CString;

use crate::shared_memory_error::SharedMemoryError;
use crate::sys::{MAX_NAME, fill_random};

/// The prefix of generated names (Python's `_SHM_NAME_PREFIX` on POSIX, without its slash).
const GENERATED_PREFIX: &str = "psm_";
/// Random bytes in a generated name (64 bits: not guessable, and collisions are rare enough
/// that the retry on one is a formality).
const GENERATED_RANDOM_BYTES: usize = 8;

/// A segment name: what Python's `SharedMemory.name` reports (no leading slash), and the
/// `shm_open` form with the slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShmName {
    /// The name as reported (`psm_0123abcd...`).
    name: String,
    /// `/` + the name, NUL-terminated, for the system calls.
    c_name: CString,
    /// `/dev/shm/` + the name, NUL-terminated.
    path: CString,
}

impl ShmName {
    /// Checks a caller's name: one optional leading slash (dropped, as Python reports it),
    /// then 1 to 255 bytes with no slash or NUL, and not `.` or `..`.
    pub(crate) fn parse(given: &str) -> Result<ShmName, SharedMemoryError> {
        let bad = |reason| SharedMemoryError::BadName {
            name: given.to_owned(),
            reason,
        };
        let name = given.strip_prefix('/').unwrap_or(given);
        if name.is_empty() {
            return Err(bad("empty"));
        }
        if name.len() > MAX_NAME {
            return Err(bad("longer than 255 bytes"));
        }
        if name.contains('\0') {
            return Err(bad("contains a NUL"));
        }
        if name.contains('/') {
            return Err(bad("contains a slash"));
        }
        if name == "." || name == ".." {
            return Err(bad("is a directory name"));
        }
        Ok(ShmName::checked(name))
    }

    /// A fresh random `psm_` name (16 hex digits from the kernel's random source).
    pub(crate) fn generate() -> Result<ShmName, SharedMemoryError> {
        let mut random = [0u8; GENERATED_RANDOM_BYTES];
        fill_random(&mut random).map_err(|source| SharedMemoryError::Os {
            op: "getrandom",
            source,
        })?;
        let mut name = String::from(GENERATED_PREFIX);
        for b in random {
            name.push_str(&format!("{b:02x}"));
        }
        Ok(ShmName::checked(&name))
    }

    /// The forms of a name known to be valid.
    fn checked(name: &str) -> ShmName {
        ShmName {
            name: name.to_owned(),
            c_name: CString::new(format!("/{name}")).expect("no NUL: checked"),
            path: CString::new(format!("/dev/shm/{name}")).expect("no NUL: checked"),
        }
    }

    /// The name without its slash.
    pub(crate) fn as_str(&self) -> &str {
        &self.name
    }

    /// `/NAME`, for `shm_open` and `shm_unlink`.
    pub(crate) fn c_name(&self) -> &CString {
        &self.c_name
    }

    /// `/dev/shm/NAME`, for `stat`.
    pub(crate) fn path(&self) -> &CString {
        &self.path
    }
}
