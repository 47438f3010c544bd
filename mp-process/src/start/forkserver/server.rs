//! The fork server's side: a fresh, single-threaded execution of this program that forks each
//! child on request and reports its exit.

use std::os::fd::{AsFd, OwnedFd};

use mp_sync::raw::{Deadline, FnRef, poll_readable};

use crate::start::forkserver::spare::{self, Spare, Work};
use crate::start::forkserver::wire::{MAX_MESSAGE, Reply, Request};
use crate::start::wire::Trampoline;
use crate::start::{fork, run};
use crate::sys::{self, Forked, Received};

/// A child of the server.
struct ServerChild {
    pid: i32,
    pidfd: OwnedFd,
    daemon: bool,
}

/// The server's loop over its socket to the parent (inherited at exec); returns only on failure
/// (a message for stderr). It leaves when the parent's end closes (the parent exited or was
/// killed), after killing its daemon children.
pub(crate) fn serve(sock: OwnedFd) -> String {
    // Ctrl-C goes to the whole process group: the server must outlive it, as Python's does, so
    // that its parent still learns how its children ended. Children get the default back.
    let sigint_was_blocked = sys::ignore_interrupts();
    // Computed once here, inherited by every child (each would compute them again).
    fork::warm_up_lazy_values();
    let mut children: Vec<ServerChild> = Vec::new();
    let mut spares: Vec<Spare> = Vec::new();
    // The group a spare is handed its work in (it waits in one of its own).
    let group = sys::process_group();
    // Cleared by a spare that could not be forked (no busy retries), set again by a request.
    let mut make_spares = true;
    // Cleared for good by a spare that died while it waited (it could not leave the group, or
    // was killed from outside): then every start forks, as without spares.
    let mut spares_work = true;
    loop {
        // With spares to make, a look that finds nothing to do makes one instead of sleeping.
        let idle_work = spares_work && make_spares && spares.len() < spare::SPARES;
        let ready = {
            let mut fds = vec![sock.as_fd()];
            fds.extend(children.iter().map(|c| c.pidfd.as_fd()));
            fds.extend(spares.iter().map(|s| s.pidfd.as_fd()));
            match poll_readable(&fds, idle_work.then(Deadline::now)) {
                Ok(ready) => ready,
                Err(e) => return format!("fork server poll: {e}"),
            }
        };
        if ready.is_empty() {
            match spare::fork_spare(sigint_was_blocked) {
                Ok(spare) => spares.push(spare),
                Err(_) => make_spares = false,
            }
            continue;
        }
        // Descending, so that each swap_remove leaves the lower indices in place.
        let live = children.len();
        for &index in ready.iter().rev().filter(|&&i| i > live) {
            // A spare died while it waited: nobody else knew of it.
            let spare = spares.swap_remove(index - 1 - live);
            let _ = sys::reap(spare.pid);
            spares_work = false;
        }
        for &index in ready.iter().rev().filter(|&&i| i > 0 && i <= live) {
            let child = children.swap_remove(index - 1);
            let code = match sys::reap(child.pid) {
                Ok(code) => code,
                Err(e) => return format!("fork server waitpid: {e}"),
            };
            let exited = Reply::Exited {
                pid: child.pid,
                code,
            };
            if sys::send_with_fd(sock.as_fd(), &exited.encode(), None).is_err() {
                shut_down(children);
            }
        }
        if ready.first() != Some(&0) {
            continue;
        }
        let mut buffer = [0u8; MAX_MESSAGE];
        let (len, launch) = match sys::recv_with_fd(sock.as_fd(), &mut buffer, true) {
            Ok(Received::Datagram(len, fd)) => (len, fd),
            // The parent is gone.
            Ok(Received::Closed | Received::Empty) | Err(_) => shut_down(children),
        };
        let Some(Request::Fork {
            id,
            daemon,
            trampoline,
        }) = Request::decode(&buffer[..len])
        else {
            return format!("fork server: bad request {:?}", &buffer[..len]);
        };
        make_spares = true;
        let work = Work {
            daemon,
            trampoline,
            sigint_was_blocked,
        };
        let reply = match (
            FnRef::<Trampoline>::from_wire(trampoline.0, trampoline.1),
            launch,
        ) {
            (Ok(trampoline), Some(launch)) => {
                start_child(&mut spares, group, work, trampoline, launch)
            }
            _ => Err(std::io::Error::from(nix::errno::Errno::EINVAL)),
        };
        let sent = match reply {
            Ok((pid, pidfd)) => {
                let sent = sys::send_with_fd(
                    sock.as_fd(),
                    &Reply::Forked { id, pid }.encode(),
                    Some(pidfd.as_fd()),
                );
                children.push(ServerChild { pid, pidfd, daemon });
                sent
            }
            Err(e) => sys::send_with_fd(
                sock.as_fd(),
                &Reply::ForkFailed {
                    id,
                    errno: e.raw_os_error().unwrap_or(nix::errno::Errno::EIO as i32),
                }
                .encode(),
                None,
            ),
        };
        if sent.is_err() {
            shut_down(children);
        }
    }
}

/// Starts the child of a request: a spare handed its work, or else a fork.
fn start_child(
    spares: &mut Vec<Spare>,
    group: i32,
    work: Work,
    trampoline: FnRef<Trampoline>,
    launch: OwnedFd,
) -> std::io::Result<(i32, OwnedFd)> {
    while let Some(at) = spares.iter_mut().position(Spare::is_ready) {
        let spare = spares.swap_remove(at);
        if let Some(child) = spare::hand_off(spare, group, work, launch.as_fd()) {
            return Ok(child);
        }
    }
    fork_child(work, trampoline, launch)
}

/// Forks a child that enters `trampoline` with its `launch` channel; in the server, the child's
/// pid and pidfd.
fn fork_child(
    work: Work,
    trampoline: FnRef<Trampoline>,
    launch: OwnedFd,
) -> std::io::Result<(i32, OwnedFd)> {
    // The server is single-threaded, so the child's copy of every lock is free.
    match sys::fork()? {
        Forked::Child => {
            // The server's socket and its other children's pidfds are not the child's. Their
            // owners, up the server's stack, are never dropped here: this process leaves by
            // `exit_now` from the trampoline or from `start_up_failed`.
            if let Err(e) = sys::close_fds_except(std::os::fd::AsRawFd::as_raw_fd(&launch)) {
                run::start_up_failed(&format!("closing the server's descriptors: {e}"));
            }
            spare::run_child(work, trampoline, launch)
        }
        Forked::Parent(pid) => {
            // The child has its copy of the launch channel; ours goes.
            drop(launch);
            // Race-free: only the server reaps the child, and it does not before this returns.
            match sys::pidfd_open(pid) {
                Ok(pidfd) => Ok((pid, pidfd)),
                Err(e) => {
                    sys::kill_and_reap(pid);
                    Err(e)
                }
            }
        }
    }
}

/// The parent is gone: kill the daemon children (they die with their parent) and leave.
fn shut_down(children: Vec<ServerChild>) -> ! {
    for child in children.iter().filter(|c| c.daemon) {
        let _ = sys::pidfd_send_signal(
            child.pidfd.as_fd(),
            nix::sys::signal::Signal::SIGKILL as i32,
        );
    }
    sys::exit_now(0)
}
