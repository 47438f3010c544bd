//! The benchmark table: one row per figure `cargo xtask bench` measures.
//!
//! To add a figure: add a [`Row`] here; teach the crate's `benches/figures.rs` to answer
//! `<name> ours` and `<name> floor` (one number on stdout, exit code 2 for unknown names); and
//! give `xtask/bench/mp_bench.py` the Python side under the same name.

/// One benchmark figure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    /// The figure's name, as passed to every implementation, e.g. `sync/lock_pair`.
    pub(crate) name: &'static str,
    /// The unit all three implementations print in.
    pub(crate) unit: &'static str,
    /// Whether a smaller number is better (a time); if not, a rate (larger is better).
    pub(crate) lower_is_better: bool,
    /// Whether this is a latency figure, run with every implementation pinned to CPU 0.
    pub(crate) pinned: bool,
    /// The crate whose `figures` bench binary answers `ours` and `floor`.
    pub(crate) krate: &'static str,
    /// What the floor is, briefly.
    pub(crate) floor: &'static str,
    /// The goal, as text.
    pub(crate) goal: &'static str,
}

/// Floor of the three start+join figures.
const FORK_FLOOR: &str = "bare fork() + waitpid() of a child that exits at once";

/// Floor of the spawn figure: what executing the program at all costs.
const EXEC_FLOOR: &str =
    "posix_spawn() + waitpid() of the same benchmark binary, exiting at the start of main";

/// Floor of the ping-pong figures.
const FUTEX_FLOOR: &str = "futex ping-pong on a shared word";

/// Every figure, in the order they are printed.
pub(crate) const ROWS: &[Row] = &[
    Row {
        name: "process/start_join/fork",
        unit: "ms",
        lower_is_better: true,
        pinned: true,
        krate: "mp-process",
        floor: FORK_FLOOR,
        goal: "within 1.5x of the floor (Python 1.7 ms)",
    },
    Row {
        name: "process/start_join/spawn",
        unit: "ms",
        lower_is_better: true,
        pinned: true,
        krate: "mp-process",
        floor: EXEC_FLOOR,
        goal: "< 1 ms (Python 37 ms)",
    },
    Row {
        name: "process/start_join/forkserver",
        unit: "ms",
        lower_is_better: true,
        pinned: true,
        krate: "mp-process",
        floor: FORK_FLOOR,
        goal: "< 0.5 ms (Python 8.2 ms)",
    },
    Row {
        name: "sync/lock_pair",
        unit: "ns",
        lower_is_better: true,
        pinned: true,
        krate: "mp-sync",
        floor: "process-shared pthread mutex lock+unlock",
        goal: "<= 20 ns",
    },
    Row {
        name: "sync/locked_increments",
        unit: "ms",
        lower_is_better: true,
        pinned: false,
        krate: "mp-sync",
        floor: "2 processes x 100k increments under a process-shared pthread mutex",
        goal: ">= 10x faster than Python",
    },
    Row {
        name: "sync/semaphore_pingpong",
        unit: "us",
        lower_is_better: true,
        pinned: true,
        krate: "mp-sync",
        floor: FUTEX_FLOOR,
        goal: "within 1.2x of the floor",
    },
    Row {
        name: "sync/event_pingpong",
        unit: "us",
        lower_is_better: true,
        pinned: true,
        krate: "mp-sync",
        floor: FUTEX_FLOOR,
        goal: "within 1.2x of the floor",
    },
    Row {
        name: "sync/condition_pingpong",
        unit: "us",
        lower_is_better: true,
        pinned: true,
        krate: "mp-sync",
        floor: FUTEX_FLOOR,
        goal: "within 1.2x of the floor",
    },
    Row {
        name: "ipc/pipe_roundtrip_bytes",
        unit: "us",
        lower_is_better: true,
        pinned: true,
        krate: "mp-ipc",
        floor: "socketpair 8-byte ping-pong",
        goal: "<= 8 us (Python 13.5 us, socketpair 8.0, futex 4.0)",
    },
    Row {
        name: "ipc/pipe_throughput_1mib",
        unit: "MiB/s",
        lower_is_better: false,
        pinned: false,
        krate: "mp-ipc",
        floor: "socketpair, 1 MiB writes",
        goal: ">= 4x Python (Python 2.3 GB/s)",
    },
    Row {
        name: "ipc/queue_small_items",
        unit: "items/s",
        lower_is_better: false,
        pinned: false,
        krate: "mp-ipc",
        floor: "socketpair, one 8-byte write per item",
        goal: ">= 10x Python (Python 0.2-0.33 M items/s)",
    },
    Row {
        name: "ipc/queue_1mib_items",
        unit: "MiB/s",
        lower_is_better: false,
        pinned: false,
        krate: "mp-ipc",
        floor: "socketpair, 1 MiB writes",
        goal: ">= 5x Python (Python 0.64 GB/s)",
    },
    Row {
        name: "ipc/pipe_create",
        unit: "us",
        lower_is_better: true,
        pinned: false,
        krate: "mp-ipc",
        floor: "socketpair() + close",
        goal: "<= 50 us",
    },
    Row {
        name: "ipc/queue_create",
        unit: "us",
        lower_is_better: true,
        pinned: false,
        krate: "mp-ipc",
        floor: "socketpair() + close",
        goal: "<= 50 us",
    },
    Row {
        name: "ipc/wait_ready_sentinel",
        unit: "us",
        lower_is_better: true,
        pinned: false,
        krate: "mp-ipc",
        floor: "poll() on the 51 pidfds",
        goal: "no thread per wait; within 2x of the floor",
    },
    Row {
        name: "ipc/shm_handoff_256mib",
        unit: "ms",
        lower_is_better: true,
        pinned: false,
        krate: "mp-ipc",
        floor: "the 256 MiB array through a Queue<Bytes> (a copy), not by name",
        goal: "at most Python's SharedMemory, far under the queue",
    },
    Row {
        name: "pool/create_close_join",
        unit: "ms",
        lower_is_better: true,
        pinned: false,
        krate: "mp-pool",
        floor: "2 x fork() + waitpid()",
        goal: "< 1 ms (provisional; Python 4.5 ms)",
    },
    Row {
        name: "pool/map_default_chunks",
        unit: "tasks/s",
        lower_is_better: false,
        pinned: false,
        krate: "mp-pool",
        floor: "rayon-style 2 threads, x*x over 100k",
        goal: ">= 10x faster than Python (provisional)",
    },
    Row {
        name: "pool/map_chunksize_1",
        unit: "tasks/s",
        lower_is_better: false,
        pinned: false,
        krate: "mp-pool",
        floor: "one task per item over a socketpair",
        goal: ">= 5x faster than Python (provisional)",
    },
    Row {
        name: "pool/apply_async_roundtrip",
        unit: "round trips/s",
        lower_is_better: false,
        pinned: false,
        krate: "mp-pool",
        floor: "socketpair 8-byte ping-pong",
        goal: ">= 5x faster than Python (provisional)",
    },
];

