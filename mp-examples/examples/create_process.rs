//! The article's "Create a process" (section 2): create a process with a target, start it,
//! check whether it is running, and wait for it to end.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! import multiprocessing                      use mp_process::Process;
//! def worker():                               fn worker(_: ()) {
//!     # The logic of process execution            println!(...); sleep(1 s);
//! if __name__ == '__main__':                  fn main() {
//!     process = multiprocessing.Process(          let mut process = Process::new(worker, ());
//!         target=worker)
//!     process.start()                             process.start()?;
//!     if process.is_alive():                      if process.is_alive()? {
//!         print("Process is running")                 println!("Process is running");
//!     process.join()                              process.join()?;
//! ```
//!
//! The article leaves the worker empty; here it says where it runs and sleeps for a second,
//! so that it is still running when `is_alive` looks. A target is a plain `fn` taking its
//! arguments as one serde value (here none, `()`): it runs under every start method.
//!
//! Run it with `cargo run -p mp-examples --example create_process`.

use std::time::Duration;

use mp_process::Process;

/// The logic the process executes.
fn worker(_: ()) {
    println!("Worker is running in its own process");
    std::thread::sleep(Duration::from_secs(1));
}

fn main() -> Result<(), mp_examples::Error> {
    let mut process = Process::new(worker, ());
    process.start()?;
    if process.is_alive()? {
        println!("Process is running");
    }
    let code = process.join()?;
    println!("Process finished with exit code {code}");
    println!("Process is alive after join: {}", process.is_alive()?);
    Ok(())
}
