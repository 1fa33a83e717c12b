//! The report's charts, drawn by plotters into SVG strings ready to inline in the page: lines
//! over time, the latency percentile spectrum, the capacity curves and table sparklines.

use hdrhistogram::Histogram as Hdr;
use plotters::chart::MeshStyle;
use plotters::prelude::*;

use super::esc;
use super::marks::{self, Marks};

/// Size of a full chart in SVG units (the page scales it to its column).
const W: u32 = 660;
const H: u32 = 300;
/// Size of a table sparkline.
const SPARK: (u32, u32) = (160, 30);
const FONT: &str = "sans-serif";
/// Tick labels and axis descriptions (plotters writes `size / 1.24` px into the SVG).
const LABEL_SIZE: f64 = 15.0;

pub const BLUE_: RGBColor = RGBColor(37, 99, 235);
pub const GREEN_: RGBColor = RGBColor(22, 163, 74);
pub const AMBER: RGBColor = RGBColor(217, 119, 6);
pub const RED_: RGBColor = RGBColor(220, 38, 38);
pub const PURPLE: RGBColor = RGBColor(124, 58, 237);
pub const GREY: RGBColor = RGBColor(107, 114, 128);
const AXIS: RGBColor = RGBColor(156, 163, 175);
const GRID_BOLD: RGBColor = RGBColor(226, 229, 233);
const GRID_LIGHT: RGBColor = RGBColor(243, 244, 246);
const TEXT: RGBColor = RGBColor(55, 65, 81);

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// One series of a chart.
#[derive(Clone)]
pub struct Line {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    /// Shade the area under the line.
    pub fill: bool,
}

impl Line {
    pub fn new(name: &str, color: RGBColor, points: Vec<(f64, f64)>) -> Line {
        Line { name: name.to_string(), color, points: finite(points), fill: false }
    }

    pub fn filled(mut self) -> Line {
        self.fill = true;
        self
    }
}

/// How a legend key is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    Line,
    Dashed,
    Dot,
}

/// A drawn chart (or the note saying why there is none) and its legend, which the page shows
/// beside the title so it never covers the data.
pub struct Chart {
    pub svg: String,
    pub legend: Vec<(String, RGBColor, Mark)>,
}

impl Chart {
    fn new(svg: String) -> Chart {
        Chart { svg, legend: Vec::new() }
    }

    fn key(mut self, name: impl Into<String>, color: RGBColor, mark: Mark) -> Chart {
        self.legend.push((name.into(), color, mark));
        self
    }

    /// The legend as HTML (empty for a chart of one series).
    pub fn legend_html(&self) -> String {
        if self.legend.len() < 2 || self.svg.starts_with("<div") {
            return String::new();
        }
        let keys: Vec<String> = self
            .legend
            .iter()
            .map(|(name, c, mark)| {
                let class = match mark {
                    Mark::Line => "key",
                    Mark::Dashed => "key dash",
                    Mark::Dot => "key dot",
                };
                format!("<span class=\"{class}\" style=\"--c:#{:02x}{:02x}{:02x}\">{}</span>", c.0, c.1, c.2, esc(name))
            })
            .collect();
        format!("<span class=\"legend\">{}</span>", keys.join(""))
    }
}

/// The placeholder shown instead of a chart.
pub fn no_data(why: &str) -> Chart {
    Chart::new(format!("<div class=\"nodata\">no data <span>({})</span></div>", esc(why)))
}

