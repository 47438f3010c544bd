//! Registered types (Python's `BaseManager.register`): served under every start method, a
//! panic in one call, clients killed mid-call, wrong keys, TCP and standalone servers.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use mp_ipc::{Address, Queue as PlainQueue};
use mp_manager::{Error, EventProxy, Manager, Proxy, QueueProxy, Refusal};
use mp_process::StartMethod;

use common::{BOUND, Counter, CounterOp, join, join_ok, on_thread_within, start};

/// A manager serving [`Counter`] as "Counter", its server under `method`.
fn counting_manager(method: StartMethod) -> Manager {
    Manager::builder()
        .start_method(method)
        .allow_fork_with_threads(true)
        .register("Counter", Counter::default)
        .start()
        .unwrap()
}

/// A child adding 1 ten times.
fn add_ten(c: Proxy<Counter>) {
    for _ in 0..10 {
        c.call(&CounterOp::Add(1)).unwrap();
    }
}

#[test]
fn a_registered_type_is_served_under_every_start_method() {
    for server in StartMethod::ALL {
        let m = counting_manager(server);
        let c: Proxy<Counter> = m.create("Counter").unwrap();
        let kids: Vec<_> = StartMethod::ALL
            .iter()
            .map(|&k| start(k, add_ten, c.clone()))
            .collect();
        kids.iter().for_each(join_ok);
        assert_eq!(
            c.call(&CounterOp::Get).unwrap(),
            30,
            "server under {server:?}"
        );
        let named: Proxy<Counter> = m.create_named("Counter", "total").unwrap();
        named.call(&CounterOp::Add(2)).unwrap();
        let again: Proxy<Counter> = m.create_named("Counter", "total").unwrap();
        assert_eq!(again.call(&CounterOp::Get).unwrap(), 2);
    }
}

#[test]
fn an_unregistered_name_is_refused() {
    let m = Manager::builder().in_thread().start().unwrap();
    let r = m.create::<Counter>("Counter");
    assert!(
        matches!(r, Err(Error::Refused(Refusal::NotRegistered(_)))),
        "{r:?}"
    );
}

#[test]
fn a_panic_is_that_callers_error_and_poisons_that_object_only() {
    let m = counting_manager(StartMethod::Spawn);
    let doomed: Proxy<Counter> = m.create("Counter").unwrap();
    let other: Proxy<Counter> = m.create("Counter").unwrap();
    doomed.call(&CounterOp::Add(1)).unwrap();
    other.call(&CounterOp::Add(5)).unwrap();
    match doomed.call(&CounterOp::Panic) {
        Err(Error::Refused(Refusal::Panicked(msg))) => assert!(msg.contains("asked to panic")),
        other => panic!("{other:?}"),
    }
    let after = doomed.call(&CounterOp::Get);
    assert!(
        matches!(after, Err(Error::Refused(Refusal::Poisoned))),
        "{after:?}"
    );
    assert_eq!(other.call(&CounterOp::Get).unwrap(), 5, "the others go on");
    let fresh: Proxy<Counter> = m.create("Counter").unwrap();
    assert_eq!(fresh.call(&CounterOp::Add(1)).unwrap(), 1);
}

/// A child that says it is about to call, then calls something long.
fn long_call((c, about_to): (Proxy<Counter>, EventProxy)) {
    about_to.set().unwrap();
    let _ = c.call(&CounterOp::Sleep(1_000));
}

/// A child that says it is about to get, then blocks in `get`.
fn blocked_get((q, about_to): (QueueProxy<String>, EventProxy)) {
    about_to.set().unwrap();
    let _ = q.get();
}

