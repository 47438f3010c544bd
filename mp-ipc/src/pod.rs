//! [`Pod`]: the element types that may live in shared memory as raw bits, from `bytemuck`.
//!
//! A well-kept marker trait with a derive beats an `unsafe` trait of our own: a user's
//! `#[repr(C)]` struct becomes shareable with `#[derive(Clone, Copy, Pod, Zeroable)]`, and
//! the derive refuses padding, pointers and types with invalid bit patterns at compile time.
//!
//! ```
//! use mp_ipc::{Pod, Zeroable};
//!
//! #[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
//! #[repr(C)]
//! // The derive names `bytemuck`; through mp-ipc's re-export no direct dependency is needed.
//! #[bytemuck(crate = "mp_ipc::bytemuck")]
//! struct Point {
//!     x: f64,
//!     y: f64,
//! }
//!
//! let p = mp_ipc::Value::new(Point { x: 1.0, y: 2.0 })?;
//! assert_eq!(p.get().y, 2.0);
//! # Ok::<(), mp_ipc::Error>(())
//! ```
//!
//! A struct with padding bytes (which could hold anything, and leak through shared memory)
//! does not compile:
//!
//! ```compile_fail
//! #[derive(Clone, Copy, mp_ipc::Pod, mp_ipc::Zeroable)]
//! #[repr(C)]
//! #[bytemuck(crate = "mp_ipc::bytemuck")]
//! struct Padded {
//!     a: u8,
//!     b: u64,
//! }
//! ```

/// Plain old data: a `Copy` type for which every bit pattern is a valid value, with no
/// padding and no pointers (their addresses mean nothing in another process). Integers,
/// floats and arrays of `Pod` qualify; derive it for a `#[repr(C)]` struct of `Pod` fields.
pub use bytemuck::Pod;
/// Types whose all-zeroes bit pattern is valid (a supertrait of [`Pod`], derived with it).
pub use bytemuck::Zeroable;
