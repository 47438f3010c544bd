//! Who a process is and who its family is: current_process, parent_process, active_children,
//! daemons, and arguments that carry channels into the child.

mod common;

use std::time::Duration;

use common::{BOUND, builder, dies_within_bound, join, recv};
use ipc_channel::ipc::{self, IpcReceiver, IpcSender};
use mp_process::{Error, Process, StartMethod, active_children, current_process, parent_process};
use serde::{Deserialize, Serialize};

/// What a child says about itself.
#[derive(Debug, Serialize, Deserialize)]
struct Introduction {
    name: String,
    pid: i32,
    daemon: bool,
    identity: Vec<u32>,
    parent: Option<(i32, String, bool)>,
}

fn introduce() -> Introduction {
    let me = current_process();
    Introduction {
        name: me.name().to_owned(),
        pid: me.pid(),
        daemon: me.daemon(),
        identity: me.identity().to_vec(),
        parent: parent_process().map(|p| (p.pid(), p.name().to_owned(), p.is_alive())),
    }
}

fn tell(tx: IpcSender<Introduction>) {
    tx.send(introduce()).unwrap();
}

#[test]
fn the_main_process_is_main() {
    let me = current_process();
    assert_eq!(me.name(), "MainProcess");
    assert_eq!(me.pid(), std::process::id() as i32);
    assert!(me.identity().is_empty());
    assert!(parent_process().is_none());
}

#[test]
fn a_child_knows_itself_and_its_parent() {
    for method in StartMethod::ALL {
        let (tx, rx) = ipc::channel().unwrap();
        let mut p = builder(method)
            .name(format!("kid-{}", method.name()))
            .target(tell, tx);
        p.start().unwrap();
        let intro = recv(&rx);
        assert_eq!(join(&p), 0);
        assert_eq!(intro.name, format!("kid-{}", method.name()), "{method:?}");
        assert_eq!(Some(intro.pid), p.pid(), "{method:?}");
        assert!(!intro.daemon);
        assert_eq!(intro.identity.len(), 1);
        let me = std::process::id() as i32;
        assert_eq!(
            intro.parent,
            Some((me, "MainProcess".to_owned(), true)),
            "{method:?}"
        );
    }
}

/// Starts a grandchild under `method` that introduces itself on `tx`, then says who it is too.
fn start_grandchild((method, tx): (StartMethod, IpcSender<Introduction>)) {
    let mut p = Process::builder()
        .start_method(method)
        .target(tell, tx.clone());
    p.start().unwrap();
    assert_eq!(p.join_timeout(BOUND).unwrap(), Some(0));
    tx.send(introduce()).unwrap();
}

#[test]
fn a_grandchild_sees_its_own_parent() {
    for method in StartMethod::ALL {
        let (tx, rx) = ipc::channel().unwrap();
        let mut p = builder(method).target(start_grandchild, (method, tx));
        p.start().unwrap();
        let grandchild = recv(&rx);
        let child = recv(&rx);
        assert_eq!(join(&p), 0);
        assert_eq!(child.identity.len(), 1);
        assert_eq!(
            grandchild.identity[..1],
            child.identity[..],
            "{method:?}: identity extends the parent's"
        );
        assert_eq!(
            grandchild.name,
            format!("Process-{}:1", child.identity[0]),
            "{method:?}"
        );
        let (ppid, pname, alive) = grandchild.parent.clone().unwrap();
        assert_eq!(
            (ppid, pname.as_str(), alive),
            (child.pid, child.name.as_str(), true),
            "{method:?}"
        );
    }
}

/// Starts a grandchild that reports whether it sees its parent die, then exits at once.
fn orphan_a_grandchild((method, tx): (StartMethod, IpcSender<bool>)) {
    let mut p = Process::builder()
        .start_method(method)
        .target(watch_parent, tx);
    p.start().unwrap();
    // Leave without joining: the grandchild outlives us (the exit hook would join it, so leave
    // the hard way).
    std::mem::forget(p);
    mp_exit_now();
}

fn mp_exit_now() -> ! {
    // SAFETY: _exit ends the process at once; nothing is left half-done that matters to the test.
    unsafe { libc::_exit(0) }
}

fn watch_parent(tx: IpcSender<bool>) {
    let parent = parent_process().unwrap();
    tx.send(parent.join_timeout(BOUND)).unwrap();
}

#[test]
fn a_child_sees_its_parent_die() {
    for method in StartMethod::ALL {
        let (tx, rx) = ipc::channel().unwrap();
        let mut p = builder(method).target(orphan_a_grandchild, (method, tx));
        p.start().unwrap();
        assert_eq!(join(&p), 0);
        assert!(recv(&rx), "{method:?}: the grandchild saw its parent exit");
    }
}

