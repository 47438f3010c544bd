//! A barrier action (`fn()`) that can travel to a process running the same executable.

use std::io;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// A plain function; serialized as its offset from a function of this crate plus the
/// identity of the executable file, and only accepted by a process running that file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Action(pub(crate) fn());

/// The point offsets are measured from.
fn anchor() {}

/// Identifies the running executable file (device and inode of `/proc/self/exe`).
fn executable_id() -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata("/proc/self/exe")?;
    Ok((meta.dev(), meta.ino()))
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let offset = (self.0 as usize).wrapping_sub(anchor as fn() as usize);
        let exe = executable_id().map_err(serde::ser::Error::custom)?;
        (offset as u64, exe).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (offset, exe) = <(u64, (u64, u64))>::deserialize(deserializer)?;
        if executable_id().map_err(serde::de::Error::custom)? != exe {
            return Err(serde::de::Error::custom(Error::ForeignAction));
        }
        let address = (anchor as fn() as usize).wrapping_add(offset as usize);
        // SAFETY: the sender ran the same executable file and computed `offset` from a valid
        // `fn()` and the same `anchor`. Code sits at the same offsets in every process mapping
        // that file (only the load base differs), so `address` is that function's entry here.
        // This holds for functions in the same loaded object as this crate, which is every
        // function of a statically linked Rust program (the crate docs state the limit).
        // `fn()` and `usize` have the same size on every Linux target.
        Ok(Action(unsafe {
            std::mem::transmute::<usize, fn()>(address)
        }))
    }
}
