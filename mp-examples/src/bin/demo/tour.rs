//! The tour: the article's programs in its order, a line each saying what it shows.

use mp_examples::ARTICLE;

/// Prints the article's programs, each with the command that runs it.
pub(crate) fn print() {
    println!(
        "The article's programs, in its order (run one: cargo run -p mp-examples --example NAME):"
    );
    let width = ARTICLE.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for example in ARTICLE {
        println!(
            "  {:<4} {:<width$}  {}",
            example.section, example.name, example.shows
        );
    }
}