fn list_children(tx: IpcSender<Vec<String>>) {
    let mut a = Process::builder().name("a").target(sleep_ms, 60_000);
    let mut b = Process::builder().name("b").target(sleep_ms, 0);
    a.start().unwrap();
    b.start().unwrap();
    b.join().unwrap();
    let mut names: Vec<String> = active_children().into_iter().map(|c| c.name).collect();
    names.sort();
    tx.send(names).unwrap();
    a.kill().unwrap();
    a.join().unwrap();
    tx.send(active_children().into_iter().map(|c| c.name).collect())
        .unwrap();
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms))
}

#[test]
fn active_children_lists_the_running_ones() {
    // In a child of its own, so that other tests' children do not show up.
    let (tx, rx) = ipc::channel().unwrap();
    let mut p = builder(StartMethod::ForkServer).target(list_children, tx);
    p.start().unwrap();
    assert_eq!(recv(&rx), vec!["a".to_owned()]);
    assert_eq!(recv(&rx), Vec::<String>::new());
    assert_eq!(join(&p), 0);
}

fn dropped_children_are_reaped(tx: IpcSender<(usize, Vec<i32>)>) {
    for _ in 0..3 {
        let mut p = Process::new(sleep_ms, 0);
        p.start().unwrap();
        // Dropped while (probably) running.
    }
    std::thread::sleep(Duration::from_millis(300));
    let running = active_children().len();
    tx.send((running, common::zombie_children())).unwrap();
}

#[test]
fn dropped_children_are_reaped_by_active_children() {
    for method in StartMethod::ALL {
        let (tx, rx) = ipc::channel().unwrap();
        let mut p = builder(method).target(dropped_children_are_reaped, tx);
        p.start().unwrap();
        let (running, zombies) = recv(&rx);
        assert_eq!(join(&p), 0);
        assert_eq!(running, 0, "{method:?}");
        assert!(zombies.is_empty(), "{method:?}: zombies {zombies:?}");
    }
}

/// Starts a daemon grandchild under `method` that sleeps, reports its pid, and waits to be killed.
fn start_daemon((method, tx): (StartMethod, IpcSender<i32>)) {
    let mut d = Process::builder()
        .start_method(method)
        .daemon(true)
        .target(report_pid_and_sleep, tx);
    d.start().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

fn report_pid_and_sleep(tx: IpcSender<i32>) {
    tx.send(current_process().pid()).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn daemons_die_when_their_parent_is_killed() {
    for method in StartMethod::ALL {
        let (tx, rx) = ipc::channel().unwrap();
        let mut p = builder(method).target(start_daemon, (method, tx));
        p.start().unwrap();
        let daemon_pid = recv(&rx);
        p.kill().unwrap();
        assert_eq!(join(&p), -libc::SIGKILL);
        assert!(
            dies_within_bound(daemon_pid),
            "{method:?}: daemon {daemon_pid} outlived its killed parent"
        );
    }
}

fn try_to_have_children(tx: IpcSender<String>) {
    let mut p = Process::new(sleep_ms, 0);
    let outcome = match p.start() {
        Err(Error::DaemonCannotHaveChildren) => "refused".to_owned(),
        other => format!("{other:?}"),
    };
    tx.send(outcome).unwrap();
}

#[test]
fn a_daemon_cannot_have_children() {
    for method in StartMethod::ALL {
        let (tx, rx): (IpcSender<String>, IpcReceiver<String>) = ipc::channel().unwrap();
        let mut p = builder(method)
            .daemon(true)
            .target(try_to_have_children, tx);
        p.start().unwrap();
        assert_eq!(recv(&rx), "refused", "{method:?}");
        assert_eq!(join(&p), 0);
    }
}

fn echo((rx, tx): (IpcReceiver<String>, IpcSender<String>)) {
    let message = rx.recv().unwrap();
    tx.send(format!("echo: {message}")).unwrap();
}

#[test]
fn channels_travel_as_arguments() {
    for method in StartMethod::ALL {
        let (to_child, child_rx) = ipc::channel().unwrap();
        let (child_tx, from_child) = ipc::channel().unwrap();
        let mut p = builder(method).target(echo, (child_rx, child_tx));
        p.start().unwrap();
        to_child.send(method.name().to_owned()).unwrap();
        assert_eq!(recv(&from_child), format!("echo: {}", method.name()));
        assert_eq!(join(&p), 0);
    }
}

fn write_shared(mut memory: ipc_channel::ipc::IpcSharedMemory) {
    // SAFETY: the parent does not touch the memory until this child has exited.
    unsafe { memory.deref_mut()[0] = 42 };
}

#[test]
fn shared_memory_travels_as_an_argument() {
    for method in StartMethod::ALL {
        let memory = ipc_channel::ipc::IpcSharedMemory::from_byte(0, 4096);
        let mut p = builder(method).target(write_shared, memory.clone());
        p.start().unwrap();
        assert_eq!(join(&p), 0);
        assert_eq!(
            memory[0], 42,
            "{method:?}: the child's write is seen by the parent"
        );
    }
}
