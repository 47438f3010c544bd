//! Spare children: the fork server forks ahead, while it has nothing else to do, so that a start
//! request is answered by handing a waiting child its work, not by a fork.
//!
//! A fork is most of what the server spends on a start (its page tables copied, a new process
//! set up: ~100 us each on the bench machine), and the server forks one child at a time, so a
//! `Pool(2)`'s second worker waited for two forks before its pid came back, and both forks ran
//! before either worker could boot. A spare is a child forked from the server's loop, which is
//! the same at every fork (the server is single-threaded and holds nothing between requests),
//! so a spare is the child a request would have forked. It closes everything but its hand-off
//! channel (a socket pair with the server) and waits there for the request's daemon flag,
//! trampoline and launch channel (one message); then it goes on as a freshly forked child
//! would. The server keeps [`SPARES`] of them, forked when a look at its socket and children
//! finds nothing to do (a request or an exit report is never kept waiting for more than the
//! one fork under way); a fork that fails stops the making until the next request. The cost:
//! two idle processes beside the server (their page tables and a few private pages each).
//!
//! A waiting spare is in a process group of its own, so a Ctrl-C to the program's group (the
//! terminal's) while it waits does not reach it: it would act in the child it becomes. Once
//! there, it discards a SIGINT that came before (it ignores SIGINT and keeps it blocked, as the
//! server does, so one would be pending; setting SIG_IGN again discards it) and says it is
//! ready. The server hands work only to a ready spare, and first moves it back into its own
//! group (`setpgid` on its child, which has not exec'd): from then on the child gets what the
//! group gets, before the server's reply, as a freshly forked child would; a SIGINT that comes
//! meanwhile (or a `Process::interrupt` after the start) stays pending until the child restores
//! the default action. A spare that is not ready yet is left for later and the request forks.
//!
//! A spare dies with its server: its channel's other end closes when the server exits, and a
//! waiting spare leaves at that (its pidfd is polled by the server, which reaps one that dies
//! while it waits).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use mp_sync::raw::FnRef;

use crate::start::run;
use crate::start::wire::Trampoline;
use crate::sys::{self, Forked, Received};

/// How many spares the server keeps: the workers of a `Pool(2)`, or any two starts in a row.
pub(crate) const SPARES: usize = 2;

/// The hand-off message: the daemon flag and the trampoline's `FnRef` in wire form.
const HANDOFF_LEN: usize = 17;

/// The one byte a spare sends when it is ready.
const READY: u8 = b'R';

/// What a child needs from its request, whether forked for it or handed it.
#[derive(Clone, Copy)]
pub(crate) struct Work {
    /// Whether the child dies with the server.
    pub(crate) daemon: bool,
    /// The child's trampoline, in wire form (checked by the server before it is handed on).
    pub(crate) trampoline: (u64, u64),
    /// SIGINT's place in the mask the server started with (the child's again).
    pub(crate) sigint_was_blocked: bool,
}

/// A waiting spare, as the server holds it.
pub(crate) struct Spare {
    /// Its pid (the server's child, unreaped).
    pub(crate) pid: i32,
    /// Its pidfd (readable if it dies while it waits).
    pub(crate) pidfd: OwnedFd,
    /// The server's end of its hand-off channel.
    handoff: OwnedFd,
    /// Whether it said it is ready.
    ready: bool,
}

/// Forks a spare (in the server).
pub(crate) fn fork_spare(sigint_was_blocked: bool) -> std::io::Result<Spare> {
    let (ours, theirs) = sys::seqpacket_pair()?;
    match sys::fork()? {
        Forked::Child => {
            drop(ours);
            wait_for_work(theirs, sigint_was_blocked)
        }
        Forked::Parent(pid) => {
            drop(theirs);
            match sys::pidfd_open(pid) {
                Ok(pidfd) => Ok(Spare {
                    pid,
                    pidfd,
                    handoff: ours,
                    ready: false,
                }),
                Err(e) => {
                    sys::kill_and_reap(pid);
                    Err(e)
                }
            }
        }
    }
}

impl Spare {
    /// Whether the spare said it is ready (looked at without waiting).
    pub(crate) fn is_ready(&mut self) -> bool {
        if !self.ready {
            let mut byte = [0u8; 1];
            self.ready = matches!(
                sys::recv_with_fd(self.handoff.as_fd(), &mut byte, false),
                Ok(Received::Datagram(1, None)) if byte[0] == READY
            );
        }
        self.ready
    }
}

/// Hands `work` and its `launch` channel to a ready `spare`, back in `group` (the server's
/// process group), in the server. On success the spare is the request's child: its pid and
/// pidfd. On failure (it died) it is reaped, and the work is not taken.
pub(crate) fn hand_off(
    spare: Spare,
    group: i32,
    work: Work,
    launch: BorrowedFd<'_>,
) -> Option<(i32, OwnedFd)> {
    let mut message = [0u8; HANDOFF_LEN];
    message[0] = u8::from(work.daemon);
    message[1..9].copy_from_slice(&work.trampoline.0.to_le_bytes());
    message[9..17].copy_from_slice(&work.trampoline.1.to_le_bytes());
    let handed = sys::set_process_group(spare.pid, group).is_ok()
        && sys::send_with_fd(spare.handoff.as_fd(), &message, Some(launch)).is_ok();
    if !handed {
        sys::kill_and_reap(spare.pid);
        return None;
    }
    Some((spare.pid, spare.pidfd))
}

/// A spare's life (in the spare, just forked): waits for its work, then runs it as a freshly
/// forked child of the server would. Leaves at once if the server goes first.
fn wait_for_work(handoff: OwnedFd, sigint_was_blocked: bool) -> ! {
    // The server's socket and its children's pidfds are not the spare's (their owners, up the
    // server's stack, are never dropped here: this process leaves by `exit_now`).
    if sys::close_fds_except(handoff.as_raw_fd()).is_err() || sys::set_process_group(0, 0).is_err()
    {
        sys::exit_now(0);
    }
    // Out of the program's group now: a Ctrl-C that came before is not the child's.
    sys::discard_pending_interrupt();
    if sys::send_with_fd(handoff.as_fd(), &[READY], None).is_err() {
        sys::exit_now(0);
    }
    let mut message = [0u8; HANDOFF_LEN];
    let launch = match sys::recv_with_fd(handoff.as_fd(), &mut message, true) {
        Ok(Received::Datagram(HANDOFF_LEN, Some(launch))) => launch,
        // The server is gone (or sent what it never sends): nothing to do.
        _ => sys::exit_now(0),
    };
    drop(handoff);
    let daemon = message[0] != 0;
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&message[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    match FnRef::<Trampoline>::from_wire(word(1), word(9)) {
        Ok(trampoline) => run_child(
            Work {
                daemon,
                trampoline: (word(1), word(9)),
                sigint_was_blocked,
            },
            trampoline,
            launch,
        ),
        Err(_) => run::start_up_failed("a spare was handed a trampoline it does not have"),
    }
}

/// A child of the server, forked for its request or handed it as a spare, with nothing open but
/// the standard streams and `launch`: restores SIGINT, arms the parent-death signal of a daemon
/// and enters the trampoline.
pub(crate) fn run_child(work: Work, trampoline: FnRef<Trampoline>, launch: OwnedFd) -> ! {
    sys::restore_interrupts(work.sigint_was_blocked);
    if work.daemon && sys::set_parent_death_kill().is_err() {
        run::start_up_failed("arming the parent-death signal");
    }
    let why = (trampoline.get())(launch);
    run::start_up_failed(&why)
}
