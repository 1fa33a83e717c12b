//! Synthetic result documents for the report modules' tests: known latencies per step, a
//! consistent total and a timeline, built the way a run builds its document.

use super::RunResult;
use super::result::{GeneratorInfo, LoadInfo, SCHEMA, StepResult, Summary, Totals, encode_histogram};
use crate::stats::{StepStats, TimelineRow};

/// 2023-11-14T22:13:20Z.
pub const STARTED_AT_UNIX_MS: u64 = 1_700_000_000_000;

/// A closed-model `run` started at [`STARTED_AT_UNIX_MS`], lasting `seconds` (at least 1):
/// one step per `(name, latencies in µs)`, every latency a 200 response of 100 bytes in, 50
/// out; the timeline spreads the requests over the seconds (one row each).
pub fn sample(steps: &[(&str, &[u64])], seconds: usize) -> RunResult {
    let stats: Vec<StepStats> = steps
        .iter()
        .map(|(_, values)| {
            let mut s = StepStats::default();
            for &v in *values {
                s.response(200, v, None, 100, 50);
            }
            s
        })
        .collect();
    let mut total = StepStats::default();
    stats.iter().for_each(|s| total.merge(s));
    let duration_s = seconds.max(1) as f64;
    let n = seconds as u64;
    let timeline = (0..n)
        .map(|i| {
            let requests = total.requests / n + u64::from(i < total.requests % n);
            let q = |p: f64| if total.latency.is_empty() { 0 } else { total.latency.value_at_quantile(p) };
            TimelineRow {
                t: (i + 1) as f64,
                interval_s: 1.0,
                requests,
                rps: requests as f64,
                errors: 0,
                bytes_in: requests * 100,
                p50_us: q(0.5),
                p95_us: q(0.95),
                p99_us: q(0.99),
                max_us: if total.latency.is_empty() { 0 } else { total.latency.max() },
                active_users: 2,
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
        })
        .collect();
    RunResult {
        schema: SCHEMA.to_string(),
        tool: "stampede test".to_string(),
        command: "run".to_string(),
        name: "sample run".to_string(),
        target: "http://127.0.0.1:1".to_string(),
        started_at: "2023-11-14T22:13:20.000Z".to_string(),
        started_at_unix_ms: STARTED_AT_UNIX_MS,
        duration_s,
        interrupted: false,
        aborted_by: None,
        load: LoadInfo {
            model: "closed".to_string(),
            users: 2,
            rate: None,
            workers: 1,
            timeout_s: 10.0,
            shard: None,
            streams: None,
        },
        totals: Totals { summary: Summary::of(&total, duration_s, false), ..Totals::default() },
        steps: steps
            .iter()
            .zip(&stats)
            .map(|((name, _), s)| StepResult {
                duration_s: None,
                name: name.to_string(),
                summary: Summary::of(s, duration_s, false),
                histogram: encode_histogram(&s.latency),
                by_user: Default::default(),
            })
            .collect(),
        scenarios: Vec::new(),
        metrics: Default::default(),
        timeline,
        thresholds: Vec::new(),
        thresholds_not_run: Vec::new(),
        overrides: Vec::new(),
        generator: GeneratorInfo { workers: 1, worker_cpu_s: vec![0.5], ..GeneratorInfo::default() },
        histogram: encode_histogram(&total.latency),
        capacity: None,
        run_id: String::new(),
        run: None,
        outputs: Vec::new(),
        monitor: None,
        paused_s: 0.0,
        control: Vec::new(),
    }
}
