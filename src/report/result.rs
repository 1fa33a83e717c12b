//! The result document (`--json FILE`): the contract other tools read. Built from a run's
//! merged stats; carries the full HdrHistograms (base64, V2) so results merge exactly.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

use crate::engine::RunOutput;
use crate::error::ErrorKind;
use crate::plan::Plan;
use crate::rules::threshold::{NoData, Scope, Threshold, Verdict};
use crate::stats::{StepStats, TimelineRow};

/// Identifies the document's shape; bumped when a field changes meaning.
pub const SCHEMA: &str = "stampede.result/v1";

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub min: u64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: u64,
    pub p75: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Latency {
    /// The histogram's statistics; `None` when it is empty (no data, never a latency of 0).
    pub fn of(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let q = |p| h.value_at_quantile(p);
        Some(Latency {
            min: h.min(),
            mean: round2(h.mean()),
            stdev: round2(h.stdev()),
            p50: q(0.50),
            p75: q(0.75),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max(),
        })
    }
}

/// Counters and latency of the whole run or of one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Completed requests: successes and errors together.
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// From the intended start in the open model (coordinated-omission correct), from sending
    /// in the closed model. `null` when no response had a latency (every connect refused, a
    /// step that never ran): no data, never 0.
    pub latency_us: Option<Latency>,
    /// Open model only: from sending to the complete response, without queueing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_us: Option<Latency>,
    pub status: BTreeMap<String, u64>,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// `expect` conditions evaluated and how many failed.
    #[serde(default)]
    pub checks: u64,
    #[serde(default)]
    pub checks_failed: u64,
    /// A few distinct failure reasons with counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_reasons: BTreeMap<String, u64>,
    /// Steps not sent (their `if` did not hold, or a variable they need had no value): not
    /// requests, not errors.
    #[serde(default)]
    pub skipped: u64,
    /// Redirects followed (hops); a step's latency covers its whole chain.
    #[serde(default)]
    pub redirects: u64,
    /// Requests by the protocol that carried them: `{"http/1.1": n, "h2": n}` (responses, and
    /// failures that reached a connection); absent in documents from before HTTP/2.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub protocols: BTreeMap<String, u64>,
}

impl Summary {
    pub fn of(s: &StepStats, duration_s: f64, open: bool) -> Summary {
        Summary {
            requests: s.requests,
            errors: s.errors,
            rps: round2(s.requests as f64 / duration_s.max(1e-9)),
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            latency_us: Latency::of(&s.latency),
            service_us: open.then(|| Latency::of(&s.service)).flatten(),
            status: s.status_sorted().into_iter().map(|(c, n)| (c.to_string(), n)).collect(),
            errors_by_kind: ErrorKind::ALL
                .iter()
                .filter(|k| s.errors_by_kind[**k as usize] > 0)
                .map(|k| (k.name().to_string(), s.errors_by_kind[*k as usize]))
                .collect(),
            checks: s.checks,
            checks_failed: s.checks_failed,
            error_reasons: s.reasons.clone(),
            skipped: s.skipped,
            redirects: s.redirects,
            protocols: crate::http::version::Proto::ALL
                .iter()
                .filter(|p| s.protocols[**p as usize] > 0)
                .map(|p| (p.name().to_string(), s.protocols[*p as usize]))
                .collect(),
        }
    }
}

/// Whole-run totals: a summary plus what only the run as a whole has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    #[serde(flatten)]
    pub summary: Summary,
    /// Requests in flight when the run stopped: sent, never answered, not counted in `requests`.
    pub unfinished: u64,
    /// Open model: scheduled starts that found no free user and were not sent.
    pub dropped_iterations: u64,
    /// Iterations (passes over a journey) completed.
    #[serde(default)]
    pub iterations: u64,
    /// Users stopped because their `unique` data ran out.
    #[serde(default)]
    pub data_exhausted: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub name: String,
    #[serde(flatten)]
    pub summary: Summary,
    /// This step's latency histogram, base64 HdrHistogram V2.
    pub histogram: String,
    /// With several scenarios: the seconds in which a scenario running this step ran (its `rps`
    /// threshold is over them; `rps` above is over the whole run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// When several user types have a step of this name: each one's share, by user type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_user: BTreeMap<String, Summary>,
}

