//! `ShareableList` (CPython's test_shared_memory_ShareableList_basics, in Rust) and
//! `SharedMemoryManager`, across processes under every start method.

#[path = "../../test-support/common.rs"]
mod common;

use std::path::Path;

use common::{BOUND, join_ok, start};
use mp_ipc::{Item, ShareableList, SharedMemory, SharedMemoryError, SharedMemoryManager};
use mp_process::StartMethod;

fn exists(name: &str) -> bool {
    Path::new(&format!("/dev/shm/{name}")).exists()
}

fn python_example() -> Vec<Item> {
    vec![
        Item::Str("howdy".into()),
        Item::Bytes(b"HoWdY".to_vec()),
        Item::Float(-273.154),
        Item::Int(100),
        Item::None,
        Item::Bool(true),
        Item::Int(42),
    ]
}

#[test]
fn the_python_example_has_pythons_format_indexing_and_limits() {
    let sl = ShareableList::new(&python_example()).unwrap();
    assert_eq!(sl.len(), 7);
    assert_eq!(sl.format().unwrap(), "8s8sdqxxxxxx?xxxxxxxx?q");
    assert_eq!(sl.to_vec().unwrap(), python_example());
    assert!(matches!(
        sl.get(7),
        Err(SharedMemoryError::IndexOutOfRange { index: 7, len: 7 })
    ));
    assert!(sl.set(7, Item::Int(2)).is_err());
    assert_eq!(sl.index(&Item::Int(100)).unwrap(), 3);
    assert!(matches!(
        sl.index(&Item::Str("100".into())),
        Err(SharedMemoryError::NotInList)
    ));
    sl.set(3, Item::Int(42)).unwrap();
    assert_eq!(sl.count(&Item::Int(42)).unwrap(), 2);
    // A slot may change type.
    sl.set(4, Item::Str("some".into())).unwrap();
    assert_eq!(sl.get(4).unwrap(), Item::Str("some".into()));
    assert_eq!(sl.format().unwrap(), "8s8sdq8sxxxxxxx?q");
    // 8 UTF-8 bytes fit the 8-byte slot, 9 do not, and the old value stays.
    sl.set(0, Item::Str("encodés".into())).unwrap();
    assert!(matches!(
        sl.set(0, Item::Str("encodéss".into())),
        Err(SharedMemoryError::ExceedsSlot {
            index: 0,
            len: 9,
            capacity: 8
        })
    ));
    assert_eq!(sl.get(0).unwrap(), Item::Str("encodés".into()));
    assert!(sl.set(1, Item::Bytes(vec![1; 9])).is_err());
    assert_eq!(sl.get(1).unwrap(), Item::Bytes(b"HoWdY".to_vec()));
    let name = sl.name().to_owned();
    drop(sl);
    assert!(!exists(&name));
}

#[test]
fn typed_lists_refuse_slots_of_another_type() {
    let sl = ShareableList::new(&[1i64, 2, 3]).unwrap();
    assert_eq!(sl.to_vec().unwrap(), vec![1, 2, 3]);
    let mixed = ShareableList::<Item>::attach(sl.name()).unwrap();
    mixed.set(1, Item::Float(0.5)).unwrap();
    assert!(matches!(
        sl.get(1),
        Err(SharedMemoryError::WrongType {
            index: 1,
            found: "float"
        })
    ));
    let strings = ShareableList::new(&["a".to_owned(), "longer string".to_owned()]).unwrap();
    assert_eq!(strings.get(1).unwrap(), "longer string");
    let empty = ShareableList::<f64>::new(&[]).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.format().unwrap(), "");
    assert_eq!(ShareableList::<f64>::attach(empty.name()).unwrap().len(), 0);
}

#[test]
fn an_attached_list_shares_and_a_copy_is_independent() {
    let sl = ShareableList::new(&python_example()).unwrap();
    let attached = ShareableList::<Item>::attach(sl.name()).unwrap();
    let copy_name = format!("mp_test_{}_listcopy", std::process::id());
    let copy = sl
        .copy_with(&mp_ipc::SharedMemoryOptions::new().name(&copy_name))
        .unwrap();
    assert_eq!(copy.name(), copy_name);
    attached.set(2, Item::Float(1.0)).unwrap();
    assert_eq!(sl.get(2).unwrap(), Item::Float(1.0));
    assert_eq!(copy.get(2).unwrap(), Item::Float(-273.154));
    copy.set(0, Item::Str("copy".into())).unwrap();
    assert_eq!(sl.get(0).unwrap(), Item::Str("howdy".into()));
    let names = [sl.name().to_owned(), copy_name];
    drop((sl, attached, copy));
    assert!(!names.iter().any(|n| exists(n)));
}

