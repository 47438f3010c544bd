//! The fork start method: the child is a `fork()` of the caller and runs the target in place.

use std::io::Write;
use std::sync::Arc;

use ipc_channel::ipc;

use crate::child::{ChildShared, Reaper};
use crate::context;
use crate::error::{Error, Result};
use crate::start::run;
use crate::start::wire::{ChildReport, ChildStart};
use crate::sys::{self, Forked};
use crate::target::Target;

/// Forks a child that runs `target`.
///
/// The caller has checked that this process has no other thread (or that the user allowed it):
/// then the child's copies of every lock are free, and it may run ordinary Rust code.
/// `single_threaded`: the caller counted one thread, so the child may run its at-exit handlers
/// when it leaves.
pub(crate) fn start(
    target: Target,
    start: ChildStart,
    single_threaded: bool,
) -> Result<Arc<ChildShared>> {
    let (report_tx, report_rx) =
        ipc::channel::<ChildReport>().map_err(Error::os("creating the report channel"))?;
    // The child's view of its parent: this process's own pidfd (opened once), inherited through
    // the fork, in a context built here, so that the child only installs it.
    let parent_pidfd = context::context()
        .own_pidfd()
        .map_err(Error::os("pidfd_open"))?;
    let (name, daemon, parent_pid) = (start.name.clone(), start.daemon, start.parent_pid);
    let prepared = context::prepare_forked_child(start, parent_pidfd, single_threaded);
    // A lazily initialized value that another thread is initializing at the moment of the
    // fork stays "being initialized" in the child forever, and the child blocks on it when it
    // first needs it (seen: ipc-channel's send-buffer size, in a child's first receive, while a
    // test thread sent). Initialize those the child is sure to need here, first: if another
    // thread is at it, this waits until it has finished.
    warm_up_lazy_values();
    // Buffered output would be written twice, once by each process.
    let _ = std::io::stdout().flush();
    sys::flush_c_stdio();
    // With no other thread, the child's state is consistent; with other threads the user
    // allowed it, knowing the child must avoid their locks.
    match sys::fork().map_err(Error::os("fork"))? {
        Forked::Child => {
            // The parent's quiet threads and its fork under way are not this process's.
            mp_sync::raw::ForkGate::forget_in_child();
            prepared.install();
            if daemon {
                // Die with the parent; if it already died, the signal would never come.
                if sys::set_parent_death_kill().is_err()
                    || nix::unistd::getppid().as_raw() != parent_pid
                {
                    sys::exit_now(1);
                }
            }
            match target {
                Target::Closure(closure) => run::run_target(&report_tx, closure),
                Target::Function(function) => {
                    run::run_target(&report_tx, move || function.call_here())
                }
            }
        }
        Forked::Parent(pid) => {
            // Our copy of the child's context (and of the parent pidfd in it) goes.
            drop(prepared);
            drop(report_tx);
            // Race-free: the child cannot be reaped (and its pid reused) before we wait for it.
            let pidfd = sys::pidfd_open(pid).map_err(Error::os("pidfd_open"))?;
            Ok(ChildShared::new(
                pid,
                pidfd,
                Reaper::Us,
                report_rx,
                name,
                daemon,
            ))
        }
    }
}

/// Forces the process-wide lazily initialized values that a forked child's channels and
/// primitives use, so that none is caught half-initialized by the fork (and so that no child
/// computes them again: ipc-channel's costs a socket pair and four system calls; the fork
/// server calls this once for all its children).
pub(crate) fn warm_up_lazy_values() {
    // ipc-channel's socket send-buffer size (read by every send and receive).
    let _ = ipc_channel::platform::OsIpcSender::get_max_fragment_size();
    // mp-sync's spin policy and the image fingerprint of function references.
    let _ = mp_sync::raw::may_spin();
    let _ = mp_sync::raw::FnRef::new(warm_up_lazy_values as fn()).to_wire();
}

/// Registers on this thread the thread-local destructors of what a fresh child decodes its
/// launch message with (ipc-channel's deserialization slots), in the fork server, whose one
/// thread every child continues: each child inherits them registered. A child that registered
/// them itself also bound glibc's `_dl_find_dso_for_object` lazily, the first registration of a
/// thread-local destructor in the process: a symbol lookup in ld.so, whose tables and code the
/// child faulted in (6 of a pool worker's ~46 page faults).
pub(crate) fn warm_up_thread_locals() {
    let _ = ipc_channel::ipc::IpcMessage::from_data(Vec::new()).to::<()>();
}
