//! The consumer drill: SIGKILL one of the consumers at a random moment mid-stream. The other
//! consumers must drain the queue; at most the item the killed one had taken and not yet
//! counted is missing, and none is taken twice.

use mp_process::StartMethod;

use crate::findings::Findings;
use crate::rng::Rng;
use crate::stream::{CONSUMERS, ITEMS, PRODUCERS, Stream, Victim};

/// Runs the drill once.
pub(crate) fn run(method: StartMethod, rng: &mut Rng, findings: &mut Findings) {
    let Some(stream) = Stream::start(method, findings) else {
        return;
    };
    let victim = rng.index(CONSUMERS);
    // The moment: when a random producer has put a random share of its items.
    let clock = rng.index(PRODUCERS);
    let moment = rng.below(u64::from(ITEMS)) as u32;
    if stream.wait_for_progress(clock, moment, findings) {
        stream.kill(Victim::Consumer(victim), findings);
    }
    stream.finish(Victim::Consumer(victim), findings);
}
