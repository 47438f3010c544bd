//! Benchmark figures (placeholder).
fn main() {
    std::process::exit(2);
}
