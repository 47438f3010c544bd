//! Benchmark figures for `cargo xtask bench` (placeholder).
fn main() {}
