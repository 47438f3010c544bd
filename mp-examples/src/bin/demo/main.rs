//! The main demo: a tour of the article's programs, what mp does that Python's
//! `multiprocessing` does not (every start method, exit codes that tell how a child ended, a
//! lock whose killed holder does not hang the next one), a CPU-bound job (counting primes)
//! run in one process and on a `Pool`, with the measured speedup and a progress bar, and the
//! same job with a task that crashes its worker and one that hangs past its time limit, both
//! survived.
//!
//! Run it with `cargo run --release -p mp-examples --bin demo`; `--quick` makes the job
//! small (the tests run it that way, unoptimized). Every figure it prints is measured in
//! that run.

mod beyond;
mod faults;
mod primes;
mod tour;

use std::time::Instant;

use mp_pool::Pool;
use primes::Job;

/// The job's size: a few seconds in one process, optimized, on this project's machines.
const FULL_JOB: Job = Job {
    limit: 25_000_000,
    ranges: 64,
};

/// The job's size under `--quick`.
const QUICK_JOB: Job = Job {
    limit: 400_000,
    ranges: 16,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().skip(1).any(|arg| arg == "--quick");
    let job = if quick { QUICK_JOB } else { FULL_JOB };
    println!(
        "mp demo: main process is {} (pid {}); CPUs: {} in the machine, {} usable by this process\n",
        mp_process::current_process().name(),
        mp_process::current_process().pid(),
        mp_process::cpu_count(),
        mp_process::process_cpu_count()
    );
    tour::print();
    println!();
    beyond::run()?;

    println!(
        "\nA CPU-bound job: count the primes below {} in {} ranges",
        job.limit, job.ranges
    );
    let (counts, took) = primes::sequential(job);
    let count: u64 = counts.iter().sum();
    println!("  sequential, one process: {count} primes in {took:.2?}");
    let workers = mp_process::process_cpu_count();
    let started = Instant::now();
    let pool = Pool::new(workers)?;
    println!(
        "  a Pool of {workers} processes started in {:.2?}",
        started.elapsed()
    );
    let (pool_counts, pool_took) = primes::on_pool(&pool, job)?;
    if pool_counts != counts {
        return Err(format!("the pool counted {pool_counts:?}, one process {counts:?}").into());
    }
    println!(
        "  Pool.imap on {workers} processes: {} primes in {pool_took:.2?}: {:.2}x as fast, the same counts",
        pool_counts.iter().sum::<u64>(),
        took.as_secs_f64() / pool_took.as_secs_f64(),
    );

    faults::run(&pool, job.ranges(), &counts)?;
    pool.close();
    pool.join()?;
    Ok(())
}
