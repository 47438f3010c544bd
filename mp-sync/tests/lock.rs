//! `Lock` across threads and forked processes: exclusion, timeouts, wrong releases, a killed
//! holder, and travelling inside ipc-channel messages.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{BOUND, shared_counters, spawn, wait_until, within};
use ipc_channel::ipc;
use mp_sync::{Error, Lock, Semaphore};

#[test]
fn acquire_try_and_locked() {
    let lock = Lock::new().unwrap();
    assert!(!lock.locked());
    let guard = lock.acquire().unwrap();
    assert!(lock.locked());
    // The holder itself: busy, not a deadlock, not a second guard.
    assert!(lock.try_acquire().unwrap().is_none());
    assert!(
        lock.acquire_timeout(Duration::from_millis(10))
            .unwrap()
            .is_none()
    );
    std::thread::scope(|s| {
        s.spawn(|| assert!(lock.try_acquire().unwrap().is_none()));
    });
    drop(guard);
    assert!(!lock.locked());
    assert!(lock.try_acquire().unwrap().is_some());
    assert!(!lock.locked(), "the try guard was dropped at once");
}

#[test]
fn acquire_timeout_waits_about_the_timeout() {
    let lock = Lock::new().unwrap();
    let held = shared_counters(2);
    let child = spawn(|| {
        let _g = lock.acquire().unwrap();
        held[0].store(1, Ordering::SeqCst);
        while held[1].load(Ordering::SeqCst) == 0 {
            std::hint::spin_loop();
        }
        0
    });
    wait_until(|| held[0].load(Ordering::SeqCst) == 1);
    let start = std::time::Instant::now();
    assert!(
        lock.acquire_timeout(Duration::from_millis(100))
            .unwrap()
            .is_none()
    );
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert!(start.elapsed() < Duration::from_secs(2));
    held[1].store(1, Ordering::SeqCst);
    child.join();
    // Free again once the child released it.
    assert!(lock.acquire_timeout(BOUND).unwrap().is_some());
}

#[test]
fn releasing_a_lock_not_held_is_an_error() {
    let lock = Lock::new().unwrap();
    assert!(matches!(lock.release(), Err(Error::NotOwner)));
    // Python style: acquire here, release there.
    lock.acquire().unwrap().leak();
    assert!(lock.locked());
    // Another thread may not release it.
    std::thread::scope(|s| {
        s.spawn(|| assert!(matches!(lock.release(), Err(Error::NotOwner))));
    });
    assert!(lock.locked());
    lock.release().unwrap();
    assert!(!lock.locked());
    assert!(matches!(lock.release(), Err(Error::NotOwner)));
}

#[test]
fn a_lock_held_through_a_live_guard_cannot_be_released_behind_it() {
    let lock = Lock::new().unwrap();
    let guard = lock.acquire().unwrap();
    // Releasing it here would let others in while `guard` is still in use.
    assert!(matches!(lock.release(), Err(Error::GuardAlive)));
    assert!(matches!(guard.lock().release(), Err(Error::GuardAlive)));
    assert!(lock.locked());
    drop(guard);
    assert!(!lock.locked());
    // A guard given up with `mem::forget` (not `leak`) cannot be told from a live one.
    std::mem::forget(lock.acquire().unwrap());
    assert!(matches!(lock.release(), Err(Error::GuardAlive)));
}

#[test]
fn a_leaked_level_of_a_dead_holder_is_not_the_next_holders() {
    let lock = Lock::new().unwrap();
    // A thread leaks its guard (to release later) and exits without releasing: the lock
    // comes to the next holder as OwnerDied, with the dead thread's leaked level stale.
    std::thread::scope(|s| {
        s.spawn(|| lock.acquire().unwrap().leak());
    });
    let guard = lock.acquire().unwrap_err().into_inner();
    assert!(matches!(lock.release(), Err(Error::GuardAlive)));
    drop(guard);
    assert!(!lock.locked());
}

#[test]
fn another_process_cannot_release_the_lock() {
    let lock = Lock::new().unwrap();
    let _guard = lock.acquire().unwrap();
    let child = spawn(|| {
        let refused = matches!(lock.release(), Err(Error::NotOwner));
        let still_busy = matches!(lock.try_acquire(), Ok(None));
        if refused && still_busy { 0 } else { 1 }
    });
    child.join();
    assert!(lock.locked());
}

#[test]
fn increments_under_the_lock_from_four_processes_sum_exactly() {
    let lock = Lock::new().unwrap();
    let counter = shared_counters(1);
    let children: Vec<_> = (0..4)
        .map(|_| {
            spawn(|| {
                for _ in 0..20_000 {
                    let _g = lock.acquire().unwrap();
                    // Deliberately a non-atomic read-modify-write.
                    let v = counter[0].load(Ordering::Relaxed);
                    counter[0].store(v + 1, Ordering::Relaxed);
                }
                0
            })
        })
        .collect();
    children.into_iter().for_each(common::Child::join);
    assert_eq!(counter[0].load(Ordering::SeqCst), 80_000);
}

/// A child takes the lock and keeps it until killed.
fn child_holding(lock: &Lock) -> common::Child {
    common::spawn_holding(|| lock.acquire().unwrap())
}

