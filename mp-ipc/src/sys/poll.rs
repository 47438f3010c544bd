//! `poll` for readability: the one descriptor wait of the crate (sentinels in `wait`).
//!
//! The futex seam (wait, wake, waitv, the monotonic clock) is mp-sync's public
//! [`mp_sync::raw`] layer.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// Waits until one of `fds` is readable (or hung up) or `timeout` passes (`None`: forever);
/// returns the readiness of each descriptor.
pub(crate) fn poll_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> Vec<bool> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
    loop {
        // SAFETY: `pfds` is a live array of `pfds.len()` pollfd entries; the descriptors are
        // borrowed (open) for the duration of the call.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if rc >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    pfds.iter().map(|p| p.revents != 0).collect()
}
