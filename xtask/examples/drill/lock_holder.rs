//! The lock-holder drill, three parts per run: the issue-7 H/V/W sequence (a waiter chosen
//! by the holder's wake-up is killed before it re-arms the waiters bit: the next waiter must
//! still get the lock), a holder SIGKILLed while holding (the next owner gets `OwnerDied`), and
//! one of several contenders SIGKILLed at a random moment (the others always get the lock).

use std::thread;
use std::time::{Duration, Instant};

use mp_process::{Process, StartMethod};
use mp_sync::{Lock, Semaphore};

use crate::children::{self, BOUND};
use crate::findings::Findings;
use crate::probe;
use crate::rng::Rng;

/// How many processes contend in the third part.
const CONTENDERS: usize = 3;
/// How many times each contender takes the lock.
const ROUNDS: u32 = 3_000;

/// Runs the drill once.
pub(crate) fn run(method: StartMethod, rng: &mut Rng, findings: &mut Findings) {
    lost_wake_up(method, rng, findings);
    holder_dies_holding(method, rng, findings);
    contender_dies(method, rng, findings);
}

/// Takes the lock whatever its last holder did.
fn take(lock: &Lock) {
    match lock.acquire() {
        Ok(guard) => drop(guard),
        Err(died) => drop(died.into_inner()),
    }
}

/// V and W of the H/V/W sequence: says it is about to block, then takes the lock once.
fn acquire_once((lock, about_to_block): (Lock, Semaphore)) {
    let _ = about_to_block.release();
    take(&lock);
}

/// Starts `acquire_once` and returns once it sleeps in the lock's futex.
fn start_blocked_waiter(
    method: StartMethod,
    lock: &Lock,
    what: &str,
    findings: &mut Findings,
) -> Option<Process> {
    let about_to_block = Semaphore::new(0).ok()?;
    let p = children::start(
        method,
        acquire_once,
        (lock.clone(), about_to_block.clone()),
        what,
        findings,
    )?;
    let deadline = Instant::now() + BOUND;
    let blocked = about_to_block.acquire_timeout(BOUND)
        && p.pid()
            .is_some_and(|pid| probe::futex_waiting_by(pid, deadline));
    if !blocked {
        findings.fail(format!("{what} never blocked in acquire"));
    }
    Some(p)
}

/// H (this process) holds; V, then W, block in `acquire`; H SIGKILLs V, unlocks and at once
/// re-locks, holds until V is gone, then unlocks: W must get the lock.
fn lost_wake_up(method: StartMethod, rng: &mut Rng, findings: &mut Findings) {
    let Ok(lock) = Lock::new() else {
        return findings.fail("creating a lock".to_owned());
    };
    let Ok(held) = lock.acquire() else {
        return findings.fail("a fresh lock said its owner died".to_owned());
    };
    let Some(v) = start_blocked_waiter(method, &lock, "waiter-V", findings) else {
        return;
    };
    let Some(w) = start_blocked_waiter(method, &lock, "waiter-W", findings) else {
        return;
    };
    let _ = v.kill();
    spin(rng.duration(Duration::from_micros(2)));
    drop(held);
    // Re-take at once (the trylock path, which stores our tid without the waiters bit), and
    // hold while V exits: its exit-time wake sees an owner and is skipped.
    let again = lock.acquire_timeout(BOUND);
    let deadline = Instant::now() + BOUND;
    let _ = children::finish(&v, deadline, findings);
    match again {
        Ok(Some(guard)) => drop(guard),
        Err(died) => drop(died.into_inner()),
        Ok(None) => findings.hang("H could not re-take the lock".to_owned()),
    }
    children::finish_with(&w, 0, deadline, findings);
}

/// A holder: takes the lock, says so, and keeps it until killed.
fn hold_until_killed((lock, holding): (Lock, Semaphore)) {
    let _guard = match lock.acquire() {
        Ok(guard) => guard,
        Err(died) => died.into_inner(),
    };
    let _ = holding.release();
    loop {
        thread::sleep(Duration::from_secs(1));
    }
}

/// A holder SIGKILLed at a random moment while holding: the next owner gets `OwnerDied`.
fn holder_dies_holding(method: StartMethod, rng: &mut Rng, findings: &mut Findings) {
    let (Ok(lock), Ok(holding)) = (Lock::new(), Semaphore::new(0)) else {
        return findings.fail("creating a lock and a semaphore".to_owned());
    };
    let args = (lock.clone(), holding.clone());
    let Some(holder) = children::start(method, hold_until_killed, args, "holder", findings) else {
        return;
    };
    if !holding.acquire_timeout(BOUND) {
        findings.hang("the holder never took the lock".to_owned());
    }
    thread::sleep(rng.duration(Duration::from_millis(2)));
    let _ = holder.kill();
    let _ = children::finish(&holder, Instant::now() + BOUND, findings);
    match lock.acquire_timeout(BOUND) {
        Err(died) => drop(died.into_inner()),
        Ok(Some(_)) => {
            findings.fail("the next owner after a dead holder got no OwnerDied".to_owned())
        }
        Ok(None) => findings.hang("the lock of a dead holder was never handed on".to_owned()),
    }
}

/// A contender: says it started, then takes and releases the lock `rounds` times.
fn contend((lock, started, rounds): (Lock, Semaphore, u32)) {
    let _ = started.release();
    for _ in 0..rounds {
        take(&lock);
    }
}

/// One of several contenders SIGKILLed at a random moment: the others finish their rounds.
fn contender_dies(method: StartMethod, rng: &mut Rng, findings: &mut Findings) {
    let (Ok(lock), Ok(started)) = (Lock::new(), Semaphore::new(0)) else {
        return findings.fail("creating a lock and a semaphore".to_owned());
    };
    let contenders: Vec<Process> = (0..CONTENDERS)
        .filter_map(|i| {
            let args = (lock.clone(), started.clone(), ROUNDS);
            children::start(method, contend, args, &format!("contender-{i}"), findings)
        })
        .collect();
    if contenders.len() < CONTENDERS {
        return;
    }
    for _ in 0..CONTENDERS {
        if !started.acquire_timeout(BOUND) {
            findings.hang("a contender never started".to_owned());
        }
    }
    thread::sleep(rng.duration(Duration::from_millis(5)));
    let victim = rng.index(CONTENDERS);
    let _ = contenders[victim].kill();
    let deadline = Instant::now() + BOUND;
    for (i, p) in contenders.iter().enumerate() {
        if i == victim {
            let _ = children::finish(p, deadline, findings);
        } else {
            children::finish_with(p, 0, deadline, findings);
        }
    }
    match lock.acquire_timeout(BOUND) {
        Ok(Some(_)) | Err(_) => {}
        Ok(None) => findings.hang("the lock was never free after a contender died".to_owned()),
    }
}

/// Busy-waits for `d`: a sleep would round a few microseconds up to the timer slack.
fn spin(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}
