//! The article's Semaphore (section 2.4): `Semaphore(2)` lets two of five workers in at a
//! time; each holds it for two seconds.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import (               use mp_process::Process;
//!     Semaphore, Process)                     use mp_sync::Semaphore;
//! def worker(semaphore, name):                fn worker((semaphore, name): (Semaphore, usize)) {
//!     semaphore.acquire()                         semaphore.acquire();
//!     print("Worker", name,                       println!("Worker {name} acquired semaphore");
//!           "acquired semaphore")
//!     time.sleep(2)                               sleep(Duration::from_secs(2));
//!     print("Worker", name,                       println!("Worker {name} released semaphore");
//!           "released semaphore")
//!     semaphore.release()                         semaphore.release()?;
//! semaphore = Semaphore(2)                    let semaphore = Semaphore::new(2)?;
//! processes = []                              let processes = start_all((0..5).map(|i|
//! for i in range(5):                              Process::new(worker, (semaphore.clone(), i))))?;
//!     p = Process(target=worker,
//!                 args=(semaphore, i))
//!     processes.append(p)
//!     p.start()
//! for p in processes:                         join_all(&processes)?;
//!     p.join()
//! ```
//!
//! The article leaves out `import time` and the `if __name__ == '__main__':` guard its
//! forkserver/spawn children need; Rust needs neither. A worker prints "acquired" after it
//! holds the semaphore and "released" before it gives it back, so at every point of the
//! output at most two workers are between the two lines: `tests/examples.rs` checks that.
//! Five workers, two at a time, two seconds each: about six seconds.
//!
//! Run it with `cargo run -p mp-examples --example semaphore_admits_two`.

use std::time::Duration;

use mp_process::Process;
use mp_sync::Semaphore;

/// Holds one of the semaphore's two places for two seconds.
fn worker((semaphore, name): (Semaphore, usize)) {
    semaphore.acquire();
    println!("Worker {name} acquired semaphore");
    std::thread::sleep(Duration::from_secs(2));
    println!("Worker {name} released semaphore");
    semaphore.release().expect("a plain semaphore has no bound");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let semaphore = Semaphore::new(2)?;
    let processes =
        mp_examples::start_all((0..5).map(|i| Process::new(worker, (semaphore.clone(), i))))?;
    mp_examples::join_all(&processes)?;
    Ok(())
}