#[test]
fn a_corrupt_layout_is_refused_without_reading_out_of_bounds() {
    let shm = SharedMemory::create(64).unwrap();
    shm.write_pod(0, &1_000_000i64).unwrap();
    assert!(matches!(
        ShareableList::<Item>::from_shared_memory(shm.clone()),
        Err(SharedMemoryError::Corrupt(_))
    ));
    shm.write_pod(0, &1i64).unwrap();
    shm.write_pod(16, &(1i64 << 40)).unwrap();
    assert!(matches!(
        ShareableList::<Item>::from_shared_memory(shm.clone()),
        Err(SharedMemoryError::Corrupt(_))
    ));
}

fn child_sets_items((sl, by_name): (ShareableList<Item>, String)) {
    sl.set(0, Item::Str("child".into())).unwrap();
    let again = ShareableList::<Item>::attach(&by_name).unwrap();
    again.set(3, Item::Int(-1)).unwrap();
}

#[test]
fn children_under_every_start_method_write_a_list_they_received_or_attached() {
    for method in StartMethod::ALL {
        let sl = ShareableList::new(&python_example()).unwrap();
        join_ok(&start(
            method,
            child_sets_items,
            (sl.clone(), sl.name().to_owned()),
        ));
        assert_eq!(sl.get(0).unwrap(), Item::Str("child".into()), "{method:?}");
        assert_eq!(sl.get(3).unwrap(), Item::Int(-1), "{method:?}");
        let name = sl.name().to_owned();
        drop(sl);
        assert!(!exists(&name));
    }
}

#[test]
fn a_manager_refuses_use_before_start_and_unlinks_everything_at_shutdown() {
    let smm = SharedMemoryManager::new();
    assert!(matches!(
        smm.shared_memory(8),
        Err(SharedMemoryError::NotRunning)
    ));
    smm.start().unwrap();
    assert!(matches!(
        smm.start(),
        Err(SharedMemoryError::AlreadyStarted)
    ));
    let shm = smm.shared_memory(64).unwrap();
    let sl = smm.shareable_list(&[1i64, 2]).unwrap();
    let names = vec![shm.name().to_owned(), sl.name().to_owned()];
    assert_eq!(smm.names(), names);
    drop((shm.clone(), sl));
    assert!(
        names.iter().all(|n| exists(n)),
        "a manager's handle unlinked its name"
    );
    smm.shutdown();
    assert!(!names.iter().any(|n| exists(n)));
    assert!(matches!(
        SharedMemory::attach(&names[0]),
        Err(SharedMemoryError::NotFound { .. })
    ));
    // Mappings stay valid after the unlink.
    shm.write(0, b"still mapped").unwrap();
    assert!(matches!(
        smm.shared_memory(8),
        Err(SharedMemoryError::NotRunning)
    ));

    let dropped = SharedMemoryManager::new();
    dropped.start().unwrap();
    let name = dropped.shared_memory(8).unwrap().name().to_owned();
    drop(dropped);
    assert!(!exists(&name));
}

/// A child's manager makes a segment and a list, reports their names, and waits to be killed.
fn manager_then_wait_to_die(report: mp_ipc::Connection) {
    let smm = SharedMemoryManager::new();
    smm.start().unwrap();
    let _shm = smm.shared_memory(4096).unwrap();
    let _sl = smm.shareable_list(&["x".to_owned()]).unwrap();
    report.send(&smm.names()).unwrap();
    std::thread::sleep(BOUND * 2);
}

#[test]
fn a_sigkilled_managers_segments_are_unlinked() {
    for method in StartMethod::ALL {
        let (ours, theirs) = mp_ipc::Pipe(true).unwrap();
        let p = start(method, manager_then_wait_to_die, theirs);
        let names: Vec<String> = ours.recv_timeout(BOUND).unwrap();
        assert_eq!(names.len(), 2);
        assert!(names.iter().all(|n| exists(n)), "{method:?}");
        p.kill().unwrap();
        let _ = common::join(&p);
        common::wait_until(|| !names.iter().any(|n| exists(n)));
    }
}
