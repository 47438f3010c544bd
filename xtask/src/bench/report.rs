//! The written results of a run: the markdown table (stdout and `BENCHMARKS.md`), the notes
//! under it, and `results.json` (one record per line).

use std::fmt::Write as _;

use super::machine::Machine;
use super::results::{Line, Role, Series, summarize};

/// Formats a value with about 4 significant digits, large ones with k/M/G suffixes.
pub(crate) fn fmt_value(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", fmt_sig(scaled, 4))
}

/// Formats `v` with `digits` significant digits, trailing zeros dropped.
pub(crate) fn fmt_sig(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 9) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// One value cell: `median [min–max]`, or `n/a`.
pub(crate) fn fmt_cell(values: &[f64]) -> String {
    match summarize(values) {
        None => "n/a".to_owned(),
        Some(s) if values.len() == 1 => fmt_value(s.median),
        Some(s) => format!(
            "{} [{}–{}]",
            fmt_value(s.median),
            fmt_value(s.min),
            fmt_value(s.max)
        ),
    }
}

/// The figure as a time (lower is better): itself, or the reciprocal of a rate.
fn as_time(lower_is_better: bool, v: f64) -> f64 {
    if lower_is_better { v } else { 1.0 / v }
}

/// `ours` time over `other` time, e.g. `0.42x` (below 1: ours takes less time).
pub(crate) fn fmt_time_ratio(
    lower_is_better: bool,
    ours: Option<f64>,
    other: Option<f64>,
) -> String {
    match time_ratio(lower_is_better, ours, other) {
        Some(r) => format!("{}x", fmt_sig(r, 3)),
        None => "n/a".to_owned(),
    }
}

/// `ours` time over `other` time, if both are positive.
fn time_ratio(lower_is_better: bool, ours: Option<f64>, other: Option<f64>) -> Option<f64> {
    match (ours, other) {
        (Some(o), Some(t)) if o > 0.0 && t > 0.0 => {
            Some(as_time(lower_is_better, o) / as_time(lower_is_better, t))
        }
        _ => None,
    }
}

/// How much faster ours is than another: `12.3x faster` or `2.5x slower`.
pub(crate) fn fmt_speed(lower_is_better: bool, ours: Option<f64>, other: Option<f64>) -> String {
    match time_ratio(lower_is_better, ours, other) {
        Some(r) if r <= 1.0 => format!("{}x faster", fmt_sig(1.0 / r, 3)),
        Some(r) => format!("{}x slower", fmt_sig(r, 3)),
        None => "n/a".to_owned(),
    }
}

/// The markdown table of `lines`, with the notes under it.
pub(crate) fn table(lines: &[Line], rounds: usize, python: &Result<String, String>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{rounds} interleaved rounds per line (ours, Python, floors, peers), each a fresh \
         process; median [min–max] over rounds. Ratios are of times (for rates, of 1/value): \
         below 1x means ours takes less time. The first floor is the machine's limit.\n"
    );
    out.push_str(
        "| figure | unit | ours | Python | speed vs Python | floors | ours/floor | peers (ours vs peer) | goal |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let mut notes = Vec::new();
    for line in lines {
        let row = &line.row;
        let lower = row.lower_is_better;
        let ours = line.one(Role::Ours);
        let ours_median = ours.and_then(Series::median);
        let python_series = line.one(Role::Python);
        let others = |role: Role| -> String {
            let cells: Vec<String> = line
                .of(role)
                .map(|s| {
                    let mut cell = format!("{} {}", s.label, fmt_cell(&s.values));
                    if role == Role::Peer {
                        let _ = write!(cell, " ({})", fmt_speed(lower, ours_median, s.median()));
                    }
                    cell
                })
                .collect();
            if cells.is_empty() {
                "–".to_owned()
            } else {
                cells.join("<br>")
            }
        };
        let first_floor = line.of(Role::Floor).next();
        let floor_ratio = match first_floor {
            Some(f) => format!(
                "{} ({})",
                fmt_time_ratio(lower, ours_median, f.median()),
                f.label
            ),
            None => "–".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} ({} is better) | {} | {} | {} | {} | {} | {} | {} |",
            line.title(),
            row.unit,
            if lower { "lower" } else { "higher" },
            ours.map_or("n/a".to_owned(), |s| fmt_cell(&s.values)),
            python_series.map_or("n/a".to_owned(), |s| fmt_cell(&s.values)),
            fmt_speed(lower, ours_median, python_series.and_then(Series::median)),
            others(Role::Floor),
            floor_ratio,
            others(Role::Peer),
            row.goal,
        );
        for s in &line.series {
            for (reason, n) in &s.notes {
                notes.push(format!("- {}: {}: {reason} ({n}x)", line.title(), s.label));
            }
        }
    }
    let _ = writeln!(out, "\nWhat the floors and peers are:");
    let mut seen = Vec::new();
    for s in lines.iter().flat_map(|l| &l.series) {
        if matches!(s.role, Role::Floor | Role::Peer) && !seen.contains(&(&s.label, &s.what)) {
            seen.push((&s.label, &s.what));
            let _ = writeln!(out, "- {}: {}", s.label, s.what);
        }
    }
    let _ = writeln!(out, "\nNotes:");
    match python {
        Ok(p) => {
            let _ = writeln!(out, "- Python: {p}");
        }
        Err(e) => {
            let _ = writeln!(out, "- Python: unavailable ({e})");
        }
    }
    for n in notes {
        let _ = writeln!(out, "{n}");
    }
    out
}