/// A threshold as judged at the end of a run (or a merge): what the result documents and reports
/// carry ([`ThresholdResult::of`] a [`crate::rules::threshold::Verdict`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    pub ok: bool,
    /// The measured value, in `unit`; `null` when there was nothing to measure (no requests, no
    /// responses with a latency, no samples in the window): the threshold then fails (a `warn`
    /// one warns) and `reason` says why.
    pub value: Option<f64>,
    /// `ms` (latency), `%` (errors, checks), `req/s` (rps) or empty (counts).
    #[serde(default)]
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The scenario it is measured on, for a scenario's threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The window of the run it is measured on (`"2m..12m"`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<String>,
    /// `"warn"`: reported, does not fail the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Why it could not be measured (`value` is null), e.g. "no data: no responses with a latency".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Values measured beside `value` ([`crate::rules::threshold::Extra`]), by name; those with
    /// no data are left out. A drift: `baseline` (the other window's value, in `unit`) and `ratio`
    /// (value / baseline). A recovery: `after_s` (the run time it is watched from), `hold_s`, and
    /// `watched_s` (how long it was watched, when it never recovered).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub extra: std::collections::BTreeMap<String, f64>,
    /// A window's own data (a threshold with `during`): what `merge` measures again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<super::window::WindowData>,
    /// A drift: the window it is compared with, as the file writes it (`"0m..5m"` shows as
    /// `"0s..5m"`); its value is `extra.baseline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_during: Option<String>,
    /// A recovery: what it is watched after, as the file writes it (a scenario's name or a run
    /// time); `extra.after_s` is that moment in seconds of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Why a verdict has no value (or, for a drift, no baseline): a recovery that never came says
/// how long it was watched.
fn reason(v: &Verdict) -> Option<String> {
    let extra = |name: &str| v.extra.iter().find(|x| x.name == name).map(|x| x.value);
    match v.measured {
        Err(NoData::NEVER_RECOVERED) => {
            let secs = |name: &str| {
                extra(name).and_then(Result::ok).map_or("?".into(), |s| format!("{}s", crate::units::round3(s)))
            };
            Some(format!("never recovered: watched for {} from {} of the run", secs("watched_s"), secs("after_s")))
        }
        Err(e) => Some(e.0.to_string()),
        Ok(_) => match extra("baseline") {
            Some(Err(e)) => Some(format!("baseline {}", e.0)),
            _ => None,
        },
    }
}

#[cfg(test)]
impl ThresholdResult {
    /// A passing row of `expr` measured at `value` in `unit`, every other field empty: tests set
    /// what they need with `..ThresholdResult::bare(..)`.
    pub(crate) fn bare(expr: &str, value: f64, unit: &str) -> ThresholdResult {
        ThresholdResult {
            expr: expr.into(),
            ok: true,
            value: Some(value),
            unit: unit.into(),
            step: None,
            scenario: None,
            during: None,
            level: None,
            reason: None,
            extra: Default::default(),
            window: None,
            baseline_during: None,
            after: None,
        }
    }
}

impl ThresholdResult {
    /// `t` as judged in `v` within `scope`, as a result row (callers set `step`, `scenario` and
    /// `during` as they name them).
    pub fn of(t: &Threshold, v: &Verdict, scope: &Scope) -> ThresholdResult {
        ThresholdResult {
            expr: t.expr.clone(),
            ok: v.held(),
            value: v.measured.ok().map(crate::units::round3),
            unit: t.unit().to_string(),
            step: None,
            scenario: None,
            during: None,
            level: scope.warn.then(|| "warn".to_string()),
            reason: reason(v),
            extra: v
                .extra
                .iter()
                .filter_map(|x| Some((x.name.to_string(), crate::units::round3(x.value.ok()?))))
                .collect(),
            window: None,
            baseline_during: None,
            after: None,
        }
    }

    /// It failed, and it is not a warning: the run fails.
    pub fn fails_run(&self) -> bool {
        !self.ok && self.level.as_deref() != Some("warn")
    }

