//! A manager's shared objects, from this process and from children under every start method,
//! with the server in a process of its own or on a thread; shutdown; the server dies with its
//! owner.

mod common;

use std::time::Duration;

use mp_ipc::Queue as PlainQueue;
use mp_manager::{
    AcquirerProxy, DictProxy, Error, EventProxy, ListProxy, Manager, QueueProxy, ValueProxy,
};
use mp_process::StartMethod;

use common::{BOUND, join, join_ok, on_thread_within, pid_gone, start, wait_until};

#[test]
fn dict_list_value_in_this_process() {
    on_thread_within(BOUND, || {
        let mut m = Manager::builder().in_thread().start().unwrap();
        let d = m.dict::<String, Vec<u8>>().unwrap();
        assert_eq!(d.insert(&"a".into(), &vec![1]).unwrap(), None);
        assert_eq!(d.insert(&"a".into(), &vec![2]).unwrap(), Some(vec![1]));
        d.insert(&"b".into(), &vec![]).unwrap();
        assert_eq!(d.get(&"a".into()).unwrap(), Some(vec![2]));
        assert!(d.contains_key(&"b".into()).unwrap());
        assert_eq!(d.len().unwrap(), 2);
        assert_eq!(d.remove(&"b".into()).unwrap(), Some(vec![]));
        assert_eq!(d.items().unwrap(), vec![("a".to_owned(), vec![2])]);
        d.clear().unwrap();
        assert!(d.is_empty().unwrap());

        let l = m.list::<i32>().unwrap();
        l.push(&1).unwrap();
        l.push(&2).unwrap();
        l.set(0, &5).unwrap();
        assert_eq!(l.get(0).unwrap(), 5);
        assert!(matches!(l.get(9), Err(Error::Refused(_))));
        assert_eq!(l.pop().unwrap(), Some(2));
        assert_eq!(l.to_vec().unwrap(), vec![5]);

        let v = m.value(&1.5f64).unwrap();
        v.set(&2.5).unwrap();
        assert_eq!(v.get().unwrap(), 2.5);
        m.shutdown().unwrap();
    });
}

#[test]
fn lock_event_queue_in_this_process() {
    on_thread_within(BOUND, || {
        let m = Manager::builder().in_thread().start().unwrap();
        let lock = m.lock().unwrap();
        lock.acquire().unwrap();
        let other = lock.clone(); // a connection of its own
        assert!(!other.try_acquire().unwrap());
        assert!(!other.acquire_timeout(Duration::from_millis(50)).unwrap());
        lock.release().unwrap();
        assert!(other.try_acquire().unwrap());
        other.release().unwrap();
        assert!(matches!(other.release(), Err(Error::Refused(_))));

        let r = m.rlock().unwrap();
        r.acquire().unwrap();
        r.acquire().unwrap();
        assert!(!r.clone().try_acquire().unwrap());
        r.release().unwrap();
        r.release().unwrap();
        assert!(r.clone().try_acquire().unwrap());

        let e = m.event().unwrap();
        assert!(!e.wait_timeout(Duration::from_millis(20)).unwrap());
        e.set().unwrap();
        assert!(e.is_set().unwrap());
        e.wait().unwrap();
        e.clear().unwrap();
        assert!(!e.is_set().unwrap());

        let q = m.queue_with_maxsize::<String>(1).unwrap();
        assert_eq!(q.try_get().unwrap(), None);
        q.put(&"x".into()).unwrap();
        assert!(!q.try_put(&"y".into()).unwrap());
        assert_eq!(q.qsize().unwrap(), 1);
        assert_eq!(q.get().unwrap(), "x");
        assert_eq!(q.get_timeout(Duration::from_millis(20)).unwrap(), None);
    });
}

#[test]
fn a_lock_held_by_a_client_that_disconnects_is_released() {
    on_thread_within(BOUND, || {
        let m = Manager::builder().in_thread().start().unwrap();
        let lock = m.lock().unwrap();
        let holder = lock.clone();
        holder.acquire().unwrap();
        assert!(!lock.try_acquire().unwrap());
        drop(holder); // its connection closes
        assert!(lock.acquire_timeout(BOUND).unwrap());
    });
}

/// Everything a child is given.
type Shared = (
    DictProxy<String, u32>,
    ListProxy<String>,
    ValueProxy<u64>,
    AcquirerProxy,
    QueueProxy<String>,
    EventProxy,
);

