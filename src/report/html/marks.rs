//! Changes made by hand while the run went (`--control`), as the report's time charts mark them:
//! a dashed line and a label at each change, the paused stretches shaded.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::RunResult;
use crate::engine::control::paused_spans;

/// The line and label colour of a change.
pub const SLATE: RGBColor = RGBColor(71, 85, 105);
/// Labels stack in this many rows, so that changes close in time stay readable.
const ROWS: i32 = 3;

/// What the time charts mark: each change (seconds from the start, label) and each pause.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Marks {
    pub changes: Vec<(f64, String)>,
    pub paused: Vec<(f64, f64)>,
}

impl Marks {
    /// The changes of a run (none for a run nobody steered).
    pub fn of(r: &RunResult) -> Marks {
        let end = r.timeline.last().map_or(r.duration_s, |row| row.t).max(r.duration_s);
        Marks {
            changes: r.control.iter().map(|e| (e.t, e.label(r.scenarios.len() > 1))).collect(),
            paused: paused_spans(&r.control, end),
        }
    }

    /// The latest time marked, so the x axis reaches it.
    pub fn t_max(&self) -> f64 {
        self.changes.iter().map(|c| c.0).chain(self.paused.iter().map(|p| p.1)).fold(0.0, f64::max)
    }
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Shade the paused stretches (under the lines). `scale`: seconds per unit of the x axis.
pub fn shade(chart: &mut Chart, marks: &Marks, scale: f64, y_max: f64) -> Result<(), Box<dyn std::error::Error>> {
    let grey = RGBColor(107, 114, 128).mix(0.14).filled();
    chart
        .draw_series(marks.paused.iter().map(|&(a, b)| Rectangle::new([(a / scale, 0.0), (b / scale, y_max)], grey)))?;
    Ok(())
}

/// Draw each change as a dashed line across the chart with its label at the top (over the lines).
pub fn changes(chart: &mut Chart, marks: &Marks, scale: f64, y_max: f64) -> Result<(), Box<dyn std::error::Error>> {
    let style = SLATE.stroke_width(1);
    for (t, _) in &marks.changes {
        chart.draw_series(DashedLineSeries::new([(t / scale, 0.0), (t / scale, y_max)], 5, 4, style))?;
    }
    let font = ("sans-serif", 13.0).into_font().color(&SLATE);
    let area = chart.plotting_area();
    let right = area.get_pixel_range().0.end;
    let mut labels = Vec::with_capacity(marks.changes.len());
    for (i, (t, label)) in marks.changes.iter().enumerate() {
        // Right of the line, or left of it where the label would leave the chart.
        let (x, _) = chart.backend_coord(&(t / scale, y_max));
        let width = area.estimate_text_size(label, &font)?.0 as i32;
        let dx = if x + 4 + width > right { -4 - width } else { 4 };
        let row = i as i32 % ROWS;
        labels.push(EmptyElement::at((t / scale, y_max)) + Text::new(label.clone(), (dx, 3 + 14 * row), font.clone()));
    }
    chart.draw_series(labels)?;
    Ok(())
}
