//! [`AtomicInteger`]: the integer element types that have an atomic of the same size, so that
//! a [`RawValue`](crate::RawValue) or [`RawArray`](crate::RawArray) of them is read and written
//! without `unsafe`.

use std::sync::atomic::{
    AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicIsize, AtomicU8, AtomicU16, AtomicU32,
    AtomicU64, AtomicUsize,
};

use crate::pod::Pod;

/// An integer [`Pod`] with an atomic type of the same size and alignment (`u64` and
/// `AtomicU64`, ...): its shared values and array elements are reached as that atomic.
/// Sealed: implemented for `u8` to `u64`, `i8` to `i64`, `usize` and `isize`.
pub trait AtomicInteger: Pod + sealed::Sealed {
    /// The atomic type of the same size (`AtomicU64` for `u64`).
    type Atomic: Send + Sync;
}

/// Keeps [`AtomicInteger`] to the impls below, whose layouts are checked.
mod sealed {
    /// Not nameable outside the crate.
    pub trait Sealed {}
}

/// Implements `AtomicInteger` for integer and atomic pairs, checking at compile time that
/// each atomic has its integer's size and alignment (what the casts in `elems.rs` rely on).
macro_rules! atomic_integer {
    ($($t:ty => $a:ty),* $(,)?) => {
        $(
            impl sealed::Sealed for $t {}
            impl AtomicInteger for $t {
                type Atomic = $a;
            }
            const _: () = assert!(
                size_of::<$t>() == size_of::<$a>() && align_of::<$t>() <= align_of::<$a>()
            );
        )*
    };
}

atomic_integer!(
    u8 => AtomicU8, u16 => AtomicU16, u32 => AtomicU32, u64 => AtomicU64, usize => AtomicUsize,
    i8 => AtomicI8, i16 => AtomicI16, i32 => AtomicI32, i64 => AtomicI64, isize => AtomicIsize,
);