/// Lines over the run's time (`t` in seconds on x), values from 0 up on y, the y axis reaching
/// at least `y_top`; the changes made by hand (`--control`) marked across it.
pub fn over_time(label: &str, y_desc: &str, lines: &[Line], y_top: f64, marks: &Marks) -> Chart {
    if lines.iter().all(|l| l.points.is_empty()) {
        return no_data("no timeline rows");
    }
    let t_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).fold(marks.t_max(), f64::max);
    // Long runs read better in minutes or hours than in thousands of seconds.
    let (scale, x_desc) = match t_max {
        t if t > 3.0 * 3600.0 => (3600.0, "time (h)"),
        t if t > 600.0 => (60.0, "time (min)"),
        _ => (1.0, "time (s)"),
    };
    let x_max = positive(t_max / scale);
    let y_max = headroom(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max)).max(y_top);
    let few = lines.iter().map(|l| l.points.len()).max().unwrap_or(0) <= 40;
    let svg = svg(label, (W, H), |root| {
        let mut chart = builder(root).build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        styled(&mut chart.configure_mesh())
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        marks::shade(&mut chart, marks, scale, y_max)?;
        for l in lines {
            let (c, points) = (l.color, l.points.iter().map(|&(x, y)| (x / scale, y)));
            if l.fill {
                chart.draw_series(AreaSeries::new(points.clone(), 0.0, c.mix(0.12)).border_style(c.stroke_width(2)))?;
            } else {
                chart.draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?;
            }
            if few {
                chart.draw_series(points.map(|p| Circle::new(p, 3, c.filled())))?;
            }
        }
        marks::changes(&mut chart, marks, scale, y_max)
    });
    let chart = lines.iter().fold(Chart::new(svg), |chart, l| chart.key(&l.name, l.color, Mark::Line));
    let chart = if marks.changes.is_empty() { chart } else { chart.key("changed by hand", marks::SLATE, Mark::Dashed) };
    if marks.paused.is_empty() { chart } else { chart.key("paused", GREY, Mark::Dot) }
}