#[test]
fn killed_holder_gives_owner_died_then_the_lock_works_normally() {
    let lock = Lock::new().unwrap();
    let child = child_holding(&lock);
    assert!(lock.try_acquire().unwrap().is_none());
    child.kill();
    // Not reaped yet: the holder is a zombie, and its death must show all the same.
    let died = within(Duration::from_secs(2), || lock.acquire_timeout(BOUND))
        .expect_err("the next acquirer must learn that the holder died");
    let guard = died.into_inner();
    assert!(lock.locked());
    drop(guard);
    assert_eq!(
        child.wait_within(BOUND),
        common::Exit::Signal(nix::sys::signal::SIGKILL)
    );
    // Recovered: plain acquisitions from here on, in this and another process.
    drop(lock.acquire().expect("consistent again"));
    spawn(|| i32::from(lock.acquire().is_err())).join();
}

#[test]
fn a_blocked_waiter_is_woken_when_the_holder_is_killed() {
    let lock = Lock::new().unwrap();
    let child = child_holding(&lock);
    let pid = child.pid();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
    });
    let died = within(Duration::from_secs(3), || lock.acquire_timeout(BOUND)).unwrap_err();
    drop(died.into_inner());
    child.wait_within(BOUND);
}

#[test]
fn owner_died_stays_until_someone_recovers() {
    let lock = Lock::new().unwrap();
    let child = child_holding(&lock);
    child.kill();
    child.wait_within(BOUND);
    // Dropping the OwnerDied (without into_inner) releases but keeps the mark.
    assert!(lock.acquire().is_err());
    assert!(!lock.locked());
    assert!(
        lock.try_acquire().is_err(),
        "still reported to the next acquirer"
    );
    let Err(died) = lock.acquire() else {
        panic!("owner death forgotten")
    };
    drop(died.into_inner());
    assert!(lock.acquire().is_ok());
}

#[test]
fn a_thread_that_exits_holding_the_lock_is_detected_too() {
    let lock = Lock::new().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| std::mem::forget(lock.acquire().unwrap()));
    });
    assert!(lock.acquire_timeout(BOUND).is_err());
}

#[test]
fn a_lock_created_after_the_fork_reaches_the_child_in_a_message() {
    let (tx, rx) = ipc::channel::<Lock>().unwrap();
    let flags = shared_counters(2);
    let child = spawn(|| {
        let Ok(lock) = rx.recv() else { return 2 };
        let _g = lock.acquire().unwrap();
        flags[0].store(1, Ordering::SeqCst);
        while flags[1].load(Ordering::SeqCst) == 0 {
            std::hint::spin_loop();
        }
        0
    });
    let lock = Lock::new().unwrap();
    tx.send(lock.clone()).unwrap();
    wait_until(|| flags[0].load(Ordering::SeqCst) == 1);
    assert!(lock.locked(), "the child holds the very same lock");
    assert!(lock.try_acquire().unwrap().is_none());
    flags[1].store(1, Ordering::SeqCst);
    child.join();
    assert!(lock.acquire_timeout(BOUND).unwrap().is_some());
}

#[test]
fn a_received_copy_maps_the_same_lock() {
    let (tx, rx) = ipc::channel::<Lock>().unwrap();
    let lock = Lock::new().unwrap();
    tx.send(lock.clone()).unwrap();
    let copy = rx.recv().unwrap();
    let _g = copy.acquire().unwrap();
    assert!(lock.locked());
}

#[test]
fn a_segment_of_another_kind_is_refused() {
    let (tx, rx) = ipc::channel::<Semaphore>().unwrap();
    let rx = rx.to_opaque().to::<Lock>();
    tx.send(Semaphore::new(1).unwrap()).unwrap();
    assert!(rx.recv().is_err());
}

/// The lost wake-up of issue 7: H holds; V then W block in `acquire`; H SIGKILLs V, unlocks
/// (glibc wakes one waiter: V, dying) and at once re-locks (storing its tid without the
/// waiters bit); V's exit-time wake is skipped because the word shows an owner; H releases
/// (seeing no waiters bit, it wakes nobody). W must get the free lock all the same.
#[test]
fn a_waiter_killed_after_being_chosen_by_the_wake_strands_nobody() {
    let lock = Lock::new().unwrap();
    for round in 0..8 {
        let got = shared_counters(1);
        let guard = lock.acquire().unwrap();
        let v = spawn(|| {
            let _g = lock.acquire();
            0
        });
        common::wait_until_asleep(v.pid());
        let w = spawn(|| match lock.acquire() {
            Ok(_g) => {
                got[0].store(1, Ordering::SeqCst);
                0
            }
            Err(_) => 1,
        });
        common::wait_until_asleep(w.pid());
        v.kill();
        drop(guard);
        let again = lock.acquire().unwrap();
        // V exits (and the kernel handles its pending robust-list entry) while H holds.
        assert_eq!(
            v.wait_within(BOUND),
            common::Exit::Signal(nix::sys::signal::SIGKILL)
        );
        drop(again);
        assert_eq!(
            w.wait_within(BOUND),
            common::Exit::Code(0),
            "round {round}: W never got the free lock"
        );
        assert_eq!(got[0].load(Ordering::SeqCst), 1);
    }
}
