//! Benchmark figures for `cargo xtask bench`: `figures <figure-name> <ours|floor>` prints one
//! number, the median of several repeats, in the figure's unit (anything else goes to stderr).
//!
//! | figure | unit | ours | floor |
//! |---|---|---|---|
//! | `manager/dict_roundtrip` | µs per `d[k] = v` then `d[k]` | a `Manager::new()` dict (server process, default start method) | two 16-byte `Listener`/`Client` round trips over a private Unix socket to an echo thread |
//!
//! The workload follows `xtask/bench/mp_bench.py`'s `manager_dict_roundtrip`; the caller pins
//! the process (and so the server) to CPU 0.

#[path = "../../xtask/bench/protocol.rs"]
mod protocol;

use std::time::Instant;

use mp_ipc::{Client, Listener};
use mp_manager::Manager;

/// Repeats per figure; the median is printed.
const REPS: usize = 5;
/// Set + get pairs per repeat.
const ROUNDS: u32 = 2000;

const FIGURES: &[(&str, protocol::Figure)] = &[("manager/dict_roundtrip", dict_roundtrip)];

fn main() {
    protocol::run(FIGURES, REPS);
}

/// µs per `d["k"] = i` then `d["k"]` on a manager's dict (ours), or per two bare round trips
/// of a Unix-socket connection with an echo thread (the floor: the wire without a server).
fn dict_roundtrip(floor: bool) -> f64 {
    if floor {
        return two_round_trips();
    }
    let mut m = Manager::new().expect("manager");
    let d = m.dict::<String, u64>().expect("dict");
    let key = "k".to_owned();
    d.insert(&key, &0).expect("warm-up");
    let started = Instant::now();
    for i in 0..u64::from(ROUNDS) {
        d.insert(&key, &i).expect("set");
        std::hint::black_box(d.get(&key).expect("get"));
    }
    let per = started.elapsed().as_secs_f64() / f64::from(ROUNDS) * 1e6;
    m.shutdown().expect("shutdown");
    per
}

/// µs per two 16-byte round trips between a `Client` and an echo thread's connection.
fn two_round_trips() -> f64 {
    let key = b"figures";
    let mut l = Listener::unix(Some(key)).expect("listener");
    let address = l.address().clone();
    let echo = std::thread::spawn(move || {
        let c = l.accept().expect("accept");
        while let Ok(m) = c.recv_bytes() {
            if c.send_bytes(&m).is_err() {
                break;
            }
        }
    });
    let c = Client(&address, Some(key)).expect("client");
    let msg = [7u8; 16];
    c.send_bytes(&msg).expect("warm-up");
    c.recv_bytes().expect("warm-up");
    let started = Instant::now();
    for _ in 0..ROUNDS * 2 {
        c.send_bytes(&msg).expect("send");
        std::hint::black_box(c.recv_bytes().expect("recv"));
    }
    let per = started.elapsed().as_secs_f64() / f64::from(ROUNDS) * 1e6;
    drop(c);
    echo.join().expect("echo thread");
    per
}