/// A child: waits for the go, then 20 times takes the lock, adds one to the value, and
/// records itself in the list, the dict and the queue.
fn worker((d, l, v, lock, q, go): Shared) {
    let me = format!("{}", std::process::id());
    assert!(go.wait_timeout(BOUND).unwrap());
    for i in 0..20u32 {
        lock.acquire().unwrap();
        let n = v.get().unwrap();
        v.set(&(n + 1)).unwrap();
        lock.release().unwrap();
        l.push(&me).unwrap();
        d.insert(&format!("{me}-{i}"), &i).unwrap();
    }
    q.put(&me).unwrap();
}

/// Two children (spawn and fork, or the given pair) at once against a server started under
/// `server`.
fn children_share(server: StartMethod, children: [StartMethod; 2]) {
    let mut m = Manager::builder()
        .start_method(server)
        .allow_fork_with_threads(true)
        .start()
        .unwrap();
    let shared: Shared = (
        m.dict().unwrap(),
        m.list().unwrap(),
        m.value(&0).unwrap(),
        m.lock().unwrap(),
        m.queue().unwrap(),
        m.event().unwrap(),
    );
    let kids: Vec<_> = children
        .iter()
        .map(|&method| start(method, worker, shared.clone()))
        .collect();
    shared.5.set().unwrap();
    for k in &kids {
        join_ok(k);
    }
    let (d, l, v, _, q, _) = &shared;
    assert_eq!(v.get().unwrap(), 40, "the lock kept the increments apart");
    assert_eq!(l.len().unwrap(), 40);
    assert_eq!(d.len().unwrap(), 40);
    let mut done = vec![q.get().unwrap(), q.get().unwrap()];
    done.sort();
    let mut pids: Vec<String> = kids.iter().map(|k| k.pid().unwrap().to_string()).collect();
    pids.sort();
    assert_eq!(done, pids);
    m.shutdown().unwrap();
}

#[test]
fn spawn_and_fork_children_share_every_proxy_at_once() {
    children_share(
        StartMethod::ForkServer,
        [StartMethod::Spawn, StartMethod::Fork],
    );
}

#[test]
fn a_server_under_each_start_method_serves_children() {
    for server in StartMethod::ALL {
        children_share(server, [StartMethod::ForkServer, StartMethod::Spawn]);
    }
}

#[test]
fn every_call_after_shutdown_is_an_error_not_a_hang() {
    for in_thread in [false, true] {
        let builder = Manager::builder();
        let builder = if in_thread {
            builder.in_thread()
        } else {
            builder
        };
        let mut m = builder.start().unwrap();
        let d = m.dict::<u8, u8>().unwrap();
        let q = m.queue::<u8>().unwrap();
        d.insert(&1, &1).unwrap();
        let fresh = d.clone(); // not connected yet
        let waiting = q.clone();
        let getter = std::thread::spawn(move || waiting.get());
        std::thread::sleep(Duration::from_millis(100));
        m.shutdown().unwrap();
        let results = on_thread_within(BOUND, move || {
            (d.get(&1), fresh.get(&1), getter.join().unwrap())
        });
        assert!(
            matches!(results.0, Err(Error::ServerGone(_))),
            "{:?}",
            results.0
        );
        assert!(
            matches!(results.1, Err(Error::ServerGone(_))),
            "{:?}",
            results.1
        );
        assert!(
            results.2.is_err(),
            "a get blocked in the server ends: {:?}",
            results.2
        );
    }
}

/// An owner: starts a manager under `method`, reports its server's pid, then waits to be
/// killed.
fn owner((method, report): (StartMethod, PlainQueue<i32>)) {
    let m = Manager::builder()
        .start_method(method)
        .allow_fork_with_threads(true)
        .start()
        .unwrap();
    m.dict::<u8, u8>().unwrap().insert(&1, &1).unwrap();
    report.put(m.server_pid().unwrap()).unwrap();
    std::thread::sleep(BOUND * 2);
}

#[test]
fn the_server_dies_with_its_sigkilled_owner() {
    for method in StartMethod::ALL {
        let report = PlainQueue::new().unwrap();
        let p = start(StartMethod::Spawn, owner, (method, report.clone()));
        let server = report.get_timeout(BOUND).unwrap();
        assert!(!pid_gone(server));
        p.kill().unwrap();
        assert_eq!(join(&p), -9);
        wait_until(|| pid_gone(server));
    }
}
