//! Worker lifecycle events reach the `log` facade: a worker killed while it holds a task shows
//! as a warning naming the worker and the task, and its replacement as information. (A test
//! binary of its own: the logger is process-global.)

use std::sync::Mutex;
use std::time::Duration;

use log::{Level, LevelFilter, Log, Metadata, Record};
use mp_pool::{Pool, StartMethod, TaskError};

#[path = "../../test-support/bounded.rs"]
mod bounded;

/// Every record logged, as (level, target, message).
static RECORDS: Mutex<Vec<(Level, String, String)>> = Mutex::new(Vec::new());

/// A logger that keeps every record.
struct Keep;

impl Log for Keep {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        let entry = (
            record.level(),
            record.target().to_owned(),
            record.args().to_string(),
        );
        RECORDS.lock().unwrap().push(entry);
    }
    fn flush(&self) {}
}

fn sigkill_on_three(x: u32) -> u32 {
    if x == 3 {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    x
}

#[test]
fn a_lost_task_and_its_replacement_worker_are_logged() {
    log::set_logger(&Keep).unwrap();
    log::set_max_level(LevelFilter::Debug);
    bounded::on_thread_within(Duration::from_secs(60), || {
        let pool = Pool::builder()
            .processes(1)
            .start_method(StartMethod::ForkServer)
            .build()
            .unwrap();
        let results = pool.map_chunked(sigkill_on_three, 0..6, 1).unwrap();
        assert!(matches!(
            results[3],
            Err(TaskError::WorkerLost { task: 3, .. })
        ));
        pool.close();
        pool.join().unwrap();
    });
    let records = RECORDS.lock().unwrap();
    let has = |level: Level, words: &[&str]| {
        records.iter().any(|(l, target, m)| {
            *l == level && target == "mp_pool" && words.iter().all(|w| m.contains(w))
        })
    };
    assert!(has(Level::Debug, &["worker 0", "started"]), "{records:#?}");
    assert!(
        has(Level::Warn, &["worker 0", "killed by signal 9"]),
        "{records:#?}"
    );
    assert!(
        has(Level::Warn, &["task 3 failed", "worker 0"]),
        "{records:#?}"
    );
    assert!(
        has(Level::Info, &["worker 1", "replaces worker 0"]),
        "{records:#?}"
    );
    assert!(has(Level::Debug, &["worker 1", "retired"]), "{records:#?}");
}
