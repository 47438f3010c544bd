//! What Python's `multiprocessing` does not give: the same child under every start method,
//! exit codes that say how a child ended, and a lock whose killed holder does not hang the
//! next one.

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

/// Exits at once with `code`.
fn exit_with(code: i32) {
    std::process::exit(code)
}

/// Panics with `message`.
fn panic_now(message: String) {
    panic!("{message}")
}

/// Sleeps for an hour: only a signal ends it.
fn sleep_forever(_: ()) {
    std::thread::sleep(Duration::from_secs(3600))
}

/// Takes the lock, says so, and never lets go.
fn hold_forever((lock, held): (mp_sync::Lock, mp_sync::Event)) {
    let _guard = lock.acquire().expect("free");
    held.set();
    std::thread::sleep(Duration::from_secs(3600));
}

/// One child per start method, each timed from start to join.
fn start_methods() -> Result<(), Box<dyn std::error::Error>> {
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
    Ok(())
}

/// A child that returns, exits, panics and hangs, and what the parent hears of each.
fn exit_codes() -> Result<(), Box<dyn std::error::Error>> {
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

/// A lock holder killed while holding it: the next acquirer is told, and recovers the lock.
fn killed_lock_holder() -> Result<(), Box<dyn std::error::Error>> {
    println!("\nA lock whose holder is killed (Python would wait forever):");
    let lock = mp_sync::Lock::new()?;
    let held = mp_sync::Event::new()?;
    let mut holder = Process::new(hold_forever, (lock.clone(), held.clone()));
    holder.start()?;
    held.wait_timeout(Duration::from_secs(10));
    holder.kill()?;
    println!("  holder killed: exit code {}", holder.join()?);
    match lock.acquire() {
        Ok(_) => println!("  acquired (unexpected: nobody died?)"),
        Err(died) => {
            println!("  the next acquire says the owner died; we recover the lock");
            drop(died.into_inner());
        }
    }
    println!(
        "  and it works as before: try_acquire gives {}",
        lock.try_acquire().is_ok_and(|g| g.is_some())
    );
    Ok(())
}

/// Runs the three parts in turn.
pub(crate) fn run() -> Result<(), Box<dyn std::error::Error>> {
    start_methods()?;
    exit_codes()?;
    killed_lock_holder()
}
