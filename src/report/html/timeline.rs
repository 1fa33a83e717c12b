//! The per-second timeline as the charts draw it: at most a few hundred points, however long the
//! run (consecutive seconds merged: rates averaged, latencies and users at their worst).

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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            steps: Vec::new(),
            scenarios: Vec::new(),
            metrics: Default::default(),
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
    }
}
