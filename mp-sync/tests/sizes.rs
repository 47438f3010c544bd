//! Issue 7 size audit: a segment or barrier size from a caller never wraps into a smaller
//! mapping; an impossible size is a typed error, never a panic or an undersized segment.

use mp_sync::raw::{Segment, SharedHeader};
use mp_sync::{Barrier, Error, MAX_PARTIES};
use proptest::prelude::*;

#[repr(C)]
struct Header {
    word: std::sync::atomic::AtomicU64,
}

// SAFETY: repr(C), one atomic, valid zeroed, no addresses.
unsafe impl SharedHeader for Header {
    const KIND: u32 = 0x7a73_7a73;
}

/// Creates a segment of `data_len` data bytes: `Ok` only with exactly that many.
fn create(data_len: usize) -> Result<usize, std::io::Error> {
    Segment::<Header>::create(data_len, |_| Ok(())).map(|seg| seg.data().1)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sizes_near_the_top_of_the_address_space_are_refused(back in 0usize..1 << 16) {
        // Past isize::MAX with the header: refused before asking the OS.
        for data_len in [usize::MAX - back, (isize::MAX as usize) + back] {
            let err = create(data_len).expect_err("no such segment fits");
            prop_assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        }
        // Just below: the OS refuses (out of memory), also as an error.
        prop_assert!(create((isize::MAX as usize) - back).is_err());
    }

    #[test]
    fn small_sizes_give_exactly_the_data_area_asked_for(data_len in 0usize..1 << 20) {
        prop_assert_eq!(create(data_len).unwrap(), data_len);
        // The whole data area is writable (the last byte too).
        let seg = Segment::<Header>::create(data_len, |_| Ok(())).unwrap();
        let (ptr, len) = seg.data();
        if len > 0 {
            // SAFETY: `ptr..ptr + len` is the live data area of `seg`.
            unsafe { ptr.add(len - 1).write(0xa5) };
        }
    }

    #[test]
    fn barriers_above_the_party_limit_are_refused(extra in 1u32..=u32::MAX - MAX_PARTIES) {
        prop_assert!(matches!(Barrier::new(MAX_PARTIES + extra), Err(Error::TooManyParties(_))));
    }
}

#[test]
fn a_barrier_at_the_party_limit_is_made() {
    let barrier = Barrier::new(MAX_PARTIES).unwrap();
    assert_eq!(barrier.parties(), MAX_PARTIES as usize);
}
