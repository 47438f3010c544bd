//! The article's process pool, step by step (section 4, items 1 to 4): a pool as large as the
//! machine has CPUs, a task submitted with `apply`, many with `map` and with `imap`, then
//! `close` and `join`.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import Pool, cpu_count use mp_pool::Pool;
//! pool = Pool(processes=cpu_count())          let pool = Pool::new(mp_process::cpu_count())?;
//! result = pool.apply(function,               let result = pool.apply(function, (arg1, arg2))?;
//!                     args=(arg1, arg2))
//! results = pool.map(function, iterable)      let results = pool.map(square, iterable)?;
//! results = pool.imap(function, iterable)     let results = pool.imap(square, iterable)?;
//! for result in results:                      for result in results {
//!     print(result)                               println!("{}", result?);
//! pool.close()                                pool.close();
//! pool.join()                                 pool.join()?;
//! ```
//!
//! The article lost the names before its calls (`result = (function, args=(arg1, arg2))`);
//! it clearly means `pool.apply`, `pool.map` and `pool.imap`, and never says what `function`
//! does: here `apply` adds two numbers and `map` and `imap` square each. A task is a plain
//! `fn` of one serde argument, so `apply`'s two arguments travel as one tuple. Each result is
//! a `Result`: one task can fail alone (its worker may die) while the others complete.
//!
//! Run it with `cargo run -p mp-examples --example pool_apply_map_imap`.

use mp_pool::Pool;

/// `apply`'s task: the sum of its two arguments.
fn add((a, b): (u64, u64)) -> u64 {
    a + b
}

/// `map`'s and `imap`'s task: the square of `x`.
fn square(x: u64) -> u64 {
    x * x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let processes = mp_process::cpu_count();
    let pool = Pool::new(processes)?;
    println!("A pool of {processes} processes, one per CPU");

    // apply: one task; blocks until its result is back.
    let result = pool.apply(add, (2, 3))?;
    println!("apply(add, (2, 3)) = {result}");

    // map: every task; blocks until all are done, results in the order of the input.
    let results = pool
        .map(square, 0..5)?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    println!("map(square, 0..5) = {results:?}");

    // imap: the results one by one, in input order, each as soon as it (and those before it)
    // is done.
    for result in pool.imap(square, 5..10)? {
        println!("imap(square, 5..10) gives {}", result?);
    }

    // close: no more tasks; join: wait until every worker has exited.
    pool.close();
    pool.join()?;
    println!("The pool is closed and joined");
    Ok(())
}
