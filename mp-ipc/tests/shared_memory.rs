//! `SharedMemory`: names, errors, ownership, access, mode, and travel to children under every
//! start method. Every test checks that the names it made are gone from /dev/shm at its end.

#[path = "../../test-support/common.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use common::{BOUND, join_ok, on_thread_within, start};
use mp_ipc::{SharedMemory, SharedMemoryError, SharedMemoryOptions};
use mp_process::StartMethod;

fn shm_path(name: &str) -> String {
    format!("/dev/shm/{name}")
}

fn exists(name: &str) -> bool {
    Path::new(&shm_path(name)).exists()
}

/// A name of our own for a test (unique per process and tag).
fn test_name(tag: &str) -> String {
    format!("mp_test_{}_{tag}", std::process::id())
}

#[test]
fn created_segments_have_a_random_psm_name_size_and_shared_bytes() {
    let a = SharedMemory::create(512).unwrap();
    let b = SharedMemory::create(512).unwrap();
    assert!(
        a.name().starts_with("psm_") && a.name().len() == 20,
        "{}",
        a.name()
    );
    assert_ne!(a.name(), b.name());
    assert_eq!(a.size(), 512);
    assert!(exists(a.name()));
    assert!(a.owns_name());

    let other = SharedMemory::attach(a.name()).unwrap();
    assert!(!other.owns_name());
    assert_eq!(other.size(), 512);
    other.write(0, &[42]).unwrap();
    a.write(511, &[7]).unwrap();
    let mut buf = [0u8; 1];
    a.read(0, &mut buf).unwrap();
    assert_eq!(buf, [42]);
    assert_eq!(other.to_vec()[511], 7);
    assert!(format!("{a:?}").contains(a.name()));

    let names = [a.name().to_owned(), b.name().to_owned()];
    drop((a, b));
    // The creator's last handles are gone: the names are unlinked, the attachment still maps.
    assert!(!names.iter().any(|n| exists(n)));
    assert_eq!(other.to_vec()[0], 42);
}

#[test]
fn attaching_reports_the_real_size_and_never_owns() {
    let name = test_name("realsize");
    let shm = SharedMemory::create_named(&name, 100).unwrap();
    let att = SharedMemory::attach(&format!("/{name}")).unwrap();
    assert_eq!((att.name(), att.size()), (name.as_str(), 100));
    drop(att);
    assert!(exists(&name), "an attachment's drop unlinked the name");
    drop(shm);
    assert!(!exists(&name));
}

#[test]
fn bad_sizes_and_names_and_missing_or_taken_names_are_typed_errors() {
    assert!(matches!(
        SharedMemory::create(0),
        Err(SharedMemoryError::ZeroSize)
    ));
    for bad in ["", "/", "a/b", "a\0b", "..", &"x".repeat(256)] {
        assert!(
            matches!(
                SharedMemory::create_named(bad, 8),
                Err(SharedMemoryError::BadName { .. })
            ),
            "{bad:?}"
        );
        assert!(matches!(
            SharedMemory::attach(bad),
            Err(SharedMemoryError::BadName { .. })
        ));
    }
    let name = test_name("errors");
    assert!(matches!(
        SharedMemory::attach(&name),
        Err(SharedMemoryError::NotFound { .. })
    ));
    let shm = SharedMemory::create_named(&name, 8).unwrap();
    assert!(matches!(
        SharedMemory::create_named(&name, 8),
        Err(SharedMemoryError::AlreadyExists { .. })
    ));
    assert!(matches!(
        shm.read(4, &mut [0; 5]),
        Err(SharedMemoryError::OutOfBounds {
            offset: 4,
            len: 5,
            size: 8
        })
    ));
    assert!(shm.write(usize::MAX, &[1]).is_err());
    assert!(matches!(
        shm.atomics::<u32>(2, 1),
        Err(SharedMemoryError::Misaligned { .. })
    ));
    shm.unlink().unwrap();
    assert!(!shm.owns_name());
    assert!(matches!(
        shm.unlink(),
        Err(SharedMemoryError::NotFound { .. })
    ));
    assert!(!exists(&name));
}

#[test]
fn keep_leaves_the_name_for_a_later_unlink() {
    let name = test_name("keep");
    let shm = SharedMemory::create_named(&name, 64).unwrap();
    shm.write_pod(8, &0x1234_5678u64).unwrap();
    shm.keep();
    assert!(!shm.owns_name());
    shm.close();
    let again = SharedMemory::attach(&name).unwrap();
    assert_eq!(again.read_pod::<u64>(8).unwrap(), 0x1234_5678);
    again.unlink().unwrap();
    assert!(!exists(&name));
}

#[test]
fn a_name_recreated_by_someone_else_is_not_unlinked_by_the_first_creator() {
    let name = test_name("recreated");
    let first = SharedMemory::create_named(&name, 8).unwrap();
    SharedMemory::attach(&name).unwrap().unlink().unwrap();
    let second = SharedMemory::create_named(&name, 16).unwrap();
    drop(first);
    assert_eq!(SharedMemory::attach(&name).unwrap().size(), 16);
    drop(second);
    assert!(!exists(&name));
}

