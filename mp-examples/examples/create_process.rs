//! The article's "Create a process" example: create a process with a target, start it, check
//! whether it is running, and wait for it.
//!
//! ```python
//! import multiprocessing
//! def worker():
//!     # The logic of process execution
//! if __name__ == '__main__':
//!     process = multiprocessing.Process(target=worker)
//!     process.start()
//!     if process.is_alive():
//!         print("Process is running")
//!     process.join()
//! ```
//!
//! Run it with `cargo run -p mp-examples --example create_process`.

use std::time::Duration;

use mp_process::Process;

/// The logic the process executes.
fn worker(_: ()) {
    println!("worker: running in pid {}", std::process::id());
    std::thread::sleep(Duration::from_millis(200));
}

fn main() -> Result<(), mp_process::Error> {
    let mut process = Process::new(worker, ());
    process.start()?;
    if process.is_alive()? {
        println!("Process is running");
    }
    let code = process.join()?;
    println!("Process finished with exit code {code}");
    Ok(())
}
