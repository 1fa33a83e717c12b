//! The scenario file as written: serde types for the TOML, with spans kept on every value that
//! later validation may need to point at.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::rules::check::ExpectSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Other scenario files whose tables join this one's (paths relative to this file).
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    /// Which HTTP to speak: auto, 1.1 or 2.
    #[serde(default)]
    pub http: Option<Spanned<String>>,
    /// Source addresses to connect from: addresses, ranges and CIDR blocks (`--source`
    /// overrides them).
    #[serde(default)]
    pub sources: Option<Vec<Spanned<String>>>,
    /// Which addresses of a host name users connect to: first, round-robin or random.
    #[serde(default)]
    pub dns: Option<Spanned<String>>,
    /// Base URL for relative requests; `--target` overrides it.
    pub target: Option<Spanned<String>>,
    #[serde(default)]
    pub thresholds: Vec<Spanned<ThresholdSpec>>,
    /// Per-request timeout for every step that does not set its own.
    pub timeout: Option<Spanned<String>>,
    /// Redirects followed at most by every step that does not set its own (default 10).
    pub redirects: Option<Spanned<i64>>,
    /// What a failed step does for every step that does not say: `"continue"` (the default) or
    /// `"end-iteration"`.
    pub on_fail: Option<Spanned<String>>,
    /// One scenario: the shorthand for a file with a single load shape.
    pub load: Option<Spanned<LoadSpec>>,
    /// Metrics of the user's own, measured on responses: `NAME = { rate | trend | counter = "...", steps = [...] }`.
    pub metrics: Option<indexmap::IndexMap<String, Spanned<MetricSpec>>>,
    /// Named scenarios that run side by side, in file order.
    pub scenarios: Option<indexmap::IndexMap<String, Spanned<LoadSpec>>>,
    /// The service's own series to watch during the run. Not `Spanned`: TOML makes the table
    /// implicitly when a file writes only `[monitor.series]`, and an implicit table has no span.
    pub monitor: Option<MonitorSpec>,
    #[serde(default)]
    pub users: Vec<Spanned<UserSpec>>,
}

/// `[monitor]`: where to read the service's series, and which.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    /// Time between two samples (default 1s).
    pub interval: Option<Spanned<String>>,
    /// A Prometheus server: each plain series is a PromQL expression.
    pub prometheus: Option<Spanned<String>>,
    /// Prometheus text endpoints read directly.
    #[serde(default)]
    pub scrape: Vec<Spanned<String>>,
    /// `NAME = "EXPR"`, `{ promql = "..." }` or `{ scrape = "..." }`, in file order.
    #[serde(default)]
    pub series: indexmap::IndexMap<String, Spanned<SeriesSpec>>,
}

