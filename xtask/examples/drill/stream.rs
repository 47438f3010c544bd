//! The item stream of the producer and consumer drills: producers put numbered items on one
//! `Queue`, consumers tally each item they take in their own shared array, so that what a
//! killed consumer took is still known after its death.

use std::time::{Duration, Instant};

use mp_ipc::{Array, Queue, Value};
use mp_process::{Process, StartMethod};

use crate::children::{self, BOUND};
use crate::findings::Findings;
use crate::probe;

/// How many producers put items.
pub(crate) const PRODUCERS: usize = 4;
/// How many items each producer puts.
pub(crate) const ITEMS: u32 = 10_000;
/// How many consumers take them.
pub(crate) const CONSUMERS: usize = 2;
/// The item that tells a consumer to stop.
const STOP: u32 = u32::MAX;
/// A producer publishes its progress every this many items.
const PROGRESS_EVERY: u32 = 32;
/// How long the kill waits for its victim to sleep in a futex wait before it strikes anyway.
const FUTEX_WAIT_PATIENCE: Duration = Duration::from_millis(2);
/// Exit code of a child whose queue call failed.
const QUEUE_FAILED: i32 = 3;
/// Exit code of a consumer that took an item no producer puts.
const FOREIGN_ITEM: i32 = 4;

/// Which process the drill kills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Victim {
    /// Producer `i`.
    Producer(usize),
    /// Consumer `i`.
    Consumer(usize),
}

/// Producer `id`: puts items `id * ITEMS ..` in order, publishing how far it got.
fn produce((queue, progress, id): (Queue<u32>, Value<u32>, u32)) {
    for seq in 0..ITEMS {
        if queue.put(id * ITEMS + seq).is_err() {
            std::process::exit(QUEUE_FAILED);
        }
        if seq % PROGRESS_EVERY == 0 {
            progress.set(seq);
        }
    }
    progress.set(ITEMS);
}

/// A consumer: takes items until [`STOP`], counting each in its tally.
fn consume((queue, tally): (Queue<u32>, Array<u32>)) {
    loop {
        match queue.get() {
            Ok(STOP) => return,
            Ok(item) => match tally.lock().get_mut(item as usize) {
                Some(count) => *count += 1,
                None => std::process::exit(FOREIGN_ITEM),
            },
            Err(_) => std::process::exit(QUEUE_FAILED),
        }
    }
}

/// A running stream.
pub(crate) struct Stream {
    /// The queue every producer and consumer holds.
    queue: Queue<u32>,
    /// Each consumer's count of each item taken, indexed by item.
    tallies: Vec<Array<u32>>,
    /// Each producer's last published sequence number.
    progress: Vec<Value<u32>>,
    /// The producers, by id.
    producers: Vec<Process>,
    /// The consumers.
    consumers: Vec<Process>,
}

impl Stream {
    /// Creates the queue and starts the consumers and producers under `method`.
    pub(crate) fn start(method: StartMethod, findings: &mut Findings) -> Option<Stream> {
        let shared = (|| {
            let queue = Queue::<u32>::new()?;
            let tallies = (0..CONSUMERS)
                .map(|_| Array::<u32>::zeroed(PRODUCERS * ITEMS as usize))
                .collect::<Result<Vec<_>, _>>()?;
            let progress = (0..PRODUCERS)
                .map(|_| Value::new(0u32))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, mp_ipc::Error>((queue, tallies, progress))
        })();
        let (queue, tallies, progress) = match shared {
            Ok(shared) => shared,
            Err(e) => {
                findings.fail(format!("creating the queue and tallies: {e}"));
                return None;
            }
        };
        let consumers = tallies
            .iter()
            .enumerate()
            .filter_map(|(i, tally)| {
                let args = (queue.clone(), tally.clone());
                children::start(method, consume, args, &format!("consumer-{i}"), findings)
            })
            .collect::<Vec<_>>();
        let producers = progress
            .iter()
            .enumerate()
            .filter_map(|(i, progress)| {
                let args = (queue.clone(), progress.clone(), i as u32);
                children::start(method, produce, args, &format!("producer-{i}"), findings)
            })
            .collect::<Vec<_>>();
        if consumers.len() < CONSUMERS || producers.len() < PRODUCERS {
            return None; // already recorded; dropping the handles reaps what started
        }
        Some(Stream {
            queue,
            tallies,
            progress,
            producers,
            consumers,
        })
    }

