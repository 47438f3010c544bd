//! std's stack-overflow report, for processes that never ran `main`'s runtime set-up.
//!
//! A Rust program's `main` is preceded by std's set-up, which installs a SIGSEGV/SIGBUS handler
//! on an alternate signal stack: a thread that runs into its stack's guard page then dies with
//! "thread '...' has overflowed its stack", "fatal runtime error: stack overflow" and SIGABRT
//! instead of a bare SIGSEGV. A spawn child and the fork server are taken over before `main`
//! (see `crate::entry`), so std's set-up never runs in them; [`install`] puts the same report in
//! place for their main thread. Forkserver children inherit it from the server through `fork`
//! (handler, alternate stack and the guard's address all carry over); fork children have their
//! parent's (std's, in a program that ran `main`).
//!
//! Threads that the target starts in a fresh child have no alternate stack (std makes one per
//! thread only when its own handler is installed), so their overflow remains a plain SIGSEGV.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The lowest address of the main thread's overflow zone (0: none known).
static GUARD_START: AtomicUsize = AtomicUsize::new(0);
/// One past the highest address of the main thread's overflow zone.
static GUARD_END: AtomicUsize = AtomicUsize::new(0);

/// The alternate signal stack's size: the handler only formats a number and writes two lines.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// Installs the stack-overflow report for the calling thread, which must be the process's main
/// thread (call it before `main`, while there is no other). Does nothing if a SIGSEGV handler
/// is already installed, or if the stack's bounds cannot be read. Failures are silent: without
/// the report an overflow still ends the process, by SIGSEGV.
pub(crate) fn install() {
    if !default_disposition(libc::SIGSEGV) || !default_disposition(libc::SIGBUS) {
        return;
    }
    let Some((start, end)) = main_thread_guard() else {
        return;
    };
    if !make_alternate_stack() {
        return;
    }
    GUARD_START.store(start, Ordering::Relaxed);
    GUARD_END.store(end, Ordering::Relaxed);
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: a zeroed sigaction is a valid empty one; we fill in a handler of the
        // SA_SIGINFO signature, an empty mask, and flags; the old action is not wanted.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Whether `signal`'s disposition is still the default.
fn default_disposition(signal: i32) -> bool {
    // SAFETY: a null new action only reads the current one into `old`, which is ours.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_DFL
    }
}

/// The addresses where an access means the main thread ran off its stack: from a page below
/// the stack's lowest address (where the stack rlimit stops the kernel from growing it, or the
/// guard pages of the stack) to a page above it.
fn main_thread_guard() -> Option<(usize, usize)> {
    let page = page_size();
    // SAFETY: pthread_getattr_np fills the attribute object we pass (ours, on our stack), which
    // we destroy after reading the stack's bounds and guard size from it.
    let (lowest, guard) = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut address: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let mut guard: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut address, &mut size) == 0
            && libc::pthread_attr_getguardsize(&attr, &mut guard) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if !ok {
            return None;
        }
        (address as usize, guard)
    };
    let below = guard.max(page) + page;
    Some((lowest.checked_sub(below)?, lowest.checked_add(page)?))
}

/// The system's page size.
fn page_size() -> usize {
    // SAFETY: sysconf takes an integer and returns one.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(4096)
}

/// Maps an alternate signal stack (with a guard page below it) for the calling thread; whether
/// it is in place. It is never unmapped: it serves the thread, and its forks, for life.
fn make_alternate_stack() -> bool {
    let page = page_size();
    let len = page + ALT_STACK_SIZE;
    // SAFETY: an anonymous private mapping of our own; the lowest page is then made
    // inaccessible (a guard against the handler overflowing the alternate stack itself), and the
    // rest handed to the kernel as the alternate stack, which it stays for the process's life.
    unsafe {
        let base = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if base == libc::MAP_FAILED {
            return false;
        }
        if libc::mprotect(base, page, libc::PROT_NONE) != 0 {
            libc::munmap(base, len);
            return false;
        }
        let stack = libc::stack_t {
            ss_sp: base.cast::<u8>().add(page).cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        if libc::sigaltstack(&stack, std::ptr::null_mut()) != 0 {
            libc::munmap(base, len);
            return false;
        }
    }
    true
}

/// The SIGSEGV/SIGBUS handler: std's report for an access in the main thread's overflow zone;
/// any other fault gets the default action back and happens again (or, if it was sent rather
/// than caused, is raised again), so it ends the process as it would have without us.
extern "C" fn on_fault(signal: i32, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler; si_addr is the
    // faulting address for SIGSEGV and SIGBUS.
    let (address, code) = unsafe { ((*info).si_addr() as usize, (*info).si_code) };
    let zone = GUARD_START.load(Ordering::Relaxed)..GUARD_END.load(Ordering::Relaxed);
    if zone.contains(&address) {
        report_overflow();
    }
    // SAFETY: resetting a disposition to the default installs no code; raise is
    // async-signal-safe.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        if code <= 0 {
            // Sent by kill/raise/sigqueue: returning would not repeat it.
            libc::raise(signal);
        }
    }
}

/// Writes std's two lines to stderr and aborts (SIGABRT), as std's own handler does.
fn report_overflow() -> ! {
    // SAFETY: gettid takes nothing and cannot fail.
    let tid = unsafe { libc::gettid() };
    let mut digits = [0u8; 20];
    let tid = decimal(tid.unsigned_abs(), &mut digits);
    for part in [
        b"\nthread 'main' (".as_slice(),
        tid,
        b") has overflowed its stack\nfatal runtime error: stack overflow, aborting\n",
    ] {
        write_stderr(part);
    }
    // SAFETY: abort is async-signal-safe and never returns.
    unsafe { libc::abort() }
}

/// `n` in decimal, in the tail of `buffer`. Allocation-free: runs in a signal handler.
fn decimal(mut n: u32, buffer: &mut [u8; 20]) -> &[u8] {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buffer[at..];
        }
    }
}

/// Writes all of `bytes` to descriptor 2 (best effort): async-signal-safe.
fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: write reads `bytes.len()` bytes from a live slice.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(n) {
            Ok(n) if n > 0 => bytes = &bytes[n..],
            _ if n < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_formats_without_allocating() {
        let mut buffer = [0u8; 20];
        assert_eq!(super::decimal(0, &mut buffer), b"0");
        assert_eq!(super::decimal(4_294_967_295, &mut buffer), b"4294967295");
        assert_eq!(super::decimal(3835, &mut buffer), b"3835");
    }
}
