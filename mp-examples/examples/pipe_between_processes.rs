//! The article's Pipe (section 2.2): two connected ends; one process sends, the other
//! receives, and (the pipe being two-way) answers.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import Pipe            use mp_ipc::Pipe;
//! conn1, conn2 = Pipe()                       let (conn1, conn2) = Pipe(true)?;
//! # Process 1 sends data                      fn process_1(conn1) {
//! conn1.send(data)                                conn1.send(&data)?;
//! # Process 2 receives data                   fn process_2(conn2) {
//! data = conn2.recv()                             let data: String = conn2.recv()?;
//! ```
//!
//! The article shows only the two calls; here they run in two child processes, and process 2
//! answers each message with it in capitals, so both directions are used. Python's `Pipe()`
//! is duplex by default; `Pipe(true)` says so here. Process 2 stops when process 1 has ended
//! and its end is closed (Python's `EOFError`, here `Error::Eof`).
//!
//! Run it with `cargo run -p mp-examples --example pipe_between_processes`.

use mp_ipc::{Connection, Pipe};
use mp_process::Process;

/// What process 1 sends.
const MESSAGES: [&str; 3] = ["hello", "from", "process 1"];

/// Process 1: sends each message and waits for its answer.
fn process_1(conn1: Connection) {
    for data in MESSAGES {
        conn1.send(data).expect("process 2 listens");
        let answer: String = conn1.recv().expect("process 2 answers");
        println!("Process 1 got the answer {answer:?}");
    }
}

/// Process 2: receives until process 1's end closes, answering each message.
fn process_2(conn2: Connection) {
    loop {
        match conn2.recv::<String>() {
            Ok(data) => {
                println!("Process 2 received {data:?}");
                conn2.send(&data.to_uppercase()).expect("process 1 listens");
            }
            Err(mp_ipc::Error::Eof) => break,
            Err(other) => panic!("receiving failed: {other}"),
        }
    }
    println!("Process 2: the other end is closed");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (conn1, conn2) = Pipe(true)?;
    let processes = mp_examples::start_all([
        Process::new(process_1, conn1),
        Process::new(process_2, conn2),
    ])?;
    mp_examples::join_all(&processes)?;
    Ok(())
}