#[test]
fn a_client_killed_mid_call_costs_the_server_nothing() {
    let m = counting_manager(StartMethod::ForkServer);
    let c: Proxy<Counter> = m.create("Counter").unwrap();
    let q = m.queue::<String>().unwrap();
    for method in [StartMethod::Spawn, StartMethod::Fork] {
        let about_to = m.event().unwrap();
        let p = start(method, long_call, (c.clone(), about_to.clone()));
        assert!(about_to.wait_timeout(BOUND).unwrap());
        std::thread::sleep(Duration::from_millis(100)); // in the call
        p.kill().unwrap();
        assert_eq!(join(&p), -9);
        assert_eq!(
            c.call(&CounterOp::Add(1)).unwrap(),
            1 + i64::from(method == StartMethod::Fork)
        );

        let about_to = m.event().unwrap();
        let p = start(method, blocked_get, (q.clone(), about_to.clone()));
        assert!(about_to.wait_timeout(BOUND).unwrap());
        std::thread::sleep(Duration::from_millis(200)); // blocked in the server
        p.kill().unwrap();
        assert_eq!(join(&p), -9);
        std::thread::sleep(Duration::from_millis(200)); // the server notices
        q.put(&"kept".into()).unwrap();
        assert_eq!(
            q.get_timeout(BOUND).unwrap().as_deref(),
            Some("kept"),
            "no item went to the dead"
        );
    }
}

#[test]
fn a_wrong_key_is_refused_and_the_server_goes_on() {
    let m = Manager::builder()
        .in_thread()
        .authkey(b"right key")
        .start()
        .unwrap();
    let r = Manager::connect(m.address(), b"wrong key");
    assert!(matches!(r, Err(Error::Authentication(_))), "{r:?}");
    let c = Manager::connect(m.address(), b"right key").unwrap();
    c.named_dict::<u8, u8>("d").unwrap().insert(&1, &2).unwrap();
    assert_eq!(
        m.named_dict::<u8, u8>("d").unwrap().get(&1).unwrap(),
        Some(2)
    );
}

/// A client of a TCP manager: connects with the key it is given and writes the dict.
fn tcp_client((addr, key, done): (SocketAddr, Vec<u8>, PlainQueue<bool>)) {
    let m = Manager::connect(&Address::Tcp(addr), &key).unwrap();
    let d = m.named_dict::<String, String>("shared").unwrap();
    let seen = d.get(&"from".into()).unwrap();
    d.insert(&"to".into(), &"child".into()).unwrap();
    done.put(seen.as_deref() == Some("parent")).unwrap();
}

#[test]
fn a_tcp_manager_serves_a_process_that_connects_to_it() {
    let m = Manager::builder()
        .listen_tcp("127.0.0.1:0".parse().unwrap())
        .authkey(b"tcp key")
        .register("Counter", Counter::default)
        .start()
        .unwrap();
    let Address::Tcp(addr) = m.address().clone() else {
        panic!("{:?}", m.address())
    };
    let d = m.named_dict::<String, String>("shared").unwrap();
    d.insert(&"from".into(), &"parent".into()).unwrap();
    let done = PlainQueue::new().unwrap();
    let p = start(
        StartMethod::Spawn,
        tcp_client,
        (addr, b"tcp key".to_vec(), done.clone()),
    );
    join_ok(&p);
    assert!(done.get_timeout(BOUND).unwrap());
    assert_eq!(d.get(&"to".into()).unwrap().as_deref(), Some("child"));
}

#[test]
fn a_standalone_server_serves_until_a_client_shuts_it_down() {
    let server = Manager::builder()
        .authkey(b"k")
        .register("Counter", Counter::default)
        .get_server()
        .unwrap();
    let address = server.address().clone();
    let serving = std::thread::spawn(move || server.serve_forever());
    let m = Manager::connect(&address, b"k").unwrap();
    let c: Proxy<Counter> = m.create("Counter").unwrap();
    assert_eq!(c.call(&CounterOp::Add(3)).unwrap(), 3);
    m.shutdown_server().unwrap();
    on_thread_within(BOUND, move || serving.join().unwrap());
    assert!(matches!(c.call(&CounterOp::Get), Err(Error::ServerGone(_))));
}

#[test]
fn a_call_bound_ends_a_call_that_takes_too_long() {
    let m = Manager::builder()
        .in_thread()
        .register("Counter", Counter::default)
        .start()
        .unwrap();
    let c: Proxy<Counter> = m.create("Counter").unwrap();
    let r = c.call_timeout(&CounterOp::Sleep(2_000), Duration::from_millis(100));
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    // A new connection; the late reply of the old one answers nothing.
    assert_eq!(c.call_timeout(&CounterOp::Add(1), BOUND).unwrap(), 1);
}
