//! `RLock`: re-entrance by the owner, refusal of everyone else, and a killed owner.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{BOUND, shared_counters, spawn, wait_until, within};
use mp_sync::{Error, RLock};

#[test]
fn the_owner_reenters_and_must_release_every_level() {
    let rlock = RLock::new().unwrap();
    let outer = rlock.acquire().unwrap();
    let inner = rlock.acquire().unwrap();
    let third = rlock
        .try_acquire()
        .unwrap()
        .expect("owner re-enters without waiting");
    drop(third);
    drop(inner);
    // Still held at one level: another process cannot take it.
    spawn(|| i32::from(!matches!(rlock.try_acquire(), Ok(None)))).join();
    drop(outer);
    spawn(|| i32::from(!matches!(rlock.try_acquire(), Ok(Some(_))))).join();
}

#[test]
fn a_release_by_a_non_owner_is_an_error() {
    let rlock = RLock::new().unwrap();
    assert!(matches!(rlock.release(), Err(Error::NotOwner)));
    let _g = rlock.acquire().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(matches!(rlock.release(), Err(Error::NotOwner)));
            assert!(
                rlock
                    .acquire_timeout(Duration::from_millis(20))
                    .unwrap()
                    .is_none()
            );
        });
    });
    spawn(|| i32::from(!matches!(rlock.release(), Err(Error::NotOwner)))).join();
    // Python style: an extra level, released by hand.
    std::mem::forget(rlock.acquire().unwrap());
    rlock.release().unwrap();
}

#[test]
fn a_killed_owner_at_depth_three_gives_owner_died() {
    let rlock = RLock::new().unwrap();
    let flag = shared_counters(1);
    let child = spawn(|| {
        let _a = rlock.acquire().unwrap();
        let _b = rlock.acquire().unwrap();
        let _c = rlock.acquire().unwrap();
        flag[0].store(1, Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    wait_until(|| flag[0].load(Ordering::SeqCst) == 1);
    child.kill();
    let died = within(Duration::from_secs(2), || rlock.acquire_timeout(BOUND)).unwrap_err();
    let guard = died.into_inner();
    // One level now, whatever the dead owner's depth was.
    drop(guard);
    spawn(|| i32::from(!matches!(rlock.try_acquire(), Ok(Some(_))))).join();
    child.wait_within(BOUND);
}
