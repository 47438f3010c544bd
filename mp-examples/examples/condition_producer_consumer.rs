//! The article's condition variable (section 2.6): a consumer waits on a condition until a
//! producer has made the product and notifies it.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import (               use mp_ipc::Value;
//!     Condition, Process)                     use mp_sync::Condition;
//! def consumer(condition):                    fn consumer((condition, products)) {
//!     with condition:                             let guard = condition.acquire()?;
//!         print("Consumer is waiting")            println!("Consumer is waiting");
//!         condition.wait()                        let guard = condition.wait_for(guard,
//!                                                     || products.get() > 0)?;
//!         print("Consumer is consuming            println!("Consumer is consuming the product");
//!                the product")
//! def producer(condition):                    fn producer((condition, products)) {
//!     with condition:                             let guard = condition.acquire()?;
//!         time.sleep(2)                           sleep(Duration::from_secs(2));
//!         print("Producer is producing            println!("Producer is producing the product");
//!                the product")                    *products.lock() += 1;
//!         condition.notify()                      condition.notify(1);
//! condition = Condition()                     let condition = Condition::new()?;
//! consumer_process = Process(                 let consumer_process = Process::new(consumer,
//!     target=consumer, args=(condition,))         (condition.clone(), products.clone()));
//! producer_process = Process(                 let producer_process = Process::new(producer,
//!     target=producer, args=(condition,))         (condition, products));
//! consumer_process.start()                    consumer_process.start()?;
//! producer_process.start()                    producer_process.start()?;
//! consumer_process.join()                     consumer_process.join()?;
//! producer_process.join()                     producer_process.join()?;
//! ```
//!
//! **Where the article is broken**: its consumer waits with a bare `condition.wait()`, with
//! nothing to say whether the product exists. If the producer takes the lock first (the two
//! are started together, so it often does), it notifies before the consumer waits, nobody
//! hears it, and the consumer then waits forever. The article clearly means "wait until
//! there is a product", so the product count lives in a shared `Value` that the producer
//! raises before it notifies, and the consumer waits *for* it (`wait_for`, Python's
//! `condition.wait_for(predicate)`), which also covers a spurious wake-up. "Consumer is
//! waiting" may therefore come after "Producer is producing the product"; "consuming" always
//! comes after "producing".
//!
//! Run it with `cargo run -p mp-examples --example condition_producer_consumer`.

use std::time::Duration;

use mp_ipc::Value;
use mp_process::Process;
use mp_sync::Condition;

/// Waits until there is a product, then consumes it.
fn consumer((condition, products): (Condition, Value<u32>)) {
    // A holder that died would have left nothing half-done here: take the lock anyway.
    let guard = condition.acquire().unwrap_or_else(|died| died.into_inner());
    println!("Consumer is waiting");
    let guard = condition
        .wait_for(guard, || products.get() > 0)
        .unwrap_or_else(|died| died.into_inner());
    *products.lock() -= 1;
    println!("Consumer is consuming the product");
    drop(guard);
}

/// Makes the product (two seconds, holding the lock, as the article does) and notifies.
fn producer((condition, products): (Condition, Value<u32>)) {
    let _guard = condition.acquire().unwrap_or_else(|died| died.into_inner());
    std::thread::sleep(Duration::from_secs(2));
    println!("Producer is producing the product");
    *products.lock() += 1;
    condition.notify(1);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let condition = Condition::new()?;
    let products = Value::new(0u32)?;
    let mut consumer_process = Process::new(consumer, (condition.clone(), products.clone()));
    let mut producer_process = Process::new(producer, (condition, products));
    consumer_process.start()?;
    producer_process.start()?;
    mp_examples::join_all(&[consumer_process, producer_process])?;
    Ok(())
}
