//! The per-second timeline as the charts draw it: at most a few hundred points, however long the
//! run (consecutive seconds merged: rates averaged, latencies and users at their worst), and the
//! per-second series of metrics of the user's own, merged the same way by kind.

use crate::rules::metric::Kind;
use crate::stats::TimelineRow;

/// Most points drawn per line; a soak of hours still makes a light page.
pub const MAX_POINTS: usize = 600;

/// One point of the thinned timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Seconds from the start to the end of the merged interval.
    pub t: f64,
    pub rps: f64,
    pub errors_per_s: f64,
    /// Milliseconds; the highest second's value when seconds are merged.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub active_users: f64,
    pub in_flight: f64,
    pub worker_cpu_max: f64,
    /// Percent of the second the most-delayed worker waited for its CPU.
    pub worker_wait_max: f64,
    pub lag_p99_ms: f64,
    /// Requests per second of each step, in plan order (empty when rows carry no steps).
    pub step_rps: Vec<f64>,
    /// Requests per second of each scenario, in file order (empty when rows carry no scenarios).
    pub scenario_rps: Vec<f64>,
    /// Each scenario's p95 latency, ms (the worst merged second's), in file order.
    pub scenario_p95_ms: Vec<f64>,
}

/// `rows` merged into at most `max` points.
pub fn thin(rows: &[TimelineRow], max: usize) -> Vec<Point> {
    let per = rows.len().div_ceil(max.max(1)).max(1);
    rows.chunks(per).map(merge).collect()
}

fn merge(rows: &[TimelineRow]) -> Point {
    let secs: f64 = rows.iter().map(|r| r.interval_s).sum::<f64>().max(1e-9);
    let ms = |f: fn(&TimelineRow) -> u64| rows.iter().map(f).max().unwrap_or(0) as f64 / 1000.0;
    let steps = rows.iter().map(|r| r.steps.len()).min().unwrap_or(0);
    let scenarios = rows.iter().map(|r| r.scenarios.len()).min().unwrap_or(0);
    Point {
        t: rows.last().map_or(0.0, |r| r.t),
        rps: rows.iter().map(|r| r.requests).sum::<u64>() as f64 / secs,
        errors_per_s: rows.iter().map(|r| r.errors).sum::<u64>() as f64 / secs,
        p50_ms: ms(|r| r.p50_us),
        p95_ms: ms(|r| r.p95_us),
        p99_ms: ms(|r| r.p99_us),
        active_users: rows.iter().map(|r| r.active_users).max().unwrap_or(0) as f64,
        in_flight: rows.iter().map(|r| r.in_flight).max().unwrap_or(0) as f64,
        worker_cpu_max: rows.iter().map(|r| r.worker_cpu_max).fold(0.0, f64::max),
        worker_wait_max: rows.iter().map(|r| r.worker_wait_max).fold(0.0, f64::max),
        lag_p99_ms: ms(|r| r.lag_p99_us),
        step_rps: (0..steps).map(|i| rows.iter().map(|r| r.steps[i].requests).sum::<u64>() as f64 / secs).collect(),
        scenario_rps: (0..scenarios)
            .map(|i| rows.iter().map(|r| r.scenarios[i].requests).sum::<u64>() as f64 / secs)
            .collect(),
        scenario_p95_ms: (0..scenarios)
            .map(|i| rows.iter().map(|r| r.scenarios[i].p95_us).max().unwrap_or(0) as f64 / 1000.0)
            .collect(),
    }
}

