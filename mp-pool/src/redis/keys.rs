//! The names of a pool's keys in Redis, and how long they live without writes.

/// A pool's keys.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    /// The task stream.
    pub(crate) tasks: String,
    /// The hosts' consumer group on it.
    pub(crate) group: String,
}

/// How long a task stream lives after its last write: a day, so a dead submitter's leftovers go.
pub(crate) const TASKS_TTL_SECS: u64 = 24 * 60 * 60;

/// How long a result stream lives after its last write (its submitter deletes it when done).
pub(crate) const RESULTS_TTL_SECS: u64 = 60 * 60;

/// A result stream's approximate length bound: far above what is in flight at once.
pub(crate) const RESULTS_MAXLEN: usize = 100_000;

impl Keys {
    /// The keys of the pool named `name`.
    pub(crate) fn of(name: &str) -> Self {
        Keys {
            tasks: format!("mp-pool:{name}:tasks"),
            group: format!("mp-pool:{name}:hosts"),
        }
    }

    /// The result stream of the submitter `submitter` of the pool `name`.
    pub(crate) fn results(name: &str, submitter: &str) -> String {
        format!("mp-pool:{name}:results:{submitter}")
    }
}

/// Creates the consumer group (and the stream) if it is not there, from the stream's start:
/// entries added before it, by a submitter after the stream expired, are still delivered.
pub(crate) fn ensure_group(con: &mut redis::Connection, keys: &Keys) -> redis::RedisResult<()> {
    let created: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&keys.tasks)
        .arg(&keys.group)
        .arg("0")
        .arg("MKSTREAM")
        .query(con);
    match created {
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}
