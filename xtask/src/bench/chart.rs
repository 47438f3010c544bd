//! The chart of `BENCHMARKS.md`: our speed relative to CPython per line, on a log scale, drawn
//! with plotters' SVG backend (text stays SVG text: no system fonts needed).

use std::path::Path;

use plotters::prelude::*;

use super::report::fmt_sig;
use super::results::{Line, Role};

/// Pixels per bar.
const BAR_HEIGHT: u32 = 22;
/// Width of the image.
const WIDTH: u32 = 1100;

/// (title, times faster than Python) of every line where both were measured, in order.
pub(crate) fn speedups(lines: &[Line]) -> Vec<(String, f64)> {
    lines
        .iter()
        .filter_map(|l| Some((l.title(), l.speedup_over(l.one(Role::Python)?)?)))
        .collect()
}

/// The log axis range holding every speed-up and 1x, widened to powers of ten.
pub(crate) fn axis_range(speedups: &[(String, f64)]) -> (f64, f64) {
    let lo = speedups.iter().map(|s| s.1).fold(1.0_f64, f64::min);
    let hi = speedups.iter().map(|s| s.1).fold(1.0_f64, f64::max);
    (
        10f64.powf((lo.log10() - 0.05).floor()),
        10f64.powf((hi.log10() + 0.05).ceil()),
    )
}

/// Draws the chart of `lines` to `path` as SVG; `Ok(false)` if no line has both sides.
pub(crate) fn draw(lines: &[Line], path: &Path, subtitle: &str) -> Result<bool, String> {
    let bars = speedups(lines);
    if bars.is_empty() {
        return Ok(false);
    }
    let n = bars.len();
    let (lo, hi) = axis_range(&bars);
    let height = 110 + BAR_HEIGHT * n as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let caption = format!("mp vs CPython multiprocessing: times faster (log scale); {subtitle}");
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(330)
        .build_cartesian_2d((lo..hi).log_scale(), (0..n as i32).into_segmented())
        .map_err(|e| err(&e))?;
    // Bar i (from the top) sits in segment n-1-i: the table's order reads downwards.
    let title_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(y) => bars
            .get(n - 1 - (*y as usize).min(n - 1))
            .map_or(String::new(), |b| b.0.clone()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&title_of)
        .x_label_formatter(&|x| format!("{}x", fmt_sig(*x, 2)))
        .x_desc("ours / Python speed (right of 1x: ours is faster)")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(|e| err(&e))?;
    let segment = |i: usize| SegmentValue::Exact((n - 1 - i) as i32);
    let next = |i: usize| SegmentValue::Exact((n - i) as i32);
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, speed))| {
            let color = if *speed >= 1.0 {
                RGBColor(46, 139, 87)
            } else {
                RGBColor(200, 60, 60)
            };
            let mut bar = Rectangle::new([(1.0, segment(i)), (*speed, next(i))], color.filled());
            bar.set_margin(3, 3, 0, 0);
            bar
        }))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, speed))| {
            Text::new(
                format!("{}x", fmt_sig(*speed, 3)),
                (speed.max(1.0) * 1.05, segment(i)),
                ("sans-serif", 11),
            )
        }))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![
                (1.0, SegmentValue::Exact(0)),
                (1.0, SegmentValue::Exact(n as i32)),
            ],
            BLACK,
        )))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_holds_one_and_every_bar() {
        let bars = |v: &[f64]| v.iter().map(|&s| (String::new(), s)).collect::<Vec<_>>();
        assert_eq!(axis_range(&bars(&[3.0, 40.0])), (0.1, 100.0));
        assert_eq!(axis_range(&bars(&[0.5, 2.0])), (0.1, 10.0));
        assert_eq!(axis_range(&bars(&[])), (0.1, 10.0));
    }
}
