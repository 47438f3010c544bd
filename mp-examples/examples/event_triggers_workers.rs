//! The article's Event for synchronization (section 3.3): five workers wait for an event;
//! the main process triggers it and they all go on.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import Event, Process  use mp_process::Process;
//!                                             use mp_sync::Event;
//! event = Event()                             let event = Event::new()?;
//! def worker(event, data):                    fn worker((event, data): (Event, usize)) {
//!     event.wait()                                event.wait();
//!     # Execute tasks                             println!("Worker {data} executes its task");
//! processes = []                              let processes = start_all((0..5).map(|i|
//! for i in range(5):                              Process::new(worker, (event.clone(), i))))?;
//!     p = Process(target=worker,
//!                 args=(event, i))
//!     processes.append(p)
//!     p.start()
//! # Trigger event occurrence                  println!("Main process triggers the event");
//! event.set()                                 event.set();
//! for p in processes:                         join_all(&processes)?;
//!     p.join()
//! ```
//!
//! The article's workers do nothing after the wait; here each says it runs its task. The
//! main process gives them half a second to reach `wait` before it triggers the event (the
//! article sets it at once, when perhaps none is waiting yet, which shows nothing), and says
//! so first, so the output shows that every task ran after the trigger.
//!
//! Run it with `cargo run -p mp-examples --example event_triggers_workers`.

use std::time::Duration;

use mp_process::Process;
use mp_sync::Event;

/// Waits for the event, then runs its task.
fn worker((event, data): (Event, usize)) {
    println!("Worker {data} waits for the event");
    event.wait();
    println!("Worker {data} executes its task");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let event = Event::new()?;
    let processes =
        mp_examples::start_all((0..5).map(|i| Process::new(worker, (event.clone(), i))))?;
    std::thread::sleep(Duration::from_millis(500));
    println!("Main process triggers the event");
    event.set();
    mp_examples::join_all(&processes)?;
    Ok(())
}
