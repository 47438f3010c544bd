//! The Redis backend's OS seam: the entry that takes over a worker host's execution before
//! `main` (as mp-process's spawn entry does), and the environment edit it needs.

use std::ffi::OsStr;

/// Runs before `main` in every execution of a program built with the `redis` feature: an
/// execution with [`WORKER_ENV`](super::WORKER_ENV) set becomes a worker host and never
/// reaches `main`; any other returns at once.
///
/// Placing a function pointer in `.init_array` is what that section is for; the function is an
/// ordinary safe one.
#[used]
#[unsafe(link_section = ".init_array")]
static WORKER_ENTRY: extern "C" fn() = worker_entry;

/// Takes over a worker host's execution; returns at once from any other.
extern "C" fn worker_entry() {
    // A panic must not unwind out of an `extern "C"` function.
    let _ = std::panic::catch_unwind(super::host::take_over_if_worker);
}

/// Removes `name` from the environment. Only from the `.init_array` entry, which runs while the
/// process has its one thread (before `main`).
pub(super) fn remove_env_single_threaded(name: &OsStr) {
    // SAFETY: called before `main`, while no other thread exists that could read the
    // environment at the same time.
    unsafe { std::env::remove_var(name) };
}
