//! The article's Queue (section 2.1): one process puts data into a queue, another gets it.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import Queue           use mp_ipc::Queue;
//! queue = Queue()                             let queue = Queue::<Option<String>>::new()?;
//! # Process 1 puts data                       fn producer(queue) {
//! queue.put(data)                                 queue.put(Some(data))?;
//! # Process 2 gets data                       fn consumer(queue) {
//! data = queue.get()                              while let Some(data) = queue.get()? {
//! ```
//!
//! The article shows only the two calls; here they run in two child processes. The producer
//! ends with `None` (Python's usual sentinel) so that the consumer knows when to stop. One
//! producer, so the items come out in the order they went in.
//!
//! Run it with `cargo run -p mp-examples --example queue_between_processes`.

use mp_ipc::Queue;
use mp_process::Process;

/// What process 1 sends.
const FRUITS: [&str; 5] = ["apple", "banana", "cherry", "date", "elderberry"];

/// Process 1: puts each fruit, then the sentinel.
fn producer(queue: Queue<Option<String>>) {
    for fruit in FRUITS {
        println!("Process 1 puts {fruit}");
        queue
            .put(Some(fruit.to_owned()))
            .expect("the queue is open");
    }
    queue.put(None).expect("the queue is open");
}

/// Process 2: gets items until the sentinel.
fn consumer(queue: Queue<Option<String>>) {
    while let Some(data) = queue.get().expect("the queue is open") {
        println!("Process 2 gets {data}");
    }
    println!("Process 2 got the end of the data");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue = Queue::new()?;
    let processes = mp_examples::start_all([
        Process::new(producer, queue.clone()),
        Process::new(consumer, queue),
    ])?;
    mp_examples::join_all(&processes)?;
    Ok(())
}
