//! The producer drill: SIGKILL one of the producers at a random moment mid-stream. The
//! survivors must finish (issue 7: a producer killed while waiting for the put lock stranded
//! the others through a lost wake-up) and no item may be lost or taken twice, but for the
//! killed producer's items after its last commit.

use mp_process::StartMethod;

use crate::findings::Findings;
use crate::rng::Rng;
use crate::stream::{ITEMS, PRODUCERS, Stream, Victim};

/// Runs the drill once.
pub(crate) fn run(method: StartMethod, rng: &mut Rng, findings: &mut Findings) {
    let Some(stream) = Stream::start(method, findings) else {
        return;
    };
    let victim = rng.index(PRODUCERS);
    let moment = rng.below(u64::from(ITEMS)) as u32;
    if stream.wait_for_progress(victim, moment, findings) {
        stream.kill(Victim::Producer(victim), findings);
    }
    stream.finish(Victim::Producer(victim), findings);
}
