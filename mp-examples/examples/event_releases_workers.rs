//! The article's Event (section 2.5): three workers wait for an event that the main process
//! sets after three seconds; then each works for two seconds.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import Event, Process  use mp_process::Process;
//!                                             use mp_sync::Event;
//! def worker(event, name):                    fn worker((event, name): (Event, usize)) {
//!     print("Worker", name,                       println!("Worker {name} waiting for event");
//!           "waiting for event")
//!     event.wait()                                event.wait();
//!     print("Worker", name, "received event")     println!("Worker {name} received event");
//!     time.sleep(2)                               sleep(Duration::from_secs(2));
//!     print("Worker", name, "completed task")     println!("Worker {name} completed task");
//! event = Event()                             let event = Event::new()?;
//! processes = []                              let processes = start_all((0..3).map(|i|
//! for i in range(3):                              Process::new(worker, (event.clone(), i))))?;
//!     p = Process(target=worker,
//!                 args=(event, i))
//!     processes.append(p)
//!     p.start()
//! time.sleep(3)                               sleep(Duration::from_secs(3));
//!                                             println!("Main process sets the event");
//! event.set()                                 event.set();
//! for p in processes:                         join_all(&processes)?;
//!     p.join()
//! ```
//!
//! The main process says when it sets the event (a line the article does not print), so the
//! output shows that no worker received the event before it was set: `tests/examples.rs`
//! checks that. As in the semaphore example, the article leaves out `import time`.
//!
//! Run it with `cargo run -p mp-examples --example event_releases_workers`.

use std::time::Duration;

use mp_process::Process;
use mp_sync::Event;

/// Waits for the event, then works for two seconds.
fn worker((event, name): (Event, usize)) {
    println!("Worker {name} waiting for event");
    event.wait();
    println!("Worker {name} received event");
    std::thread::sleep(Duration::from_secs(2));
    println!("Worker {name} completed task");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let event = Event::new()?;
    let processes =
        mp_examples::start_all((0..3).map(|i| Process::new(worker, (event.clone(), i))))?;
    std::thread::sleep(Duration::from_secs(3));
    println!("Main process sets the event");
    event.set();
    mp_examples::join_all(&processes)?;
    Ok(())
}
