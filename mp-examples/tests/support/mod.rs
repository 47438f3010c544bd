//! Running a program of this crate to its end, within a bound, for the tests.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// What a program that ran to its end printed, and how it ended.
pub(crate) struct Finished {
    /// How it ended.
    pub(crate) status: ExitStatus,
    /// Its standard output.
    pub(crate) stdout: String,
    /// Its standard error.
    pub(crate) stderr: String,
}

/// Runs `command` to its end and returns what it printed; panics if it runs past `bound`
/// (after killing it) or if its children keep its output open that long after it ended.
pub(crate) fn run_to_end(mut command: Command, bound: Duration) -> Finished {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    // Read both pipes while it runs, so that a full pipe never stalls it.
    let readers = [
        read_in_background(child.stdout.take().expect("piped stdout")),
        read_in_background(child.stderr.take().expect("piped stderr")),
    ];
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let [stdout, stderr] = readers.map(|reader| {
        reader
            .recv_timeout(bound)
            .unwrap_or_else(|_| panic!("{command:?}'s children kept its output open"))
    });
    Finished {
        status,
        stdout,
        stderr,
    }
}

/// Reads `pipe` to its end on a thread; the text arrives on the returned channel.
fn read_in_background(mut pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}
