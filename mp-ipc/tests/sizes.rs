//! Hostile and boundary sizes: an impossible size is a typed error, never an out-of-bounds
//! access (issue 7, memory safety).

use mp_ipc::{Array, Error, RawArray};
use proptest::prelude::*;

#[test]
fn an_array_whose_byte_size_overflows_is_an_error() {
    // `len * 8` wraps to 0 in release builds: it must not be accepted.
    let r = Array::<u64>::zeroed(usize::MAX / 4 + 1);
    assert!(matches!(r, Err(Error::TooManyElements { .. })), "{r:?}");
    let r = RawArray::<[u64; 4]>::zeroed(usize::MAX / 16);
    assert!(matches!(r, Err(Error::TooManyElements { .. })), "{r:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any length: either a usable array of exactly that length or a typed error.
    #[test]
    fn any_array_length_is_usable_or_refused(
        len in prop_oneof![
            0usize..4096,
            (usize::MAX / 64)..=usize::MAX,
            Just(isize::MAX as usize / 8),
            Just(isize::MAX as usize / 8 + 1),
        ],
    ) {
        match Array::<u64>::zeroed(len) {
            Ok(a) => {
                prop_assert_eq!(a.len(), len);
                if len > 0 {
                    prop_assert!(a.set(len - 1, 7));
                    prop_assert_eq!(a.get(len - 1), Some(7));
                }
                prop_assert!(!a.set(len, 1));
                prop_assert_eq!(a.get(len), None);
            }
            Err(e) => prop_assert!(
                matches!(e, Error::TooManyElements { .. } | Error::Os(_)),
                "unexpected {e:?}"
            ),
        }
    }
}
