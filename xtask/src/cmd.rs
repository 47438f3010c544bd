//! Running one step: a child command with a wall-clock bound, in its own process group.
//!
//! Every command xtask runs goes through [`Step::run`], so every failure names its step, a
//! hung child is killed (with everything it started) when its bound passes, and output can be
//! streamed live while also being captured for parsing.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::sys;

/// How long to keep reading a child's pipes after it has exited: a process it left behind
/// (a leaked server, say) may hold them open forever.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// What to do with a child's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// stdout and stderr go straight to ours; nothing is captured.
    Inherit,
    /// stdout and stderr are printed line by line as they come, and captured.
    Tee,
    /// stdout is captured silently; stderr goes straight to ours.
    Capture,
}

/// One command to run, with the name it fails under.
#[derive(Debug)]
pub(crate) struct Step {
    /// The name used in messages, e.g. `clippy`.
    name: String,
    /// The command itself.
    command: Command,
    /// What to do with its output.
    output: Output,
    /// The wall-clock bound after which the child's process group is killed.
    bound: Duration,
    /// Whether to pin the child (and so everything it starts) to CPU 0.
    pin_cpu0: bool,
}

/// How a step went wrong.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command could not be started at all.
    Spawn(io::Error),
    /// The command ran and exited unsuccessfully (or was killed by a signal).
    Status(ExitStatus),
    /// The command outlived its bound and was killed.
    TimedOut(Duration),
}

/// A failed step: its name, what happened, and the output captured before it failed.
#[derive(Debug)]
pub(crate) struct StepError {
    /// The step's name.
    pub(crate) step: String,
    /// What went wrong.
    pub(crate) failure: Failure,
    /// The lines captured before the failure (empty for [`Output::Inherit`]).
    pub(crate) lines: Vec<String>,
}

impl StepError {
    /// The child's exit code, if it ran and exited normally.
    pub(crate) fn exit_code(&self) -> Option<i32> {
        match &self.failure {
            Failure::Status(status) => status.code(),
            _ => None,
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            Failure::Spawn(e) => write!(f, "step `{}` could not start: {e}", self.step),
            Failure::Status(status) => match (status.code(), status.signal()) {
                (Some(code), _) => write!(f, "step `{}` failed with exit code {code}", self.step),
                (None, Some(sig)) => write!(f, "step `{}` was killed by signal {sig}", self.step),
                (None, None) => write!(f, "step `{}` failed: {status}", self.step),
            },
            Failure::TimedOut(bound) => write!(
                f,
                "step `{}` exceeded its bound of {} s and was killed",
                self.step,
                bound.as_secs()
            ),
        }
    }
}

impl std::error::Error for StepError {}

impl Step {
    /// A step named `name` running `command`, output inherited, bounded by `bound`.
    pub(crate) fn new(name: impl Into<String>, command: Command, bound: Duration) -> Self {
        Step {
            name: name.into(),
            command,
            output: Output::Inherit,
            bound,
            pin_cpu0: false,
        }
    }

    /// Sets what to do with the child's output.
    pub(crate) fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// Pins the child, and everything it starts, to CPU 0 (set before `exec`, inherited).
    pub(crate) fn pin_cpu0(mut self, pin: bool) -> Self {
        self.pin_cpu0 = pin;
        self
    }

    /// Runs the step to completion; on success returns the captured lines (empty for
    /// [`Output::Inherit`]).
    pub(crate) fn run(self) -> Result<Vec<String>, StepError> {
        self.run_in_group().1
    }

    /// Runs the step like [`Step::run`], also returning the child's process group (its pid;
    /// 0 if it did not start), for a caller that checks what the child left behind in it.
    pub(crate) fn run_in_group(self) -> (i32, Result<Vec<String>, StepError>) {
        let Step {
            name,
            mut command,
            output,
            bound,
            pin_cpu0,
        } = self;
        let fail = |failure, lines| StepError {
            step: name.clone(),
            failure,
            lines,
        };
        // Own process group, so that on timeout we can kill the child and all it started.
        command.process_group(0);
        match output {
            Output::Inherit => {}
            Output::Tee => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
            Output::Capture => {
                command.stdout(Stdio::piped());
            }
        }
        if pin_cpu0 {
            sys::pin_to_cpu0_before_exec(&mut command);
        }
        sys::install_signal_forwarding();
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return (0, Err(fail(Failure::Spawn(e), Vec::new()))),
        };
        let group = i32::try_from(child.id()).unwrap_or(0);
        sys::set_current_group(group);
        let result = wait_bounded(&mut child, output, bound);
        sys::set_current_group(0);
        let result = match result {
            Ok((status, lines)) if status.success() => Ok(lines),
            Ok((status, lines)) => Err(fail(Failure::Status(status), lines)),
            Err((failure, lines)) => Err(fail(failure, lines)),
        };
        (group, result)
    }
}