    /// Waits until producer `i` has put at least `seq` items (or finished); `false`, recorded
    /// as a hang, if it does not get there within the bound.
    pub(crate) fn wait_for_progress(&self, i: usize, seq: u32, findings: &mut Findings) -> bool {
        let reached = probe::poll_until(Instant::now() + BOUND, || {
            self.progress[i].get() >= seq.min(ITEMS)
                || self.producers[i].exitcode().is_ok_and(|c| c.is_some())
        });
        if !reached {
            findings.hang(format!("producer-{i} did not reach item {seq}"));
        }
        reached
    }

    /// SIGKILLs `victim`, preferably while it sleeps in a futex wait (for a lock, or for
    /// items): the moment a lost wake-up needs, and the rarest one to hit by chance.
    pub(crate) fn kill(&self, victim: Victim, findings: &mut Findings) {
        let p = match victim {
            Victim::Producer(i) => &self.producers[i],
            Victim::Consumer(i) => &self.consumers[i],
        };
        if let Some(pid) = p.pid() {
            probe::futex_waiting_by(pid, Instant::now() + FUTEX_WAIT_PATIENCE);
        }
        // A victim that already finished cannot be killed: the run is then simply clean.
        if let Err(e) = p.kill()
            && matches!(p.exitcode(), Ok(None))
        {
            findings.fail(format!("killing {}: {e}", p.name()));
        }
    }

    /// Lets the survivors finish, stops the consumers, and checks every item: each taken at
    /// most once, none missing but the victim's (a killed producer's items after the last one
    /// it committed; the one item a killed consumer took and had not yet counted).
    pub(crate) fn finish(self, victim: Victim, findings: &mut Findings) {
        let deadline = Instant::now() + BOUND;
        // Producers and consumers cut short (the victim, or one that hung and was killed).
        let mut short_producers = vec![false; PRODUCERS];
        let mut short_consumers = 0u64;
        for (i, p) in self.producers.iter().enumerate() {
            if victim == Victim::Producer(i) {
                let _ = children::finish(p, deadline, findings);
                short_producers[i] = true;
            } else if !children::finish_with(p, 0, deadline, findings) {
                short_producers[i] = true;
            }
        }
        let live_consumers = (0..CONSUMERS)
            .filter(|&i| victim != Victim::Consumer(i))
            .count();
        for _ in 0..live_consumers {
            if self.queue.put_timeout(STOP, BOUND).is_err() {
                findings.hang("putting the stop items".to_owned());
            }
        }
        for (i, p) in self.consumers.iter().enumerate() {
            if victim == Victim::Consumer(i) {
                let _ = children::finish(p, deadline, findings);
                short_consumers += 1;
            } else if !children::finish_with(p, 0, deadline, findings) {
                short_consumers += 1;
            }
        }
        self.check_items(&short_producers, short_consumers, findings);
    }

    /// Counts each item over every tally and records duplicates and losses.
    fn check_items(&self, short_producers: &[bool], short_consumers: u64, findings: &mut Findings) {
        let mut counts = vec![0u64; PRODUCERS * ITEMS as usize];
        for tally in &self.tallies {
            for (count, taken) in counts.iter_mut().zip(tally.to_vec()) {
                *count += u64::from(taken);
            }
        }
        let duplicated: u64 = counts.iter().map(|&c| c.saturating_sub(1)).sum();
        if duplicated > 0 {
            findings.duplicated(duplicated, "items taken more than once");
        }
        let mut missing = 0u64;
        let mut where_missing = Vec::new();
        for (id, items) in counts.chunks(ITEMS as usize).enumerate() {
            // A producer cut short committed a prefix of its items: what it put ends at the
            // last item anyone took.
            let end = if short_producers[id] {
                items
                    .iter()
                    .rposition(|&c| c > 0)
                    .map_or(0, |last| last + 1)
            } else {
                items.len()
            };
            let gaps = items[..end].iter().filter(|&&c| c == 0).count() as u64;
            if gaps > 0 {
                where_missing.push(format!("producer-{id}: {gaps} of its first {end}"));
            }
            missing += gaps;
        }
        // Each consumer cut short may have died between taking an item and counting it.
        if missing > short_consumers {
            findings.lost(
                missing - short_consumers,
                format!("{} (allowed {short_consumers})", where_missing.join("; ")),
            );
        }
    }
}
