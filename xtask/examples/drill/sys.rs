//! The drill's OS calls: SIGKILL to a pid that is not a `Process` handle of ours (a fork
//! server, a grandchild), and copies of another process's descriptors (to play a child of the
//! fork server that still holds its socket).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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

/// Copies into this process of every socket `pid` (a process we may trace: our child) has
/// open, as its descriptors are now.
pub(crate) fn copy_sockets_of(pid: i32) -> io::Result<Vec<OwnedFd>> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no memory
    // is passed.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    let mut copies = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))?.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // SAFETY: pidfd_getfd takes a pidfd, a descriptor number in that process and flags,
        // and returns a new descriptor of ours or -1; no memory is passed.
        let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
        if copy < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above: a new descriptor that nothing else owns.
        copies.push(unsafe { OwnedFd::from_raw_fd(copy as i32) });
    }
    Ok(copies)
}
