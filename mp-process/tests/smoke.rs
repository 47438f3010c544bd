//! Smoke test.
use mp_process::{Process, StartMethod};
use std::time::Duration;

fn exit_with(code: i32) {
    std::process::exit(code)
}

#[test]
fn each_method_runs_a_target() {
    for method in StartMethod::ALL {
        let t = std::time::Instant::now();
        let mut p = Process::builder()
            .start_method(method)
            .allow_fork_with_threads(true)
            .target(exit_with, 5);
        p.start().unwrap();
        let code = p.join_timeout(Duration::from_secs(10)).unwrap();
        eprintln!("{method:?}: {code:?} in {:?}", t.elapsed());
        assert_eq!(code, Some(5));
    }
}