/// Metric `name` of kind `kind` over time, in at most `max` points (`t` = the end of each):
/// a rate's percent (averaged over merged seconds), a counter's count per second, a trend's p95
/// (the worst merged second's). Seconds that do not carry the metric (or not a finite value) are
/// left out.
pub fn metric_series(rows: &[TimelineRow], name: &str, kind: Kind, max: usize) -> Vec<(f64, f64)> {
    let seconds: Vec<(&TimelineRow, f64)> =
        rows.iter().filter_map(|r| r.metrics.get(name).filter(|v| v.is_finite()).map(|v| (r, *v))).collect();
    let per = seconds.len().div_ceil(max.max(1)).max(1);
    seconds
        .chunks(per)
        .map(|chunk| {
            let t = chunk.last().map_or(0.0, |(r, _)| r.t);
            let values = chunk.iter().map(|(_, v)| *v);
            let v = match kind {
                Kind::Rate => values.sum::<f64>() / chunk.len() as f64,
                Kind::Counter => values.sum::<f64>() / chunk.iter().map(|(r, _)| r.interval_s).sum::<f64>().max(1e-9),
                Kind::Trend => values.fold(0.0, f64::max),
            };
            (t, v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::StepSecond;

    fn row(t: f64, requests: u64, p99_us: u64) -> TimelineRow {
        TimelineRow {
            t,
            interval_s: 1.0,
            requests,
            rps: requests as f64,
            errors: 1,
            bytes_in: 0,
            p50_us: p99_us / 4,
            p95_us: p99_us / 2,
            p99_us,
            max_us: p99_us,
            active_users: t as u64,
            in_flight: 1,
            dropped: 0,
            lag_p99_us: 0,
            worker_cpu_max: 10.0,
            worker_wait_max: 0.0,
            paused: 0.0,
            steps: Vec::new(),
            scenarios: Vec::new(),
            metrics: Default::default(),
            monitor: Default::default(),
        }
    }

    #[test]
    fn short_runs_keep_every_second() {
        let rows: Vec<_> = (1..=5).map(|t| row(t as f64, 100, 1000)).collect();
        let pts = thin(&rows, MAX_POINTS);
        assert_eq!(pts.len(), 5);
        assert_eq!(pts[2].t, 3.0);
        assert_eq!(pts[2].rps, 100.0);
        assert_eq!(pts[2].p99_ms, 1.0);
    }

    #[test]
    fn long_runs_merge_seconds_keeping_rates_and_worst_latency() {
        let rows: Vec<_> = (1..=10).map(|t| row(t as f64, 10 * t, 1000 * t)).collect();
        let pts = thin(&rows, 5);
        assert_eq!(pts.len(), 5);
        // Seconds 1 and 2: 10 + 20 requests over 2 s; the worse p99 of the two.
        assert_eq!(pts[0].t, 2.0);
        assert_eq!(pts[0].rps, 15.0);
        assert_eq!(pts[0].errors_per_s, 1.0);
        assert_eq!(pts[0].p99_ms, 2.0);
        assert_eq!(pts[4].active_users, 10.0);
    }

    #[test]
    fn no_rows_no_points() {
        assert!(thin(&[], MAX_POINTS).is_empty());
        assert!(metric_series(&[], "m", Kind::Rate, MAX_POINTS).is_empty());
    }

    #[test]
    fn scenarios_are_merged_like_steps() {
        let second = |requests| StepSecond { requests, errors: 0, p50_us: 0, p95_us: 1000 * requests, p99_us: 0 };
        let rows: Vec<_> = (1..=4)
            .map(|t| TimelineRow { scenarios: vec![second(10 * t), second(1)], ..row(t as f64, 11 * t, 1000) })
            .collect();
        let pts = thin(&rows, 2);
        assert_eq!(pts[0].scenario_rps, [15.0, 1.0]);
        assert_eq!(pts[1].scenario_rps, [35.0, 1.0]);
        // Latency at the worst of the merged seconds.
        assert_eq!(pts[1].scenario_p95_ms, [40.0, 1.0]);
        // A row without scenarios (an older document): none for the point.
        let mut rows = rows;
        rows[3].scenarios.clear();
        assert!(thin(&rows, 2)[1].scenario_rps.is_empty());
    }

    #[test]
    fn metric_series_merge_by_kind() {
        let rows: Vec<_> = (1..=4)
            .map(|t| {
                let mut r = row(t as f64, 10, 1000);
                r.metrics = [("hit".to_string(), 10.0 * t as f64), ("nan".to_string(), f64::NAN)].into();
                if t == 4 {
                    r.interval_s = 0.5;
                }
                r
            })
            .collect();
        assert_eq!(metric_series(&rows, "hit", Kind::Rate, 10), [(1.0, 10.0), (2.0, 20.0), (3.0, 30.0), (4.0, 40.0)]);
        // Two seconds a point: rates averaged, counts per second, trends at their worst.
        assert_eq!(metric_series(&rows, "hit", Kind::Rate, 2), [(2.0, 15.0), (4.0, 35.0)]);
        assert_eq!(metric_series(&rows, "hit", Kind::Counter, 2), [(2.0, 15.0), (4.0, 70.0 / 1.5)]);
        assert_eq!(metric_series(&rows, "hit", Kind::Trend, 2), [(2.0, 20.0), (4.0, 40.0)]);
        assert!(metric_series(&rows, "nan", Kind::Trend, 2).is_empty());
        assert!(metric_series(&rows, "absent", Kind::Counter, 2).is_empty());
    }
}
