//! The report's sections for a file of several scenarios: their requests per second and p95 latency
//! over the run, then a section per scenario with its window, its numbers and its own thresholds.

use std::fmt::Write;

use super::charts::{self, AMBER, BLUE_, GREEN_, GREY, Line, PURPLE, RED_};
use super::marks::Marks;
use super::sections::{card, duration, figure, threshold_badges};
use super::tables::threshold_table;
use super::timeline::Point;
use super::{RunResult, esc, fmt_pct, lat_of, pct, rate};
use crate::report::result::ScenarioResult;
use crate::units::group;

/// Colours of series told apart by name, in turn.
pub const PALETTE: [plotters::style::RGBColor; 6] = [BLUE_, AMBER, GREEN_, PURPLE, RED_, GREY];

/// Nothing for a document without scenarios; else the overview chart and a section per scenario.
pub fn scenarios(o: &mut String, r: &RunResult, points: &[Point]) {
    if r.scenarios.is_empty() {
        return;
    }
    let n = r.scenarios.len();
    let _ = writeln!(
        o,
        "<section id=\"scenarios\">\n<h2>Scenarios<span class=\"note\">{n} scenario{}, each measured on its own \
         window</span></h2>",
        super::sections::plural(n)
    );
    o.push_str("<div class=\"grid2\">\n");
    let marks = Marks::of(r);
    let rps = lines(r, points, Measure::Rps);
    figure(
        o,
        "Requests per second by scenario",
        &chart("Requests per second by scenario over time", "req/s", &rps, &marks),
    );
    let p95 = lines(r, points, Measure::P95);
    figure(o, "p95 latency by scenario", &chart("p95 latency by scenario over time", "latency (ms)", &p95, &marks));
    o.push_str("</div>\n</section>\n");
    for (i, s) in r.scenarios.iter().enumerate() {
        scenario(o, i, s);
    }
}

/// What a line plots of a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Measure {
    Rps,
    P95,
}

/// A line per scenario, when every point has its seconds (with a single scenario and rows without
/// per-scenario seconds, the run's own). Latency only where the scenario had requests: outside
/// its window there is none to draw.
fn lines(r: &RunResult, points: &[Point], measure: Measure) -> Vec<Line> {
    let n = r.scenarios.len();
    r.scenarios
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let at = |p: &Point| match (p.scenario_rps.get(i), p.scenario_p95_ms.get(i)) {
                (Some(&rps), Some(&p95)) => Some((p.t, rps, p95)),
                _ if n == 1 => Some((p.t, p.rps, p.p95_ms)),
                _ => None,
            };
            let seconds: Vec<(f64, f64, f64)> = points.iter().map(at).collect::<Option<_>>()?;
            let series = seconds
                .into_iter()
                .filter_map(|(t, rps, p95)| match measure {
                    Measure::Rps => Some((t, rps)),
                    Measure::P95 => (rps > 0.0).then_some((t, p95)),
                })
                .collect();
            Some(Line::new(&s.name, PALETTE[i % PALETTE.len()], series))
        })
        .collect()
}

fn chart(label: &str, y_desc: &str, lines: &[Line], marks: &Marks) -> charts::Chart {
    if lines.iter().all(|l| l.points.is_empty()) {
        charts::no_data("the timeline has no per-scenario seconds")
    } else {
        charts::over_time(label, y_desc, lines, 0.0, marks)
    }
}

/// One scenario: when it ran, its key numbers as cards, its thresholds.
fn scenario(o: &mut String, i: usize, s: &ScenarioResult) {
    let t = &s.totals.summary;
    let l = t.latency_us.as_ref();
    let window = format!(
        "{} · from {} to {} ({})",
        s.executor,
        at(s.start_s),
        at(s.start_s + s.duration_s),
        duration(s.duration_s)
    );
    let badges = if s.thresholds.is_empty() { String::new() } else { threshold_badges(&s.thresholds) };
    let _ = writeln!(
        o,
        "<section id=\"scenario-{}\" class=\"scenario\">\n<h2>Scenario {}<span class=\"note\">{}</span>{badges}</h2>",
        i + 1,
        esc(&s.name),
        esc(&window)
    );
    o.push_str("<div class=\"cards\">\n");
    card(o, "", "requests", &group(t.requests), &format!("in {}", duration(s.duration_s)));
    card(o, "", "throughput", &rate(t.rps), "req/s");
    let err_class = if t.errors == 0 { "ok" } else { "bad" };
    card(o, err_class, "errors", &group(t.errors), &fmt_pct(pct(t.errors, t.requests)));
    card(o, "", "p50 latency", &lat_of(l, |l| l.p50), &format!("max {}", lat_of(l, |l| l.max)));
    card(o, "", "p95 latency", &lat_of(l, |l| l.p95), &format!("p90 {}", lat_of(l, |l| l.p90)));
    card(o, "", "p99 latency", &lat_of(l, |l| l.p99), &format!("p99.9 {}", lat_of(l, |l| l.p999)));
    let dropped_class = if s.totals.dropped_iterations > 0 { "warn" } else { "" };
    card(o, dropped_class, "dropped", &group(s.totals.dropped_iterations), "starts with no free user");
    card(o, "", "iterations", &group(s.totals.iterations), "completed");
    o.push_str("</div>\n");
    if s.thresholds.is_empty() {
        o.push_str("<p class=\"muted\">no thresholds of its own</p>\n");
    } else {
        threshold_table(o, &s.thresholds, Some(&s.name));
    }
    o.push_str("</section>\n");
}

/// A moment of the run, seconds from its start: `0s`, `30s`, `2m30s`.
fn at(secs: f64) -> String {
    if secs.abs() < 0.0005 { "0s".to_string() } else { duration(secs) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::tests::with_scenarios_and_metrics;
    use crate::report::html::timeline::{MAX_POINTS, thin};

    #[test]
    fn latency_lines_leave_out_seconds_without_requests() {
        let r = with_scenarios_and_metrics();
        let points = thin(&r.timeline, MAX_POINTS);
        let rps = lines(&r, &points, Measure::Rps);
        assert_eq!(rps.iter().map(|l| l.points.len()).collect::<Vec<_>>(), [10, 10]);
        assert_eq!(rps[1].points[4], (5.0, 20.0));
        let p95 = lines(&r, &points, Measure::P95);
        // The spike ran in seconds 5 to 8 only.
        assert_eq!(p95[0].points.len(), 10);
        assert_eq!(p95[1].points.iter().map(|p| p.0).collect::<Vec<_>>(), [5.0, 6.0, 7.0, 8.0]);
        assert_eq!(p95[1].points[0].1, 2.2);

        // Rows without per-scenario seconds: no lines, unless there is one scenario.
        let mut r = r;
        r.timeline.iter_mut().for_each(|row| row.scenarios.clear());
        let points = thin(&r.timeline, MAX_POINTS);
        assert!(lines(&r, &points, Measure::Rps).is_empty());
        r.scenarios.truncate(1);
        let only = lines(&r, &points, Measure::P95);
        assert_eq!((only.len(), only[0].points.len()), (1, 10));
    }
}
