//! The article's condition variable for synchronization (section 3.4): five consumers wait
//! on one condition, each checking it in a loop; a producer makes items and wakes them all
//! with `notify_all`.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import (               use mp_ipc::Value;
//!     Condition, Process)                     use mp_process::Process;
//!                                             use mp_sync::Condition;
//! condition = Condition()                     let condition = Condition::new()?;
//! def consumer(condition, data):              fn consumer((condition, stock, data)) {
//!     with condition:                             let mut guard = condition.acquire()?;
//!         while True:                             loop {
//!             # Check whether the conditions
//!             # are met
//!             while not condition_is_met():           while !condition_is_met(&stock) {
//!                 condition.wait()                        guard = condition.wait(guard)?;
//!                                                     }
//!                                                     if stock.is_finished() { break }
//!             # Consume data from shared              let item = stock.take();
//!             # resources
//! def producer(condition, data):              fn producer((condition, stock)) {
//!                                                 for item in 0..ITEMS {
//!     with condition:                                 let guard = condition.acquire()?;
//!         # Generate data and update                  stock.put();
//!         # shared resources
//!         condition.notify_all()                      condition.notify_all();
//! processes = []                              let consumers = start_all((0..5).map(|i|
//! for i in range(5):                              Process::new(consumer, (condition.clone(), stock.clone(), i))))?;
//!     p = Process(target=consumer,
//!                 args=(condition, i))
//!     processes.append(p)
//!     p.start()
//! producer_process = Process(                 let producer_process = start_all([
//!     target=producer,                            Process::new(producer, (condition, stock))])?;
//!     args=(condition, data))
//! producer_process.start()
//! for p in processes:                         join_all(&consumers)?;
//!     p.join()
//! producer_process.join()                     join_all(&producer_process)?;
//! ```
//!
//! **Where the article is broken**: `condition_is_met` and `data` are never defined, the
//! consumer's `def` is written twice (the first one cut off), the producer never says what
//! it changes, and the consumers' `while True` never ends, so the final `join`s wait
//! forever. What it clearly means, done here: the shared resource is a stock of items (two
//! shared `Value`s: how many were made, how many taken); the producer makes ten, one every
//! 100 ms, each under the condition's lock, and `notify_all`s after each; a consumer's
//! condition is "an item is waiting, or the producer has finished", checked in a loop around
//! `wait` as the article shows (a woken consumer may find that another took the item); a
//! consumer leaves when the producer has finished and the stock is empty. Every item is
//! taken exactly once, by whichever consumer gets the lock first.
//!
//! Run it with `cargo run -p mp-examples --example condition_notify_all`.

use std::time::Duration;

use mp_ipc::Value;
use mp_process::Process;
use mp_sync::Condition;

/// How many items the producer makes.
const ITEMS: u32 = 10;

/// The shared resource: a stock of numbered items. Read and changed only under the
/// condition's lock.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Stock {
    /// How many items were made so far (the items are numbered from 0).
    made: Value<u32>,
    /// How many were taken (the next to take is item `taken`).
    taken: Value<u32>,
}

impl Stock {
    /// Makes the next item and returns its number.
    fn put(&self) -> u32 {
        let mut made = self.made.lock();
        *made += 1;
        *made - 1
    }

    /// Takes the oldest waiting item and returns its number.
    fn take(&self) -> u32 {
        let mut taken = self.taken.lock();
        *taken += 1;
        *taken - 1
    }

    /// Whether an item waits to be taken.
    fn has_item(&self) -> bool {
        self.taken.get() < self.made.get()
    }

    /// Whether every item was made and taken: nothing more will come.
    fn is_finished(&self) -> bool {
        self.made.get() == ITEMS && !self.has_item()
    }
}

/// The article's `condition_is_met`: something to do, an item or the end.
fn condition_is_met(stock: &Stock) -> bool {
    stock.has_item() || stock.made.get() == ITEMS
}

/// Takes items as they come until the producer has finished and the stock is empty.
fn consumer((condition, stock, data): (Condition, Stock, usize)) {
    // A holder that died left at worst an item counted but not announced: go on.
    let mut guard = condition.acquire().unwrap_or_else(|died| died.into_inner());
    loop {
        while !condition_is_met(&stock) {
            guard = condition
                .wait(guard)
                .unwrap_or_else(|died| died.into_inner());
        }
        if stock.is_finished() {
            break;
        }
        let item = stock.take();
        println!("Consumer {data} consumed item {item}");
    }
    drop(guard);
    println!("Consumer {data} leaves: the producer has finished");
}

/// Makes the items one at a time, waking every consumer after each.
fn producer((condition, stock): (Condition, Stock)) {
    for _ in 0..ITEMS {
        std::thread::sleep(Duration::from_millis(100));
        let _guard = condition.acquire().unwrap_or_else(|died| died.into_inner());
        let item = stock.put();
        println!("Producer produced item {item}");
        condition.notify_all();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let condition = Condition::new()?;
    let stock = Stock {
        made: Value::new(0)?,
        taken: Value::new(0)?,
    };
    let consumers = mp_examples::start_all(
        (0..5).map(|i| Process::new(consumer, (condition.clone(), stock.clone(), i))),
    )?;
    let producer_process = mp_examples::start_all([Process::new(producer, (condition, stock))])?;
    mp_examples::join_all(&consumers)?;
    mp_examples::join_all(&producer_process)?;
    Ok(())
}
