//! The fork server's side: a fresh, single-threaded execution of this program that forks each
//! child on request and reports its exit.

use std::os::fd::{AsFd, OwnedFd};

use mp_sync::raw::{FnRef, poll_readable};

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
    fork::warm_up_thread_locals();
    let _ = run::read_fault_injection();
    let mut children: Vec<ServerChild> = Vec::new();
    loop {
        let ready = {
            let mut fds = vec![sock.as_fd()];
            fds.extend(children.iter().map(|c| c.pidfd.as_fd()));
            match poll_readable(&fds, None) {
                Ok(ready) => ready,
                Err(e) => return format!("fork server poll: {e}"),
            }
        };
        // Descending, so that each swap_remove leaves the lower indices in place.
        for &index in ready.iter().rev().filter(|&&i| i > 0) {
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
        let reply = match (
            FnRef::<Trampoline>::from_wire(trampoline.0, trampoline.1),
            launch,
        ) {
            (Ok(trampoline), Some(launch)) => {
                fork_child(trampoline, launch, daemon, sigint_was_blocked)
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

/// Forks a child that enters `trampoline` with its `launch` channel; in the server, the child's
/// pid and pidfd. `sigint_was_blocked`: SIGINT's place in the mask the server started with
/// (the child's again).
fn fork_child(
    trampoline: FnRef<Trampoline>,
    launch: OwnedFd,
    daemon: bool,
    sigint_was_blocked: bool,
) -> std::io::Result<(i32, OwnedFd)> {
    // The server is single-threaded, so the child's copy of every lock is free.
    match sys::fork()? {
        Forked::Child => {
            sys::restore_interrupts(sigint_was_blocked);
            if daemon && sys::set_parent_death_kill().is_err() {
                run::start_up_failed("arming the parent-death signal");
            }
            // The server's socket and its other children's pidfds are not the child's. Their
            // owners, up the server's stack, are never dropped here: this process leaves by
            // `exit_now` from the trampoline or from `start_up_failed`.
            if let Err(e) = sys::close_fds_except(std::os::fd::AsRawFd::as_raw_fd(&launch)) {
                run::start_up_failed(&format!("closing the server's descriptors: {e}"));
            }
            let why = (trampoline.get())(launch);
            run::start_up_failed(&why)
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
