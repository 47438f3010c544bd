//! The main demo: starts a process under each start method, shows what the child knows of
//! itself and its parent, how exit codes tell the parent how a child ended, and children
//! talking through a pipe, a queue, a shared counter and a lock whose holder is killed.
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

/// Answers each number on the pipe with its square, until the parent closes its end.
fn square_server(conn: mp_ipc::Connection) {
    while let Ok(n) = conn.recv::<u64>() {
        conn.send(&(n * n)).expect("the parent listens");
    }
}

/// Puts `count` greetings on the queue and counts them in the shared counter.
fn produce((id, count, queue, counter): (u32, u32, mp_ipc::Queue<String>, mp_ipc::Value<u64>)) {
    for i in 0..count {
        queue
            .put(format!("producer {id}: item {i}"))
            .expect("the queue is open");
        *counter.lock() += 1;
    }
}

/// Takes the lock and never lets go.
fn hold_forever((lock, held): (mp_sync::Lock, mp_sync::Event)) {
    let _guard = lock.acquire().expect("free");
    held.set();
    std::thread::sleep(Duration::from_secs(3600));
}

fn ipc_tour() -> Result<(), Box<dyn std::error::Error>> {
    println!("\nA pipe to a child that squares numbers:");
    let (mut ours, theirs) = mp_ipc::Pipe(true)?;
    let mut server = Process::new(square_server, theirs);
    server.start()?;
    for n in [3u64, 12, 40] {
        ours.send(&n)?;
        println!("  {n}^2 = {}", ours.recv::<u64>()?);
    }
    ours.close();
    println!(
        "  server exit code after we closed our end: {}",
        server.join()?
    );

    println!("\nThree producers (one per start method), one queue, one shared counter:");
    let queue = mp_ipc::Queue::<String>::with_maxsize(4)?;
    let counter = mp_ipc::Value::new(0u64)?;
    let mut producers: Vec<Process> = StartMethod::ALL
        .iter()
        .zip(1..)
        .map(|(&method, id)| {
            Process::builder()
                .start_method(method)
                .target(produce, (id, 3, queue.clone(), counter.clone()))
        })
        .collect();
    for p in &mut producers {
        p.start()?;
    }
    for _ in 0..9 {
        println!("  got {:?}", queue.get_timeout(Duration::from_secs(10))?);
    }
    for p in &producers {
        p.join()?;
    }
    println!("  the shared counter says {}", counter.get());

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    ipc_tour()
}
