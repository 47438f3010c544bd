//! What `/proc` says about this process and its family: open descriptors, zombie children,
//! descendants, and whether a process sleeps in a futex wait.

use std::collections::BTreeMap;
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use crate::findings::Findings;

/// How often a condition on another process is re-read.
const POLL: Duration = Duration::from_micros(200);

/// This process's open descriptors and zombie children at one moment.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Each open descriptor and what it points at.
    fds: BTreeMap<i32, String>,
}

impl Snapshot {
    /// Reads `/proc/self/fd`.
    pub(crate) fn take() -> Snapshot {
        let mut fds = BTreeMap::new();
        if let Ok(entries) = fs::read_dir("/proc/self/fd") {
            for entry in entries.flatten() {
                let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let target = fs::read_link(entry.path())
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                // The directory being listed is open only while we list it.
                if !target.ends_with("/fd") {
                    fds.insert(fd, target);
                }
            }
        }
        Snapshot { fds }
    }

    /// Records how many more descriptors are open now than in `before` (by count: a
    /// replaced fork server's socket may come back under the same number), and any zombie
    /// child.
    pub(crate) fn compare(&self, before: &Snapshot, findings: &mut Findings) {
        if self.fds.len() > before.fds.len() {
            let new: Vec<String> = self
                .fds
                .iter()
                .filter(|(fd, target)| before.fds.get(fd) != Some(target))
                .map(|(fd, target)| format!("{fd} -> {target}"))
                .collect();
            findings.leaked_fds(
                (self.fds.len() - before.fds.len()) as u64,
                format!("new or changed: {}", new.join(", ")),
            );
        }
        let zombies = zombie_children();
        if !zombies.is_empty() {
            findings.leaked_processes(zombies.len() as u64, format!("zombie children {zombies:?}"));
        }
    }
}

/// The state letter and parent pid of `pid`, from `/proc/<pid>/stat`; `None` once it is gone.
pub(crate) fn state_and_parent(pid: i32) -> Option<(char, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: the fields follow the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Every live process with its parent pid.
fn all_processes() -> Vec<(i32, char, i32)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter_map(|pid| state_and_parent(pid).map(|(state, parent)| (pid, state, parent)))
        .collect()
}

/// The pids of this process's zombie children.
pub(crate) fn zombie_children() -> Vec<i32> {
    let me = std::process::id() as i32;
    all_processes()
        .into_iter()
        .filter(|&(_, state, parent)| parent == me && state == 'Z')
        .map(|(pid, _, _)| pid)
        .collect()
}

/// The live (non-zombie) children of `pid`.
pub(crate) fn children_of(pid: i32) -> Vec<i32> {
    all_processes()
        .into_iter()
        .filter(|&(_, state, parent)| parent == pid && !matches!(state, 'Z' | 'X'))
        .map(|(child, _, _)| child)
        .collect()
}

/// Every live descendant of `pid`, children first.
pub(crate) fn descendants_of(pid: i32) -> Vec<i32> {
    let processes = all_processes();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            processes
                .iter()
                .filter(|&&(_, state, p)| p == parent && !matches!(state, 'Z' | 'X'))
                .map(|&(child, _, _)| child),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Whether `pid` has exited (it may be a zombie waiting for its parent).
pub(crate) fn is_gone(pid: i32) -> bool {
    !matches!(state_and_parent(pid), Some((state, _)) if !matches!(state, 'Z' | 'X'))
}

/// Waits until `pid` has exited; `false` if it still runs at `deadline`.
pub(crate) fn gone_by(pid: i32, deadline: Instant) -> bool {
    poll_until(deadline, || is_gone(pid))
}

/// Whether `pid` sleeps in a futex wait (its `wchan` names a futex function).
fn in_futex_wait(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("futex"))
}

/// Waits until `pid` sleeps in a futex wait; `false` if it does not by `deadline`.
pub(crate) fn futex_waiting_by(pid: i32, deadline: Instant) -> bool {
    poll_until(deadline, || in_futex_wait(pid))
}

/// Re-reads `done` until it holds or `deadline` passes.
pub(crate) fn poll_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}
