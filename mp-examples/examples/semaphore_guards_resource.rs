//! The article's Semaphore for synchronization (section 3.2): five workers share a resource
//! that at most two may use at once.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import (               use mp_process::Process;
//!     Semaphore, Process)                     use mp_sync::Semaphore;
//! semaphore = Semaphore(2)                    let semaphore = Semaphore::new(2)?;
//! def worker(semaphore, data):                fn worker((semaphore, users, data)) {
//!     semaphore.acquire()                         semaphore.acquire();
//!     try:
//!         # Operate on shared resources           use_resource(&users, data);
//!         pass
//!     finally:
//!         semaphore.release()                     semaphore.release()?;
//! processes = []                              let processes = start_all((0..5).map(|i|
//! for i in range(5):                              Process::new(worker, (semaphore.clone(), users.clone(), i))))?;
//!     p = Process(target=worker,
//!                 args=(semaphore, i))
//!     processes.append(p)
//!     p.start()
//! for p in processes:                         join_all(&processes)?;
//!     p.join()
//! ```
//!
//! The article's worker does nothing with the resource (`pass`). Here using it means
//! counting oneself in a shared `Value` of current users for a moment, and keeping the
//! highest count seen in a second one; the main process prints that highest count at the
//! end, and it is never above two. A semaphore has no owner (unlike a `Lock`), so Python's
//! `try`/`finally` is simply the release after the use.
//!
//! Run it with `cargo run -p mp-examples --example semaphore_guards_resource`.

use std::time::Duration;

use mp_ipc::Value;
use mp_process::Process;
use mp_sync::Semaphore;

/// Who uses the resource: how many now, and the most at once so far.
type Users = (Value<u32>, Value<u32>);

/// Uses the resource for a moment, counted in `users`.
fn use_resource((now, most): &Users, data: usize) {
    let count = {
        let mut now = now.lock();
        *now += 1;
        *now
    };
    {
        let mut most = most.lock();
        *most = (*most).max(count);
    }
    println!("Worker {data} enters ({count} using the resource)");
    std::thread::sleep(Duration::from_millis(300));
    println!("Worker {data} leaves");
    *now.lock() -= 1;
}

/// Uses the resource while holding one of the semaphore's two places.
fn worker((semaphore, users, data): (Semaphore, Users, usize)) {
    semaphore.acquire();
    use_resource(&users, data);
    semaphore.release().expect("a plain semaphore has no bound");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let semaphore = Semaphore::new(2)?;
    let users: Users = (Value::new(0)?, Value::new(0)?);
    let processes = mp_examples::start_all(
        (0..5).map(|i| Process::new(worker, (semaphore.clone(), users.clone(), i))),
    )?;
    mp_examples::join_all(&processes)?;
    println!(
        "At most {} workers used the resource at once",
        users.1.get()
    );
    Ok(())
}
