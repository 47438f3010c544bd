//! A plain function that can travel to another process running the same executable image:
//! its offset from an anchor function of this crate, plus a fingerprint of the image.
//!
//! Parent and child (fork, spawn and forkserver alike) run the same executable, so code sits
//! at the same offsets in both; only the load base differs (ASLR). `anchor + offset` is
//! therefore the same function in every such process (procspawn's scheme). The fingerprint,
//! checked on arrival, refuses a reference made by another build or another program.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A function pointer type that an [`FnRef`] can carry: `fn(..) -> R` with up to four
/// arguments.
///
/// # Safety
/// Implemented only for function pointer types (the size of a code address), so that an
/// address of a function of type `Self` can be turned back into `Self`.
pub unsafe trait FnPointer: Copy + Send + Sync + 'static {
    /// The function's code address.
    fn address(self) -> usize;
}

macro_rules! fn_pointer {
    ($($arg:ident),*) => {
        // SAFETY: a `fn` pointer type, the size of a code address on every Linux target.
        unsafe impl<R: 'static, $($arg: 'static),*> FnPointer for fn($($arg),*) -> R {
            fn address(self) -> usize {
                self as usize
            }
        }
    };
}
fn_pointer!();
fn_pointer!(A);
fn_pointer!(A, B);
fn_pointer!(A, B, C);
fn_pointer!(A, B, C, D);

/// The reference point of every offset. Never called; only its address matters.
#[inline(never)]
fn anchor() {}

/// A second function whose offset from [`anchor`] is part of the image fingerprint.
#[inline(never)]
fn layout_probe() {}

/// Identifies the running executable image: the offset of [`layout_probe`] from [`anchor`]
/// (differs between builds) mixed with the device and inode of `/proc/self/exe` (differs
/// between files; still readable after the file was deleted or replaced). Computed once per
/// process; a forked child inherits it, rightly, since it runs the same image.
pub(crate) fn image_fingerprint() -> u64 {
    static FINGERPRINT: OnceLock<u64> = OnceLock::new();
    *FINGERPRINT.get_or_init(|| {
        use std::os::unix::fs::MetadataExt;
        let probe = (layout_probe as fn() as usize).wrapping_sub(anchor as fn() as usize) as u64;
        let (dev, ino) = std::fs::metadata("/proc/self/exe")
            .map(|m| (m.dev(), m.ino()))
            .unwrap_or((0, 0));
        // Mixing, not security: any difference in the three inputs changes the result.
        let mut h = 0xcbf2_9ce4_8422_2325_u64;
        for x in [probe, dev, ino] {
            h = (h ^ x).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
        }
        h
    })
}

/// A function reference arrived from a process running another executable image (another
/// build or another program): it cannot be called here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a function reference can only reach a process running the same executable image")]
pub struct ForeignFunction;

/// A plain function (`fn(..) -> R`) that can be sent to another process running the same
/// executable image: fork, spawn and forkserver children of this program.
///
/// It serializes as two integers: the function's offset from an anchor of this crate and a
/// fingerprint of the image, checked on arrival ([`ForeignFunction`] otherwise). The function
/// must live in the same loaded object as this crate, which every function of a statically
/// linked Rust program does (not one of a `dlopen`ed library).
///
/// Receiving an `FnRef` trusts its sender as much as the code itself: accept them only on
/// channels that only your own processes can reach (every channel of mp is one).
///
/// ```
/// use mp_sync::raw::FnRef;
///
/// fn double(x: u32) -> u32 { x * 2 }
///
/// let f = FnRef::new(double as fn(u32) -> u32);
/// // What travels: two integers, turned back into the function on arrival.
/// let (offset, fingerprint) = f.to_wire();
/// let g = FnRef::<fn(u32) -> u32>::from_wire(offset, fingerprint)?;
/// assert_eq!(g.get()(21), 42);
/// // A reference from another image is refused.
/// assert!(FnRef::<fn(u32) -> u32>::from_wire(offset, fingerprint ^ 1).is_err());
/// # Ok::<(), mp_sync::raw::ForeignFunction>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FnRef<F: FnPointer> {
    /// The function.
    f: F,
}

impl<F: FnPointer> FnRef<F> {
    /// A reference to `f`.
    pub fn new(f: F) -> Self {
        FnRef { f }
    }

    /// The function.
    pub fn get(self) -> F {
        self.f
    }

    /// The two integers that travel: the offset from the anchor and the image fingerprint.
    pub fn to_wire(self) -> (u64, u64) {
        let offset = self.f.address().wrapping_sub(anchor as fn() as usize);
        (offset as u64, image_fingerprint())
    }

    /// The function at `offset` if `fingerprint` is this image's.
    ///
    /// The pair must come from [`to_wire`](Self::to_wire) of an `FnRef<F>` with the same `F`,
    /// in a process running this image: the type is not part of the wire form, so the caller
    /// decides it, as with any deserialization.
    pub fn from_wire(offset: u64, fingerprint: u64) -> Result<Self, ForeignFunction> {
        if fingerprint != image_fingerprint() {
            return Err(ForeignFunction);
        }
        let address = (anchor as fn() as usize).wrapping_add(offset as usize);
        // SAFETY: the fingerprint says the sender ran this same image, and it computed
        // `offset` from a function of type `F` (the contract above) and the same anchor. Code
        // sits at the same offsets in every process running the image, so `address` is that
        // function here. `F: FnPointer` is a function pointer type, the size of `usize`.
        let f = unsafe { std::mem::transmute_copy::<usize, F>(&address) };
        Ok(FnRef { f })
    }
}

impl<F: FnPointer> fmt::Debug for FnRef<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FnRef")
            .field(&(self.f.address() as *const ()))
            .finish()
    }
}

impl<F: FnPointer> Serialize for FnRef<F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(serializer)
    }
}

impl<'de, F: FnPointer> Deserialize<'de> for FnRef<F> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (offset, fingerprint) = <(u64, u64)>::deserialize(deserializer)?;
        FnRef::from_wire(offset, fingerprint).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: u64, b: u64) -> u64 {
        a + b
    }

    #[test]
    fn a_reference_round_trips_to_the_same_function() {
        let (offset, fingerprint) = FnRef::new(add as fn(u64, u64) -> u64).to_wire();
        let f = FnRef::<fn(u64, u64) -> u64>::from_wire(offset, fingerprint).unwrap();
        assert_eq!(f.get()(40, 2), 42);
    }

    #[test]
    fn a_reference_from_another_image_is_refused() {
        let (offset, fingerprint) = FnRef::new(add as fn(u64, u64) -> u64).to_wire();
        assert_eq!(
            FnRef::<fn(u64, u64) -> u64>::from_wire(offset, fingerprint.wrapping_add(1)),
            Err(ForeignFunction)
        );
    }
}