/// The whole `BENCHMARKS.md`: how it was made, the machine, the chart and the table.
pub(crate) fn document(table: &str, machine: &Machine, command: &str, chart: &str) -> String {
    format!(
        "# Benchmarks\n\n\
         Generated by `{command}` on {date} (UTC); rerun it to regenerate this file and the \
         chart. The harness, the rows and the goals: `xtask/src/bench.rs`, \
         `xtask/src/figures.rs` (issue 14).\n\n\
         Machine: {cpu}, {cores}; Linux {kernel}; {python}.\n\n\
         Our speed relative to CPython's multiprocessing, per figure (log scale; right of 1x \
         is faster): [{chart}]({chart})\n\n\
         ![ours vs Python]({chart})\n\n\
         {table}",
        date = machine.date,
        cpu = machine.cpu,
        cores = machine.cores,
        kernel = machine.kernel,
        python = machine.python,
    )
}

/// Escapes `s` as a JSON string (with its quotes).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number, or `null` when absent or not finite.
fn json_number(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".to_owned(),
    }
}

/// One series as a JSON object: label, what, values, min/median/max, notes.
fn json_series(s: &Series, extra: &str) -> String {
    let summary = s.summary();
    let values: Vec<String> = s.values.iter().map(|v| json_number(Some(*v))).collect();
    let notes: Vec<String> = s
        .notes
        .iter()
        .map(|(r, n)| json_string(&format!("{r} ({n}x)")))
        .collect();
    format!(
        "{{\"label\":{},\"what\":{},\"values\":[{}],\"min\":{},\"median\":{},\"max\":{},\"notes\":[{}]{extra}}}",
        json_string(&s.label),
        json_string(&s.what),
        values.join(","),
        json_number(summary.map(|s| s.min)),
        json_number(summary.map(|s| s.median)),
        json_number(summary.map(|s| s.max)),
        notes.join(","),
    )
}

/// `results.json`: the machine, the command, and one record per line.
pub(crate) fn json(lines: &[Line], rounds: usize, machine: &Machine, command: &str) -> String {
    let mut records = Vec::new();
    for line in lines {
        let row = &line.row;
        let lower = row.lower_is_better;
        let ours = line.one(Role::Ours).and_then(Series::median);
        let ratio = |s: &Series| time_ratio(lower, ours, s.median());
        let one = |role: Role| {
            line.one(role)
                .map_or("null".to_owned(), |s| json_series(s, ""))
        };
        let many = |role: Role| {
            let v: Vec<String> = line
                .of(role)
                .map(|s| {
                    json_series(
                        s,
                        &format!(",\"ours_time_ratio\":{}", json_number(ratio(s))),
                    )
                })
                .collect();
            format!("[{}]", v.join(","))
        };
        let python_ratio = line.one(Role::Python).and_then(ratio);
        records.push(format!(
            "{{\"name\":{},\"pinning\":{},\"unit\":{},\"higher_is_better\":{},\"rounds\":{rounds},\
             \"ours\":{},\"python\":{},\"floors\":{},\"peers\":{},\"ours_time_over_python\":{},\
             \"goal\":{}}}",
            json_string(row.name),
            json_string(line.pinning.label()),
            json_string(row.unit),
            !lower,
            one(Role::Ours),
            one(Role::Python),
            many(Role::Floor),
            many(Role::Peer),
            json_number(python_ratio),
            json_string(row.goal),
        ));
    }
    format!(
        "{{\"command\":{},\"date\":{},\"machine\":{{\"cpu\":{},\"cores\":{},\"kernel\":{},\"python\":{}}},\n\"figures\":[\n{}\n]}}\n",
        json_string(command),
        json_string(&machine.date),
        json_string(&machine.cpu),
        json_string(&machine.cores),
        json_string(&machine.kernel),
        json_string(&machine.python),
        records.join(",\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_formatting() {
        assert_eq!(fmt_value(1.66), "1.66");
        assert_eq!(fmt_value(36.94), "36.94");
        assert_eq!(fmt_value(0.15912), "0.1591");
        assert_eq!(fmt_value(330_123.0), "330.1k");
        assert_eq!(fmt_value(9_890_000.0), "9.89M");
        assert_eq!(fmt_value(2922.0), "2922");
        assert_eq!(fmt_cell(&[]), "n/a");
        assert_eq!(fmt_cell(&[1.0, 2.0, 4.0]), "2 [1–4]");
    }

    #[test]
    fn ratios_are_of_times() {
        // Latency: ours 0.5 ms vs Python 2 ms.
        assert_eq!(fmt_time_ratio(true, Some(0.5), Some(2.0)), "0.25x");
        assert_eq!(fmt_speed(true, Some(0.5), Some(2.0)), "4x faster");
        // Rate: ours 1000/s vs Python 4000/s: ours takes 4x the time.
        assert_eq!(fmt_time_ratio(false, Some(1000.0), Some(4000.0)), "4x");
        assert_eq!(fmt_speed(false, Some(1000.0), Some(4000.0)), "4x slower");
        assert_eq!(fmt_speed(false, Some(8000.0), Some(4000.0)), "2x faster");
        assert_eq!(fmt_speed(true, None, Some(1.0)), "n/a");
        assert_eq!(fmt_time_ratio(true, Some(1.0), Some(0.0)), "n/a");
    }

    #[test]
    fn json_escapes_and_numbers() {
        assert_eq!(json_string("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(json_string("\u{1}"), r#""\u0001""#);
        assert_eq!(json_number(Some(1.5)), "1.5");
        assert_eq!(json_number(Some(f64::NAN)), "null");
        assert_eq!(json_number(None), "null");
    }
}
