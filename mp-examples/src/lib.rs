//! Runnable examples of the mp crates: `cargo run -p mp-examples --bin demo` is the main demo.
