//! `RLock`: re-entrance by the owner, refusal of everyone else, and a killed owner.

mod common;

use std::time::Duration;

use common::{BOUND, spawn, within};
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
    // A level held through a live guard is not released behind it.
    assert!(matches!(rlock.release(), Err(Error::GuardAlive)));
    // Python style: an extra level, released by hand.
    rlock.acquire().unwrap().leak();
    rlock.release().unwrap();
    assert!(matches!(rlock.release(), Err(Error::GuardAlive)));
}

#[test]
fn a_killed_owner_at_depth_three_gives_owner_died() {
    let rlock = RLock::new().unwrap();
    let child = common::spawn_holding(|| {
        let a = rlock.acquire().unwrap();
        let b = rlock.acquire().unwrap();
        (a, b, rlock.acquire().unwrap())
    });
    child.kill();
    let died = within(Duration::from_secs(2), || rlock.acquire_timeout(BOUND)).unwrap_err();
    let guard = died.into_inner();
    // One level now, whatever the dead owner's depth was.
    drop(guard);
    spawn(|| i32::from(!matches!(rlock.try_acquire(), Ok(Some(_))))).join();
    child.wait_within(BOUND);
}