/// The rows matched by any of `filters` (all rows if `filters` is empty); see [`matches()`].
pub(crate) fn select<'a>(filters: &[String]) -> Vec<&'a Row> {
    ROWS.iter()
        .filter(|r| filters.is_empty() || filters.iter().any(|f| matches(r.name, f)))
        .collect()
}

/// Whether `filter` is a substring of `name` that starts where a part of the name starts (at
/// the beginning, or after `/` or `_`): `sync` selects `sync/lock_pair` but not
/// `pool/apply_async_roundtrip`; `fork` selects `.../fork` and `.../forkserver`.
pub(crate) fn matches(name: &str, filter: &str) -> bool {
    name.match_indices(filter)
        .any(|(i, _)| i == 0 || name[..i].ends_with(['/', '_']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in ROWS.iter().enumerate() {
            for b in &ROWS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn python_side_knows_every_row() {
        let py = include_str!("../bench/mp_bench.py");
        for row in ROWS {
            assert!(
                py.contains(&format!("\"{}\"", row.name)),
                "xtask/bench/mp_bench.py has no figure named {:?}",
                row.name
            );
        }
    }

    #[test]
    fn filters_select_by_substring() {
        let sync = select(&["sync/".to_owned()]);
        assert_eq!(sync.len(), 5);
        assert_eq!(select(&[]).len(), ROWS.len());
        let two = select(&["fork".to_owned(), "lock_pair".to_owned()]);
        assert_eq!(two.len(), 3); // fork, forkserver, lock_pair
        assert!(matches("pool/apply_async_roundtrip", "async"));
        assert!(matches("process/start_join/spawn", "start_join/spawn"));
        assert!(!matches("pool/apply_async_roundtrip", "sync"));
        assert!(!matches("sync/lock_pair", "ock"));
    }
}
