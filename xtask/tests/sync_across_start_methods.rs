//! mp-sync primitives passed as ordinary arguments to children under every mp-process start
//! method: the cross-crate tests that mp-sync cannot hold itself (it depends on no mp crate).

use std::time::Duration;

use ipc_channel::ipc::{self, IpcSender, IpcSharedMemory};
use mp_process::{Process, StartMethod};
use mp_sync::{Barrier, BrokenBarrier, Condition, Event, Lock, RLock, Semaphore};

#[path = "../../test-support/bounded.rs"]
mod bounded;
#[path = "../../test-support/process.rs"]
mod process;

use bounded::BOUND;
use process::{builder, join};

/// A counter in shared memory, read and written non-atomically: only the lock keeps it exact.
fn bump(counter: &mut IpcSharedMemory) {
    // SAFETY: every process touches the counter only while holding the lock (or, in the parent,
    // after every child has exited), so no access races; the segment is 8 bytes, aligned.
    unsafe {
        let word = counter.deref_mut().as_mut_ptr().cast::<u64>();
        word.write_volatile(word.read_volatile() + 1);
    }
}

fn read(counter: &IpcSharedMemory) -> u64 {
    u64::from_ne_bytes(counter[..8].try_into().unwrap())
}

fn increment_under_lock((lock, mut counter, n): (Lock, IpcSharedMemory, u32)) {
    for _ in 0..n {
        let _guard = lock.acquire().expect("no holder died");
        bump(&mut counter);
    }
}

#[test]
fn a_lock_keeps_a_counter_exact_under_every_method() {
    let lock = Lock::new().unwrap();
    let counter = IpcSharedMemory::from_byte(0, 8);
    let mut children: Vec<Process> = StartMethod::ALL
        .iter()
        .flat_map(|&m| [m, m])
        .map(|m| builder(m).target(increment_under_lock, (lock.clone(), counter.clone(), 2_000)))
        .collect();
    for p in &mut children {
        p.start().unwrap();
    }
    for p in &children {
        assert_eq!(join(p), 0);
    }
    assert_eq!(read(&counter), 6 * 2_000);
}

fn hold_lock_forever((lock, held): (Lock, Event)) {
    let guard = lock.acquire().expect("free");
    held.set();
    std::thread::sleep(Duration::from_secs(600));
    drop(guard);
}

#[test]
fn a_killed_holder_under_every_method_tells_the_next_owner() {
    for method in StartMethod::ALL {
        let lock = Lock::new().unwrap();
        let held = Event::new().unwrap();
        let mut p = builder(method).target(hold_lock_forever, (lock.clone(), held.clone()));
        p.start().unwrap();
        assert!(
            held.wait_timeout(BOUND),
            "{method:?}: the child took the lock"
        );
        p.kill().unwrap();
        assert_eq!(join(&p), -libc::SIGKILL);
        match lock.acquire_timeout(BOUND) {
            Err(died) => drop(died.into_inner()),
            Ok(got) => panic!("{method:?}: expected OwnerDied, got {:?}", got.is_some()),
        }
        // Recovered: the lock works normally again.
        let again = lock.try_acquire().expect("consistent again");
        assert!(again.is_some(), "{method:?}: free after recovery");
    }
}

fn signal_back((ping, pong, rounds): (Semaphore, Event, u32)) {
    for _ in 0..rounds {
        assert!(ping.acquire_timeout(BOUND));
    }
    pong.set();
}

#[test]
fn semaphores_and_events_reach_every_method() {
    for method in StartMethod::ALL {
        let ping = Semaphore::new(0).unwrap();
        let pong = Event::new().unwrap();
        let mut p = builder(method).target(signal_back, (ping.clone(), pong.clone(), 50));
        p.start().unwrap();
        for _ in 0..50 {
            ping.release().unwrap();
        }
        assert!(pong.wait_timeout(BOUND), "{method:?}");
        assert_eq!(join(&p), 0);
    }
}

fn meet((barrier, tx): (Barrier, IpcSender<usize>)) {
    tx.send(barrier.wait_timeout(BOUND).expect("not broken"))
        .unwrap();
}

#[test]
fn a_barrier_spans_children_of_every_method() {
    let barrier = Barrier::new(4).unwrap();
    let (tx, rx) = ipc::channel().unwrap();
    let mut children: Vec<Process> = StartMethod::ALL
        .iter()
        .map(|&m| builder(m).target(meet, (barrier.clone(), tx.clone())))
        .collect();
    for p in &mut children {
        p.start().unwrap();
    }
    let mut indices = vec![barrier.wait_timeout(BOUND).expect("not broken")];
    for _ in 0..3 {
        indices.push(rx.try_recv_timeout(BOUND).unwrap());
    }
    for p in &children {
        assert_eq!(join(p), 0);
    }
    indices.sort();
    assert_eq!(indices, vec![0, 1, 2, 3], "a distinct index per party");
}