/// The latency percentile spectrum of a histogram, HdrHistogram's plot: x is the percentile on a
/// log scale of 1/(1-q) (0%, 90%, 99%, 99.9%...), y the latency in ms.
pub fn spectrum(label: &str, h: &Hdr<u64>) -> Chart {
    if h.is_empty() {
        return no_data("no latency recorded");
    }
    // As far right as the samples reach: 1/(1-q) is at most about the count.
    let decades = (h.len() as f64).log10().ceil().clamp(2.0, 6.0);
    let x_max = 10f64.powf(decades);
    let mut points: Vec<(f64, f64)> = Vec::new();
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        if q >= 1.0 {
            break;
        }
        let x = 1.0 / (1.0 - q);
        if x > x_max {
            break;
        }
        points.push((x, v.value_iterated_to() as f64 / 1000.0));
    }
    // The maximum, at the right edge of what the samples reach.
    let last_x = (h.len() as f64).min(x_max).max(points.last().map_or(1.0, |p| p.0));
    points.push((last_x, h.max() as f64 / 1000.0));
    let y_max = headroom(h.max() as f64 / 1000.0);
    Chart::new(svg(label, (W, H), |root| {
        let mut chart = builder(root).build_cartesian_2d((1f64..x_max).log_scale(), 0f64..y_max)?;
        styled(&mut chart.configure_mesh())
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_labels(decades as usize + 1)
            .y_labels(8)
            .x_label_formatter(&|v| percentile_label(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        chart.draw_series(
            AreaSeries::new(points.iter().copied(), 0.0, BLUE_.mix(0.10)).border_style(BLUE_.stroke_width(2)),
        )?;
        Ok(())
    }))
}

/// `1/(1-q)` as the percentile it stands for: 1 → 0%, 10 → 90%, 1000 → 99.9%.
fn percentile_label(x: f64) -> String {
    if x <= 1.0 {
        return "0%".into();
    }
    let pct = 100.0 * (1.0 - 1.0 / x);
    let decimals = (x.log10().round() as i32 - 2).max(0) as usize;
    format!("{pct:.decimals$}%")
}

/// One of a step's measurements.
type Measure = fn(&RatePoint) -> f64;

/// One measured rate of a capacity search.
pub struct RatePoint {
    pub rate: f64,
    pub achieved: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub color: RGBColor,
}

/// Latency percentiles against the offered rate, log latency axis, with the SLO lines and the
/// answer marked.
/// `unit`: what the rates count (`req/s`, `iterations/s`).
pub fn latency_vs_rate(label: &str, points: &[RatePoint], slos: &[(String, f64)], answer: f64, unit: &str) -> Chart {
    let mut sorted: Vec<&RatePoint> = points.iter().filter(|p| p.rate.is_finite() && p.rate > 0.0).collect();
    if sorted.is_empty() {
        return no_data("no steps measured");
    }
    sorted.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let x_max = headroom(sorted.last().map_or(1.0, |p| p.rate).max(answer));
    let values = || sorted.iter().flat_map(|p| [p.p50, p.p95, p.p99]).chain(slos.iter().map(|s| s.1));
    let lo = values().filter(|v| *v > 0.0 && v.is_finite()).fold(f64::INFINITY, f64::min);
    let hi = values().filter(|v| v.is_finite()).fold(0.0, f64::max);
    // Down to the decade below the fastest value, so the axis has a label under the data.
    let (y_lo, y_hi) = if lo.is_finite() && hi > 0.0 {
        (10f64.powf((lo * 0.9).max(0.001).log10().floor()), hi * 1.6)
    } else {
        (0.01, 1.0)
    };
    let percentiles: [(&str, RGBColor, Measure); 3] =
        [("p50", BLUE_, |p| p.p50), ("p95", AMBER, |p| p.p95), ("p99", RED_, |p| p.p99)];
    let svg = svg(label, (W, H), |root| {
        let mut chart = builder(root).build_cartesian_2d(0f64..x_max, (y_lo..y_hi).log_scale())?;
        styled(&mut chart.configure_mesh())
            .x_desc(format!("offered rate ({unit})"))
            .y_desc("latency (ms, log scale)")
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        let clamp = |v: f64| if v.is_finite() { v.max(y_lo) } else { y_lo };
        for (_, color, get) in percentiles {
            chart
                .draw_series(LineSeries::new(sorted.iter().map(|p| (p.rate, clamp(get(p)))), color.stroke_width(2)))?;
        }
        for (_, bound) in slos {
            let line = [(0.0, *bound), (x_max, *bound)];
            chart.draw_series(DashedLineSeries::new(line, 8, 5, PURPLE.stroke_width(2)))?;
        }
        answer_line(&mut chart, answer, y_lo, y_hi)?;
        // Each step's p99, coloured by its verdict.
        chart.draw_series(sorted.iter().map(|p| Circle::new((p.rate, clamp(p.p99)), 5, p.color.filled())))?;
        Ok(())
    });
    let chart = percentiles.iter().fold(Chart::new(svg), |c, (name, color, _)| c.key(*name, *color, Mark::Line));
    let chart = slos.iter().fold(chart, |c, (name, _)| c.key(format!("SLO {name}"), PURPLE, Mark::Dashed));
    verdict_keys(answer_key(chart, answer, unit), &sorted.iter().map(|p| p.color).collect::<Vec<_>>())
}

/// Achieved against offered rate: on the diagonal when the service keeps up.
pub fn achieved_vs_rate(label: &str, points: &[RatePoint], answer: f64, unit: &str) -> Chart {
    let points: Vec<&RatePoint> = points.iter().filter(|p| p.rate.is_finite() && p.achieved.is_finite()).collect();
    if points.is_empty() {
        return no_data("no steps measured");
    }
    let max = headroom(points.iter().map(|p| p.rate.max(p.achieved)).fold(answer, f64::max));
    let svg = svg(label, (W, H), |root| {
        let mut chart = builder(root).build_cartesian_2d(0f64..max, 0f64..max)?;
        styled(&mut chart.configure_mesh())
            .x_desc(format!("offered rate ({unit})"))
            .y_desc(format!("achieved ({unit})"))
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        chart.draw_series(DashedLineSeries::new([(0.0, 0.0), (max, max)], 6, 5, GREY.stroke_width(1)))?;
        answer_line(&mut chart, answer, 0.0, max)?;
        chart.draw_series(points.iter().map(|p| Circle::new((p.rate, p.achieved), 5, p.color.filled())))?;
        Ok(())
    });
    let chart = Chart::new(svg).key("achieved = offered", GREY, Mark::Dashed);
    verdict_keys(answer_key(chart, answer, unit), &points.iter().map(|p| p.color).collect::<Vec<_>>())
}

/// The capacity found, as a vertical line across the chart.
fn answer_line<'a, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    answer: f64,
    y_lo: f64,
    y_hi: f64,
) -> Result
where
    Y: Ranged<ValueType = f64>,
{
    if answer > 0.0 && answer.is_finite() {
        chart.draw_series(LineSeries::new([(answer, y_lo), (answer, y_hi)], GREEN_.stroke_width(2)))?;
    }
    Ok(())
}