    /// What was measured, for reports: the value as `show` writes it with the unit (`12.5ms`,
    /// `0.5%`, `120 req/s`), or why there was nothing to measure (`no data: …`).
    pub fn measured(&self, show: impl Fn(f64) -> String) -> String {
        match self.value {
            None => self.reason.clone().unwrap_or_else(|| "no data".into()),
            Some(v) => {
                let sep = if self.unit.len() > 2 { " " } else { "" };
                format!("{}{sep}{}", show(v), self.unit)
            }
        }
    }

    /// What a drift or a recovery shows after its value: the other window's value and the ratio
    /// (` vs 20.3ms, ratio 14.88`), why the other window has none, or what the recovery time
    /// counts from (` to recover after spike`); nothing for other thresholds.
    pub fn beside(&self, show: impl Fn(f64) -> String) -> String {
        let sep = if self.unit.len() > 2 { " " } else { "" };
        match (self.extra.get("baseline"), &self.after) {
            (Some(b), _) => {
                let ratio = self.extra.get("ratio").map(|r| format!(", ratio {}", (r * 100.0).round() / 100.0));
                format!(" vs {}{sep}{}{}", show(*b), self.unit, ratio.unwrap_or_default())
            }
            (None, _) if self.baseline_during.is_some() && self.value.is_some() => {
                format!(" ({})", self.reason.as_deref().unwrap_or("baseline: no data"))
            }
            (None, Some(after)) if self.value.is_some() => format!(" to recover after {after}"),
            _ => String::new(),
        }
    }

    /// The window to show beside the expression: `during`, unless the expression names its
    /// windows itself (a drift).
    pub fn window(&self) -> Option<&str> {
        self.during.as_deref().filter(|_| self.baseline_during.is_none())
    }

    /// How a report labels it: `ok`, `FAIL`, or `WARN` (a failed warning).
    pub fn verdict(&self) -> &'static str {
        match (self.ok, self.level.as_deref()) {
            (true, _) => "ok",
            (false, Some("warn")) => "WARN",
            (false, _) => "FAIL",
        }
    }
}

/// One named scenario of the run: when it ran, its requests together, its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub executor: String,
    /// When it started and how long it ran, seconds from the start of the run.
    pub start_s: f64,
    pub duration_s: f64,
    #[serde(flatten)]
    pub totals: Totals,
    /// Its requests' latency, base64 HdrHistogram V2 (for exact merging).
    pub histogram: String,
    /// Its own thresholds (also in the run's `thresholds`, with `scenario` set).
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadInfo {
    /// `closed` or `open`.
    pub model: String,
    /// Users (connections, in bench) of this instance.
    pub users: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub workers: u64,
    pub timeout_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// `bench --streams N` (N > 1): requests in flight per connection; `users` is then
    /// connections × N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorInfo {
    /// Process CPU over wall time, percent of one core (200 = two cores busy).
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
    pub workers: u64,
    pub worker_cpu_s: Vec<f64>,
    /// CPU use of the busiest worker over the run, percent of one core.
    #[serde(default)]
    pub busiest_worker_cpu_percent: f64,
    /// Share of the run the most-delayed worker waited for its CPU (runnable, not running),
    /// percent: high when something else runs on the generator's cores.
    #[serde(default)]
    pub busiest_worker_wait_percent: f64,
    /// Open model: p99 of the generator's own lag in sending starts (µs).
    #[serde(default)]
    pub schedule_lag_p99_us: u64,
    /// The generator may have been the limit (see `warnings`).
    #[serde(default)]
    pub saturated: bool,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The I/O path the workers took: `io_uring` or `epoll` (empty in documents from before
    /// there was a choice: io_uring).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub io: String,
    /// Each source address (`--source`) and the connections opened from it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<crate::report::sources::SourceUse>,
    /// Each address the targets' names resolved to, with its share of their connections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<crate::report::sources::AddressUse>,
}

/// The whole result document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema: String,
    pub tool: String,
    pub command: String,
    pub name: String,
    pub target: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub started_at_unix_ms: u64,
    pub duration_s: f64,
    pub interrupted: bool,
    /// The threshold with `abort_on_fail` that stopped the run early, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_by: Option<String>,
    pub load: LoadInfo,
    pub totals: Totals,
    pub steps: Vec<StepResult>,
    /// A file with `[scenarios.NAME]`: each scenario's own totals and thresholds, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<ScenarioResult>,
    /// Metrics of the user's own (`[metrics]`), in file order.
    #[serde(default, skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub metrics: indexmap::IndexMap<String, crate::report::metric::MetricSummary>,
    pub timeline: Vec<TimelineRow>,
    pub thresholds: Vec<ThresholdResult>,
    /// The file's thresholds this run did not judge (a `--vus/--duration` smoke, `--scenario`),
    /// each with its reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds_not_run: Vec<crate::plan::NotRun>,
    /// What the command line changed in the file's load, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    pub generator: GeneratorInfo,
    /// Latency histogram of the whole run, base64 HdrHistogram V2.
    pub histogram: String,
    /// `capacity` runs: the answer and the steps that led to it (the rest of the document
    /// describes the step at the answer, normally its confirming hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::capacity::CapacityResult>,
    /// The run's id: the `run` label of its live metrics (`--run-id`, or made up).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run_id: String,
    /// What identifies the run and this document's part of it (for `merge`); absent in documents
    /// of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<crate::report::identity::RunIdentity>,
    /// What each live output (`--out`) delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<PushReport>,
    /// The service's own series (`[monitor]`): min, avg, max, last per series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<crate::monitor::MonitorResult>,
    /// Seconds the run was paused by hand (`--control`); rates are over `duration_s - paused_s`.
    #[serde(default, skip_serializing_if = "crate::stats::is_zero")]
    pub paused_s: f64,
    /// Changes made by hand while it ran (`--control`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub control: Vec<crate::engine::control::ControlEvent>,
}

