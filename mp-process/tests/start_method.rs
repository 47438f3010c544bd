//! The global start method: ForkServer by default, set once, used by every process that does
//! not choose its own. (Its own test binary: the setting is process-wide.)

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::join;
use mp_process::{
    Error, Process, StartMethod, UnknownStartMethod, get_all_start_methods, get_start_method,
    set_start_method,
};

/// Set in the parent before any start: a forked child sees it set, a fresh program does not.
static SET_BEFORE_START: AtomicBool = AtomicBool::new(false);

/// Exits 10 in a copy of the parent's memory (fork), 20 in a fresh program.
fn tell_how_i_started(_: ()) {
    std::process::exit(if SET_BEFORE_START.load(Ordering::SeqCst) {
        10
    } else {
        20
    })
}

#[test]
fn the_start_method_defaults_to_forkserver_and_is_set_once() {
    assert_eq!(get_start_method(), StartMethod::ForkServer);
    use StartMethod::{Fork, ForkServer, Spawn};
    assert_eq!(
        get_all_start_methods(),
        [ForkServer, Fork, Spawn],
        "the default first"
    );
    SET_BEFORE_START.store(true, Ordering::SeqCst);
    let mut p = Process::new(tell_how_i_started, ());
    assert_eq!(p.start_method(), StartMethod::ForkServer);
    p.start().unwrap();
    assert_eq!(
        join(&p),
        20,
        "a forkserver child is a fork of a fresh program"
    );

    set_start_method(StartMethod::Spawn).unwrap();
    assert_eq!(get_start_method(), StartMethod::Spawn);
    assert_eq!(
        get_all_start_methods(),
        [Spawn, Fork, ForkServer],
        "the one set first"
    );
    match set_start_method(StartMethod::Fork) {
        Err(Error::StartMethodAlreadySet { current }) => assert_eq!(current, StartMethod::Spawn),
        other => panic!("a second set_start_method must fail, got {other:?}"),
    }
    let mut p = Process::new(tell_how_i_started, ());
    assert_eq!(p.start_method(), StartMethod::Spawn);
    p.start().unwrap();
    assert_eq!(join(&p), 20, "spawn: a fresh program");

    // A process may still choose its own.
    let mut p = Process::builder()
        .start_method(StartMethod::Fork)
        .allow_fork_with_threads(true)
        .target(tell_how_i_started, ());
    p.start().unwrap();
    assert_eq!(join(&p), 10, "fork: a copy of the parent");
}

#[test]
fn start_methods_parse_from_their_python_names() {
    for method in StartMethod::ALL {
        assert_eq!(method.name().parse::<StartMethod>(), Ok(method));
        assert_eq!(method.to_string(), method.name());
    }
    assert_eq!(
        "threads".parse::<StartMethod>(),
        Err(UnknownStartMethod {
            name: "threads".into()
        })
    );
}
