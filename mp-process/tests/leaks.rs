//! No descriptor, memory or zombie is left behind by many start/join cycles.

/// How much resident memory 1,000 cycles may add: allocator slack. A leak of 1 KiB or more per
/// cycle (a lost Process, context or channel) exceeds it.
const RSS_SLACK_KIB: u64 = 1024;

mod common;

use common::{builder, join, open_fds, resident_kib, zombie_children};
use mp_process::StartMethod;

fn nothing(_: ()) {}

#[test]
fn a_thousand_cycles_leak_no_descriptor_no_memory_and_no_zombie() {
    for method in StartMethod::ALL {
        // Warm up: the fork server, if any, is started once and keeps its socket.
        let mut p = builder(method).target(nothing, ());
        p.start().unwrap();
        join(&p);
        drop(p);
        let before = open_fds();
        let rss_before = resident_kib();
        for _ in 0..1000 {
            let mut p = builder(method).target(nothing, ());
            p.start().unwrap();
            assert_eq!(join(&p), 0);
        }
        assert_eq!(open_fds(), before, "{method:?}: descriptors leaked");
        assert_eq!(
            zombie_children(),
            Vec::<i32>::new(),
            "{method:?}: zombies left"
        );
        let grown = resident_kib().saturating_sub(rss_before);
        assert!(
            grown <= RSS_SLACK_KIB,
            "{method:?}: resident memory grew by {grown} KiB over 1,000 cycles"
        );
    }
}