/// What one live output (`--out KIND=URL`) delivered during the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PushReport {
    /// `prometheus`.
    pub kind: String,
    /// Where it went (a password in the URL shown as `***`).
    pub url: String,
    /// Pushes the endpoint accepted.
    pub pushed: u64,
    /// Seconds not delivered: pushes that failed, and seconds replaced by a newer one while a
    /// push was slow or waiting to be retried.
    pub dropped: u64,
    /// The last failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl RunResult {
    /// The result of a run, with what its monitor sampled (if it had one).
    pub fn build(plan: &Plan, out: &RunOutput, monitor: Option<&crate::monitor::Samples>) -> RunResult {
        // Rates are over the time the load ran: a pause by hand is not part of it.
        let duration_s = (out.elapsed.as_secs_f64() - out.paused.as_secs_f64()).max(1e-3);
        let watched = monitor.map(crate::monitor::Samples::summary);
        let open = plan.open_model() != Some(false);
        let total = out.stats.total();
        let steps = plan
            .rows
            .iter()
            .zip(&out.stats.steps)
            .enumerate()
            .map(|(row, (name, s))| StepResult {
                name: name.clone(),
                summary: Summary::of(s, duration_s, open),
                histogram: encode_histogram(&s.latency),
                duration_s: (plan.scenarios.len() > 1).then(|| round3(step_seconds(plan, row, duration_s))),
                by_user: by_user(plan, out, row, duration_s, open),
            })
            .collect();
        let watched_by = (watched.as_ref(), monitor);
        let thresholds = evaluate_thresholds(plan, &out.stats, Some(out), duration_s, watched_by);
        let mut timeline = out.timeline.clone();
        if let Some(m) = monitor {
            for row in &mut timeline {
                row.monitor = m.in_window(row.t - row.interval_s, row.t);
            }
        }
        let scenarios = if plan.named_scenarios { scenario_results(plan, out, &thresholds) } else { Vec::new() };
        let unix_ms = out.started_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        RunResult {
            schema: SCHEMA.to_string(),
            tool: concat!("stampede ", env!("CARGO_PKG_VERSION")).to_string(),
            command: plan.command.clone(),
            name: plan.name.clone(),
            target: plan.target().url.clone(),
            started_at: humantime::format_rfc3339_millis(out.started_at).to_string(),
            started_at_unix_ms: unix_ms,
            duration_s: round3(out.elapsed.as_secs_f64()),
            paused_s: round3(out.paused.as_secs_f64()),
            control: out.control.clone(),
            interrupted: out.interrupted,
            aborted_by: None,
            load: LoadInfo {
                model: match plan.open_model() {
                    Some(true) => "open",
                    Some(false) => "closed",
                    None => "mixed",
                }
                .to_string(),
                users: plan.local_users() as u64,
                rate: plan.rate().map(|r| r / plan.shard.count as f64),
                workers: plan.workers as u64,
                timeout_s: plan.max_timeout().as_secs_f64(),
                shard: (plan.shard.count > 1).then(|| format!("{}/{}", plan.shard.index + 1, plan.shard.count)),
                streams: (plan.streams > 1).then_some(plan.streams as u64),
            },
            totals: Totals {
                summary: Summary::of(&total, duration_s, open),
                unfinished: out.unfinished,
                dropped_iterations: out.stats.dropped(),
                iterations: out.stats.iterations(),
                data_exhausted: out.stats.data_exhausted(),
            },
            steps,
            scenarios,
            metrics: plan
                .metrics
                .iter()
                .zip(&out.stats.metrics)
                .map(|(m, s)| (m.name.clone(), crate::report::metric::MetricSummary::of(s)))
                .collect(),
            timeline,
            thresholds,
            thresholds_not_run: plan.thresholds_not_run.clone(),
            overrides: plan.overrides.clone(),
            generator: GeneratorInfo {
                io: out.generator.io.name().to_string(),
                cpu_percent: round2(out.generator.cpu_percent),
                rss_bytes: out.generator.rss_bytes,
                peak_rss_bytes: out.generator.peak_rss_bytes,
                workers: out.generator.workers as u64,
                worker_cpu_s: out.generator.worker_cpu_s.iter().map(|s| round3(*s)).collect(),
                busiest_worker_cpu_percent: round2(out.generator.busiest_worker_cpu_percent),
                busiest_worker_wait_percent: round2(out.generator.busiest_worker_wait_percent),
                schedule_lag_p99_us: out.generator.schedule_lag_p99_us,
                saturated: out.generator.saturated,
                warnings: out.generator.warnings.clone(),
                sources: crate::report::sources::sources(plan, &out.stats),
                targets: crate::report::sources::targets(plan, &out.stats),
            },
            histogram: encode_histogram(&total.latency),
            capacity: None,
            run_id: String::new(),
            run: Some(crate::report::identity::RunIdentity::of(plan)),
            outputs: Vec::new(),
            monitor: watched,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("result serializes")
    }

    /// The total latency histogram carried by the document.
    pub fn latency_histogram(&self) -> Result<Histogram<u64>, String> {
        decode_histogram(&self.histogram)
    }
}