fn answer_key(chart: Chart, answer: f64, unit: &str) -> Chart {
    if answer > 0.0 && answer.is_finite() {
        chart.key(format!("capacity {} {unit}", tick(answer)), GREEN_, Mark::Line)
    } else {
        chart
    }
}

/// Keys for the verdict colours the steps show.
fn verdict_keys(chart: Chart, colors: &[RGBColor]) -> Chart {
    [("step passed", GREEN_), ("step failed", RED_), ("generator / connections limit", AMBER)]
        .into_iter()
        .filter(|(_, c)| colors.contains(c))
        .fold(chart, |chart, (name, c)| chart.key(name, c, Mark::Dot))
}

/// A small area chart with no axes, for a table cell.
pub fn sparkline(label: &str, values: &[f64], color: RGBColor) -> String {
    let points = finite(values.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect());
    if points.len() < 2 {
        return String::new();
    }
    let x_max = (points.len() - 1) as f64;
    let y_max = positive(points.iter().map(|p| p.1).fold(0.0, f64::max));
    svg(label, SPARK, |root| {
        let mut chart = ChartBuilder::on(root).margin(2).build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart.draw_series(
            AreaSeries::new(points.iter().copied(), 0.0, color.mix(0.2)).border_style(color.stroke_width(1)),
        )?;
        Ok(())
    })
    .replacen("class=\"chart\"", "class=\"spark\"", 1)
}

/// Room for the tick labels and axis descriptions.
fn builder<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.margin(10).margin_right(22).x_label_area_size(44).y_label_area_size(66);
    b
}

/// The look every full chart shares: grey axes, a light grid.
fn styled<'a, 'b, 'm, X: Ranged, Y: Ranged>(
    m: &'m mut MeshStyle<'a, 'b, X, Y, SVGBackend<'a>>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, SVGBackend<'a>> {
    m.label_style(label_style())
        .axis_desc_style(label_style())
        .axis_style(AXIS)
        .bold_line_style(GRID_BOLD)
        .light_line_style(GRID_LIGHT)
        .max_light_lines(2)
}

fn label_style() -> TextStyle<'static> {
    (FONT, LABEL_SIZE).into_font().color(&TEXT)
}

/// Draw with `draw` on an SVG drawing area of `size`, and return the `<svg>` element ready to
/// inline: sized by the page's CSS, labelled for screen readers. A drawing error shows as a
/// note, never a panic.
fn svg(
    label: &str,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result,
) -> String {
    let mut buf = String::new();
    let drawn = (|| -> Result {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        return no_data(&format!("chart not drawn: {e}")).svg;
    }
    inline(&buf, label, size)
}

/// plotters' standalone `<svg width height viewBox xmlns>` opening tag, replaced by one for an
/// inline chart that scales to its column.
fn inline(svg: &str, label: &str, (w, h): (u32, u32)) -> String {
    let body = svg.strip_prefix("<svg").and_then(|rest| rest.split_once('>')).map_or(svg, |(_, body)| body);
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"{}\">{}",
        esc(label),
        body.trim_start()
    )
}

/// A tick label: integers grouped by thousands (k, M beyond), fractions with as few decimals as
/// tell them apart.
pub fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        return trim(format!("{:.2}", v / 1e6)) + "M";
    }
    if a >= 1e4 {
        return trim(format!("{:.1}", v / 1e3)) + "k";
    }
    if (v - v.round()).abs() < 1e-9 {
        return format!("{v:.0}");
    }
    for d in 1..=4 {
        let s = format!("{v:.d$}");
        if (s.parse::<f64>().unwrap_or(v) - v).abs() < a * 1e-6 + 1e-12 {
            return s;
        }
    }
    format!("{v:.4}")
}

