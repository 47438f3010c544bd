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
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

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
    holder: AtomicU32::new(FREE),
    handler_registered: UnsafeCell::new(false),
    state: UnsafeCell::new(None),
};

/// [`WatcherCell::holder`] when no thread holds the lock.
const FREE: u32 = 0;

/// [`WatcherCell::holder`] in a fork child whose parent's thread held the lock at the fork
/// (set by the fork handler): no process's id, so never taken for the child's own.
const HELD_BEFORE_FORK: u32 = u32::MAX;

/// The watcher state under a lock that a fork child can take over: a fork taken while another
/// thread holds it would otherwise leave the child's copy locked forever (no thread of the
/// child will release it). The lock word holds the holder's process id, so a child that finds
/// a value that is not its own (its parent's id, or [`HELD_BEFORE_FORK`]) knows the holder is
/// gone with the fork, takes the lock, and discards the state unread (the holder may have
/// been mid-update). That needs no fork handler: a fork that lands while the process's first
/// registration holds the lock and waits (in `pthread_atfork`, for glibc's fork lock, as long
/// as another thread's fork takes) gives a child with no handler, which then spun forever.
struct WatcherCell {
    /// [`FREE`], or the id of the process whose thread uses the state.
    holder: AtomicU32,
    /// Whether the fork handler is registered (in this process, or before the fork that made
    /// it); under the lock. A child that took the lock over may register it again, which is
    /// harmless: the handler may run twice.
    handler_registered: UnsafeCell<bool>,
    /// The watcher, if this process (or, in a fork child, its parent) started one.
    state: UnsafeCell<Option<Watcher>>,
}

// SAFETY: `state` and `handler_registered` are only reached through `with_watcher`, which
// holds the lock.
unsafe impl Sync for WatcherCell {}

/// Runs `f` on the watcher state, under its lock (held for microseconds, or for the fork of a
/// new watcher: waiters yield).
fn with_watcher<R>(f: impl FnOnce(&mut Option<Watcher>, &mut bool) -> R) -> R {
    let me = std::process::id();
    loop {
        match WATCHER
            .holder
            .compare_exchange_weak(FREE, me, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => break,
            Err(holder) if holder != FREE && holder != me => {
                // Held by a thread of the process this one was forked from: take it over.
                if WATCHER
                    .holder
                    .compare_exchange(holder, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    // SAFETY: we hold the lock now; the inherited state may be torn, so it is
                    // overwritten without being read or dropped (it is the parent's: its pipe
                    // end was closed at the fork or never made, its table is the parent's).
                    unsafe { WATCHER.state.get().write(None) };
                    break;
                }
            }
            Err(_) => std::thread::yield_now(),
        }
    }
    /// Unlocks when dropped, a panic included.
    struct Unlock;
    impl Drop for Unlock {
        fn drop(&mut self) {
            WATCHER.holder.store(FREE, Ordering::Release);
        }
    }
    let _unlock = Unlock;
    // SAFETY: the lock, taken above and released by `_unlock`, makes these the only references.
    unsafe {
        f(
            &mut *WATCHER.state.get(),
            &mut *WATCHER.handler_registered.get(),
        )
    }
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
    with_watcher(|state, handler_registered| {
        if state.as_ref().is_none_or(|w| w.pid != pid) {
            // A fork child's inherited state is its parent's: forgotten, not dropped (its pipe
            // end was closed by the fork handler, its table is the parent's).
            std::mem::forget(state.take());
            *state = Some(start(pid, handler_registered)?);
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
        with_watcher(|state, _| {
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
/// waiting, and marks the state's lock, if a thread of the parent held it at the fork, as
/// held by no process of this id (async-signal-safe: one `close`, a compare-and-swap and a
/// store).
extern "C" fn forget_in_child() {
    let holder = WATCHER.holder.load(Ordering::Relaxed);
    if holder != FREE {
        let _ = WATCHER.holder.compare_exchange(
            holder,
            HELD_BEFORE_FORK,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
    let fd = WRITE_FD.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: the child's copy of our own descriptor, owned by nothing else here.
        unsafe { libc::close(fd) };
    }
}

/// Starts this process's watcher; registers the fork handler first unless
/// `handler_registered` says it is (a flag under the watcher lock, not a `Once`: a fork child
/// of a process whose thread was inside a `Once` would wait for it forever).
fn start(pid: u32, handler_registered: &mut bool) -> io::Result<Watcher> {
    if !*handler_registered {
        // SAFETY: registers a handler that only closes a descriptor and stores to atomics
        // (async-signal-safe).
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        *handler_registered = true;
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::{FileIdentity, register, with_watcher};

    /// Set in the re-executed test process, which runs the fork in a fresh process.
    const FRESH: &str = "MP_IPC_TEST_SHM_WATCHER_FRESH";

    /// How long the fork child may take to register (it would spin forever on a held lock).
    const CHILD_SECONDS: u32 = 10;

    /// Forks while another thread holds the watcher lock; the child registers a name (which
    /// starts its own watcher) and exits. Returns the child's wait status.
    fn fork_while_a_thread_holds_the_lock() -> i32 {
        let (held_tx, held_rx) = mpsc::channel();
        let (forked_tx, forked_rx) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            with_watcher(|_, _| {
                held_tx.send(()).unwrap();
                let _ = forked_rx.recv();
            })
        });
        held_rx.recv().unwrap();
        // SAFETY: the child sets an alarm (its bound), registers a name of no file (the
        // allocator is fork-safe in glibc; the lock is what is tested) and leaves with `_exit`.
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork failed");
        if child == 0 {
            // SAFETY: see above.
            unsafe {
                libc::alarm(CHILD_SECONDS);
                let name = format!("mp_test_no_such_name_{}", std::process::id());
                let code = match register(name.as_bytes(), FileIdentity { dev: 0, ino: 0 }) {
                    Ok(_) => 0,
                    Err(_) => 2,
                };
                libc::_exit(code);
            }
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked; `status` is a valid out-pointer.
        let reaped = unsafe { libc::waitpid(child, &mut status, 0) };
        assert_eq!(reaped, child);
        forked_tx.send(()).unwrap();
        holder.join().unwrap();
        status
    }

    /// Fails unless `status` is a clean exit.
    fn assert_registered(status: i32, case: &str) {
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{case}: the fork child did not register (wait status {status:#x}; \
             SIGALRM: it spun on its parent's lock)"
        );
    }

    #[test]
    fn a_fork_child_of_a_process_whose_thread_holds_the_lock_registers() {
        if std::env::var_os(FRESH).is_some() {
            assert_registered(fork_while_a_thread_holds_the_lock(), "fresh process");
            return;
        }
        // In a fresh process first: no fork handler is registered there yet (what hung, once
        // in some 300 runs of the shared_memory tests, when the first registration waited for
        // glibc's fork lock while another thread forked).
        let mut fresh = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sys::shm_watcher::tests::a_fork_child_of_a_process_whose_thread_holds_the_lock_registers",
                "--test-threads",
                "1",
            ])
            .env(FRESH, "1")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = fresh.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = fresh.kill();
                panic!("the fresh process did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "fresh process: {status}");
        // Then here, where the handler is registered (this process registered a name).
        let name = format!("mp_test_no_such_name_{}", std::process::id());
        register(name.as_bytes(), FileIdentity { dev: 0, ino: 0 })
            .unwrap()
            .release();
        assert_registered(fork_while_a_thread_holds_the_lock(), "registered process");
    }
}
