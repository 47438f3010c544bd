//! The drill's one OS call: SIGKILL to a pid that is not a `Process` handle of ours (a fork
//! server, a grandchild).
#![allow(unsafe_code)]

use std::io;

/// Sends SIGKILL to `pid`.
pub(crate) fn kill(pid: i32) -> io::Result<()> {
    // SAFETY: kill(2) takes integers only and has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
