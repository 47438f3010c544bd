//! The article's more complex pool example (section 4.5): five fruits uppercased by
//! `apply_async` on three workers, each task taking a second; the results come back in the
//! order the tasks were submitted, in about two seconds (two rounds of three workers).
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! import time                                 use mp_pool::Pool;
//! from multiprocessing import Pool
//! def process_data(data):                     fn process_data(data: String) -> String {
//!     time.sleep(1)                               sleep(Duration::from_secs(1));
//!     return data.upper()                         data.to_uppercase()
//! if __name__ == '__main__':                  fn main() {
//!     with Pool(processes=3) as pool:             let pool = Pool::new(3)?;
//!         data_list = ['apple', 'banana',         let data_list = ["apple", "banana",
//!             'cherry', 'date', 'elderberry']         "cherry", "date", "elderberry"];
//!         results = [pool.apply_async(            let results = data_list.iter().map(|data|
//!             process_data, args=(data,))             pool.apply_async(process_data, data.to_string()))
//!             for data in data_list]                  .collect::<Result<Vec<_>, _>>()?;
//!         final_results = [result.get()           let final_results = results.into_iter()
//!             for result in results]                  .map(|r| r.get()).collect::<Result<Vec<_>, _>>()?;
//!         for result in final_results:            for result in final_results {
//!             print(result)                           println!("{result}");
//! ```
//!
//! The article's `time.sleep(1)`, `return data.upper()` and `result.get()` lost their names
//! (`(1)`, `return ()`, `[() for result in results]`); it clearly means them (its text says
//! so). The main process also prints how long it took, measured, which the article only
//! implies: five one-second tasks on three workers take two rounds.
//!
//! Run it with `cargo run -p mp-examples --example pool_apply_async_in_order`.

use std::time::{Duration, Instant};

use mp_pool::Pool;

/// The task: a second of simulated work, then the fruit in capitals.
fn process_data(data: String) -> String {
    std::thread::sleep(Duration::from_secs(1));
    data.to_uppercase()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::new(3)?;
    let data_list = ["apple", "banana", "cherry", "date", "elderberry"];
    let started = Instant::now();
    let results = data_list
        .iter()
        .map(|data| pool.apply_async(process_data, data.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let final_results = results
        .into_iter()
        .map(|result| result.get())
        .collect::<Result<Vec<_>, _>>()?;
    let took = started.elapsed();
    for result in final_results {
        println!("{result}");
    }
    println!(
        "{} tasks of 1 s on {} workers took {:.1} s",
        data_list.len(),
        pool.size(),
        took.as_secs_f64()
    );
    Ok(())
}
