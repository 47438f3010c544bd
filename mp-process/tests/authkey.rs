//! `current_process().authkey()`: random per process tree, inherited by children under every
//! start method (Python's `current_process().authkey`), and replaceable before a start. (Its
//! own test binary: `set_authkey` is process-wide.)

mod common;

use common::{join, start};
use mp_process::{StartMethod, current_process, set_authkey};

/// Exits 0 when the child's authkey is `expected`.
fn check_key(expected: Vec<u8>) {
    let code = if current_process().authkey() == expected.as_slice() {
        0
    } else {
        3
    };
    std::process::exit(code);
}

#[test]
fn children_inherit_the_authkey_and_a_replaced_one() {
    let key = current_process().authkey().to_vec();
    assert_eq!(key.len(), 32);
    assert!(key.iter().any(|&b| b != 0), "not random");
    for method in StartMethod::ALL {
        let p = start(method, check_key, key.clone());
        assert_eq!(join(&p), 0, "{method:?}");
    }
    set_authkey(b"chosen");
    assert_eq!(current_process().authkey(), b"chosen");
    for method in StartMethod::ALL {
        let p = start(method, check_key, b"chosen".to_vec());
        assert_eq!(join(&p), 0, "{method:?}");
    }
}
