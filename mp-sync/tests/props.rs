//! Property tests across real processes: a Lock makes increments exact, a Semaphore(k) never
//! admits more than k, a Barrier's rounds never mix. Few cases each, to stay fast.

mod common;

use std::sync::atomic::Ordering;

use common::{BOUND, shared_counters, spawn};
use mp_sync::{Barrier, Lock, Semaphore};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn n_processes_times_m_locked_increments_sum_exactly(n in 1usize..5, m in 1u64..3000) {
        let lock = Lock::new().unwrap();
        let counter = shared_counters(1);
        let children: Vec<_> = (0..n)
            .map(|_| spawn(|| {
                for _ in 0..m {
                    let _g = lock.acquire().unwrap();
                    let v = counter[0].load(Ordering::Relaxed);
                    std::hint::spin_loop();
                    counter[0].store(v + 1, Ordering::Relaxed);
                }
                0
            }))
            .collect();
        children.into_iter().for_each(common::Child::join);
        prop_assert_eq!(counter[0].load(Ordering::SeqCst), n as u64 * m);
    }

    #[test]
    fn a_semaphore_never_admits_more_than_its_value(k in 1u32..4, n in 2usize..6, m in 1usize..300) {
        let sem = Semaphore::new(k).unwrap();
        let stats = shared_counters(2); // [0]: holders now, [1]: most holders seen
        let children: Vec<_> = (0..n)
            .map(|_| spawn(|| {
                for _ in 0..m {
                    if !sem.acquire_timeout(BOUND) {
                        return 1;
                    }
                    let now = stats[0].fetch_add(1, Ordering::SeqCst) + 1;
                    stats[1].fetch_max(now, Ordering::SeqCst);
                    // Hold a little, so that others queue up and sleep.
                    (0..200).for_each(|_| std::hint::spin_loop());
                    stats[0].fetch_sub(1, Ordering::SeqCst);
                    if sem.release().is_err() {
                        return 1;
                    }
                }
                0
            }))
            .collect();
        children.into_iter().for_each(common::Child::join);
        prop_assert!(stats[1].load(Ordering::SeqCst) <= u64::from(k));
        prop_assert!(stats[1].load(Ordering::SeqCst) >= 1);
        prop_assert_eq!(sem.value(), k);
    }

    #[test]
    fn a_barriers_rounds_never_mix(parties in 1u32..5, rounds in 1u64..40) {
        let barrier = Barrier::new(parties).unwrap();
        // Each party publishes the round it is in; after a wait returns for round r, no party
        // may still be before r, and none may have gone past r + 1.
        let at = shared_counters(parties as usize);
        let run = |me: usize| {
            for r in 0..rounds {
                at[me].store(r, Ordering::SeqCst);
                if barrier.wait_timeout(BOUND).is_err() {
                    return 1;
                }
                for other in at.iter() {
                    let o = other.load(Ordering::SeqCst);
                    if o < r || o > r + 1 {
                        return 2;
                    }
                }
            }
            0
        };
        let children: Vec<_> = (1..parties as usize).map(|me| spawn(move || run(me))).collect();
        let mine = run(0);
        children.into_iter().for_each(common::Child::join);
        prop_assert_eq!(mine, 0);
    }
}
