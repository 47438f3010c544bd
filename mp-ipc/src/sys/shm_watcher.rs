//! The name watcher: a small process, forked once per process that creates named segments,
//! that unlinks the names its creator still owned when the creator dies (SIGKILL included).
//!
//! * The watcher holds the read end of a pipe whose only write end stays in the creator
//!   (`O_CLOEXEC`, and closed in every fork child by a `pthread_atfork` handler): the pipe's
//!   EOF means the creator is gone (dead, or its image replaced by `exec`).
//! * The names live in a table in `MAP_SHARED` anonymous memory made before the fork: the
//!   creator fills a slot (name, device and inode) and then marks it live, and frees it when it
//!   unlinks or keeps the name. The watcher reads the table only after the EOF, when no writer
//!   is left.
//! * At the EOF it unlinks each live name that still refers to the file the creator made
//!   (same device and inode: a name someone re-created since is left alone), then exits.
//!
//! The watcher is a grandchild (double fork), so it is never a child the creator (or code that
//! reaps any child) waits for, and is reparented at once. Between its fork and its exit it
//! runs only async-signal-safe system calls on memory prepared before the fork (the creator
//! may have other threads holding allocator locks). It ignores SIGINT, SIGTERM and SIGHUP, as
//! Python's resource tracker does, so a Ctrl-C to the process group leaves it to clean up.

use std::cell::UnsafeCell;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

use super::shm::FileIdentity;

/// Names one table holds at once (the table reserves address space for all of them; only
/// touched pages cost memory).
const SLOTS: usize = 1 << 16;
/// The longest name kept (`NAME_MAX`), without the leading slash.
pub(crate) const MAX_NAME: usize = 255;
/// Where glibc's `shm_open` puts names.
const SHM_DIR: &[u8] = b"/dev/shm/";

/// The table's first bytes: how many slots were ever used (the watcher looks no further).
#[repr(C)]
struct TableHeader {
    /// Slots `0..used` may be live.
    used: AtomicU64,
}

/// One name the creator owns.
#[repr(C)]
struct Slot {
    /// 1 while the name is the creator's to unlink; 0 when free.
    live: AtomicU32,
    /// Bytes of `name` used.
    len: AtomicU32,
    /// The created file's device.
    dev: AtomicU64,
    /// The created file's inode.
    ino: AtomicU64,
    /// The name, without its leading slash (written before `live` is set).
    name: [u8; MAX_NAME + 1],
}

/// Bytes of the table's mapping.
const TABLE_BYTES: usize =
    size_of::<TableHeader>().next_multiple_of(64) + SLOTS * size_of::<Slot>();

/// The write end of this process's watcher pipe, for the fork handler (-1 when none).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// This process's watcher, started by the first registration.
static WATCHER: WatcherCell = WatcherCell {
    locked: AtomicBool::new(false),
    state: UnsafeCell::new(None),
};

/// The watcher state under a lock that a fork child can reset: a fork taken while another
/// thread registers a name would otherwise leave the child's copy locked forever (a std
/// `Mutex` cannot be unlocked by a thread that does not hold it). The child never uses the
/// state it inherits (it is its parent's), so resetting the lock cannot expose a half update.
struct WatcherCell {
    /// Held by the thread using `state`.
    locked: AtomicBool,
    /// The watcher, if this process (or, in a fork child, its parent) started one.
    state: UnsafeCell<Option<Watcher>>,
}

// SAFETY: `state` is only reached through `with_watcher`, which holds `locked`.
unsafe impl Sync for WatcherCell {}

/// Runs `f` on the watcher state, under its lock (held for microseconds, or for the fork of a
/// new watcher: waiters yield).
fn with_watcher<R>(f: impl FnOnce(&mut Option<Watcher>) -> R) -> R {
    while WATCHER
        .locked
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
    /// Unlocks when dropped, a panic included.
    struct Unlock;
    impl Drop for Unlock {
        fn drop(&mut self) {
            WATCHER.locked.store(false, Ordering::Release);
        }
    }
    let _unlock = Unlock;
    // SAFETY: the lock, taken above and released by `_unlock`, makes this the only reference.
    f(unsafe { &mut *WATCHER.state.get() })
}