fn set_flag_and_notify((cond, mut flag): (Condition, IpcSharedMemory)) {
    let guard = cond.acquire().expect("free");
    bump(&mut flag);
    cond.notify_all();
    drop(guard);
}

#[test]
fn a_condition_is_notified_across_every_method() {
    for method in StartMethod::ALL {
        let cond = Condition::new().unwrap();
        let flag = IpcSharedMemory::from_byte(0, 8);
        let guard = cond.acquire().expect("free");
        let mut p = builder(method).target(set_flag_and_notify, (cond.clone(), flag.clone()));
        p.start().unwrap();
        let (guard, satisfied) = cond
            .wait_for_timeout(guard, BOUND, || read(&flag) == 1)
            .expect("no holder died");
        assert!(satisfied, "{method:?}: woken by the child's notify");
        drop(guard);
        assert_eq!(join(&p), 0);
    }
}

fn hold_rlock_twice_until((lock, held, release): (RLock, Event, Event)) {
    let outer = lock.acquire().expect("free");
    let inner = lock.acquire().expect("re-entrant");
    held.set();
    assert!(release.wait_timeout(BOUND), "released by the parent");
    drop(inner);
    drop(outer);
}

#[test]
fn an_rlock_held_in_a_child_is_locked_for_the_parent() {
    for method in StartMethod::ALL {
        let lock = RLock::new().unwrap();
        let (held, release) = (Event::new().unwrap(), Event::new().unwrap());
        assert!(!lock.locked());
        let mut p = builder(method).target(
            hold_rlock_twice_until,
            (lock.clone(), held.clone(), release.clone()),
        );
        p.start().unwrap();
        assert!(held.wait_timeout(BOUND), "{method:?}: the child took it");
        assert!(lock.locked(), "{method:?}: held by the child");
        release.set();
        assert_eq!(join(&p), 0);
        assert!(
            !lock.locked(),
            "{method:?}: free after the child's last release"
        );
    }
}

fn set_flag_and_notify_recursive((cond, mut flag): (Condition<RLock>, IpcSharedMemory)) {
    let guard = cond.acquire().expect("free");
    bump(&mut flag);
    cond.notify_all();
    drop(guard);
}

#[test]
fn waiting_on_a_condition_over_an_rlock_releases_every_level_under_every_method() {
    for method in StartMethod::ALL {
        let cond = Condition::recursive().unwrap();
        let flag = IpcSharedMemory::from_byte(0, 8);
        let outer = cond.acquire().expect("free");
        let middle = cond.acquire().expect("re-entrant");
        let inner = cond.acquire().expect("re-entrant");
        let mut p =
            builder(method).target(set_flag_and_notify_recursive, (cond.clone(), flag.clone()));
        p.start().unwrap();
        // The child can take the lock only if the wait released all three levels.
        let (inner, satisfied) = cond
            .wait_for_timeout(inner, BOUND, || read(&flag) == 1)
            .expect("no holder died");
        assert!(satisfied, "{method:?}: woken by the child's notify");
        assert_eq!(join(&p), 0);
        // All three levels are back: the lock stays held until the last guard goes.
        drop(inner);
        drop(middle);
        assert!(cond.lock().locked(), "{method:?}: one level still held");
        drop(outer);
        assert!(
            !cond.lock().locked(),
            "{method:?}: free after the last level"
        );
    }
}

fn wait_alone(barrier: Barrier) {
    // No other party comes: the barrier's own default timeout must end the wait.
    std::process::exit(match barrier.wait() {
        Err(BrokenBarrier) => 0,
        Ok(_) => 3,
    })
}

#[test]
fn a_barrier_default_timeout_bounds_wait_under_every_method() {
    for method in StartMethod::ALL {
        let barrier = Barrier::with_timeout(2, None, Duration::from_millis(100)).unwrap();
        assert_eq!(barrier.timeout(), Some(Duration::from_millis(100)));
        let mut p = builder(method).target(wait_alone, barrier.clone());
        p.start().unwrap();
        assert_eq!(join(&p), 0, "{method:?}: wait() timed out with the default");
        assert!(barrier.broken(), "{method:?}: the timeout broke it");
    }
    let built = Barrier::builder(1)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert_eq!(built.timeout(), Some(Duration::from_secs(5)));
    assert_eq!(built.wait(), Ok(0), "one party: no wait at all");
}
