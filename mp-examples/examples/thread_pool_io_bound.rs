//! The article's closing advice (end of section 4.5): a process pool is for CPU-bound work;
//! I/O-bound tasks, which spend their time waiting, are better served by a thread pool. Here a
//! `ThreadPool` of four threads fetches eight "pages", each waiting half a second on its
//! "server", and the waits overlap: about one second in all, not four.
//!
//! ```text
//! Python (what the article advises)           Rust (this file)
//! from multiprocessing.pool import ThreadPool use mp_pool::ThreadPool;
//! def fetch(page):                            fn fetch(page: u32) -> String {
//!     time.sleep(0.5)  # waiting on I/O           sleep(Duration::from_millis(500));
//!     return f"page {page}: ..."                  format!("page {page}: ...")
//! with ThreadPool(4) as pool:                 let pool = ThreadPool::new(4)?;
//!     for page in pool.imap(fetch,                for page in pool.imap(fetch, 0..8)? {
//!                           range(8)):
//!         print(page)                                 println!("{}", page?);
//! ```
//!
//! The article gives no code for this; the program above is what it advises. The waiting is
//! simulated with a sleep so that the example needs no network; a real fetch, a file read or a
//! database query waits the same way. Threads share the process's memory, so a `ThreadPool`
//! takes closures and values that are not serde (here `fetch` reads `server` from its caller),
//! where a process `Pool` takes plain `fn`s with serde arguments.
//!
//! Run it with `cargo run -p mp-examples --example thread_pool_io_bound`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_pool::ThreadPool;

/// How long one request waits for its answer.
const LATENCY: Duration = Duration::from_millis(500);

/// The pages to fetch.
const PAGES: u32 = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = ThreadPool::new(4)?;
    // Shared with the threads as is: no encoding, no copy into another process.
    let server = Arc::new(String::from("example.invalid"));
    let fetch = move |page: u32| {
        std::thread::sleep(LATENCY); // waiting on I/O: the thread does no work meanwhile
        format!("page {page} of {server}: {} bytes", 1000 + page)
    };
    let started = Instant::now();
    for page in pool.imap(fetch, 0..PAGES)? {
        println!("{}", page?);
    }
    let took = started.elapsed();
    println!(
        "{PAGES} fetches of {} ms each on {} threads took {:.1} s (one after another: {:.1} s)",
        LATENCY.as_millis(),
        pool.size(),
        took.as_secs_f64(),
        (LATENCY * PAGES).as_secs_f64()
    );
    pool.close();
    pool.join()?;
    Ok(())
}