/// The creator's side of a running watcher.
struct Watcher {
    /// The process that started it: a fork child sees its parent's copy and starts its own.
    pid: u32,
    /// The table (shared with the watcher).
    table: NonNull<u8>,
    /// Slots freed for reuse.
    free: Vec<usize>,
    /// Slots ever used.
    used: usize,
}

// SAFETY: the table pointer is a shared mapping that is never unmapped; the struct lives under
// the watcher lock and only its holder writes the table.
unsafe impl Send for Watcher {}

/// A name registered with this process's watcher; [`release`](Self::release) takes it off.
#[derive(Debug)]
pub(crate) struct Registration {
    /// Its slot.
    slot: usize,
    /// The registering process (a fork child's inherited copy does nothing).
    pid: u32,
}

/// Registers `name` (without its leading slash, at most [`MAX_NAME`] bytes), created as the
/// file `identity`, to be unlinked if this process dies owning it; starts the watcher first
/// if this process has none.
pub(crate) fn register(name: &[u8], identity: FileIdentity) -> io::Result<Registration> {
    if name.len() > MAX_NAME {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    let pid = std::process::id();
    with_watcher(|state| {
        if state.as_ref().is_none_or(|w| w.pid != pid) {
            // A fork child's inherited state is its parent's: forgotten, not dropped (its pipe
            // end was closed by the fork handler, its table is the parent's, and its free list
            // may have been mid-update in another thread at the fork).
            std::mem::forget(state.take());
            *state = Some(start(pid)?);
        }
        let w = state.as_mut().expect("started above");
        let slot = match w.free.pop() {
            Some(s) => s,
            None if w.used < SLOTS => {
                w.used += 1;
                w.used - 1
            }
            None => return Err(io::Error::from_raw_os_error(libc::ENOSPC)),
        };
        let s = slot_ptr(w.table, slot);
        // SAFETY: `slot < SLOTS` lies in the table, which is never unmapped; the slot is free,
        // so the watcher does not read it (it reads only after this process is gone) and no
        // other thread writes it (we hold the lock).
        unsafe {
            std::ptr::copy_nonoverlapping(name.as_ptr(), (*s).name.as_mut_ptr(), name.len());
            (*s).len.store(name.len() as u32, Ordering::Relaxed);
            (*s).dev.store(identity.dev, Ordering::Relaxed);
            (*s).ino.store(identity.ino, Ordering::Relaxed);
            (*s).live.store(1, Ordering::Release);
            header(w.table).used.store(w.used as u64, Ordering::Release);
        }
        Ok(Registration { slot, pid })
    })
}

impl Registration {
    /// Takes the name off the watcher's list (it was unlinked, or is kept on purpose).
    pub(crate) fn release(self) {
        if self.pid != std::process::id() {
            return;
        }
        with_watcher(|state| {
            if let Some(w) = state.as_mut().filter(|w| w.pid == self.pid) {
                // SAFETY: the slot lies in the table, never unmapped; the lock is held.
                unsafe {
                    (*slot_ptr(w.table, self.slot))
                        .live
                        .store(0, Ordering::Release)
                };
                w.free.push(self.slot);
            }
        });
    }
}

/// The table's header.
///
/// # Safety
/// `table` is a live table mapping.
unsafe fn header<'a>(table: NonNull<u8>) -> &'a TableHeader {
    // SAFETY: the header is the table's first bytes, aligned (page-aligned mapping).
    unsafe { &*table.as_ptr().cast::<TableHeader>() }
}

/// Slot `i`'s address in `table`.
fn slot_ptr(table: NonNull<u8>, i: usize) -> *mut Slot {
    let first = size_of::<TableHeader>().next_multiple_of(64);
    table
        .as_ptr()
        .wrapping_add(first + i * size_of::<Slot>())
        .cast::<Slot>()
}

/// In a fork child: closes the inherited write end, so the child keeps no parent's watcher
/// waiting, and frees the state's lock, which a thread of the parent may have held at the
/// fork (async-signal-safe: one `close` and a store).
extern "C" fn forget_in_child() {
    WATCHER.locked.store(false, Ordering::Release);
    let fd = WRITE_FD.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: the child's copy of our own descriptor, owned by nothing else here.
        unsafe { libc::close(fd) };
    }
}