/// How long scenario `i` ran within a run that lasted `elapsed_s`: from its start to its end
/// or to the end of the run, whichever came first.
pub fn scenario_seconds(plan: &Plan, i: usize, elapsed_s: f64) -> f64 {
    let sc = &plan.scenarios[i];
    (elapsed_s.min(sc.end().as_secs_f64()) - sc.start.as_secs_f64()).max(0.0)
}

/// How long the step of stats row `row` could run within a run that lasted `elapsed_s`: the
/// seconds in which any scenario running a user type with that step ran (their union); with one
/// scenario, the run's.
pub fn step_seconds(plan: &Plan, row: usize, elapsed_s: f64) -> f64 {
    let has_step = |u: &usize| plan.users.get(*u).is_some_and(|u| u.steps.iter().any(|&s| plan.steps[s].row == row));
    let mut spans: Vec<(f64, f64)> = plan
        .scenarios
        .iter()
        .filter(|sc| sc.users.iter().any(has_step))
        .map(|sc| (sc.start.as_secs_f64(), elapsed_s.min(sc.end().as_secs_f64())))
        .filter(|(a, b)| b > a)
        .collect();
    if spans.is_empty() || plan.scenarios.len() == 1 {
        return elapsed_s;
    }
    spans.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (mut sum, mut reach) = (0.0, f64::MIN);
    for (a, b) in spans {
        sum += (b - a.max(reach)).max(0.0);
        reach = reach.max(b);
    }
    sum
}

