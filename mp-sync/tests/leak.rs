//! 10,000 primitives created and dropped leave no fd and no mapping behind.
//! (Its own test binary: no other test creates fds or mappings meanwhile.)

use mp_sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn ten_thousand_primitives_leave_no_fd_and_no_mapping() {
    // Warm up whatever the first creation allocates for good (thread-locals, caches).
    drop(Condition::new().unwrap());
    let (fds, maps) = (open_fds(), mappings());
    for i in 0..10_000u32 {
        match i % 7 {
            0 => drop(Lock::new().unwrap()),
            1 => drop(RLock::new().unwrap()),
            2 => drop(Semaphore::new(i).unwrap()),
            3 => drop(BoundedSemaphore::new(i).unwrap()),
            4 => drop(Event::new().unwrap()),
            5 => {
                let c = Condition::new().unwrap();
                let c2 = c.clone();
                drop(c2.acquire().unwrap());
                drop((c, c2));
            }
            _ => drop(Barrier::new(3).unwrap()),
        }
        if i == 5000 {
            // Mid-way, all alive at once: each primitive does hold an fd (the count is real).
            let alive: Vec<_> = (0..100).map(|_| Lock::new().unwrap()).collect();
            assert!(open_fds() >= fds + 100);
            drop(alive);
        }
    }
    assert_eq!(open_fds(), fds, "fds leaked");
    assert_eq!(mappings(), maps, "mappings leaked");
}
