//! How a child leaves: `exit`, which runs the at-exit handlers registered in the process and
//! flushes C's stdio, when that is sound; `_exit` otherwise.

use super::exit_now;

/// Leaves the process with `code`: through libc's `exit` (at-exit handlers, thread-local
/// destructors of this thread, C stdio flushed) if `run_exit_handlers`, else through `_exit`
/// (nothing runs: the only sound way out of a fork of a threaded process, whose copies of other
/// threads' locks may be held).
pub(crate) fn leave(code: i32, run_exit_handlers: bool) -> ! {
    if run_exit_handlers {
        // std's exit also flushes std's stdout first.
        std::process::exit(code)
    }
    exit_now(code)
}

/// Flushes every C stdio stream, so that output buffered before a `fork` is not written twice
/// when the child leaves through `exit`.
pub(crate) fn flush_c_stdio() {
    // SAFETY: fflush(NULL) flushes all open output streams; it takes each stream's lock.
    unsafe {
        libc::fflush(std::ptr::null_mut());
    }
}
