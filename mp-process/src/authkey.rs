//! The process's authkey (Python's `current_process().authkey`): 32 random bytes made by the
//! first process of a tree on first use, taken over by every child (a fork child has it in its
//! copy of memory; a fresh child gets it in its launch message), and replaceable with
//! [`set_authkey`]. `mp_ipc::Listener` and `mp_ipc::Client` take it as their key.

use std::fmt;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::sys::Leaked;

/// The current key (none until first use).
static AUTHKEY: Leaked<AuthKey> = Leaked::new();

/// An authkey; its `Debug` does not print it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuthKey(pub(crate) Vec<u8>);

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKey({} bytes)", self.0.len())
    }
}

/// This process's authkey, made from the kernel's random source on first use.
pub(crate) fn authkey() -> &'static AuthKey {
    loop {
        let current = AUTHKEY.get();
        if let Some(key) = current {
            return key;
        }
        let mut key = vec![0; 32];
        // Without a random source there is no safe key: stop rather than use a guessable one.
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .expect("cannot read /dev/urandom for the process's authkey");
        // Another thread may make one first: then that one is the key.
        if let Err(other) = AUTHKEY.replace(None, Box::new(AuthKey(key))) {
            return other;
        }
    }
}

/// Makes `key` this process's authkey (Python's `current_process().authkey = key`): children
/// started after take it over. References to the old key stay valid.
pub fn set_authkey(key: &[u8]) {
    AUTHKEY.set(Box::new(AuthKey(key.to_vec())));
}
