//! Connections to the broker, each bounded: a connect, a read and a write that take longer
//! than [`IO_BOUND`] fail (a host cut off by a link that went down sees no reset, and must not
//! wait for one forever), and the caller connects again.

use std::time::Duration;

/// The longest a connect, a reply or a write may take; far above the blocking reads' own
/// waits (100 ms).
pub(crate) const IO_BOUND: Duration = Duration::from_secs(3);

/// A new connection to `client`'s server, bounded.
pub(crate) fn connect(client: &redis::Client) -> redis::RedisResult<redis::Connection> {
    let con = client.get_connection_with_timeout(IO_BOUND)?;
    con.set_read_timeout(Some(IO_BOUND))?;
    con.set_write_timeout(Some(IO_BOUND))?;
    Ok(con)
}
