//! What one second of a run becomes for the live outputs: a [`prom::Snapshot`] (counts since the
//! start, per scenario and step) and the dashboard's JSON frame.

use serde_json::{Value, json};

use crate::engine::Tick;
use crate::error::ErrorKind;
use crate::plan::Plan;
use crate::prom::{ScenarioSnapshot, Snapshot, StepSnapshot};
use crate::stats::{Stats, StepStats};

/// Milliseconds since the Unix epoch, now.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// One step's counts as series read them. A request without a response counts under status
/// `0` (its kind is in the errors), so the statuses sum to the requests. Every error kind is
/// there from the start, at 0 until its first error (as Prometheus client libraries do for known
/// label values), so an error share of a clean run is 0, not "no data".
fn step_snapshot(s: &StepStats) -> StepSnapshot {
    let mut requests: std::collections::BTreeMap<u16, u64> = s.status.iter().copied().collect();
    let answered: u64 = requests.values().sum();
    if s.requests > answered {
        *requests.entry(0).or_default() += s.requests - answered;
    }
    StepSnapshot {
        requests,
        errors: ErrorKind::ALL.iter().map(|k| (k.name().to_string(), s.errors_by_kind[*k as usize])).collect(),
        checks_pass: s.checks - s.checks_failed,
        checks_fail: s.checks_failed,
        latency_us: (!s.latency.is_empty()).then(|| s.latency.clone()),
    }
}

/// The run so far as Prometheus series see it. `total` is the run so far (with a capacity
/// search's earlier steps in it).
pub fn snapshot(plan: &Plan, tick: &Tick, total: &Stats) -> Snapshot {
    let rows = plan.rows.len();
    let mut steps = std::collections::BTreeMap::new();
    match tick.by_scenario {
        Some(by) => {
            for (i, s) in by.steps.iter().enumerate() {
                // A scenario whose users never run a step has no series for it.
                if s.requests == 0 && s.skipped == 0 {
                    continue;
                }
                let key = (plan.scenarios[i / rows].name.clone(), plan.rows[i % rows].clone());
                steps.insert(key, step_snapshot(s));
            }
        }
        None => {
            let scenario = &plan.scenarios[0].name;
            for (name, s) in plan.rows.iter().zip(&total.steps) {
                steps.insert((scenario.clone(), name.clone()), step_snapshot(s));
            }
        }
    }
    let scenarios = plan
        .scenarios
        .iter()
        .enumerate()
        .map(|(i, sc)| {
            let lane = |s: &Stats| s.lanes.get(i).copied().unwrap_or_default();
            let active_users = lane(tick.interval).active_users;
            (sc.name.clone(), ScenarioSnapshot { active_users, dropped_iterations: lane(total).dropped })
        })
        .collect();
    Snapshot {
        timestamp_ms: now_ms(),
        steps,
        scenarios,
        in_flight: tick.interval.gauges.in_flight,
        cpu_ratio: tick.row.worker_cpu_max / 100.0,
        send_lag_seconds: tick.row.lag_p99_us as f64 / 1e6,
        metrics: plan.metrics.iter().map(|m| m.name.clone()).zip(total.metrics.iter().cloned()).collect(),
        control: None,
    }
}

/// Milliseconds, three decimals.
fn ms(us: u64) -> f64 {
    crate::units::round3(us as f64 / 1000.0)
}

/// p50, p95, p99 and max of a latency histogram, in ms.
fn quantiles(s: &StepStats) -> [f64; 4] {
    if s.latency.is_empty() {
        return [0.0; 4];
    }
    let q = |p: f64| ms(s.latency.value_at_quantile(p));
    [q(0.5), q(0.95), q(0.99), ms(s.latency.max())]
}

