//! The article's Lock (section 3.1): five workers take turns at a shared resource, one at a
//! time.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import Lock, Process   use mp_process::Process;
//!                                             use mp_sync::Lock;
//! lock = Lock()                               let lock = Lock::new()?;
//! def worker(lock, data):                     fn worker((lock, data): (Lock, usize)) {
//!     lock.acquire()                              let guard = lock.acquire()?;
//!     try:
//!         # Operate on shared resources           for step in 1..=3 { println!(...) }
//!         pass
//!     finally:
//!         lock.release()                          drop(guard);
//! processes = []                              let processes = start_all((0..5).map(|i|
//! for i in range(5):                              Process::new(worker, (lock.clone(), i))))?;
//!     p = Process(target=worker,
//!                 args=(lock, i))
//!     processes.append(p)
//!     p.start()
//! for p in processes:                         join_all(&processes)?;
//!     p.join()
//! ```
//!
//! The article's worker does nothing with the resource (`pass`). Here the shared resource is
//! the terminal everyone writes to: a worker writes three lines, pausing between them, while
//! it holds the lock, so each worker's lines stay together (without the lock they would
//! interleave). Python's `try`/`finally` around `release()` is the guard here: dropping it
//! releases the lock, on every path out.
//!
//! Run it with `cargo run -p mp-examples --example lock_guards_resource`.

use std::time::Duration;

use mp_process::Process;
use mp_sync::Lock;

/// Writes three lines to the shared terminal while holding the lock.
fn worker((lock, data): (Lock, usize)) {
    // A holder that died left at worst a short block of lines: take the lock anyway.
    let guard = lock.acquire().unwrap_or_else(|died| died.into_inner());
    for step in 1..=3 {
        println!("Worker {data} writes line {step} of 3");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(guard);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    let processes =
        mp_examples::start_all((0..5).map(|i| Process::new(worker, (lock.clone(), i))))?;
    mp_examples::join_all(&processes)?;
    Ok(())
}
