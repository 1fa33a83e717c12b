//! The report's section of metrics of the user's own (`[metrics]`, and built-in trends such as
//! `iteration_duration`): their values over the whole run in tables, and a chart of each over time.

use std::fmt::Write;

use super::charts::{self, Line};
use super::marks::Marks;
use super::scenarios::PALETTE;
use super::sections::figure;
use super::tables::value;
use super::timeline::{MAX_POINTS, metric_series};
use super::{RunResult, bar, esc};
use crate::report::metric::MetricSummary;
use crate::rules::metric::Kind;
use crate::units::group;

/// Nothing for a document without metrics; else rates and counters in one table, trends in
/// another, and a chart per metric of its per-second value.
pub fn metrics(o: &mut String, r: &RunResult) {
    if r.metrics.is_empty() {
        return;
    }
    o.push_str(
        "<section id=\"metrics\">\n<h2>Metrics<span class=\"note\">of your own; trends in their own unit</span></h2>\n",
    );
    let counts: Vec<(&String, &MetricSummary)> =
        r.metrics.iter().filter(|(_, m)| !matches!(m, MetricSummary::Trend(_))).collect();
    if !counts.is_empty() {
        o.push_str(
            "<div class=\"scroll\"><table>\n<tr><th class=\"t\">metric</th><th class=\"t\">kind</th><th>value</th>\
             <th class=\"t\">of</th><th class=\"t\"></th></tr>\n",
        );
        for (name, m) in counts {
            let (kind, v, of, shown) = match m {
                MetricSummary::Rate { rate, hits, total } => {
                    let of = format!("{} of {}", group(*hits), group(*total));
                    ("rate", format!("{}%", value(*rate)), of, bar(*rate, 100.0, ""))
                }
                MetricSummary::Counter { count } => {
                    let per_s = format!("{} per second", super::rate(*count as f64 / r.duration_s.max(1e-9)));
                    ("counter", group(*count), per_s, String::new())
                }
                MetricSummary::Trend(_) => continue,
            };
            let _ = writeln!(
                o,
                "<tr><td class=\"wrap\">{}</td><td class=\"t\">{kind}</td><td>{}</td><td class=\"t\">{}</td>\
                 <td class=\"t\">{shown}</td></tr>",
                esc(name),
                esc(&v),
                esc(&of)
            );
        }
        o.push_str("</table></div>\n");
    }
    let trends: Vec<(&String, &crate::report::metric::TrendSummary)> = r
        .metrics
        .iter()
        .filter_map(|(name, m)| match m {
            MetricSummary::Trend(t) => Some((name, t)),
            _ => None,
        })
        .collect();
    if !trends.is_empty() {
        o.push_str(
            "<div class=\"scroll\"><table>\n<tr><th class=\"t\">trend</th><th>count</th><th>avg</th><th>p50</th>\
             <th>p95</th><th>p99</th><th>max</th><th>missing</th></tr>\n",
        );
        for (name, t) in trends {
            // Percentiles of nothing are not zero: they are not there.
            let v = |x: f64| if t.count == 0 { "–".to_string() } else { value(x) };
            let missing = if t.missing > 0 {
                format!("<span class=\"bad\">{}</span>", group(t.missing))
            } else {
                "0".to_string()
            };
            let _ = writeln!(
                o,
                "<tr><td class=\"wrap\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{missing}</td></tr>",
                esc(name),
                group(t.count),
                v(t.mean),
                v(t.p50),
                v(t.p95),
                v(t.p99),
                v(t.max)
            );
        }
        o.push_str("</table></div>\n");
    }
    o.push_str("<div class=\"grid2\">\n");
    let marks = Marks::of(r);
    for (i, (name, m)) in r.metrics.iter().enumerate() {
        let kind = m.kind();
        let (what, y_desc) = match kind {
            Kind::Rate => ("percent per second", "%"),
            Kind::Counter => ("count per second", "per second"),
            Kind::Trend => ("p95 per second", "p95"),
        };
        let points = metric_series(&r.timeline, name, kind, MAX_POINTS);
        let chart = if points.is_empty() {
            charts::no_data("the timeline has no seconds of this metric")
        } else {
            let line = Line::new(name, PALETTE[i % PALETTE.len()], points).filled();
            charts::over_time(&format!("{name} over time"), y_desc, &[line], 0.0, &marks)
        };
        figure(o, &format!("{name} ({}, {what})", kind.name()), &chart);
    }
    o.push_str("</div>\n</section>\n");
}
