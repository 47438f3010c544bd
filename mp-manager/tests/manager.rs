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

/// A party: waits at the barrier and reports its index.
fn party((b, out): (mp_manager::BarrierProxy, QueueProxy<usize>)) {
    out.put(&b.wait_timeout(BOUND).unwrap()).unwrap();
}

/// A party that arrives, then is killed while it waits.
fn doomed_party((b, arrived): (mp_manager::BarrierProxy, EventProxy)) {
    arrived.set().unwrap();
    let _ = b.wait();
}

#[test]
fn a_barrier_meets_across_processes_and_breaks_for_a_party_that_leaves() {
    let m = Manager::new().unwrap();
    let b = m.barrier(3).unwrap();
    let out = m.queue::<usize>().unwrap();
    let kids: Vec<_> = [StartMethod::Spawn, StartMethod::Fork]
        .iter()
        .map(|&k| start(k, party, (b.clone(), out.clone())))
        .collect();
    let mine = b.wait_timeout(BOUND).unwrap();
    kids.iter().for_each(join_ok);
    let mut indices = vec![mine, out.get().unwrap(), out.get().unwrap()];
    indices.sort();
    assert_eq!(indices, vec![0, 1, 2]);

    // A timed-out wait breaks it, for everyone, until a reset.
    let two = m.barrier(2).unwrap();
    let r = two.wait_timeout(Duration::from_millis(50));
    assert!(
        matches!(r, Err(Error::Refused(mp_manager::Refusal::BrokenBarrier))),
        "{r:?}"
    );
    assert!(two.broken().unwrap());
    two.reset().unwrap();
    assert!(!two.broken().unwrap());

    // Three parties, two wait, one of them is killed: the other is broken off, not left
    // waiting for ever.
    let three = m.barrier(3).unwrap();
    let arrived = m.event().unwrap();
    let p = start(
        StartMethod::Spawn,
        doomed_party,
        (three.clone(), arrived.clone()),
    );
    assert!(arrived.wait_timeout(BOUND).unwrap());
    wait_until(|| three.n_waiting().unwrap() == 1);
    let waiter = three.clone();
    // Longer than the test waits for it: only the broken barrier ends this wait in time.
    let waiting = std::thread::spawn(move || waiter.wait_timeout(BOUND * 3));
    wait_until(|| three.n_waiting().unwrap() == 2);
    p.kill().unwrap();
    assert_eq!(join(&p), -9);
    let broken_off = on_thread_within(BOUND, move || waiting.join().unwrap());
    assert!(
        matches!(
            broken_off,
            Err(Error::Refused(mp_manager::Refusal::BrokenBarrier))
        ),
        "{broken_off:?}"
    );
}

#[test]
fn one_client_blocked_in_the_server_holds_up_no_other() {
    on_thread_within(BOUND, || {
        let m = Manager::builder().in_thread().start().unwrap();
        let lock = m.lock().unwrap();
        let d = m.dict::<u8, u8>().unwrap();
        lock.acquire().unwrap();
        let blocked = lock.clone();
        let waiting = std::thread::spawn(move || blocked.acquire_timeout(BOUND));
        // While that acquire waits in the server, other clients are served.
        for i in 0..50 {
            d.insert(&i, &i).unwrap();
        }
        assert_eq!(d.len().unwrap(), 50);
        lock.release().unwrap();
        assert!(waiting.join().unwrap().unwrap());
    });
}

/// A consumer: under the condition's lock, waits until the value is set, then answers.
fn consumer((c, v, out): (mp_manager::ConditionProxy, ValueProxy<u32>, QueueProxy<u32>)) {
    c.acquire().unwrap();
    while v.get().unwrap() == 0 {
        assert!(c.wait_timeout(BOUND).unwrap(), "notified");
    }
    let seen = v.get().unwrap();
    c.release().unwrap();
    out.put(&seen).unwrap();
}

#[test]
fn a_condition_wakes_waiters_in_other_processes() {
    let m = Manager::new().unwrap();
    let c = m.condition().unwrap();
    let v = m.value(&0u32).unwrap();
    let out = m.queue::<u32>().unwrap();

    // Not held: refused. Held, nobody notifies: false, and held again after.
    assert!(matches!(c.notify(1), Err(Error::Refused(_))));
    assert!(matches!(c.wait(), Err(Error::Refused(_))));
    c.acquire().unwrap();
    assert!(!c.wait_timeout(Duration::from_millis(20)).unwrap());
    assert!(
        !c.clone().try_acquire().unwrap(),
        "held again after the wait"
    );
    c.release().unwrap();

    let kids: Vec<_> = [StartMethod::Spawn, StartMethod::Fork]
        .iter()
        .map(|&k| start(k, consumer, (c.clone(), v.clone(), out.clone())))
        .collect();
    std::thread::sleep(Duration::from_millis(100)); // let them wait (or not: both work)
    c.acquire().unwrap();
    v.set(&7).unwrap();
    c.notify_all().unwrap();
    c.release().unwrap();
    kids.iter().for_each(join_ok);
    assert_eq!([out.get().unwrap(), out.get().unwrap()], [7, 7]);
}