fn trim(s: String) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

fn finite(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points.into_iter().filter(|(x, y)| x.is_finite() && y.is_finite()).collect()
}

/// A chart's top: 10% above the highest value, never an empty range.
fn headroom(max: f64) -> f64 {
    positive(max * 1.1)
}

fn positive(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_read_as_nines() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(1e5), "99.999%");
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(1500.0), "1500");
        assert_eq!(tick(25_000.0), "25k");
        assert_eq!(tick(1_250_000.0), "1.25M");
    }

    #[test]
    fn charts_inline_without_the_standalone_header() {
        let s = over_time(
            "rps",
            "req/s",
            &[Line::new("rps", BLUE_, vec![(1.0, 10.0), (2.0, 12.0)])],
            0.0,
            &Marks::default(),
        )
        .svg;
        assert!(s.starts_with("<svg class=\"chart\" viewBox=\"0 0 660 300\""), "{}", &s[..s.len().min(200)]);
        assert!(!s.contains("xmlns"));
        assert!(s.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn degenerate_data_draws_something_or_says_no_data() {
        assert!(over_time("x", "y", &[], 0.0, &Marks::default()).svg.contains("no data"));
        assert!(
            over_time("x", "y", &[Line::new("a", BLUE_, vec![(f64::NAN, 1.0)])], 0.0, &Marks::default())
                .svg
                .contains("no data")
        );
        // One point, all zeros: still a chart.
        assert!(
            over_time("x", "y", &[Line::new("a", BLUE_, vec![(0.0, 0.0)])], 0.0, &Marks::default())
                .svg
                .contains("<svg")
        );
        assert!(spectrum("x", &crate::stats::histogram()).svg.contains("no data"));
        assert!(latency_vs_rate("x", &[], &[], 0.0, "req/s").svg.contains("no data"));
        assert_eq!(sparkline("x", &[1.0], BLUE_), "");
    }

    #[test]
    fn legends_name_every_series_once_there_are_two() {
        let one = over_time("x", "y", &[Line::new("a", BLUE_, vec![(1.0, 1.0), (2.0, 2.0)])], 0.0, &Marks::default());
        assert_eq!(one.legend_html(), "");
        let two = over_time(
            "x",
            "y",
            &[Line::new("p50 <fast>", BLUE_, vec![(1.0, 1.0)]), Line::new("p99", RED_, vec![(1.0, 2.0)])],
            0.0,
            &Marks::default(),
        );
        let legend = two.legend_html();
        assert!(legend.contains("style=\"--c:#2563eb\">p50 &lt;fast&gt;</span>"), "{legend}");
        assert!(legend.contains(">p99</span>"));
    }

    #[test]
    fn changes_by_hand_are_marked_and_pauses_shaded() {
        let marks = Marks {
            changes: vec![(3.0, "users 2→8 over 1s".into()), (5.0, "paused".into())],
            paused: vec![(5.0, 7.0)],
        };
        let line = Line::new("a", BLUE_, (0..10).map(|t| (t as f64, 5.0)).collect());
        let chart = over_time("x", "y", std::slice::from_ref(&line), 0.0, &marks);
        assert!(chart.svg.contains("users 2→8 over 1s"), "{}", chart.svg);
        assert!(chart.svg.contains("paused"), "{}", chart.svg);
        let legend = chart.legend_html();
        assert!(legend.contains(">changed by hand</span>") && legend.contains(">paused</span>"), "{legend}");
        let plain = over_time("x", "y", &[line], 0.0, &Marks::default());
        assert!(!plain.svg.contains("paused") && plain.legend_html().is_empty());
        // The shaded stretch: a rectangle the plain chart does not have.
        assert!(chart.svg.matches("<rect").count() > plain.svg.matches("<rect").count());
    }
}
