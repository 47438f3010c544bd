//! The helpers most integration tests share, in one include: bounded waits (`bounded.rs`) and
//! children under each start method (`process.rs`). A test includes it with
//! `#[path = "../../test-support/common.rs"] mod common;` (or re-exports it from a `common`
//! module of its own that adds the crate's helpers).

#![allow(dead_code, unreachable_pub, missing_docs)]

#[path = "bounded.rs"]
mod bounded;
#[path = "process.rs"]
mod process;

#[allow(unused_imports)]
pub use bounded::*;
#[allow(unused_imports)]
pub use process::*;
