//! Out of descriptors: creating a pipe, queue or shared value is an error, not a crash, and
//! nothing is printed (ipc-channel used to print its assertion's panic before the error).

use std::time::Duration;

use mp_ipc::{Array, Error, Pipe, Queue};
use mp_process::{Process, StartMethod};

/// Lowers this process's descriptor limit to what it has open plus `spare`.
fn leave_only(spare: u64) {
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0) as u64;
    let limit = libc::rlimit {
        rlim_cur: open + spare,
        rlim_max: open + spare,
    };
    // SAFETY: setrlimit reads the struct we pass; lowering our own limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
}

/// Sends this process's stderr into a pipe, and returns the pipe's read end (non-blocking).
fn capture_stderr() -> i32 {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints; dup2 and fcntl take descriptor numbers.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK), 0);
        assert_eq!(libc::dup2(fds[1], 2), 2);
    }
    fds[0]
}

/// Whether anything was written to the captured stderr.
fn printed(read_end: i32) -> bool {
    let mut byte = 0u8;
    // SAFETY: reads at most one byte into `byte`, a valid writable location.
    unsafe { libc::read(read_end, (&raw mut byte).cast(), 1) > 0 }
}

/// Creates objects until the descriptors run out; exits 0 if that was an OS error for each
/// kind of object and nothing was printed, 3 for another error, 4 if something was printed (a
/// panic exits 1).
fn exhaust(_: ()) {
    let stderr = capture_stderr();
    leave_only(16);
    let mut kept = Vec::new();
    let mut failures = 0;
    for _ in 0..64 {
        match (Queue::<u32>::new(), Pipe(true), Array::<u64>::zeroed(8)) {
            (Ok(q), Ok(p), Ok(a)) => kept.push((q, p, a)),
            (q, p, a) => {
                for e in [q.err(), p.err(), a.err()].into_iter().flatten() {
                    // A shared value's lock fails inside mp-sync: its OS error, wrapped.
                    if !matches!(e, Error::Os(_) | Error::Sync(mp_sync::Error::Os(_))) {
                        std::process::exit(3);
                    }
                    failures += 1;
                }
                break;
            }
        }
    }
    drop(kept);
    if printed(stderr) {
        std::process::exit(4);
    }
    std::process::exit(if failures > 0 { 0 } else { 3 });
}

#[test]
fn creation_without_descriptors_left_is_an_error() {
    let mut p = Process::builder()
        .start_method(StartMethod::Spawn)
        .target(exhaust, ());
    p.start().unwrap();
    let code = p.join_timeout(Duration::from_secs(20)).unwrap();
    if code.is_none() {
        let _ = p.kill();
    }
    assert_eq!(
        code,
        Some(0),
        "the child saw typed errors, not a crash (3: another error; 4: something was printed)"
    );
}
