//! The barrier drill: SIGKILL one party at a random moment while the parties go round a
//! `Barrier`; every other party must get `BrokenBarrier` within its wait timeout (issue 7: they
//! blocked past their timeouts, forever, in the next round's drain).

use std::time::{Duration, Instant};

use mp_ipc::Value;
use mp_process::{Process, StartMethod};
use mp_sync::Barrier;

use crate::children::{self, BOUND};
use crate::findings::Findings;
use crate::probe;
use crate::rng::Rng;

/// How many parties the barrier has.
const PARTIES: usize = 3;
/// Each party's timeout for one `wait`.
const WAIT_TIMEOUT: Duration = Duration::from_secs(1);
/// Exit code of a party that got `BrokenBarrier`: the expected end of every survivor.
const BROKEN: i32 = 2;
/// Kill moments are drawn among this many first rounds.
const MOMENTS: u64 = 200;

/// A party: waits at the barrier round after round until it breaks; party 0 publishes how
/// many rounds have passed.
fn party((barrier, rounds, id): (Barrier, Value<u32>, usize)) {
    let mut passed = 0u32;
    loop {
        if barrier.wait_timeout(WAIT_TIMEOUT).is_err() {
            std::process::exit(BROKEN);
        }
        passed += 1;
        if id == 0 {
            rounds.set(passed);
        }
    }
}

/// Runs the drill once.
pub(crate) fn run(method: StartMethod, rng: &mut Rng, findings: &mut Findings) {
    let (Ok(barrier), Ok(rounds)) = (Barrier::new(PARTIES as u32), Value::new(0u32)) else {
        return findings.fail("creating a barrier and a counter".to_owned());
    };
    let parties: Vec<Process> = (0..PARTIES)
        .filter_map(|id| {
            let args = (barrier.clone(), rounds.clone(), id);
            children::start(method, party, args, &format!("party-{id}"), findings)
        })
        .collect();
    if parties.len() < PARTIES {
        barrier.abort();
        return;
    }
    let moment = rng.below(MOMENTS) as u32;
    if !probe::poll_until(Instant::now() + BOUND, || rounds.get() >= moment) {
        findings.hang(format!("the parties never reached round {moment}"));
    }
    let victim = rng.index(PARTIES);
    let _ = parties[victim].kill();
    // A survivor may have just begun a wait: its timeout, then some slack.
    let deadline = Instant::now() + WAIT_TIMEOUT + BOUND;
    for (i, p) in parties.iter().enumerate() {
        if i == victim {
            let _ = children::finish(p, deadline, findings);
        } else {
            children::finish_with(p, BROKEN, deadline, findings);
        }
    }
}
