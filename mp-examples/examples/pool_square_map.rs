//! The article's example of using a process pool (section 4.5): `Pool(4).map(square,
//! range(10))` prints the squares of 0 to 9, in order.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import Pool            use mp_pool::Pool;
//! def square(x):                              fn square(x: u64) -> u64 {
//!     return x ** 2                               x.pow(2)
//! if __name__ == '__main__':                  fn main() {
//!     with Pool(processes=4) as pool:             let pool = Pool::new(4)?;
//!         results = pool.map(square,              let results = pool.map(square, 0..10)?
//!                            range(10))               .into_iter()
//!                                                     .collect::<Result<Vec<_>, _>>()?;
//!         print(results)                          println!("{results:?}");
//! ```
//!
//! The article lost `pool.map` to `(square, range(10))`; it clearly means it (its text says
//! so). Its `with` block ends by terminating the pool (Python's `__exit__` calls
//! `terminate`); dropping a `Pool` at the end of `main` does the same, after `map` has every
//! result. Each item's result is a `Result` (a task can fail alone: its worker may die);
//! `collect` turns them into one list, or the first error.
//!
//! Run it with `cargo run -p mp-examples --example pool_square_map`.

use mp_pool::Pool;

/// The task: the square of `x`.
fn square(x: u64) -> u64 {
    x.pow(2)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::new(4)?;
    let results = pool
        .map(square, 0..10)?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    println!("{results:?}");
    Ok(())
}
