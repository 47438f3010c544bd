//! The OS calls of the floors: a memfd mapping shared with forked children, futex wait/wake,
//! fork/waitpid, and a robust process-shared pthread mutex. Everything unsafe of the floors
//! binary is here.
#![allow(unsafe_code)]

use std::sync::atomic::AtomicU32;

/// A zeroed `MAP_SHARED` mapping of a memfd, inherited by forked children; never unmapped
/// (the binary measures one figure and exits).
pub(crate) fn memfd_shared(len: usize) -> &'static [u8] {
    let name = c"mp-bench-floor";
    // SAFETY: `name` is a valid C string; the flags ask for nothing unusual.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is our fresh memfd.
    let rc = unsafe { libc::ftruncate(fd, len as libc::off_t) };
    assert_eq!(rc, 0, "ftruncate: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh shared mapping of the whole memfd, no address hint.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    assert_ne!(
        p,
        libc::MAP_FAILED,
        "mmap: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the mapping holds it; the descriptor is no longer needed.
    unsafe { libc::close(fd) };
    // SAFETY: `len` zeroed bytes, mapped for the rest of the program.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }
}

/// Reinterprets `bytes[offset..]` as a `T` made only of atomics (all-zero is a valid value).
pub(crate) fn atomics_at<T>(bytes: &'static [u8], offset: usize) -> &'static T {
    assert!(offset + size_of::<T>() <= bytes.len());
    assert_eq!((bytes.as_ptr() as usize + offset) % align_of::<T>(), 0);
    // SAFETY: in bounds and aligned (checked), zeroed or written only through atomics, and
    // mapped for the rest of the program; T is made of atomics, valid for any bit pattern
    // that its users write.
    unsafe { &*bytes.as_ptr().add(offset).cast::<T>() }
}

/// Sleeps while `word` holds `expected` (or until a wake-up or signal).
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a live u32 in shared memory; FUTEX_WAIT reads no other pointer
    // (null timeout: no deadline).
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

/// Wakes one sleeper on `word`.
pub(crate) fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live u32; FUTEX_WAKE only reads its address.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1) };
}

/// Forks a child that runs `f` and leaves with `_exit(0)`; returns its pid.
pub(crate) fn fork_child(f: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the binary is single-threaded; the child runs `f` and `_exit`s.
    match unsafe { libc::fork() } {
        -1 => panic!("fork: {}", std::io::Error::last_os_error()),
        0 => {
            f();
            // SAFETY: `_exit` never returns and is always safe to call.
            unsafe { libc::_exit(0) }
        }
        pid => pid,
    }
}

/// Waits for child `pid` and checks it exited with 0.
pub(crate) fn wait_child(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: `status` is a live int; `pid` is our child.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {status:#x}"
    );
}

/// A robust, process-shared pthread mutex in shared memory (what a robust lock must cost).
pub(crate) struct RobustMutex(*mut libc::pthread_mutex_t);

impl RobustMutex {
    /// A new unlocked mutex in a fresh shared mapping.
    pub(crate) fn new() -> Self {
        let mem = memfd_shared(size_of::<libc::pthread_mutex_t>().max(64));
        let m = mem.as_ptr() as *mut libc::pthread_mutex_t;
        // SAFETY: `m` points to zeroed shared memory used by nobody yet; `attr` is
        // initialized before use and destroyed after.
        unsafe {
            let mut attr = std::mem::MaybeUninit::uninit();
            libc::pthread_mutexattr_init(attr.as_mut_ptr());
            libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST);
            assert_eq!(libc::pthread_mutex_init(m, attr.as_ptr()), 0);
            libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
        }
        RobustMutex(m)
    }

    /// Locks and unlocks once.
    pub(crate) fn pair(&self) {
        // SAFETY: the mutex is initialized and lives for the whole program; nobody dies
        // holding it here, so lock returns 0.
        unsafe {
            libc::pthread_mutex_lock(std::hint::black_box(self.0));
            libc::pthread_mutex_unlock(self.0);
        }
    }
}
