//! Interop with the real `python3`: segments and `ShareableList`s made by one side are read
//! and written by the other (both are POSIX `shm_open` names; the list is CPython's layout).
//!
//! Python 3.8–3.12 registers every segment it attaches with its resource tracker, which would
//! unlink ours when the script exits (CPython gh-82300): the scripts unregister what they did
//! not create for the other side to own, which is the documented workaround.

#[allow(unused_imports)] // Only the bounded helpers are used: no mp-process child here.
#[path = "../../test-support/common.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::BOUND;
use mp_ipc::{Item, ShareableList, SharedMemory};

fn exists(name: &str) -> bool {
    Path::new(&format!("/dev/shm/{name}")).exists()
}

/// Runs `script` with `args` in `python3`, within [`BOUND`], and returns its stdout; fails the
/// test on a non-zero exit (printing stderr).
fn python(script: &str, args: &[&str]) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the interop tests");
    let deadline = Instant::now() + BOUND;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("python3 did not finish within {BOUND:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python3 failed: {stderr}");
    assert!(
        !stderr.contains("leaked"),
        "resource tracker noise: {stderr}"
    );
    stdout
}

/// Attaches without letting Python's resource tracker own the segment.
const ATTACH: &str = "
import sys
from multiprocessing import shared_memory, resource_tracker
def attach(name):
    shm = shared_memory.SharedMemory(name)
    resource_tracker.unregister(shm._name, 'shared_memory')
    return shm
";

#[test]
fn python_attaches_to_our_segment_and_we_see_its_writes() {
    let shm = SharedMemory::create(4096).unwrap();
    shm.write(0, b"from rust").unwrap();
    let script = format!(
        "{ATTACH}
shm = attach(sys.argv[1])
print(shm.size, bytes(shm.buf[:9]).decode())
shm.buf[100:111] = b'from python'
shm.close()
"
    );
    let out = python(&script, &[shm.name()]);
    assert_eq!(out.trim(), "4096 from rust");
    let mut buf = [0u8; 11];
    shm.read(100, &mut buf).unwrap();
    assert_eq!(&buf, b"from python");
    let name = shm.name().to_owned();
    drop(shm);
    assert!(!exists(&name));
}

#[test]
fn we_attach_to_a_python_segment() {
    let name = format!("mp_test_{}_frompython", std::process::id());
    let script = "
import sys
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(sys.argv[1], create=True, size=1000)
resource_tracker.unregister(shm._name, 'shared_memory')
shm.buf[:6] = b'python'
shm.close()
";
    python(script, &[&name]);
    let shm = SharedMemory::attach(&name).unwrap();
    assert!(!shm.owns_name());
    assert_eq!(shm.size(), 1000);
    assert_eq!(&shm.to_vec()[..6], b"python");
    shm.unlink().unwrap();
    assert!(!exists(&name));
}

#[test]
fn python_reads_and_writes_our_shareable_list() {
    let sl = ShareableList::new(&[
        Item::Str("howdy".into()),
        Item::Bytes(b"HoWdY".to_vec()),
        Item::Float(-273.154),
        Item::Int(100),
        Item::None,
        Item::Bool(true),
        Item::Int(42),
        Item::Str("naïve".into()),
    ])
    .unwrap();
    let script = format!(
        "{ATTACH}
sl = shared_memory.ShareableList(name=sys.argv[1])
resource_tracker.unregister(sl.shm._name, 'shared_memory')
print(repr(list(sl)))
print(sl.format)
sl[3] = 7
sl[0] = 'python'
sl[4] = 1.5
sl.shm.close()
"
    );
    let out = python(&script, &[sl.name()]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "['howdy', b'HoWdY', -273.154, 100, None, True, 42, 'naïve']"
    );
    assert_eq!(lines.next().unwrap(), "8s8sdqxxxxxx?xxxxxxxx?q8s");
    assert_eq!(sl.get(3).unwrap(), Item::Int(7));
    assert_eq!(sl.get(0).unwrap(), Item::Str("python".into()));
    assert_eq!(sl.get(4).unwrap(), Item::Float(1.5));
    let name = sl.name().to_owned();
    drop(sl);
    assert!(!exists(&name));
}

#[test]
fn we_read_and_write_a_python_shareable_list() {
    let name = format!("mp_test_{}_pylist", std::process::id());
    let script = "
import sys
from multiprocessing import shared_memory, resource_tracker
sl = shared_memory.ShareableList(['howdy', b'HoWdY', -273.154, 100, None, True, 42, 'a longer string'], name=sys.argv[1])
resource_tracker.unregister(sl.shm._name, 'shared_memory')
sl.shm.close()
";
    python(script, &[&name]);
    let sl = ShareableList::<Item>::attach(&name).unwrap();
    assert_eq!(
        sl.to_vec().unwrap(),
        vec![
            Item::Str("howdy".into()),
            Item::Bytes(b"HoWdY".to_vec()),
            Item::Float(-273.154),
            Item::Int(100),
            Item::None,
            Item::Bool(true),
            Item::Int(42),
            Item::Str("a longer string".into()),
        ]
    );
    sl.set(7, Item::Str("rust wrote this".into())).unwrap();
    sl.set(5, Item::Bool(false)).unwrap();
    let script = format!(
        "{ATTACH}
sl = shared_memory.ShareableList(name=sys.argv[1])
resource_tracker.unregister(sl.shm._name, 'shared_memory')
print(sl[7], sl[5])
sl.shm.close()
"
    );
    assert_eq!(python(&script, &[&name]).trim(), "rust wrote this False");
    sl.shared_memory().unlink().unwrap();
    assert!(!exists(&name));
}
