//! How a child leaves: `exit`, which runs the at-exit handlers registered in the process and
//! flushes C's stdio, when that is sound; `_exit` otherwise.

use super::exit_now;

/// Leaves the process with `code`: through libc's `exit` (at-exit handlers, thread-local
/// destructors of this thread, C stdio flushed) if `run_exit_handlers`, else through `_exit`
/// (nothing runs: the only sound way out of a fork of a threaded process, whose copies of other
/// threads' locks may be held). The caller has flushed std's stdout.
pub(crate) fn leave(code: i32, run_exit_handlers: bool) -> ! {
    if run_exit_handlers {
        // libc's `exit` rather than `std::process::exit`, which first flushes std's stdout (done)
        // and tears down the main thread's signal stack (a map removal, `sigaltstack`,
        // `munmap`): nothing a leaving process needs, and in a fork child each page of code or
        // data first touched costs a page fault (fork copies no page table entries of code):
        // 8 faults and ~10 us of a 0.22 ms start+join. The one difference: output an at-exit
        // handler leaves in std's stdout without a newline is not flushed.
        // SAFETY: `exit` runs the at-exit handlers, flushes C stdio and never returns, as it
        // does at the end of `std::process::exit`.
        unsafe { libc::exit(code) }
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