/// The dashboard's frame for this second (see `page.html` for how it is shown). `t`: seconds on
/// the dashboard's time axis.
pub fn dashboard(
    plan: &Plan,
    tick: &Tick,
    total: &Stats,
    info: &super::RunInfo,
    run_id: &str,
    t: f64,
    watched: Option<(&crate::monitor::Samples, &crate::monitor::MonitorResult)>,
) -> Frame {
    let monitor = watched.map(|(_, summary)| summary);
    let row = tick.row;
    let all = total.total();
    let [p50, p95, p99, max] = quantiles(&all);
    let elapsed = row.t.max(1e-9);
    let errors_by_kind: serde_json::Map<String, Value> = ErrorKind::ALL
        .iter()
        .filter(|k| all.errors_by_kind[**k as usize] > 0)
        .map(|k| (k.name().to_string(), json!(all.errors_by_kind[*k as usize])))
        .collect();
    let steps: Vec<Value> = plan
        .rows
        .iter()
        .zip(&total.steps)
        .zip(&tick.interval.steps)
        .map(|((name, s), now)| {
            let [p50, p95, p99, _] = quantiles(s);
            json!({"name": name, "requests": s.requests, "rps": now.requests as f64 / row.interval_s.max(1e-3),
                   "errors": s.errors, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99})
        })
        .collect();
    let scenarios: Vec<Value> = if plan.scenarios.len() > 1 {
        plan.scenarios
            .iter()
            .enumerate()
            .map(|(i, sc)| {
                let s = total.scenarios.get(i).cloned().unwrap_or_default();
                let users = tick.interval.lanes.get(i).map_or(0, |l| l.active_users);
                json!({"name": sc.name, "active_users": users, "requests": s.requests, "errors": s.errors})
            })
            .collect()
    } else {
        Vec::new()
    };
    let thresholds = crate::report::result::evaluate_thresholds(plan, total, &[], row.t, (monitor, None));
    let metrics: serde_json::Map<String, Value> =
        row.metrics.iter().map(|(k, v)| (k.clone(), json!(crate::units::round3(*v)))).collect();
    let latest: serde_json::Map<String, Value> =
        watched.map(|(m, _)| m.latest().into_iter().map(|(k, v)| (k, json!(v))).collect()).unwrap_or_default();
    let point = json!({
        "t": crate::units::round3(t),
        "rps": crate::units::round2(row.rps),
        "active_users": row.active_users,
        "in_flight": row.in_flight,
        "p50_ms": ms(row.p50_us),
        "p95_ms": ms(row.p95_us),
        "p99_ms": ms(row.p99_us),
        "errors": row.errors,
        "cpu_percent": crate::units::round2(row.worker_cpu_max),
        "lag_p99_ms": ms(row.lag_p99_us),
        "monitor": latest,
    });
    let json = json!({
        "run_id": run_id,
        "command": info.command,
        "name": info.name,
        "target": info.target,
        "t": crate::units::round3(t),
        "duration_s": info.duration_s,
        "done": false,
        "point": point,
        "totals": {
            "requests": all.requests,
            "errors": all.errors,
            "error_percent": crate::units::round3(100.0 * all.errors as f64 / all.requests.max(1) as f64),
            "rps": crate::units::round2(all.requests as f64 / elapsed),
            "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "max_ms": max,
            "errors_by_kind": errors_by_kind,
            "iterations": total.iterations(),
            "dropped": total.dropped(),
        },
        "steps": steps,
        "scenarios": scenarios,
        "thresholds": thresholds,
        "generator": {
            "cpu_percent": crate::units::round2(row.worker_cpu_max),
            "wait_percent": crate::units::round2(row.worker_wait_max),
            "lag_p99_ms": ms(row.lag_p99_us),
        },
        "metrics": metrics,
        "monitor": monitor.map(|m| m.series.iter().map(|(k, v)| (k.clone(), json!({"last": v.last, "min": v.min, "avg": v.avg, "max": v.max, "samples": v.samples}))).collect::<serde_json::Map<String, Value>>()),
    });
    Frame { json, point: point.to_string() }
}

/// The changes made so far (`--control`) as the page marks them on its time charts: `t` on the
/// dashboard's time axis (`offset` seconds after the first run's start), what was done, a label.
pub fn control(events: &[crate::engine::control::ControlEvent], offset: f64, scenarios: bool) -> Value {
    let marks: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({"t": crate::units::round3(offset + e.t), "action": e.action, "scenario": e.scenario,
                   "label": e.label(scenarios)})
        })
        .collect();
    Value::Array(marks)
}

/// A dashboard frame, and its `point` alone (the history a page opened later starts from).
pub struct Frame {
    pub json: Value,
    pub point: String,
}
