//! The Redis backend's OS seam: the entry that takes over a worker host's execution before
//! `main` (as mp-process's spawn entry does).

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
