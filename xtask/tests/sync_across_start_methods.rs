//! mp-sync primitives passed as ordinary arguments to children under every mp-process start
//! method: the cross-crate tests that mp-sync cannot hold itself (it depends on no mp crate).

use std::time::Duration;

use ipc_channel::ipc::{self, IpcSender, IpcSharedMemory};
use mp_process::{Process, StartMethod};
use mp_sync::{Barrier, Condition, Event, Lock, Semaphore};

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
