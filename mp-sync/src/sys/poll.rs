//! Waiting for descriptors (pidfds, sockets) to become readable, until an absolute deadline.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::deadline::Deadline;

/// Waits until at least one of `fds` is readable (or hung up, or in error) or `deadline`
/// passes (`None`: no deadline); returns the indices of the ready descriptors, empty when the
/// deadline passed first.
///
/// A signal (`EINTR`) resumes the wait for the time that is left, never the whole timeout
/// again: the deadline is absolute. Sub-millisecond remainders round up, so a short wait does
/// not spin.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// use mp_sync::raw::{Deadline, poll_readable};
///
/// let (reader, mut writer) = std::io::pipe()?;
/// let soon = Some(Deadline::after(Duration::from_millis(5)));
/// assert!(poll_readable(&[reader.as_fd()], soon)?.is_empty(), "nothing written yet");
/// std::io::Write::write_all(&mut writer, b"x")?;
/// assert_eq!(poll_readable(&[reader.as_fd()], None)?, vec![0]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn poll_readable(fds: &[BorrowedFd<'_>], deadline: Option<Deadline>) -> io::Result<Vec<usize>> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let timeout_ms = match deadline {
            None => -1,
            Some(d) => d
                .remaining()
                .as_micros()
                .div_ceil(1000)
                .min(i32::MAX as u128) as i32,
        };
        // SAFETY: `pollfds` is a live array of `len` pollfd structs for the duration of the
        // call; the descriptors are borrowed, so open.
        let rc = unsafe {
            libc::poll(
                pollfds.as_mut_ptr(),
                pollfds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
        if rc > 0 {
            return Ok(pollfds
                .iter()
                .enumerate()
                .filter(|(_, p)| p.revents != 0)
                .map(|(i, _)| i)
                .collect());
        }
        if rc == 0 {
            if deadline.is_some_and(Deadline::has_passed) {
                return Ok(Vec::new());
            }
            continue;
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}
