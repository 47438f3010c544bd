//! The two kinds of stream entry, field by field: a task entry (submitter to hosts) and a
//! result entry (a host to the submitter). Parsing never panics: an entry that does not parse
//! is an [`EntryError`], which a host turns into that task's error result.

use std::collections::HashMap;
use std::time::Duration;

use mp_ipc::Bytes;
use redis::Value;

use crate::task::{decode, encode};
use crate::wire::{ItemCall, ItemOutcome};

/// The format version both sides write and check.
const VERSION: &str = "1";

/// A task entry as a host reads it.
pub(crate) struct TaskEntry {
    /// The image fingerprint of the submitter's build.
    pub(crate) fingerprint: u64,
    /// The encoded [`ItemCall`] (decoded only once the fingerprint matched).
    pub(crate) call: Vec<u8>,
    /// The encoded arguments, one per item.
    pub(crate) items: Vec<u8>,
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
    items: &[Bytes],
    limit: Option<Duration>,
) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let mut fields = vec![
        ("v", VERSION.as_bytes().to_vec()),
        ("task", task.to_string().into_bytes()),
        ("reply", reply.as_bytes().to_vec()),
        ("fp", call.function.1.to_string().into_bytes()),
        ("call", encode(&call)?.0),
        ("items", encode(items)?.0),
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
        items: field(map, "items")?.to_vec(),
        limit,
    })
}

/// The fields of a result entry, for `XADD`.
pub(crate) fn result_fields(
    task: u64,
    host: &str,
    outcomes: &[ItemOutcome],
) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    Ok(vec![
        ("task", task.to_string().into_bytes()),
        ("host", host.as_bytes().to_vec()),
        ("out", encode(outcomes)?.0),
    ])
}

/// A result entry as the submitter reads it: the task id, and its outcomes if they decode.
pub(crate) fn parse_result(
    map: &HashMap<String, Value>,
) -> Option<(u64, Result<Vec<ItemOutcome>, String>)> {
    let task = number(map, "task").ok()?;
    let host = field(map, "host")
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .unwrap_or_else(|_| "an unnamed host".to_owned());
    let outcomes = field(map, "out")
        .map_err(|e| e.to_string())
        .and_then(decode::<Vec<ItemOutcome>>)
        .map_err(|e| format!("the result entry from host {host} is malformed: {e}"));
    Some((task, outcomes))
}
