//! The benchmark table: one row per figure `cargo xtask bench` measures.
//!
//! To add a figure: add a [`Row`] here; teach the crate's `benches/figures.rs` to answer
//! `<name> ours` and `<name> floor` (one number on stdout, exit code 2 for unknown names); and
//! give `xtask/bench/mp_bench.py` the Python side under the same name. Floors that are the
//! machine's limit rather than a weaker mechanism live in `xtask/benches/floors`, the Rust
//! peers in `xtask/benches/peers`; a row names the ones it shows ([`Baseline`]).

/// One benchmark figure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    /// The figure's name, as passed to every implementation, e.g. `sync/lock_pair`.
    pub(crate) name: &'static str,
    /// The unit every implementation prints in.
    pub(crate) unit: &'static str,
    /// Whether a smaller number is better (a time); if not, a rate (larger is better).
    pub(crate) lower_is_better: bool,
    /// How the row's runs are placed on the CPUs.
    pub(crate) mode: Mode,
    /// The crate whose `figures` bench binary answers `ours` (and `floor`, if a floor says so).
    pub(crate) krate: &'static str,
    /// The floors shown beside ours: what the machine allows, and weaker mechanisms.
    pub(crate) floors: &'static [Baseline],
    /// The Rust peers shown beside ours.
    pub(crate) peers: &'static [Baseline],
    /// The goal, as text.
    pub(crate) goal: &'static str,
}

/// Rows `--quick` leaves out: those whose one round takes more than a few seconds.
const LONG_ROWS: &[&str] = &[
    "pool/imap_scale/1e6",
    "pool/imap_scale/1e7",
    "pool/imap_peak_rss/1e6",
    "pool/imap_peak_rss/1e7",
];

impl Row {
    /// Whether `--quick` leaves this row out ([`LONG_ROWS`]).
    pub(crate) fn is_long(&self) -> bool {
        LONG_ROWS.contains(&self.name)
    }
}

/// How a row's runs are placed on the CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A latency figure: every implementation pinned to CPU 0 (a wake-up across CPUs costs 15-20
    /// us here against 2-4 us on one, and an unpinned run lands in either mode at random).
    Latency,
    /// A throughput figure between processes: unpinned, and as two pinned-pair variants (both
    /// on CPU 0; the parent on CPU 0 and its children on CPU 1), so both modes show.
    Throughput,
    /// Run unpinned only (creation costs, many-process figures).
    Unpinned,
}

/// A floor or a peer: something measured beside ours, in the row's unit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Baseline {
    /// Its short label in the table, e.g. `spsc ring`.
    pub(crate) label: &'static str,
    /// What it is, for the notes.
    pub(crate) what: &'static str,
    /// Which binary measures it.
    pub(crate) source: Source,
}