#[test]
fn segments_are_owner_only_unless_a_mode_is_asked() {
    let private = SharedMemory::create(8).unwrap();
    let mode = |n: &str| std::fs::metadata(shm_path(n)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(private.name()), 0o600);
    let shared = SharedMemoryOptions::new().mode(0o644).create(8).unwrap();
    // Set exactly: the umask (usually 022) does not narrow it, and nor would it widen 0600.
    assert_eq!(mode(shared.name()), 0o644);
    let names = [private.name().to_owned(), shared.name().to_owned()];
    drop((private, shared));
    assert!(!names.iter().any(|n| exists(n)));
}

#[test]
fn integer_cells_are_atomics_and_pods_are_copied() {
    let shm = SharedMemory::create(64).unwrap();
    let other = SharedMemory::attach(shm.name()).unwrap();
    shm.atomics::<u64>(0, 8).unwrap()[3].fetch_add(5, Ordering::SeqCst);
    other.atomics::<u64>(24, 1).unwrap()[0].fetch_add(1, Ordering::SeqCst);
    assert_eq!(shm.read_pod::<u64>(24).unwrap(), 6);
    // SAFETY: no one else writes the segment while the view is in use.
    let view = unsafe { other.as_slice::<u64>(0, 8) }.unwrap();
    assert_eq!(view[3], 6);
    assert!(shm.atomics::<u32>(60, 2).is_err());
}

#[test]
fn a_handle_travels_in_an_ipc_channel_message_and_attaches_there() {
    let shm = SharedMemory::create(32).unwrap();
    let (tx, rx) = ipc_channel::ipc::channel::<SharedMemory>().unwrap();
    tx.send(shm.clone()).unwrap();
    let got = rx.recv().unwrap();
    assert_eq!((got.name(), got.size()), (shm.name(), 32));
    assert!(!got.owns_name());
    got.write(3, b"x").unwrap();
    assert_eq!(shm.to_vec()[3], b'x');
    let name = shm.name().to_owned();
    shm.unlink().unwrap();
    // A handle whose name is gone cannot be received (Python: FileNotFoundError on unpickle).
    let (tx2, rx2) = ipc_channel::ipc::channel::<SharedMemory>().unwrap();
    tx2.send(got).unwrap();
    assert!(rx2.recv().is_err());
    assert!(!exists(&name));
}

fn child_writes_through_argument(shm: SharedMemory) {
    shm.write(0, b"by argument").unwrap();
    assert!(!shm.owns_name());
}

fn child_writes_by_name(name: String) {
    let shm = SharedMemory::attach(&name).unwrap();
    shm.write(0, b"by name").unwrap();
    shm.close();
}

#[test]
fn children_under_every_start_method_attach_by_argument_and_by_name() {
    for method in StartMethod::ALL {
        let shm = SharedMemory::create(64).unwrap();
        let p = start(method, child_writes_through_argument, shm.clone());
        join_ok(&p);
        assert_eq!(&shm.to_vec()[..11], b"by argument", "{method:?}");
        let p = start(method, child_writes_by_name, shm.name().to_owned());
        join_ok(&p);
        assert_eq!(&shm.to_vec()[..7], b"by name", "{method:?}");
        // The children (a fork child holding the creator's own handle included) unlinked
        // nothing.
        assert!(exists(shm.name()), "{method:?}");
        let name = shm.name().to_owned();
        drop(shm);
        assert!(!exists(&name));
    }
}

/// Creates a segment, reports its name and waits to be killed.
fn create_and_wait_to_die((size, report): (usize, mp_ipc::Connection)) {
    let shm = SharedMemory::create(size).unwrap();
    report.send(&shm.name().to_owned()).unwrap();
    std::thread::sleep(BOUND * 2);
}

/// Creates a segment and leaves without dropping it.
fn create_and_exit_without_dropping(report: mp_ipc::Connection) {
    let shm = SharedMemory::create(8).unwrap();
    report.send(&shm.name().to_owned()).unwrap();
    std::mem::forget(shm);
    std::process::exit(0);
}

#[test]
fn a_sigkilled_creators_segment_is_unlinked_by_its_watcher() {
    for method in StartMethod::ALL {
        let (ours, theirs) = mp_ipc::Pipe(true).unwrap();
        let p = start(method, create_and_wait_to_die, (4096, theirs));
        let name: String = ours.recv_timeout(BOUND).unwrap();
        assert!(exists(&name), "{method:?}");
        p.kill().unwrap();
        let _ = common::join(&p);
        common::wait_until(|| !exists(&name));
    }
}

#[test]
fn a_creator_that_exits_without_dropping_leaves_no_segment() {
    for method in StartMethod::ALL {
        let (ours, theirs) = mp_ipc::Pipe(true).unwrap();
        let p = start(method, create_and_exit_without_dropping, theirs);
        let name: String = ours.recv_timeout(BOUND).unwrap();
        join_ok(&p);
        common::wait_until(|| !exists(&name));
    }
}

/// Opens a pipe, then starts this process's watcher (its first segment), then drops the
/// pipe's write end: the read end must see EOF, so the watcher holds no copy.
fn watcher_holds_no_descriptor_of_its_creator(_: ()) {
    let (r, w) = nix::unistd::pipe().unwrap();
    let shm = SharedMemory::create(8).unwrap();
    drop(w);
    let n = on_thread_within(BOUND, move || nix::unistd::read(&r, &mut [0u8; 1]).unwrap());
    assert_eq!(n, 0);
    drop(shm);
}

#[test]
fn the_watcher_keeps_no_descriptor_of_its_creator_open() {
    for method in StartMethod::ALL {
        join_ok(&start(
            method,
            watcher_holds_no_descriptor_of_its_creator,
            (),
        ));
    }
}