/// One watched series as written.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SeriesSpec {
    Plain(String),
    Table(SeriesTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesTable {
    pub promql: Option<String>,
    pub scrape: Option<String>,
}

/// `"p(95) < 200ms"` or `{ expr = "errors < 1%", abort_on_fail = true, delay = "10s" }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ThresholdSpec {
    Expr(String),
    Table(ThresholdTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdTable {
    pub expr: String,
    #[serde(default)]
    pub abort_on_fail: bool,
    /// Do not abort before this much of the run has passed.
    pub delay: Option<String>,
    /// `"2m..12m"`: measured on the requests of that window of the run only.
    pub during: Option<String>,
    /// `"warn"`: shown and reported, does not fail the exit code (default `"fail"`).
    pub level: Option<String>,
    /// `recovery(...)`: watched from a scenario's end (its name) or a run time (`"2m"`).
    pub after: Option<String>,
    /// `recovery(...)`: how long each second must hold, in a row (default `"5s"`).
    pub hold: Option<String>,
    /// In a `--vus/--duration` smoke: `false` leaves it out, `true` keeps a count or
    /// throughput threshold that a smoke leaves out by default.
    pub smoke: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    pub executor: Spanned<String>,
    /// Users of this scenario share this many connections per worker, as HTTP/2 streams.
    #[serde(default)]
    pub connections: Option<Spanned<u64>>,
    /// constant-vus: how many users.
    pub vus: Option<Spanned<u64>>,
    /// constant-vus, constant-arrival-rate: how long.
    pub duration: Option<Spanned<String>>,
    /// ramping-vus: users at the start (default 0).
    pub start_vus: Option<Spanned<u64>>,
    /// constant-arrival-rate: iterations per second.
    pub rate: Option<Spanned<f64>>,
    /// ramping-arrival-rate: iterations per second at the start (default 0).
    pub start_rate: Option<Spanned<f64>>,
    /// ramping-*: the curve.
    pub stages: Option<Spanned<Vec<StageSpec>>>,
    /// Arrival-rate executors: users started before the run (default: enough for one second).
    pub pre_allocated_vus: Option<Spanned<u64>>,
    /// Arrival-rate executors: most users the run may use.
    pub max_vus: Option<Spanned<u64>>,
    /// After the end, how long requests in flight may take to finish (default 10s).
    pub graceful_stop: Option<Spanned<String>>,
    /// per-vu-iterations: iterations of each user; shared-iterations: iterations in all.
    pub iterations: Option<Spanned<u64>>,
    /// Fixed-iteration executors: the run ends at this time even if iterations are left.
    pub max_duration: Option<Spanned<String>>,
    /// `[scenarios.NAME]` only: when it starts, from the start of the run (default 0s).
    pub start_time: Option<Spanned<String>>,
    /// `[scenarios.NAME]` only: the user types it runs (default: all).
    pub users: Option<Spanned<Vec<Spanned<String>>>>,
    /// `[scenarios.NAME]` only: thresholds measured on its requests only.
    #[serde(default)]
    pub thresholds: Vec<Spanned<ThresholdSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub duration: Spanned<String>,
    pub target: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: Spanned<String>,
    /// Share of users of this type (relative to the other types).
    pub weight: Option<Spanned<u32>>,
    /// Pause after each step: `"2s"` or `"3s..8s"`.
    pub think: Option<Spanned<String>>,
    /// `"users.csv"` or `{ file = "items.json", order = "sequential" }`: rows whose columns become
    /// variables.
    pub data: Option<Spanned<toml::Value>>,
    /// `"sequence"` (default: every step in order) or `"weighted"` (one step per iteration).
    pub pick: Option<Spanned<String>>,
    /// Each user keeps a cookie jar (default true).
    pub cookies: Option<Spanned<bool>>,
    #[serde(default)]
    pub steps: Vec<Spanned<StepSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub name: Option<Spanned<String>>,
    /// `"METHOD /path"` or `"METHOD https://host/path"`.
    pub request: Spanned<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub body: Option<Spanned<String>>,
    pub expect: Option<Spanned<ExpectSpec>>,
    #[serde(default)]
    pub extract: BTreeMap<String, Spanned<String>>,
    /// Overrides the user type's think time after this step (`"0s"`: none).
    pub think: Option<Spanned<String>>,
    /// With `pick = "weighted"`: this step's share.
    pub weight: Option<Spanned<u32>>,
    /// Chance (0..1) that the step runs in an iteration.
    pub probability: Option<Spanned<f64>>,
    #[serde(default)]
    pub thresholds: Vec<Spanned<ThresholdSpec>>,
    pub timeout: Option<Spanned<String>>,
    /// Run the step only when this condition holds, e.g. `status(login) == 200`.
    #[serde(rename = "if")]
    pub condition: Option<Spanned<String>>,
    /// Redirects this step follows at most (0: the redirect is the answer).
    pub redirects: Option<Spanned<i64>>,
    /// What a failure of this step does: `"continue"` or `"end-iteration"`.
    pub on_fail: Option<Spanned<String>>,
    /// Cookies put in the user's jar before the request, for the step's host.
    #[serde(default)]
    pub set_cookies: BTreeMap<String, Spanned<String>>,
    /// Cookies removed from the user's jar before the request.
    #[serde(default)]
    pub clear_cookies: Vec<Spanned<String>>,
}

/// One `NAME = { ... }` of `[metrics]`, as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// A condition: the metric is the share of responses that meet it.
    pub rate: Option<String>,
    /// A source: the metric is the distribution of its values.
    pub trend: Option<String>,
    /// A condition: the metric is how many responses met it.
    pub counter: Option<String>,
    /// The steps whose responses are observed; `None`: every step.
    pub steps: Option<Vec<String>>,
}
