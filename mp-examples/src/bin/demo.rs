//! The main demo: starts a process under each start method, shows what the child knows of
//! itself and its parent, and how exit codes tell the parent how a child ended.
//!
//! Run it with `cargo run --release -p mp-examples --bin demo`.

use std::time::{Duration, Instant};

use mp_process::{Process, StartMethod, current_process, parent_process};

/// The child's work: say who it is and who started it.
fn greet(method: String) {
    let me = current_process();
    let parent = parent_process().expect("a child has a parent");
    println!(
        "  [{:<10}] {} (pid {}) started by {} (pid {}), parent alive: {}",
        method,
        me.name(),
        me.pid(),
        parent.name(),
        parent.pid(),
        parent.is_alive()
    );
}

fn exit_with(code: i32) {
    std::process::exit(code)
}

fn panic_now(message: String) {
    panic!("{message}")
}

fn sleep_forever(_: ()) {
    std::thread::sleep(Duration::from_secs(3600))
}

fn main() -> Result<(), mp_process::Error> {
    println!(
        "mp demo: main process is {} (pid {})",
        current_process().name(),
        current_process().pid()
    );
    println!(
        "CPUs: {} in the machine, {} usable by this process\n",
        mp_process::cpu_count(),
        mp_process::process_cpu_count()
    );

    println!("One child per start method:");
    for method in StartMethod::ALL {
        let started = Instant::now();
        let mut p = Process::builder()
            .start_method(method)
            .target(greet, method.name().to_owned());
        p.start()?;
        let code = p.join()?;
        println!(
            "  [{:<10}] exit code {code}, start+join took {:.2?}",
            method.name(),
            started.elapsed()
        );
    }

    println!("\nHow a child ends, as its exit code says (Python's convention):");
    let mut returned = Process::new(exit_with, 0);
    let mut exited = Process::new(exit_with, 3);
    let mut panicked = Process::new(panic_now, "a deliberate panic in the child".to_owned());
    let mut hung = Process::new(sleep_forever, ());
    for p in [&mut returned, &mut exited, &mut panicked, &mut hung] {
        p.start()?;
    }
    println!("  returned:          {}", returned.join()?);
    println!("  exit(3):           {}", exited.join()?);
    println!(
        "  panicked:          {} ({:?})",
        panicked.join()?,
        panicked.panic_message().unwrap_or_default()
    );
    println!(
        "  hung, join(100ms): {:?} (still running: not an error)",
        hung.join_timeout(Duration::from_millis(100))?
    );
    hung.terminate()?;
    println!("  terminated:        {} (minus SIGTERM)", hung.join()?);
    Ok(())
}