/// Starts this process's watcher.
fn start(pid: u32) -> io::Result<Watcher> {
    static ATFORK: std::sync::Once = std::sync::Once::new();
    let mut atfork_rc = 0;
    ATFORK.call_once(|| {
        // SAFETY: registers a handler that only closes a descriptor (async-signal-safe).
        atfork_rc = unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
    });
    if atfork_rc != 0 {
        return Err(io::Error::from_raw_os_error(atfork_rc));
    }
    // SAFETY: a fresh anonymous shared mapping chosen by the kernel.
    let table = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            TABLE_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if table == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let table = NonNull::new(table.cast::<u8>()).ok_or_else(|| io::Error::other("null mmap"))?;
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: our mapping, just made, referred to by nothing.
        unsafe { libc::munmap(table.as_ptr().cast(), TABLE_BYTES) };
        return Err(e);
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    // Set before the fork, so that a fork by another thread from now on drops the write end.
    // (No earlier value needs closing: a fork child's inherited one was closed by the
    // handler, and a process starts one watcher only.)
    WRITE_FD.store(write_fd, Ordering::Relaxed);
    // SAFETY: the child runs only async-signal-safe calls (`fork`, `_exit`, and `watch`).
    let child = unsafe { libc::fork() };
    if child < 0 {
        let e = io::Error::last_os_error();
        WRITE_FD.store(-1, Ordering::Relaxed);
        // SAFETY: our descriptors and mapping, referred to by nothing else.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
            libc::munmap(table.as_ptr().cast(), TABLE_BYTES);
        }
        return Err(e);
    }
    if child == 0 {
        // SAFETY: async-signal-safe calls only; the grandchild watches, the child leaves at
        // once so that the grandchild is reparented.
        unsafe {
            if libc::fork() == 0 {
                watch(read_fd, table);
            }
            libc::_exit(0);
        }
    }
    // SAFETY: our own read end (the watcher has its copy), and a wait for our own child.
    unsafe {
        libc::close(read_fd);
        let mut status = 0;
        while libc::waitpid(child, &mut status, 0) < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }
    Ok(Watcher {
        pid,
        table,
        free: Vec::new(),
        used: 0,
    })
}

/// The watcher's whole life: waits for EOF on `read_fd`, unlinks the live names of `table`
/// that still refer to the files created, and exits.
///
/// # Safety
/// Called in a freshly forked process, with the read end of the creator's pipe and the table
/// mapping; it allocates nothing and calls only async-signal-safe functions.
unsafe fn watch(read_fd: i32, table: NonNull<u8>) -> ! {
    // SAFETY: signal dispositions, descriptor closes, a chdir and reads of our own pipe.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        // Hold nothing of the creator's open: no pipe or socket end it lent a child may be kept
        // from its EOF by us. The standard streams go too (we print nothing).
        if read_fd > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, (read_fd - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (read_fd + 1) as u32, u32::MAX, 0u32);
        // Pin no mount.
        libc::chdir(c"/".as_ptr());
        let mut buf = [0u8; 64];
        loop {
            let n = libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len());
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            if n <= 0 {
                break;
            }
        }
        let used = (header(table).used.load(Ordering::Acquire) as usize).min(SLOTS);
        let mut path = [0u8; SHM_DIR.len() + MAX_NAME + 1];
        path[..SHM_DIR.len()].copy_from_slice(SHM_DIR);
        for i in 0..used {
            let s = slot_ptr(table, i);
            if (*s).live.load(Ordering::Acquire) != 1 {
                continue;
            }
            let len = ((*s).len.load(Ordering::Relaxed) as usize).min(MAX_NAME);
            std::ptr::copy_nonoverlapping(
                (*s).name.as_ptr(),
                path[SHM_DIR.len()..].as_mut_ptr(),
                len,
            );
            path[SHM_DIR.len() + len] = 0;
            let mut st: libc::stat = std::mem::zeroed();
            if libc::stat(path.as_ptr().cast(), &mut st) == 0
                && st.st_dev == (*s).dev.load(Ordering::Relaxed)
                && st.st_ino == (*s).ino.load(Ordering::Relaxed)
            {
                libc::unlink(path.as_ptr().cast());
            }
        }
        libc::_exit(0)
    }
}