/// Which binary measures a [`Baseline`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The row's crate's `figures` binary: `<row> floor`.
    CrateFloor,
    /// Another row's crate floor: `figures <figure> floor` of crate `krate`.
    FloorOf {
        /// The crate.
        krate: &'static str,
        /// The figure whose floor it is.
        figure: &'static str,
    },
    /// xtask's `floors` binary: `floors <name>`.
    Floors(&'static str),
    /// xtask's `peers` binary: `peers <name>`.
    Peers(&'static str),
}

/// Floor of the fork start+join figures.
const FORK_WAITPID: Baseline = Baseline {
    label: "fork+waitpid",
    what: "bare fork() + waitpid() of a child that exits at once",
    source: Source::CrateFloor,
};

/// The futex ping-pong of mp-sync's figures: the floor of every round trip.
const FUTEX: Baseline = Baseline {
    label: "futex",
    what: "futex ping-pong on a shared word (mp-sync's figures)",
    source: Source::FloorOf {
        krate: "mp-sync",
        figure: "sync/semaphore_pingpong",
    },
};

/// The socketpair floor of the byte figures: what a socket-based design would get.
const SOCKETPAIR_1MIB: Baseline = Baseline {
    label: "socketpair",
    what: "1 MiB writes to a socketpair from a child (what a socket-based design gets)",
    source: Source::CrateFloor,
};

/// One memcpy of 1 MiB: the bandwidth bound of any copy.
const MEMCPY: Baseline = Baseline {
    label: "memcpy",
    what: "memcpy of 1 MiB between warm buffers",
    source: Source::Floors("memcpy_1mib"),
};

/// A copy in and a copy out per MiB: the bound of a shared-memory channel.
const MEMCPY_TWICE: Baseline = Baseline {
    label: "2x memcpy",
    what: "two memcpy of 1 MiB per MiB (a copy in, a copy out)",
    source: Source::Floors("memcpy_1mib_two_copies"),
};

/// ipc-channel's bytes channel, 1 MiB messages.
const IPC_CHANNEL_1MIB: Baseline = Baseline {
    label: "ipc-channel",
    what: "ipc-channel 0.23 bytes channel, 200 x 1 MiB from a child",
    source: Source::Peers("ipc_channel/bytes_1mib"),
};

/// rayon's in-process map: the bound of a pool's map.
const RAYON_MAP: Baseline = Baseline {
    label: "rayon",
    what: "rayon par_iter x*x over 100,000 on 2 threads (in-process bound)",
    source: Source::Peers("rayon/map_squares"),
};

/// The socketpair floor of the creation figures.
const SOCKETPAIR_CREATE: Baseline = Baseline {
    label: "socketpair",
    what: "socketpair() + close",
    source: Source::CrateFloor,
};

/// A row of a figure that only Python measures until `mp_pool::Pool` is on main.
const fn pool_row(
    name: &'static str,
    unit: &'static str,
    lower_is_better: bool,
    mode: Mode,
    peers: &'static [Baseline],
    goal: &'static str,
) -> Row {
    Row {
        name,
        unit,
        lower_is_better,
        mode,
        krate: "mp-pool",
        floors: &[],
        peers,
        goal,
    }
}

/// A row of the pool on a Redis broker: two worker hosts of one process each, against RQ's two
/// workers on the same server (Python's column) and a local `Pool(2)` (the floor: the bound).
const fn redis_map_row(name: &'static str) -> Row {
    Row {
        name,
        unit: "tasks/s",
        lower_is_better: false,
        mode: Mode::Unpinned,
        krate: "mp-pool",
        floors: &[Baseline {
            label: "local Pool(2)",
            what: "the same map on a local Pool(2) (the bound)",
            source: Source::CrateFloor,
        }],
        peers: &[],
        goal: ">= 10x RQ (Python column: RQ with two workers)",
    }
}

/// A row of the queue scale figure: `n` producers and `n` consumers.
const fn queue_scale(name: &'static str) -> Row {
    Row {
        name,
        unit: "items/s",
        lower_is_better: false,
        mode: Mode::Unpinned,
        krate: "mp-ipc",
        floors: &[],
        peers: &[],
        goal: "grows or holds with more processes",
    }
}

/// Every figure, in the order they are printed.
pub(crate) const ROWS: &[Row] = &[
    Row {
        name: "process/start_join/fork",
        unit: "ms",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-process",
        floors: &[FORK_WAITPID],
        peers: &[],
        goal: "within 1.3x of fork+waitpid",
    },
    Row {
        name: "process/start_join/spawn",
        unit: "ms",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-process",
        floors: &[Baseline {
            label: "exec",
            what: "posix_spawn() + waitpid() of the same benchmark binary, exiting at the start of main",
            source: Source::CrateFloor,
        }],
        peers: &[Baseline {
            label: "procspawn",
            what: "procspawn 1.0 spawn + join of a no-op (re-executes its binary)",
            source: Source::Peers("procspawn/spawn_join"),
        }],
        goal: "within 1.2x of exec of the same binary",
    },
    Row {
        name: "process/start_join/forkserver",
        unit: "ms",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-process",
        floors: &[FORK_WAITPID],
        peers: &[],
        goal: "within 2x of fork+waitpid",
    },
    Row {
        name: "sync/lock_pair",
        unit: "ns",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-sync",
        floors: &[
            Baseline {
                label: "robust mutex",
                what: "robust process-shared pthread mutex lock+unlock",
                source: Source::Floors("robust_mutex_pair"),
            },
            Baseline {
                label: "pthread mutex",
                what: "process-shared (not robust) pthread mutex lock+unlock",
                source: Source::CrateFloor,
            },
        ],
        peers: &[],
        goal: "within 1.2x of the robust mutex",
    },
    Row {
        name: "sync/locked_increments",
        unit: "ms",
        lower_is_better: true,
        mode: Mode::Throughput,
        krate: "mp-sync",
        floors: &[Baseline {
            label: "pthread mutex",
            what: "2 processes x 100k increments under a process-shared pthread mutex",
            source: Source::CrateFloor,
        }],
        peers: &[],
        goal: ">= 10x faster than Python",
    },
    Row {
        name: "sync/semaphore_pingpong",
        unit: "us",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-sync",
        floors: &[FUTEX_OWN],
        peers: &[],
        goal: "within 1.2x of the futex",
    },
    Row {
        name: "sync/event_pingpong",
        unit: "us",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-sync",
        floors: &[FUTEX_OWN],
        peers: &[],
        goal: "within 1.2x of the futex",
    },
    Row {
        name: "sync/condition_pingpong",
        unit: "us",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-sync",
        floors: &[FUTEX_OWN],
        peers: &[],
        goal: "within 1.2x of the futex",
    },
    Row {
        name: "ipc/pipe_roundtrip_bytes",
        unit: "us",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-ipc",
        floors: &[
            FUTEX,
            Baseline {
                label: "socketpair",
                what: "socketpair 8-byte ping-pong",
                source: Source::CrateFloor,
            },
        ],
        peers: &[
            Baseline {
                label: "ipc-channel bytes",
                what: "ipc-channel 0.23 bytes channels, 8-byte echo",
                source: Source::Peers("ipc_channel/bytes_roundtrip"),
            },
            Baseline {
                label: "ipc-channel typed",
                what: "ipc-channel 0.23 typed u64 channels, echo",
                source: Source::Peers("ipc_channel/typed_roundtrip"),
            },
        ],
        goal: "within 1.3x of the futex ping-pong",
    },
    Row {
        name: "ipc/pipe_throughput_1mib",
        unit: "MiB/s",
        lower_is_better: false,
        mode: Mode::Throughput,
        krate: "mp-ipc",
        floors: &[MEMCPY_TWICE, MEMCPY, SOCKETPAIR_1MIB],
        peers: &[IPC_CHANNEL_1MIB],
        goal: ">= 1/2 of 2x memcpy, ahead of ipc-channel",
    },
    Row {
        name: "ipc/queue_small_items",
        unit: "items/s",
        lower_is_better: false,
        mode: Mode::Throughput,
        krate: "mp-ipc",
        floors: &[
            Baseline {
                label: "spsc ring",
                what: "lock-free SPSC ring of 8-byte items in a memfd, futex wake-ups",
                source: Source::Floors("spsc_ring_items"),
            },
            Baseline {
                label: "socketpair",
                what: "socketpair, one 8-byte write per item",
                source: Source::CrateFloor,
            },
        ],
        peers: &[],
        goal: ">= 1/4 of the spsc ring, >= 10x Python in the worst round",
    },
    Row {
        name: "ipc/queue_1mib_items",
        unit: "MiB/s",
        lower_is_better: false,
        mode: Mode::Throughput,
        krate: "mp-ipc",
        floors: &[MEMCPY_TWICE, MEMCPY, SOCKETPAIR_1MIB],
        peers: &[IPC_CHANNEL_1MIB],
        goal: ">= 1/2 of 2x memcpy, ahead of ipc-channel",
    },
    queue_scale("ipc/queue_scale/1"),
    queue_scale("ipc/queue_scale/2"),
    queue_scale("ipc/queue_scale/4"),
    queue_scale("ipc/queue_scale/8"),
    Row {
        name: "ipc/pipe_create",
        unit: "us",
        lower_is_better: true,
        mode: Mode::Unpinned,
        krate: "mp-ipc",
        floors: &[SOCKETPAIR_CREATE],
        peers: &[],
        goal: "<= 50 us",
    },
    Row {
        name: "ipc/queue_create",
        unit: "us",
        lower_is_better: true,
        mode: Mode::Unpinned,
        krate: "mp-ipc",
        floors: &[SOCKETPAIR_CREATE],
        peers: &[],
        goal: "<= 50 us",
    },
    Row {
        name: "ipc/wait_ready_sentinel",
        unit: "us",
        lower_is_better: true,
        mode: Mode::Unpinned,
        krate: "mp-ipc",
        floors: &[Baseline {
            label: "poll",
            what: "poll() on the 51 pidfds",
            source: Source::CrateFloor,
        }],
        peers: &[],
        goal: "no thread per wait; within 2x of the floor",
    },
    Row {
        name: "ipc/shm_handoff_256mib",
        unit: "ms",
        lower_is_better: true,
        mode: Mode::Unpinned,
        krate: "mp-ipc",
        floors: &[Baseline {
            label: "queue",
            what: "the 256 MiB array through a Queue<Bytes> (a copy), not by name",
            source: Source::CrateFloor,
        }],
        peers: &[],
        goal: "at most Python's SharedMemory, far under the queue",
    },
    listener_roundtrip_row("ipc/listener_roundtrip/unix"),
    listener_roundtrip_row("ipc/listener_roundtrip/tcp"),
    listener_1mib_row("ipc/listener_1mib/unix"),
    listener_1mib_row("ipc/listener_1mib/tcp"),
    Row {
        name: "manager/dict_roundtrip",
        unit: "us",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-manager",
        floors: &[Baseline {
            label: "2 socket round trips",
            what: "two 16-byte Listener/Client round trips over a Unix socket to an echo thread",
            source: Source::CrateFloor,
        }],
        peers: &[],
        goal: "ahead of Python's Manager().dict()",
    },
    pool_row(
        "pool/create_close_join",
        "ms",
        true,
        Mode::Unpinned,
        &[],
        "< 1 ms",
    ),
    pool_row(
        "pool/map_default_chunks",
        "tasks/s",
        false,
        Mode::Throughput,
        &[RAYON_MAP],
        ">= 5x faster than Python",
    ),
    pool_row(
        "pool/map_chunksize_1",
        "tasks/s",
        false,
        Mode::Throughput,
        &[RAYON_MAP],
        ">= 10x faster than Python",
    ),
    pool_row(
        "pool/apply_async_roundtrip",
        "round trips/s",
        false,
        Mode::Latency,
        &[Baseline {
            label: "procspawn pool",
            what: "procspawn 1.0 Pool(2) spawn + join, one at a time",
            source: Source::Peers("procspawn/pool_roundtrip"),
        }],
        ">= 5x faster than Python",
    ),
    Row {
        floors: &[Baseline {
            label: "shared region",
            what: "two forked children hand 50 x 1 MiB each through a shared region to a parent thread each, copied into fresh Vecs (kept): two copies and the fresh pages, nothing else",
            source: Source::CrateFloor,
        }],
        ..pool_row(
            "pool/map_1mib_results",
            "MiB/s",
            false,
            Mode::Throughput,
            &[],
            ">= 5x faster than Python",
        )
    },
    pool_row(
        "pool/idle_pss_pool4",
        "MiB",
        true,
        Mode::Unpinned,
        &[],
        "below Python",
    ),
    imap_row("pool/imap_scale/1e4", false),
    imap_row("pool/imap_scale/1e5", false),
    imap_row("pool/imap_scale/1e6", false),
    imap_row("pool/imap_scale/1e7", false),
    imap_row("pool/imap_peak_rss/1e4", true),
    imap_row("pool/imap_peak_rss/1e5", true),
    imap_row("pool/imap_peak_rss/1e6", true),
    imap_row("pool/imap_peak_rss/1e7", true),
    redis_map_row("pool/redis/map_chunksize_1"),
    redis_map_row("pool/redis/map_chunks_100"),
    Row {
        name: "pool/redis/failover",
        unit: "ms",
        lower_is_better: true,
        mode: Mode::Unpinned,
        krate: "mp-pool",
        floors: &[],
        peers: &[],
        goal: "the lease (1 s) + the task (300 ms) + little; RQ reruns no task of a dead worker",
    },
];

/// A row of the Listener/Client round trip (`/unix` or `/tcp` in the name).
const fn listener_roundtrip_row(name: &'static str) -> Row {
    Row {
        name,
        unit: "us",
        lower_is_better: true,
        mode: Mode::Latency,
        krate: "mp-ipc",
        floors: &[Baseline {
            label: "socketpair",
            what: "socketpair 8-byte ping-pong",
            source: Source::CrateFloor,
        }],
        peers: &[],
        goal: "within 1.5x of the socketpair, ahead of Python",
    }
}

/// A row of the Listener/Client 1 MiB throughput (`/unix` or `/tcp` in the name).
const fn listener_1mib_row(name: &'static str) -> Row {
    Row {
        name,
        unit: "MiB/s",
        lower_is_better: false,
        mode: Mode::Throughput,
        krate: "mp-ipc",
        floors: &[SOCKETPAIR_1MIB],
        peers: &[],
        goal: ">= 1/2 of the socketpair, ahead of Python",
    }
}

/// A row of the imap scale: items/s (`peak_rss`: false) or the parent's peak RSS in MiB.
const fn imap_row(name: &'static str, peak_rss: bool) -> Row {
    if peak_rss {
        pool_row(
            name,
            "MiB",
            true,
            Mode::Unpinned,
            &[],
            "flat in the number of items (lazy input)",
        )
    } else {
        pool_row(
            name,
            "items/s",
            false,
            Mode::Unpinned,
            &[],
            "holds with the number of items",
        )
    }
}

/// The futex floor of mp-sync's own ping-pong rows.
const FUTEX_OWN: Baseline = Baseline {
    label: "futex",
    what: "futex ping-pong on a shared word",
    source: Source::CrateFloor,
};

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
        assert_eq!(select(&["queue_scale".to_owned()]).len(), 4);
        assert_eq!(select(&[]).len(), ROWS.len());
        let two = select(&["fork".to_owned(), "lock_pair".to_owned()]);
        assert_eq!(two.len(), 3); // fork, forkserver, lock_pair
        assert!(matches("pool/apply_async_roundtrip", "async"));
        assert!(matches("process/start_join/spawn", "start_join/spawn"));
        assert!(!matches("pool/apply_async_roundtrip", "sync"));
        assert!(!matches("sync/lock_pair", "ock"));
    }
}
