//! The protocol each crate's `benches/figures.rs` speaks with `cargo xtask bench`, included by
//! `#[path]` (benches are not published, and the design card allows no extra crate):
//! `figures <name> <ours|floor>` prints one number on stdout, the median of the repeats, in the
//! row's unit; the repeats go to stderr; an unknown name or side exits with code 2.

/// One measurement of a figure: ours (`false`) or the floor (`true`), in the row's unit.
pub(crate) type Figure = fn(bool) -> f64;

/// Measures the figure named on the command line `repeats` times and prints the median.
pub(crate) fn run(figures: &[(&str, Figure)], repeats: usize) {
    // `cargo bench` passes `--bench`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(name), Some(side)) = (args.first(), args.get(1)) else {
        usage(figures, "missing arguments");
    };
    let floor = match side.as_str() {
        "ours" => false,
        "floor" => true,
        _ => usage(figures, &format!("unknown side {side:?}")),
    };
    let Some(&(_, figure)) = figures.iter().find(|(n, _)| n == name) else {
        usage(figures, &format!("unknown figure {name:?}"));
    };
    let mut values: Vec<f64> = (0..repeats.max(1)).map(|_| figure(floor)).collect();
    values.sort_by(f64::total_cmp);
    eprintln!("{name} {side}: repeats {values:?}");
    println!("{:.4}", values[values.len() / 2]);
}

/// Says what is wrong and what is known, and exits with code 2.
fn usage(figures: &[(&str, Figure)], problem: &str) -> ! {
    eprintln!("{problem}\nusage: figures <name> <ours|floor>; names:");
    for (name, _) in figures {
        eprintln!("  {name}");
    }
    std::process::exit(2)
}
