//! What a test counts to see that nothing leaked (included with `#[path]`): this process's open
//! descriptors and shared mappings. A test that counts them runs alone in its program, or
//! takes a lock its neighbours take, since their pools change both.

#![allow(dead_code, unreachable_pub)]

/// How many descriptors this process has open, and how many shared mappings it has.
pub fn fds_and_shared_mappings() -> (usize, usize) {
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let shared = maps
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|p| p.ends_with('s'))
        })
        .count();
    (fds, shared)
}