/// Waits for `child` while collecting its piped output, killing its process group if it
/// outlives `bound`. Returns its exit status and the captured lines.
fn wait_bounded(
    child: &mut Child,
    output: Output,
    bound: Duration,
) -> Result<(ExitStatus, Vec<String>), (Failure, Vec<String>)> {
    let (tx, rx) = mpsc::channel::<Option<String>>();
    let mut readers = 0;
    if let Some(out) = child.stdout.take() {
        readers += 1;
        spawn_reader(out, output == Output::Tee, false, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        readers += 1;
        spawn_reader(err, true, true, tx.clone());
    }
    drop(tx);

    let started = Instant::now();
    let mut lines = Vec::new();
    let mut status = None;
    let mut drain_until = None;
    loop {
        if status.is_none() {
            match child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    drain_until = Some(Instant::now() + DRAIN_GRACE);
                }
                Ok(None) if started.elapsed() > bound => {
                    kill_group(child);
                    // Collect whatever was already printed, without waiting long.
                    while let Ok(Some(line)) = rx.recv_timeout(Duration::from_millis(200)) {
                        lines.push(line);
                    }
                    return Err((Failure::TimedOut(bound), lines));
                }
                Ok(None) => {}
                Err(e) => {
                    kill_group(child);
                    return Err((Failure::Spawn(e), lines));
                }
            }
        }
        if readers == 0 {
            if status.is_some() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
            continue;
        }
        if drain_until.is_some_and(|t| Instant::now() > t) {
            break; // something the child left behind holds the pipe open
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(Some(line)) => lines.push(line),
            Ok(None) => readers -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => readers = 0,
        }
    }
    let status = status.expect("loop exits only after the child exited");
    Ok((status, lines))
}

/// Reads `pipe` line by line on a thread: echoes each line (to stderr if `to_stderr`) when
/// `echo`, sends it on `tx`, and sends `None` at end of file.
fn spawn_reader(
    pipe: impl Read + Send + 'static,
    echo: bool,
    to_stderr: bool,
    tx: mpsc::Sender<Option<String>>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if echo {
                // Echo failures (a closed terminal) must not stop the capture.
                let _ = if to_stderr {
                    io::stderr().lock().write_all(&buf)
                } else {
                    io::stdout().lock().write_all(&buf)
                };
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']).to_owned();
            if tx.send(Some(line)).is_err() {
                break;
            }
        }
        let _ = tx.send(None);
    });
}

/// Kills the child's whole process group and reaps the child.
fn kill_group(child: &mut Child) {
    if let Ok(group) = i32::try_from(child.id()) {
        sys::kill_group(group);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tee_captures_both_streams_and_succeeds() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo out; echo err >&2"]);
        let lines = Step::new("sh", c, Duration::from_secs(10))
            .output(Output::Tee)
            .run()
            .unwrap();
        assert!(lines.contains(&"out".to_owned()) && lines.contains(&"err".to_owned()));
    }

    #[test]
    fn failure_names_the_step_and_keeps_exit_code() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo partial; exit 2"]);
        let err = Step::new("demo", c, Duration::from_secs(10))
            .output(Output::Capture)
            .run()
            .unwrap_err();
        assert_eq!(err.exit_code(), Some(2));
        assert_eq!(err.lines, vec!["partial".to_owned()]);
        assert!(err.to_string().contains("step `demo`"));
    }

    #[test]
    fn hung_child_is_killed_at_its_bound() {
        let mut c = Command::new("sh");
        c.args(["-c", "sleep 30 & sleep 30"]);
        let t = Instant::now();
        let err = Step::new("sleeper", c, Duration::from_millis(300))
            .output(Output::Capture)
            .run()
            .unwrap_err();
        assert!(matches!(err.failure, Failure::TimedOut(_)));
        assert!(err.to_string().contains("exceeded its bound"));
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn pinned_child_sees_one_cpu() {
        let mut c = Command::new("sh");
        c.args(["-c", "grep Cpus_allowed_list /proc/self/status"]);
        let lines = Step::new("pin", c, Duration::from_secs(10))
            .output(Output::Capture)
            .pin_cpu0(true)
            .run()
            .unwrap();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].ends_with("\t0"), "{lines:?}");
    }
}
