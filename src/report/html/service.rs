//! The report's section of the service's watched series (`[monitor]`): min, avg, max, last per
//! series, and a chart of each over the run, on the timeline's seconds like throughput and latency.

use std::fmt::Write;

use super::charts::{self, Line};
use super::marks::Marks;
use super::scenarios::PALETTE;
use super::sections::figure;
use super::tables::value;
use super::timeline::MAX_POINTS;
use super::{RunResult, esc};
use crate::stats::TimelineRow;
use crate::units::group;

/// A series' value per second, averaged over chunks so at most `max` points remain.
fn series_points(rows: &[TimelineRow], name: &str, max: usize) -> Vec<(f64, f64)> {
    let seconds: Vec<(f64, f64)> =
        rows.iter().filter_map(|r| r.monitor.get(name).filter(|v| v.is_finite()).map(|v| (r.t, *v))).collect();
    let per = seconds.len().div_ceil(max.max(1)).max(1);
    seconds
        .chunks(per)
        .map(|c| (c.last().map_or(0.0, |p| p.0), c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64))
        .collect()
}

/// Nothing for a document without watched series; else their table and a chart each.
pub fn service(o: &mut String, r: &RunResult) {
    let Some(m) = &r.monitor else { return };
    let shards = m.shards.iter().map(|s| (format!("shard {}", s.shard), &s.series));
    let tables: Vec<(String, &indexmap::IndexMap<String, crate::monitor::SeriesSummary>)> =
        std::iter::once((String::new(), &m.series)).filter(|(_, s)| !s.is_empty()).chain(shards).collect();
    o.push_str(
        "<section id=\"service\">\n<h2>Service<span class=\"note\">its own series, watched during the run</span></h2>\n",
    );
    o.push_str(
        "<div class=\"scroll\"><table>\n<tr><th class=\"t\">series</th><th>min</th><th>avg</th><th>max</th>\
         <th>last</th><th>samples</th><th>failed</th><th class=\"t\">source</th></tr>\n",
    );
    for (label, series) in &tables {
        if !label.is_empty() {
            let _ = writeln!(o, "<tr><td class=\"t\" colspan=\"8\"><b>{}</b></td></tr>", esc(label));
        }
        for (name, s) in series.iter() {
            let failed = if s.failures > 0 {
                format!("<span class=\"bad\">{}</span>", group(s.failures))
            } else {
                "0".to_string()
            };
            let _ = writeln!(
                o,
                "<tr><td class=\"wrap\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{failed}</td>\
                 <td class=\"t wrap\">{}</td></tr>",
                esc(name),
                value(s.min),
                value(s.avg),
                value(s.max),
                value(s.last),
                group(s.samples),
                esc(&s.source)
            );
        }
    }
    o.push_str("</table></div>\n<div class=\"grid2\">\n");
    let marks = Marks::of(r);
    for (i, name) in m.series.keys().enumerate() {
        let points = series_points(&r.timeline, name, MAX_POINTS);
        let chart = if points.is_empty() {
            charts::no_data("no second of the timeline has a sample of this series")
        } else {
            let line = Line::new(name, PALETTE[i % PALETTE.len()], points);
            charts::over_time(&format!("{name} over time"), name, &[line], 0.0, &marks)
        };
        figure(o, &format!("{name} (per second)"), &chart);
    }
    o.push_str("</div>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_follow_the_seconds_that_have_samples() {
        let rows: Vec<TimelineRow> = (1..=4)
            .map(|t| {
                let mut row: TimelineRow = serde_json::from_value(serde_json::json!({
                    "t": t as f64, "interval_s": 1.0, "requests": 1, "rps": 1.0, "errors": 0, "bytes_in": 0,
                    "p50_us": 1, "p95_us": 1, "p99_us": 1, "max_us": 1, "active_users": 1, "in_flight": 0
                }))
                .unwrap();
                if t != 3 {
                    row.monitor.insert("cpu".into(), t as f64 / 10.0);
                }
                row
            })
            .collect();
        assert_eq!(series_points(&rows, "cpu", 100), vec![(1.0, 0.1), (2.0, 0.2), (4.0, 0.4)]);
        assert_eq!(series_points(&rows, "cpu", 2), vec![(2.0, 0.15000000000000002), (4.0, 0.4)]);
        assert!(series_points(&rows, "other", 100).is_empty());
    }
}
