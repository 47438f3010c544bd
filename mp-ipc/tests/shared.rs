//! `Value`, `Array`, `RawValue`, `RawArray` across processes.

#[path = "../../test-support/common.rs"]
mod common;

use common::{join_ok, start};
use mp_ipc::{Array, Pod, RawArray, RawValue, Value, Zeroable};
use mp_process::StartMethod;
use mp_sync::Lock;

fn add_many((v, n): (Value<u64>, u64)) {
    for _ in 0..n {
        *v.lock() += 1;
    }
}

#[test]
fn locked_increments_from_every_start_method_add_up() {
    let v = Value::new(0u64).unwrap();
    let children: Vec<_> = StartMethod::ALL
        .iter()
        .map(|&m| start(m, add_many, (v.clone(), 2000)))
        .collect();
    add_many((v.clone(), 2000));
    children.iter().for_each(join_ok);
    assert_eq!(v.get(), 8000);
}

/// A user's struct, made shareable by the derive (no `unsafe` in user code).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[bytemuck(crate = "mp_ipc::bytemuck")]
struct Point {
    x: f64,
    y: f64,
    tag: u64,
}

fn write_array((a, p): (Array<i32>, Value<Point>)) {
    let mut g = a.lock();
    for (i, x) in g.iter_mut().enumerate() {
        *x = i as i32 * 10;
    }
    drop(g);
    p.set(Point {
        x: 1.5,
        y: -2.0,
        tag: 7,
    });
}

#[test]
fn a_childs_writes_are_seen_by_the_parent() {
    for method in StartMethod::ALL {
        let a = Array::<i32>::zeroed(5).unwrap();
        assert_eq!(a.to_vec(), vec![0; 5]);
        let p = Value::new(Point {
            x: 0.0,
            y: 0.0,
            tag: 0,
        })
        .unwrap();
        join_ok(&start(method, write_array, (a.clone(), p.clone())));
        assert_eq!(a.to_vec(), vec![0, 10, 20, 30, 40]);
        assert_eq!(
            p.get(),
            Point {
                x: 1.5,
                y: -2.0,
                tag: 7
            }
        );
    }
}

#[test]
fn arrays_from_slices_indexing_and_a_lock_of_the_callers() {
    let a = Array::from_slice(&[1.0f64, 2.0, 3.0]).unwrap();
    assert_eq!((a.len(), a.is_empty()), (3, false));
    assert_eq!(a.get(1), Some(2.0));
    assert_eq!(a.get(3), None);
    assert!(a.set(2, 9.0));
    assert!(!a.set(3, 9.0));
    assert_eq!(a.to_vec(), vec![1.0, 2.0, 9.0]);
    let lock = Lock::new().unwrap();
    let v = Value::with_lock([1u8, 2, 3], lock.clone()).unwrap();
    let b = Array::with_lock(&[0u16; 4], lock.clone()).unwrap();
    let g = v.lock();
    assert!(lock.locked() && v.get_lock().locked() && b.get_lock().locked());
    drop(g);
    assert!(!lock.locked());
    assert!(Array::<u8>::zeroed(0).unwrap().is_empty());
}

fn raw_child((v, a): (RawValue<u32>, RawArray<u8>)) {
    // SAFETY: the parent does not touch them until this child has exited.
    unsafe {
        v.set(v.get() + 1);
        a.as_mut_slice().copy_from_slice(b"done");
    }
}

#[test]
fn raw_values_and_arrays_are_shared_without_a_lock() {
    for method in StartMethod::ALL {
        let v = RawValue::new(41u32).unwrap();
        let a = RawArray::<u8>::zeroed(4).unwrap();
        join_ok(&start(method, raw_child, (v.clone(), a.clone())));
        // SAFETY: the child has exited; nobody else writes.
        unsafe {
            assert_eq!(v.get(), 42);
            assert_eq!(a.as_slice(), b"done");
        }
        assert_eq!(a.as_ptr() as usize % 64, 0);
    }
}

#[test]
fn a_segment_of_another_element_type_is_refused() {
    let (tx, rx) = ipc_channel::ipc::channel::<Array<u32>>().unwrap();
    tx.send(Array::from_slice(&[1u32, 2]).unwrap()).unwrap();
    let wrong = rx.to_opaque().to::<Array<u64>>().recv();
    assert!(wrong.is_err());
}

fn add_atomically((v, a, n): (RawValue<u64>, RawArray<i32>, u32)) {
    use std::sync::atomic::Ordering::Relaxed;
    for _ in 0..n {
        v.atomic().fetch_add(1, Relaxed);
        a.atomics()[1].fetch_sub(1, Relaxed);
    }
}

#[test]
fn integer_raw_values_and_elements_are_reached_safely_as_atomics() {
    use std::sync::atomic::Ordering::SeqCst;
    let v = RawValue::new(0u64).unwrap();
    let a = RawArray::from_slice(&[7i32, 0, 9]).unwrap();
    // Every start method at once, and this process too: no lost increment, no `unsafe`.
    let children: Vec<_> = StartMethod::ALL
        .iter()
        .map(|&m| start(m, add_atomically, (v.clone(), a.clone(), 3000)))
        .collect();
    add_atomically((v.clone(), a.clone(), 3000));
    children.iter().for_each(join_ok);
    let runs = StartMethod::ALL.len() as u64 + 1;
    assert_eq!(v.atomic().load(SeqCst), 3000 * runs);
    let elements: Vec<i32> = a.atomics().iter().map(|e| e.load(SeqCst)).collect();
    assert_eq!(elements, [7, -3000 * runs as i32, 9]);
    v.atomic().store(5, SeqCst);
    assert_eq!(v.atomic().swap(6, SeqCst), 5);
    assert!(RawArray::<u16>::zeroed(0).unwrap().atomics().is_empty());
}

#[test]
fn an_arrays_lock_cannot_be_released_while_its_guard_is_in_use() {
    let array = Array::<u64>::zeroed(4).unwrap();
    let mut guard = array.lock();
    // Releasing the lock behind the guard would let another process write the elements
    // while `guard` still hands out `&mut [u64]`: refused.
    assert!(matches!(
        array.get_lock().release(),
        Err(mp_sync::Error::GuardAlive)
    ));
    guard[0] = 7;
    drop(guard);
    assert_eq!(array.get(0), Some(7));
}
