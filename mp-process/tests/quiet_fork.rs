//! A quiet thread (`QuietThread`) woken while another thread forks: a fork that counted it as
//! quiet never catches it running. A parked thread wakes again and again (short timeouts, at
//! every point of the forks); the forker starts fork children without
//! `allow_fork_with_threads` in a loop, and each child looks at its copy of the flag the woken
//! thread sets while it runs. Without a
//! harness (libtest's threads would be counted); bounded by an alarm.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use mp_process::{Process, QuietThread, StartMethod};

/// Set by the parked thread while it runs (between its waits).
static RUNNING: AtomicBool = AtomicBool::new(false);
/// Never set: the parked thread wakes by its timeouts.
static NOTHING: Mutex<()> = Mutex::new(());
static NEVER: Condvar = Condvar::new();
/// Wake-ups the parked thread took.
static TAKEN: AtomicU64 = AtomicU64::new(0);

/// The parked thread: waits quiet a little (a different while each time, so that it wakes at
/// any point of the forks), then runs a little with the flag set.
fn parked() {
    let mut guard = NOTHING.lock().unwrap();
    for round in 0u64.. {
        let quiet = QuietThread::enter();
        let pause = Duration::from_micros(20 + (round * 37) % 400);
        guard = NEVER.wait_timeout(guard, pause).unwrap().0;
        drop(quiet);
        RUNNING.store(true, Ordering::SeqCst);
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_micros(30) {
            std::hint::spin_loop();
        }
        RUNNING.store(false, Ordering::SeqCst);
        TAKEN.fetch_add(1, Ordering::SeqCst);
    }
}

fn main() {
    nix::unistd::alarm::set(300);
    std::thread::spawn(parked);
    let (mut forked, mut refused, mut caught) = (0u32, 0u32, 0u32);
    let started = Instant::now();
    while forked < 500 && started.elapsed() < Duration::from_secs(60) {
        let mut child = Process::builder()
            .start_method(StartMethod::Fork)
            .closure(|| std::process::exit(i32::from(RUNNING.load(Ordering::SeqCst))));
        match child.start() {
            Ok(()) => {
                forked += 1;
                match child.join_timeout(Duration::from_secs(30)) {
                    Ok(Some(0)) => {}
                    Ok(Some(1)) => caught += 1,
                    other => panic!("a fork child: {other:?}"),
                }
            }
            Err(mp_process::Error::ForkWithThreads { .. }) => refused += 1,
            Err(error) => panic!("a fork start: {error}"),
        }
    }
    eprintln!(
        "forked {forked}, refused {refused}, woken {}, caught running {caught}",
        TAKEN.load(Ordering::SeqCst)
    );
    assert_eq!(
        caught, 0,
        "a fork child caught a thread counted quiet running"
    );
    assert!(
        forked > 0,
        "no fork was allowed with the parked thread quiet"
    );
    println!("quiet_fork: passed");
}
