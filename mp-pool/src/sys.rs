//! The pool's OS calls: a worker process asks to die with its parent, leaves Ctrl-C to it,
//! and reads its resident memory; worker and pool copy large results into and out of the
//! worker's result arena; a worker host (the `redis` feature) removes its setting from the
//! environment before `main`.

use std::io;
use std::ops::Range;

/// Asks the kernel to SIGKILL this process when the thread that started it exits (for a
/// worker: the pool's supervisor thread, or the fork server, which exits with the pool's
/// process). Unlike a daemon child, a process that set this may still start children.
pub(crate) fn die_with_parent() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes integers only and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Ignores SIGINT in this process: a terminal's Ctrl-C reaches every process of its group, and
/// what it means is the pool's owner's to decide (a worker dies with it anyway, by
/// [`die_with_parent`]). A task may install a handler of its own.
pub(crate) fn ignore_interrupts() {
    // SAFETY: signal(SIGINT, SIG_IGN) installs no handler of ours (SIG_IGN is the kernel's),
    // so nothing can run at an arbitrary point; it takes integers only.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
}

/// Registers `f` to run when the process exits normally (`exit`, or returning from `main`).
pub(crate) fn at_exit(f: extern "C" fn()) {
    // SAFETY: atexit stores the function pointer; `f` is a plain function valid for the whole
    // program. A failure (no room) only means the hook does not run.
    unsafe {
        libc::atexit(f);
    }
}

/// This process's resident memory, in bytes (`/proc/self/statm`'s second field, in pages).
pub(crate) fn resident_bytes() -> io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "an unreadable statm"))?;
    // SAFETY: sysconf takes an integer and touches no memory of ours.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = u64::try_from(page).unwrap_or(4096);
    Ok(pages.saturating_mul(page))
}

/// Removes `name` from the environment. Only from an `.init_array` entry, which runs while the
/// process has its one thread (before `main`).
#[cfg(feature = "redis")]
pub(crate) fn remove_env_single_threaded(name: &std::ffi::OsStr) {
    // SAFETY: called before `main`, while no other thread exists that could read the
    // environment at the same time.
    unsafe { std::env::remove_var(name) };
}

/// The bytes `range` of a worker's result arena (`words`, read as bytes), or `None` if the
/// range is not inside it. For [`crate::result_arena`]'s protocol only: the worker wrote the
/// range before the message that named it and writes it again only once the pool gave it
/// back, which it does only after the last reader of the range is done (the returned slice
/// borrows from the block that holds the range).
pub(crate) fn arena_bytes(words: &mp_ipc::RawArray<u64>, range: Range<usize>) -> Option<&[u8]> {
    let len = words.len().checked_mul(8)?;
    if range.start > range.end || range.end > len {
        return None;
    }
    // SAFETY: the range lies inside the mapping (checked above); by the arena's protocol
    // (above) no process writes it while the slice lives, so reading it as bytes is sound
    // (any bit pattern is a valid u8).
    Some(unsafe {
        std::slice::from_raw_parts(words.as_ptr().cast::<u8>().add(range.start), range.len())
    })
}

/// Copies `bytes` into a worker's result arena (`words`, read as bytes) at byte offset `at`;
/// `false` (nothing written) if they do not fit inside it. For [`crate::result_arena`]'s
/// protocol only: the writer (the worker) holds that range (given back by the pool, or never
/// used), so no one reads or writes it meanwhile.
pub(crate) fn arena_write(words: &mp_ipc::RawArray<u64>, at: usize, bytes: &[u8]) -> bool {
    let Some(len) = words.len().checked_mul(8) else {
        return false;
    };
    if at.checked_add(bytes.len()).is_none_or(|end| end > len) {
        return false;
    }
    // SAFETY: the destination lies inside the mapping (checked above) and does not overlap
    // `bytes` (a private buffer of this process); by the arena's protocol no one else
    // touches it while it is written.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            words.as_ptr().cast::<u8>().add(at),
            bytes.len(),
        );
    }
    true
}
