//! [`Pod`]: the element types that may live in shared memory as raw bits.

/// Plain old data: a type that may be stored in shared memory and read by any process.
///
/// # Safety
/// Implement only for `Copy` types that are `#[repr(C)]` (or primitive) and for which **every
/// bit pattern of `size_of::<Self>()` bytes is a valid value**, with no padding bytes, no
/// pointers or references (their addresses mean nothing in another process), and no
/// `Drop`. Integers, floats and arrays of `Pod` qualify; `bool`, `char`, enums and references
/// do not (a torn or zeroed byte could be an invalid `bool`). A `#[repr(C)]` struct of `Pod`
/// fields without padding qualifies.
pub unsafe trait Pod: Copy + Send + Sync + 'static {}

/// Implements `Pod` for primitives.
macro_rules! pod {
    ($($t:ty),*) => {
        $(
            // SAFETY: a primitive integer or float: every bit pattern is valid, no padding.
            unsafe impl Pod for $t {}
        )*
    };
}

pod!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);

// SAFETY: an array of `Pod` has no padding between elements and every bit pattern of each
// element is valid.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}