/// The requests thresholds of scenario `i` are measured on: its own, or (with one scenario) all.
pub fn scenario_stats<'a>(stats: &'a crate::stats::Stats, i: usize, total: &'a StepStats) -> &'a StepStats {
    stats.scenarios.get(i).unwrap_or(total)
}

/// Each named scenario's part of the result.
fn scenario_results(plan: &Plan, out: &RunOutput, thresholds: &[ThresholdResult]) -> Vec<ScenarioResult> {
    let total = out.stats.total();
    plan.scenarios
        .iter()
        .enumerate()
        .map(|(i, sc)| {
            let s = scenario_stats(&out.stats, i, &total);
            let secs = scenario_seconds(plan, i, out.elapsed.as_secs_f64());
            let lane = out.stats.lanes.get(i).copied().unwrap_or_default();
            ScenarioResult {
                name: sc.name.clone(),
                executor: sc.executor.clone(),
                start_s: round3(sc.start.as_secs_f64()),
                duration_s: round3(secs),
                totals: Totals {
                    summary: Summary::of(s, secs, sc.load.is_open()),
                    unfinished: 0,
                    dropped_iterations: lane.dropped,
                    iterations: lane.iterations,
                    data_exhausted: lane.data_exhausted,
                },
                histogram: encode_histogram(&s.latency),
                thresholds: thresholds.iter().filter(|t| t.scenario.as_deref() == Some(&sc.name)).cloned().collect(),
            }
        })
        .collect()
}

/// A shared row's breakdown: each user type's own step of that name (empty when one type has it).
fn by_user(plan: &Plan, out: &RunOutput, row: usize, duration_s: f64, open: bool) -> BTreeMap<String, Summary> {
    let Some(by_step) = &out.by_step else { return BTreeMap::new() };
    let mut parts = BTreeMap::new();
    for u in &plan.users {
        for &s in u.steps.iter().filter(|&&s| plan.steps[s].row == row) {
            if let Some(stats) = by_step.steps.get(s) {
                parts.insert(u.name.clone(), Summary::of(stats, duration_s, open));
            }
        }
    }
    if parts.len() < 2 { BTreeMap::new() } else { parts }
}

/// Judge every threshold of the plan on the run: `stats` (so far), the run's output once it
/// ended (`None` while it goes on), the run's length, its watched series and their samples.
pub fn evaluate_thresholds(
    plan: &Plan,
    stats: &crate::stats::Stats,
    ended: Option<&RunOutput>,
    duration_s: f64,
    watched: (Option<&crate::monitor::MonitorResult>, Option<&crate::monitor::Samples>),
) -> Vec<ThresholdResult> {
    let src = super::measure::RunSource::new(plan, stats, ended, duration_s, watched);
    super::measure::judge_all(plan, &src)
}

/// Base64 of the histogram in HdrHistogram's V2 encoding.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2Serializer::new().serialize(h, &mut buf).expect("serializing into a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decode a histogram written by [`encode_histogram`] (or any V2 / V2-deflate encoder).
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new().deserialize(&mut &bytes[..]).map_err(|e| format!("histogram does not decode: {e:?}"))
}

pub use crate::units::{round2, round3};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{histogram, record};

    #[test]
    fn histogram_round_trips_exactly() {
        let mut h = histogram();
        for v in [1u64, 10, 100, 1000, 12345, 999_999, 3_000_000] {
            for _ in 0..v % 7 + 1 {
                record(&mut h, v);
            }
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back.len(), h.len());
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(back.value_at_quantile(q), h.value_at_quantile(q));
        }
    }

    #[test]
    fn bad_histograms_are_refused() {
        assert!(decode_histogram("!!!").unwrap_err().contains("base64"));
        assert!(decode_histogram("AAAA").unwrap_err().contains("decode"));
    }
}
