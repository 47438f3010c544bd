//! The two kinds of stream entry, field by field: a task entry (submitter to hosts) and a
//! result entry (a host to the submitter). Parsing never panics: an entry that does not parse
//! is an [`EntryError`], which a host turns into that task's error result.

use std::collections::HashMap;
use std::time::Duration;

use redis::Value;

use crate::task::encode;
use crate::wire::ItemCall;

/// The format version both sides write and check.
const VERSION: &str = "1";

/// A task entry as a host reads it.
pub(crate) struct TaskEntry {
    /// The image fingerprint of the submitter's build.
    pub(crate) fingerprint: u64,
    /// The encoded [`ItemCall`] (decoded only once the fingerprint matched).
    pub(crate) call: Vec<u8>,
    /// The argument records, one per item (`crate::frames`).
    pub(crate) args: Vec<u8>,
    /// How many items.
    pub(crate) len: usize,
    /// The time limit of each item.
    pub(crate) limit: Option<Duration>,
}

/// What is wrong with an entry.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EntryError {
    /// A field is missing.
    #[error("its field `{0}` is missing")]
    Missing(&'static str),
    /// A field does not parse.
    #[error("its field `{0}` does not parse")]
    Bad(&'static str),
    /// Another format version.
    #[error("it is of format version {0:?}, this host reads {VERSION}")]
    Version(String),
}

/// The fields of a task entry, for `XADD`.
pub(crate) fn task_fields(
    task: u64,
    reply: &str,
    call: ItemCall,
    args: &[u8],
    len: usize,
    limit: Option<Duration>,
) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let mut fields = vec![
        ("v", VERSION.as_bytes().to_vec()),
        ("task", task.to_string().into_bytes()),
        ("reply", reply.as_bytes().to_vec()),
        ("fp", call.function.1.to_string().into_bytes()),
        ("call", encode(&call)?.0),
        ("args", args.to_vec()),
        ("len", len.to_string().into_bytes()),
    ];
    if let Some(limit) = limit {
        let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX).max(1);
        fields.push(("limit_ms", ms.to_string().into_bytes()));
    }
    Ok(fields)
}

/// A field's bytes.
fn field<'a>(map: &'a HashMap<String, Value>, name: &'static str) -> Result<&'a [u8], EntryError> {
    match map.get(name) {
        Some(Value::BulkString(bytes)) => Ok(bytes),
        Some(Value::SimpleString(s)) => Ok(s.as_bytes()),
        Some(_) => Err(EntryError::Bad(name)),
        None => Err(EntryError::Missing(name)),
    }
}

/// A field that is a decimal number.
fn number(map: &HashMap<String, Value>, name: &'static str) -> Result<u64, EntryError> {
    std::str::from_utf8(field(map, name)?)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(EntryError::Bad(name))
}

/// The task id and result stream of an entry, if at least those parse (then whatever else is
/// wrong with it can be answered as that task's error).
pub(crate) fn task_address(map: &HashMap<String, Value>) -> Option<(u64, String)> {
    let task = number(map, "task").ok()?;
    let reply = String::from_utf8(field(map, "reply").ok()?.to_vec()).ok()?;
    Some((task, reply))
}

/// Reads a task entry.
pub(crate) fn parse_task(map: &HashMap<String, Value>) -> Result<TaskEntry, EntryError> {
    let version = field(map, "v")?;
    if version != VERSION.as_bytes() {
        return Err(EntryError::Version(
            String::from_utf8_lossy(version).into_owned(),
        ));
    }
    // The task id and result stream are read apart ([`task_address`]); here they only must
    // be there.
    task_address(map).ok_or(EntryError::Bad("task"))?;
    let limit = match map.get("limit_ms") {
        None => None,
        Some(_) => Some(Duration::from_millis(number(map, "limit_ms")?)),
    };
    Ok(TaskEntry {
        fingerprint: number(map, "fp")?,
        call: field(map, "call")?.to_vec(),
        args: field(map, "args")?.to_vec(),
        len: usize::try_from(number(map, "len")?).map_err(|_| EntryError::Bad("len"))?,
        limit,
    })
}

/// The fields of a result entry, for `XADD`: `items` outcome records (`crate::frames`).
pub(crate) fn result_fields(
    task: u64,
    host: &str,
    items: usize,
    outcomes: &[u8],
) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("task", task.to_string().into_bytes()),
        ("host", host.as_bytes().to_vec()),
        ("items", items.to_string().into_bytes()),
        ("out", outcomes.to_vec()),
    ]
}

/// A result entry's item count and outcome records, or why they cannot be read.
pub(crate) type ResultOutcomes = Result<(usize, Vec<u8>), String>;

/// A result entry as the submitter reads it: the task id, and its item count and outcome
/// records if they are there.
pub(crate) fn parse_result(map: &HashMap<String, Value>) -> Option<(u64, ResultOutcomes)> {
    let task = number(map, "task").ok()?;
    let host = field(map, "host")
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .unwrap_or_else(|_| "an unnamed host".to_owned());
    let outcomes = number(map, "items")
        .and_then(|n| usize::try_from(n).map_err(|_| EntryError::Bad("items")))
        .and_then(|items| Ok((items, field(map, "out")?.to_vec())))
        .map_err(|e| format!("the result entry from host {host} is malformed: {e}"));
    Some((task, outcomes))
}
