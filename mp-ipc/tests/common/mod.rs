//! Helpers shared by the integration tests: children under each start method, bounded joins.

#![allow(dead_code, unreachable_pub, missing_docs)]

#[path = "../../../test-support/bounded.rs"]
mod bounded;
#[path = "../../../test-support/process.rs"]
mod process;

#[allow(unused_imports)]
pub use bounded::*;
#[allow(unused_imports)]
pub use process::*;
