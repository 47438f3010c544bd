//! The mark that makes a fresh execution of this program one of ours: the environment variable
//! [`CHILD_ENV`], read by [`crate::entry`] before `main`.
//!
//! It carries only what the new process needs to become its role: the function to run (an
//! [`FnRef`], checked against this image's fingerprint) and the number of the one descriptor it
//! inherited from its parent (the receiving end of its launch channel, or the fork server's
//! socket). Nothing in it names a resource another process could open or connect to, so it does
//! not matter that `/proc/<pid>/environ` keeps it readable to the same user.

use std::os::fd::{OwnedFd, RawFd};

use mp_sync::raw::FnRef;

/// The environment variable that marks a fresh execution of the program as one of ours.
pub(crate) const CHILD_ENV: &str = "MP_PROCESS_CHILD";

/// The function a marked execution runs with its inherited descriptor; it returns only on
/// failure (the reason, for stderr).
pub(crate) type BootFn = fn(OwnedFd) -> String;

/// What a marked execution is asked to do: run `boot` with descriptor `fd`.
#[derive(Debug, PartialEq)]
pub(crate) struct Mark {
    /// The role's function: a spawn child's trampoline, or the fork server's loop.
    pub(crate) boot: FnRef<BootFn>,
    /// The inherited descriptor's number.
    pub(crate) fd: RawFd,
}

impl Mark {
    /// The mark's text: `<offset>;<fingerprint>;<fd>`.
    pub(crate) fn to_env(&self) -> String {
        let (offset, fingerprint) = self.boot.to_wire();
        format!("{offset};{fingerprint};{}", self.fd)
    }

    /// Parses a mark; `None` if it is malformed or from a different executable image.
    pub(crate) fn parse(mark: &str) -> Option<Mark> {
        let mut parts = mark.split(';');
        let offset = parts.next()?.parse().ok()?;
        let fingerprint = parts.next()?.parse().ok()?;
        let fd = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        let boot = FnRef::from_wire(offset, fingerprint).ok()?;
        Some(Mark { boot, fd })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(_: OwnedFd) -> String {
        String::new()
    }

    #[test]
    fn marks_round_trip() {
        let mark = Mark {
            boot: FnRef::new(boot as BootFn),
            fd: 7,
        };
        assert_eq!(Mark::parse(&mark.to_env()), Some(mark));
    }

    #[test]
    fn a_mark_from_another_image_or_malformed_is_refused() {
        let (offset, fingerprint) = FnRef::new(boot as BootFn).to_wire();
        let foreign = format!("{offset};{};3", fingerprint ^ 1);
        assert_eq!(Mark::parse(&foreign), None);
        assert_eq!(Mark::parse("nonsense"), None);
        assert_eq!(
            Mark::parse(&format!("{offset};{fingerprint};3;/tmp/x")),
            None
        );
    }
}
