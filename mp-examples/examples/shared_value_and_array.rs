//! The article's shared memory (section 2.3): a shared `Value` and a shared `Array` that
//! child processes change and the parent reads.
//!
//! ```text
//! Python (the article)                        Rust (this file)
//! from multiprocessing import Value, Array    use mp_ipc::{Array, Value};
//! shared_value = Value('i', 0)                let shared_value = Value::new(0i32)?;
//! shared_array = Array('i', [1, 2, 3, 4, 5])  let shared_array = Array::from_slice(&[1i32, 2, 3, 4, 5])?;
//! with shared_value.get_lock():               *shared_value.lock() += 1;
//!     shared_value.value += 1
//! with shared_array.get_lock():               shared_array.lock()[i] *= 10;
//!     shared_array[i] *= 10
//! shared_value.value, shared_array[:]         shared_value.get(), shared_array.to_vec()
//! ```
//!
//! The article only creates the two; here five children each add one to the value and
//! multiply one element of the array by ten, so the parent reads
//! `shared_value = 5` and `shared_array = [10, 20, 30, 40, 50]`. The typecode `'i'` is a C
//! `int`, `i32` here; each change is made under the value's (or array's) own lock.
//!
//! Run it with `cargo run -p mp-examples --example shared_value_and_array`.

use mp_ipc::{Array, Value};
use mp_process::Process;

/// Child `i`: adds one to the value and multiplies element `i` by ten.
fn worker((shared_value, shared_array, i): (Value<i32>, Array<i32>, usize)) {
    *shared_value.lock() += 1;
    shared_array.lock()[i] *= 10;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shared_value = Value::new(0i32)?;
    let shared_array = Array::from_slice(&[1i32, 2, 3, 4, 5])?;
    let processes = mp_examples::start_all(
        (0..shared_array.len())
            .map(|i| Process::new(worker, (shared_value.clone(), shared_array.clone(), i))),
    )?;
    mp_examples::join_all(&processes)?;
    println!("shared_value = {}", shared_value.get());
    println!("shared_array = {:?}", shared_array.to_vec());
    Ok(())
}
