//! The main demo: a tour of the article's programs, what mp does that Python's
//! `multiprocessing` does not (every start method, exit codes that tell how a child ended, a
//! lock whose killed holder does not hang the next one), and a CPU-bound job (counting
//! primes) run in one process and spread over processes, with the measured speedup.
//!
//! Run it with `cargo run --release -p mp-examples --bin demo`; `--quick` makes the job
//! small (the tests run it that way, unoptimized). Every figure it prints is measured in
//! that run.

mod beyond;
mod primes;
mod tour;

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
    let (count, took) = primes::sequential(job);
    println!("  sequential, one process: {count} primes in {took:.2?}");
    let workers = mp_process::process_cpu_count();
    let (parallel_count, parallel_took) = primes::on_processes(job, workers)?;
    if parallel_count != count {
        return Err(format!("{workers} processes counted {parallel_count}, one {count}").into());
    }
    println!(
        "  on {workers} processes:          {parallel_count} primes in {parallel_took:.2?}: {:.2}x as fast, the same count",
        took.as_secs_f64() / parallel_took.as_secs_f64(),
    );
    Ok(())
}
