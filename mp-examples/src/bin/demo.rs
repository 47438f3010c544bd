//! The main demo (placeholder until mp-process lands).
fn main() {
    println!("mp demo");
}
