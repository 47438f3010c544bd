//! Out of descriptors: creating a primitive is an error, not a crash.
//! (Its own test binary: the child it forks lowers its descriptor limit.)

mod common;

use common::{BOUND, Exit, spawn};
use mp_sync::{Error, Lock};

#[test]
fn creating_primitives_without_descriptors_left_is_an_error() {
    let child = spawn(|| {
        let open = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count())
            .unwrap_or(0) as u64;
        let limit = libc::rlimit {
            rlim_cur: open + 8,
            rlim_max: open + 8,
        };
        // SAFETY: setrlimit reads the struct we pass; lowering our own limit is always allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return 2;
        }
        let mut locks = Vec::new();
        for _ in 0..64 {
            match Lock::new() {
                Ok(lock) => locks.push(lock),
                Err(Error::Os(e))
                    if e.raw_os_error() == Some(libc::EMFILE)
                        || e.to_string().contains("segment") =>
                {
                    // The locks made before the limit still work.
                    return if locks
                        .iter()
                        .all(|l| l.try_acquire().is_ok_and(|g| g.is_some()))
                    {
                        0
                    } else {
                        4
                    };
                }
                Err(_) => return 3,
            }
        }
        5
    });
    assert_eq!(child.wait_within(BOUND), Exit::Code(0));
}
