//! Wake-ups a thread owes until it unlocks a mutex: the deferred half of a condition
//! variable's notify, kept per thread and keyed by the mutex's address, so that no field of
//! the shared mutex (which every holder could clear) records them.

use std::cell::{Cell, RefCell};

/// A wake-up to make, and the mutex (by address) whose unlock it waits for.
type Owed = (usize, Box<dyn FnOnce()>);

thread_local! {
    /// The wake-ups this thread owes.
    static OWED: RefCell<Vec<Owed>> = const { RefCell::new(Vec::new()) };
    /// Whether `OWED` may be non-empty: one cheap look on every unlock.
    static ANY: Cell<bool> = const { Cell::new(false) };
}

/// Records `wake`, to run after this thread's next unlock of the mutex at `mutex`.
pub(super) fn owe(mutex: usize, wake: Box<dyn FnOnce()>) {
    OWED.with(|owed| owed.borrow_mut().push((mutex, wake)));
    ANY.with(|any| any.set(true));
}

/// Runs (and forgets) the wake-ups owed to the mutex at `mutex`, just unlocked by this thread.
#[inline(always)]
pub(super) fn run_owed(mutex: usize) {
    if ANY.with(Cell::get) {
        run_owed_slow(mutex);
    }
}

#[cold]
fn run_owed_slow(mutex: usize) {
    let due: Vec<Owed> = OWED.with(|owed| {
        let mut owed = owed.borrow_mut();
        let (due, keep) = owed.drain(..).partition(|(m, _)| *m == mutex);
        *owed = keep;
        ANY.with(|any| any.set(!owed.is_empty()));
        due
    });
    // Run outside the borrow: a wake-up may itself unlock or defer.
    for (_, wake) in due {
        wake();
    }
}
