//! Prometheus series from a run's per-second [`Snapshot`]: remote-write 1.0 requests (protobuf,
//! snappy block format) to push, and the text exposition format 0.0.4 to serve at `/metrics`.
//!
//! Pure: no I/O, no clock, no threads. A collector fills a [`Snapshot`] once a second (every count
//! cumulative since the start of the run), [`series`] turns it into [`Series`], then [`encode`]
//! gives the body of a remote-write POST (sent with [`headers`]) and [`text`] a scrape page.
//!
//! # Series
//!
//! Every series has `run` (the run id) and, when given, `shard`. A label whose value is empty is
//! left out (Prometheus reads an empty label as an absent one).
//!
//! | name | type | labels |
//! |---|---|---|
//! | `stampede_requests_total` | counter | `scenario`, `step`, `status` (requests by status code; `0`: no response) |
//! | `stampede_errors_total` | counter | `scenario`, `step`, `kind` (errors by kind, status and check failures included) |
//! | `stampede_request_duration_seconds` (`_bucket`, `_sum`, `_count`) | histogram | `scenario`, `step` (+ `le`) |
//! | `stampede_active_users` | gauge | `scenario` |
//! | `stampede_in_flight` | gauge | — |
//! | `stampede_dropped_iterations_total` | counter | `scenario` |
//! | `stampede_checks_total` | counter | `step`, `result` (`pass` or `fail`; summed over scenarios) |
//! | `stampede_generator_cpu_ratio` | gauge | — (busiest worker's CPU, share of one core) |
//! | `stampede_generator_send_lag_seconds` | gauge | — (send lag p99 in the last second) |
//! | `stampede_control_events_total` | counter | — (`--control`: changes accepted) |
//! | `stampede_control_refused_total` | counter | — (`--control`: requests refused for their token) |
//! | `stampede_metric_NAME_total` | counter | — (a user counter: responses that met its condition) |
//! | `stampede_metric_NAME_hits_total`, `stampede_metric_NAME_total` | counter | — (a user rate: hits of total) |
//! | `stampede_metric_NAME` (`_bucket`, `_sum`, `_count`) | histogram | `le` (a user trend, in its own unit) |
//! | `stampede_metric_NAME_missing_total` | counter | — (a user trend: responses without a value) |
//!
//! Request durations use the fixed buckets of [`DURATION_BUCKETS`] (100 µs to 60 s, then `+Inf`),
//! trends those of [`TREND_BUCKETS`] (0.01 to 5 000 000), so `histogram_quantile` works across
//! runs and shards. A bucket counts the values of the HdrHistogram whose bin starts at or below
//! `le` (3 significant digits: a value up to 0.1 % above `le` may be counted in it); `_sum` is the
//! histogram's mean × count.
//!
//! A user metric's name keeps ASCII letters, digits, `_` and `:`; any other character becomes `_`.
//! Two user metrics whose names would share a series (a rate `a` and a counter `a_hits` both give
//! `stampede_metric_a_hits_total`) clash: [`check_metric_names`] says so before a run, and
//! [`series`] keeps the first of them in name order.

use std::collections::{BTreeMap, BTreeSet};

use hdrhistogram::Histogram;
use prost::Message as _;

use crate::rules::metric::Kind;
use crate::stats::metric::{MetricStats, TREND_SCALE};

/// What can go wrong turning series into a request.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("snappy compression of a remote-write request failed: {0}")]
    Compress(#[from] snap::Error),
    #[error("metrics `{first}` and `{second}` would both give the Prometheus series `{series}`; rename one of them")]
    NameClash { first: String, second: String, series: String },
}

/// The request-duration buckets: `le` as written in the label, and the bound in µs.
pub const DURATION_BUCKETS: [(&str, u64); 18] = [
    ("0.0001", 100),
    ("0.00025", 250),
    ("0.0005", 500),
    ("0.001", 1_000),
    ("0.0025", 2_500),
    ("0.005", 5_000),
    ("0.01", 10_000),
    ("0.025", 25_000),
    ("0.05", 50_000),
    ("0.1", 100_000),
    ("0.25", 250_000),
    ("0.5", 500_000),
    ("1", 1_000_000),
    ("2.5", 2_500_000),
    ("5", 5_000_000),
    ("10", 10_000_000),
    ("30", 30_000_000),
    ("60", 60_000_000),
];

/// A user trend's buckets: `le` as written in the label, and the bound in the trend's unit.
pub const TREND_BUCKETS: [(&str, f64); 27] = [
    ("0.01", 0.01),
    ("0.025", 0.025),
    ("0.05", 0.05),
    ("0.1", 0.1),
    ("0.25", 0.25),
    ("0.5", 0.5),
    ("1", 1.0),
    ("2.5", 2.5),
    ("5", 5.0),
    ("10", 10.0),
    ("25", 25.0),
    ("50", 50.0),
    ("100", 100.0),
    ("250", 250.0),
    ("500", 500.0),
    ("1000", 1_000.0),
    ("2500", 2_500.0),
    ("5000", 5_000.0),
    ("10000", 10_000.0),
    ("25000", 25_000.0),
    ("50000", 50_000.0),
    ("100000", 100_000.0),
    ("250000", 250_000.0),
    ("500000", 500_000.0),
    ("1000000", 1_000_000.0),
    ("2500000", 2_500_000.0),
    ("5000000", 5_000_000.0),
];

/// What a collector knows of the run at one instant. Counts and histograms are cumulative since
/// the start of the run; gauges are as they stand.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Per (scenario, step).
    pub steps: BTreeMap<(String, String), StepSnapshot>,
    /// Per scenario.
    pub scenarios: BTreeMap<String, ScenarioSnapshot>,
    /// Requests sent and not yet answered.
    pub in_flight: u64,
    /// The busiest worker thread's CPU use in the last second, as a share of one core (the
    /// timeline's `worker_cpu_max` / 100).
    pub cpu_ratio: f64,
    /// The generator's send lag (how late requests left against their schedule, open model) in
    /// the last second, p99, in seconds; 0 without a schedule.
    pub send_lag_seconds: f64,
    /// The user's metrics (`[metrics]`), by name.
    pub metrics: BTreeMap<String, MetricStats>,
    /// `--control`: changes accepted and requests refused for their token, so far.
    pub control: Option<(u64, u64)>,
}

/// One step of one scenario.
#[derive(Debug, Clone, Default)]
pub struct StepSnapshot {
    /// Requests by status code; `0` for those without a response.
    pub requests: BTreeMap<u16, u64>,
    /// Errors by kind (as the result names them).
    pub errors: BTreeMap<String, u64>,
    pub checks_pass: u64,
    pub checks_fail: u64,
    /// Latency of responses in µs (`None` until the first one).
    pub latency_us: Option<Histogram<u64>>,
}

/// One scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScenarioSnapshot {
    pub active_users: u64,
    pub dropped_iterations: u64,
}

/// The labels every series of a run carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    pub run: String,
    pub shard: Option<String>,
}

/// A series' metric type, for `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
}

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        }
    }
}

/// One label of a series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

/// One sample of one series: its labels (`__name__` first, then by name), value and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The metric family (for a histogram, its name without `_bucket`/`_sum`/`_count`).
    pub family: String,
    pub kind: Type,
    pub labels: Vec<Label>,
    pub value: f64,
    pub timestamp_ms: i64,
}

impl Series {
    /// The value of `__name__`.
    pub fn name(&self) -> &str {
        self.label("__name__").unwrap_or("")
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|l| l.name == name).map(|l| l.value.as_str())
    }
}

/// Series being built, grouped by family.
struct Builder<'a> {
    base: &'a Labels,
    timestamp_ms: i64,
    families: BTreeMap<String, (Type, Vec<Series>)>,
}

impl Builder<'_> {
    /// One sample named `name` of `family`, with the run's labels and `labels` (empty values left out).
    fn push(&mut self, family: &str, kind: Type, name: &str, labels: &[(&str, &str)], value: f64) {
        let mut all = Vec::with_capacity(labels.len() + 3);
        all.push(label("__name__", name));
        all.push(label("run", &self.base.run));
        if let Some(shard) = &self.base.shard {
            all.push(label("shard", shard));
        }
        all.extend(labels.iter().map(|(n, v)| label(n, v)));
        all.retain(|l| !l.value.is_empty() || l.name == "__name__");
        sort_labels(&mut all);
        let entry = self.families.entry(family.to_string()).or_insert_with(|| (kind, Vec::new()));
        entry.1.push(Series { family: family.to_string(), kind, labels: all, value, timestamp_ms: self.timestamp_ms });
    }

    /// A histogram's buckets, `_sum` and `_count` for one label set.
    fn histogram(&mut self, family: &str, labels: &[(&str, &str)], buckets: &[(&str, u64)], count: u64, sum: f64) {
        let bucket_name = format!("{family}_bucket");
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        with_le.push(("le", ""));
        let le_at = with_le.len() - 1;
        for (le, n) in buckets.iter().copied().chain([("+Inf", count)]) {
            with_le[le_at] = ("le", le);
            self.push(family, Type::Histogram, &bucket_name, &with_le, n as f64);
        }
        self.push(family, Type::Histogram, &format!("{family}_sum"), labels, sum);
        self.push(family, Type::Histogram, &format!("{family}_count"), labels, count as f64);
    }

    /// Families in name order; within one, label sets in order (keeping a histogram's samples together).
    fn finish(self) -> Vec<Series> {
        let mut out = Vec::new();
        for (_, (_, mut samples)) in self.families {
            samples.sort_by(|a, b| set_key(a).cmp(&set_key(b)));
            out.extend(samples);
        }
        out
    }
}

/// A series' label set without `__name__` and `le`, for ordering.
fn set_key(s: &Series) -> Vec<&Label> {
    s.labels.iter().filter(|l| l.name != "__name__" && l.name != "le").collect()
}

fn label(name: &str, value: &str) -> Label {
    Label { name: name.to_string(), value: value.to_string() }
}

/// `__name__` first, then by name (as remote write and the text format expect).
fn sort_labels(labels: &mut [Label]) {
    labels.sort_by(|a, b| (a.name != "__name__", &a.name).cmp(&(b.name != "__name__", &b.name)));
}

/// A metric name made valid: `[a-zA-Z_:][a-zA-Z0-9_:]*`, other characters as `_`.
fn metric_name(raw: &str) -> String {
    let mut out: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Cumulative counts of `h` at each bound (in the histogram's unit): the values whose bin starts
/// at or below it.
fn cumulative(h: &Histogram<u64>, bounds: impl Iterator<Item = u64>) -> Vec<u64> {
    let bounds: Vec<u64> = bounds.collect();
    let mut counts = vec![0u64; bounds.len()];
    for v in h.iter_recorded() {
        let lo = h.lowest_equivalent(v.value_iterated_to());
        let i = bounds.partition_point(|&b| b < lo);
        if let Some(c) = counts.get_mut(i) {
            *c += v.count_at_value();
        }
    }
    let mut acc = 0;
    for c in &mut counts {
        acc += *c;
        *c = acc;
    }
    counts
}

/// The histogram's sum, from its mean (in the histogram's unit).
fn sum(h: &Histogram<u64>) -> f64 {
    if h.is_empty() { 0.0 } else { h.mean() * h.len() as f64 }
}

/// The family and sample names a user metric gives, the family first.
fn user_names(name: &str, kind: Kind) -> Vec<(String, Type)> {
    let base = format!("stampede_metric_{}", metric_name(name));
    match kind {
        Kind::Counter => vec![(format!("{base}_total"), Type::Counter)],
        Kind::Rate => vec![(format!("{base}_hits_total"), Type::Counter), (format!("{base}_total"), Type::Counter)],
        Kind::Trend => vec![
            (base.clone(), Type::Histogram),
            (format!("{base}_bucket"), Type::Histogram),
            (format!("{base}_sum"), Type::Histogram),
            (format!("{base}_count"), Type::Histogram),
            (format!("{base}_missing_total"), Type::Counter),
        ],
    }
}

/// Refuse user metrics whose names would give the same Prometheus series (or family).
pub fn check_metric_names<'a>(metrics: impl IntoIterator<Item = (&'a str, Kind)>) -> Result<(), PromError> {
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    let mut sorted: Vec<(&str, Kind)> = metrics.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (name, kind) in sorted {
        let names = user_names(name, kind);
        if let Some((series, first)) = names.iter().find_map(|(n, _)| taken.get(n).map(|f| (n, f))) {
            return Err(PromError::NameClash {
                first: first.clone(),
                second: name.to_string(),
                series: series.clone(),
            });
        }
        taken.extend(names.into_iter().map(|(n, _)| (n, name.to_string())));
    }
    Ok(())
}

/// The series of one snapshot, grouped by family in name order (see the module documentation).
pub fn series(snapshot: &Snapshot, labels: &Labels) -> Vec<Series> {
    let mut b = Builder { base: labels, timestamp_ms: snapshot.timestamp_ms, families: BTreeMap::new() };
    let mut checks: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for ((scenario, step), s) in &snapshot.steps {
        let at = [("scenario", scenario.as_str()), ("step", step.as_str())];
        for (status, n) in &s.requests {
            let status = status.to_string();
            let l = [at[0], at[1], ("status", status.as_str())];
            b.push("stampede_requests_total", Type::Counter, "stampede_requests_total", &l, *n as f64);
        }
        for (kind, n) in &s.errors {
            let l = [at[0], at[1], ("kind", kind.as_str())];
            b.push("stampede_errors_total", Type::Counter, "stampede_errors_total", &l, *n as f64);
        }
        let c = checks.entry(step.as_str()).or_default();
        c.0 += s.checks_pass;
        c.1 += s.checks_fail;
        let (counts, count, total_us) = match &s.latency_us {
            Some(h) => (cumulative(h, DURATION_BUCKETS.iter().map(|(_, us)| *us)), h.len(), sum(h)),
            None => (vec![0; DURATION_BUCKETS.len()], 0, 0.0),
        };
        let buckets: Vec<(&str, u64)> = DURATION_BUCKETS.iter().map(|(le, _)| *le).zip(counts).collect();
        b.histogram("stampede_request_duration_seconds", &at, &buckets, count, total_us / 1e6);
    }
    // Steps without checks have no check series.
    for (step, (pass, fail)) in checks.into_iter().filter(|(_, (p, f))| p + f > 0) {
        for (result, n) in [("pass", pass), ("fail", fail)] {
            let l = [("step", step), ("result", result)];
            b.push("stampede_checks_total", Type::Counter, "stampede_checks_total", &l, n as f64);
        }
    }
    for (scenario, s) in &snapshot.scenarios {
        let l = [("scenario", scenario.as_str())];
        b.push("stampede_active_users", Type::Gauge, "stampede_active_users", &l, s.active_users as f64);
        let name = "stampede_dropped_iterations_total";
        b.push(name, Type::Counter, name, &l, s.dropped_iterations as f64);
    }
    b.push("stampede_in_flight", Type::Gauge, "stampede_in_flight", &[], snapshot.in_flight as f64);
    let name = "stampede_generator_cpu_ratio";
    b.push(name, Type::Gauge, name, &[], snapshot.cpu_ratio);
    let name = "stampede_generator_send_lag_seconds";
    b.push(name, Type::Gauge, name, &[], snapshot.send_lag_seconds);
    if let Some((events, refused)) = snapshot.control {
        let name = "stampede_control_events_total";
        b.push(name, Type::Counter, name, &[], events as f64);
        let name = "stampede_control_refused_total";
        b.push(name, Type::Counter, name, &[], refused as f64);
    }

    let mut taken = BTreeSet::new();
    for (name, stats) in &snapshot.metrics {
        let names = user_names(name, stats.kind());
        if names.iter().any(|(n, _)| taken.contains(n)) {
            continue; // a clash: check_metric_names refuses it before a run
        }
        taken.extend(names.iter().map(|(n, _)| n.clone()));
        match stats {
            MetricStats::Counter { count } => {
                let f = &names[0].0;
                b.push(f, Type::Counter, f, &[], *count as f64);
            }
            MetricStats::Rate { hits, total } => {
                let (h, t) = (&names[0].0, &names[1].0);
                b.push(h, Type::Counter, h, &[], *hits as f64);
                b.push(t, Type::Counter, t, &[], *total as f64);
            }
            MetricStats::Trend { hist, missing } => {
                let bounds = TREND_BUCKETS.iter().map(|(_, v)| (v * TREND_SCALE).round() as u64);
                let counts = cumulative(hist, bounds);
                let buckets: Vec<(&str, u64)> = TREND_BUCKETS.iter().map(|(le, _)| *le).zip(counts).collect();
                b.histogram(&names[0].0, &[], &buckets, hist.len(), sum(hist) / TREND_SCALE);
                let m = &names[4].0;
                b.push(m, Type::Counter, m, &[], *missing as f64);
            }
        }
    }
    b.finish()
}

/// The remote-write 1.0 protobuf messages (`prometheus.WriteRequest` and its parts).
pub mod wire {
    /// `prometheus.WriteRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// `prometheus.TimeSeries`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    /// `prometheus.Label`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `prometheus.Sample`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}

/// The `WriteRequest` of `series`, one sample each.
pub fn write_request(series: &[Series]) -> wire::WriteRequest {
    let timeseries = series
        .iter()
        .map(|s| wire::TimeSeries {
            labels: s.labels.iter().map(|l| wire::Label { name: l.name.clone(), value: l.value.clone() }).collect(),
            samples: vec![wire::Sample { value: s.value, timestamp: s.timestamp_ms }],
        })
        .collect();
    wire::WriteRequest { timeseries }
}

/// The body of a remote-write 1.0 POST: the `WriteRequest` in protobuf, snappy block format.
pub fn encode(series: &[Series]) -> Result<Vec<u8>, PromError> {
    let proto = write_request(series).encode_to_vec();
    Ok(snap::raw::Encoder::new().compress_vec(&proto)?)
}

/// The headers of a remote-write 1.0 POST.
pub fn headers() -> [(&'static str, &'static str); 4] {
    [
        ("Content-Encoding", "snappy"),
        ("Content-Type", "application/x-protobuf"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ("User-Agent", concat!("stampede/", env!("CARGO_PKG_VERSION"))),
    ]
}

/// A label value in the text format: `\`, `"` and newline escaped.
fn escape_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample value in the text format (`+Inf`, `-Inf`, `NaN` as Go writes them).
fn format_value(v: f64, out: &mut String) {
    use std::fmt::Write as _;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// The Prometheus text exposition format 0.0.4 of `series`: each family once, after its
/// `# TYPE` line, families in name order, samples within one in the order given; no timestamps
/// (a scrape is stamped by its scraper).
pub fn text(series: &[Series]) -> String {
    let mut families: BTreeMap<&str, (Type, Vec<&Series>)> = BTreeMap::new();
    for s in series {
        families.entry(s.family.as_str()).or_insert_with(|| (s.kind, Vec::new())).1.push(s);
    }
    let mut out = String::new();
    for (family, (kind, samples)) in families {
        out.push_str("# TYPE ");
        out.push_str(family);
        out.push(' ');
        out.push_str(kind.as_str());
        out.push('\n');
        for s in samples {
            out.push_str(s.name());
            let mut first = true;
            for l in s.labels.iter().filter(|l| l.name != "__name__") {
                out.push(if first { '{' } else { ',' });
                first = false;
                out.push_str(&l.name);
                out.push_str("=\"");
                escape_value(&l.value, &mut out);
                out.push('"');
            }
            if !first {
                out.push('}');
            }
            out.push(' ');
            format_value(s.value, &mut out);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values_us: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new(3).unwrap();
        for v in values_us {
            h.record(*v).unwrap();
        }
        h
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot { timestamp_ms: 1_700_000_000_123, in_flight: 7, cpu_ratio: 0.25, ..Snapshot::default() };
        s.send_lag_seconds = 0.002;
        let login = StepSnapshot {
            requests: BTreeMap::from([(200, 3), (503, 1)]),
            errors: BTreeMap::from([("timeout".to_string(), 1)]),
            checks_pass: 3,
            checks_fail: 1,
            // 50 µs, 300 µs, 2 s, 100 s
            latency_us: Some(hist(&[50, 300, 2_000_000, 100_000_000])),
        };
        s.steps.insert(("shop".into(), "login".into()), login);
        let browse = StepSnapshot { checks_pass: 2, ..StepSnapshot::default() };
        s.steps.insert(("admin".into(), "login".into()), browse);
        s.scenarios.insert("shop".into(), ScenarioSnapshot { active_users: 10, dropped_iterations: 4 });
        let mut trend = MetricStats::new(Kind::Trend);
        trend.record(0.5);
        trend.record(3.0);
        trend.record(f64::NAN);
        s.metrics.insert("server_ms".into(), trend);
        s.metrics.insert("cache_hit".into(), MetricStats::Rate { hits: 2, total: 5 });
        s.metrics.insert("created".into(), MetricStats::Counter { count: 9 });
        s
    }

    fn labels() -> Labels {
        Labels { run: "r1".into(), shard: None }
    }

    /// The value of the one series named `name` with exactly these labels (besides `run`).
    fn value(all: &[Series], name: &str, want: &[(&str, &str)]) -> f64 {
        let found: Vec<&Series> = all
            .iter()
            .filter(|s| {
                s.name() == name && s.labels.len() == want.len() + 2 && want.iter().all(|(n, v)| s.label(n) == Some(*v))
            })
            .collect();
        assert_eq!(found.len(), 1, "{name} {want:?}: {found:?}");
        found[0].value
    }

    #[test]
    fn prom_series_names_and_values() {
        let all = series(&snapshot(), &labels());
        let names: BTreeSet<&str> = all.iter().map(|s| s.name()).collect();
        let expected = [
            "stampede_active_users",
            "stampede_checks_total",
            "stampede_dropped_iterations_total",
            "stampede_errors_total",
            "stampede_generator_cpu_ratio",
            "stampede_generator_send_lag_seconds",
            "stampede_in_flight",
            "stampede_metric_cache_hit_hits_total",
            "stampede_metric_cache_hit_total",
            "stampede_metric_created_total",
            "stampede_metric_server_ms_bucket",
            "stampede_metric_server_ms_count",
            "stampede_metric_server_ms_missing_total",
            "stampede_metric_server_ms_sum",
            "stampede_request_duration_seconds_bucket",
            "stampede_request_duration_seconds_count",
            "stampede_request_duration_seconds_sum",
            "stampede_requests_total",
        ];
        assert_eq!(names, BTreeSet::from(expected));
        let at = [("scenario", "shop"), ("step", "login")];
        assert_eq!(value(&all, "stampede_requests_total", &[at[0], at[1], ("status", "200")]), 3.0);
        assert_eq!(value(&all, "stampede_requests_total", &[at[0], at[1], ("status", "503")]), 1.0);
        assert_eq!(value(&all, "stampede_errors_total", &[at[0], at[1], ("kind", "timeout")]), 1.0);
        assert_eq!(value(&all, "stampede_checks_total", &[("step", "login"), ("result", "pass")]), 5.0);
        assert_eq!(value(&all, "stampede_checks_total", &[("step", "login"), ("result", "fail")]), 1.0);
        assert_eq!(value(&all, "stampede_active_users", &[("scenario", "shop")]), 10.0);
        assert_eq!(value(&all, "stampede_dropped_iterations_total", &[("scenario", "shop")]), 4.0);
        assert_eq!(value(&all, "stampede_in_flight", &[]), 7.0);
        assert_eq!(value(&all, "stampede_generator_cpu_ratio", &[]), 0.25);
        assert_eq!(value(&all, "stampede_generator_send_lag_seconds", &[]), 0.002);
        assert_eq!(value(&all, "stampede_metric_cache_hit_hits_total", &[]), 2.0);
        assert_eq!(value(&all, "stampede_metric_cache_hit_total", &[]), 5.0);
        assert_eq!(value(&all, "stampede_metric_created_total", &[]), 9.0);
        assert_eq!(value(&all, "stampede_metric_server_ms_missing_total", &[]), 1.0);
        assert_eq!(value(&all, "stampede_metric_server_ms_count", &[]), 2.0);
        assert!((value(&all, "stampede_metric_server_ms_sum", &[]) - 3.5).abs() < 0.01);
        assert_eq!(value(&all, "stampede_metric_server_ms_bucket", &[("le", "0.25")]), 0.0);
        assert_eq!(value(&all, "stampede_metric_server_ms_bucket", &[("le", "0.5")]), 1.0);
        assert_eq!(value(&all, "stampede_metric_server_ms_bucket", &[("le", "2.5")]), 1.0);
        assert_eq!(value(&all, "stampede_metric_server_ms_bucket", &[("le", "5")]), 2.0);
        assert_eq!(value(&all, "stampede_metric_server_ms_bucket", &[("le", "+Inf")]), 2.0);
    }

    #[test]
    fn prom_duration_buckets_are_cumulative_counts_at_or_below_le() {
        let all = series(&snapshot(), &labels());
        let at = [("scenario", "shop"), ("step", "login")];
        let name = "stampede_request_duration_seconds_bucket";
        let bucket = |le| value(&all, name, &[at[0], at[1], ("le", le)]);
        assert_eq!(bucket("0.0001"), 1.0);
        assert_eq!(bucket("0.00025"), 1.0);
        assert_eq!(bucket("0.0005"), 2.0);
        assert_eq!(bucket("1"), 2.0);
        assert_eq!(bucket("2.5"), 3.0);
        assert_eq!(bucket("60"), 3.0);
        assert_eq!(bucket("+Inf"), 4.0);
        assert_eq!(value(&all, "stampede_request_duration_seconds_count", &at), 4.0);
        let sum = value(&all, "stampede_request_duration_seconds_sum", &at);
        assert!((sum - 102.00035).abs() < 0.2, "{sum}");
        // A value exactly on a bound is counted in it, even where bins are coarse.
        let exact = hist(&[100, 1_000_000, 60_000_000]);
        let counts = cumulative(&exact, DURATION_BUCKETS.iter().map(|(_, us)| *us));
        assert_eq!(counts[0], 1);
        assert_eq!(counts[12], 2);
        assert_eq!(counts[17], 3);
        // Buckets of a step without responses are all there, and zero.
        let admin = [("scenario", "admin"), ("step", "login")];
        let zeros: Vec<&Series> =
            all.iter().filter(|s| s.name() == name && s.label("scenario") == Some("admin")).collect();
        assert_eq!(zeros.len(), DURATION_BUCKETS.len() + 1);
        assert!(zeros.iter().all(|s| s.value == 0.0));
        assert_eq!(value(&all, "stampede_request_duration_seconds_count", &admin), 0.0);
        // Bounds ascend, and each label reads back as its bound in seconds.
        for w in DURATION_BUCKETS.windows(2) {
            assert!(w[0].1 < w[1].1);
        }
        for (le, us) in DURATION_BUCKETS {
            assert_eq!(le.parse::<f64>().unwrap(), us as f64 / 1e6, "{le}");
        }
        for (le, v) in TREND_BUCKETS {
            assert_eq!(le.parse::<f64>().unwrap(), v, "{le}");
        }
    }

    #[test]
    fn prom_labels_sorted_name_first_and_families_grouped() {
        let all = series(&snapshot(), &Labels { run: "r1".into(), shard: Some("2".into()) });
        assert!(all.iter().all(|s| s.label("shard") == Some("2") && s.label("run") == Some("r1")));
        for s in &all {
            assert_eq!(s.labels[0].name, "__name__");
            let rest: Vec<&str> = s.labels[1..].iter().map(|l| l.name.as_str()).collect();
            let mut sorted = rest.clone();
            sorted.sort();
            assert_eq!(rest, sorted);
            assert_eq!(s.timestamp_ms, 1_700_000_000_123);
        }
        // Each family in one run, in name order; a histogram's buckets ascending, then _sum, _count.
        let families: Vec<&str> = all.iter().map(|s| s.family.as_str()).collect();
        let mut runs = families.clone();
        runs.dedup();
        let mut sorted = runs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(runs, sorted);
        let h: Vec<&Series> = all.iter().filter(|s| s.label("scenario") == Some("shop")).collect();
        let h: Vec<&str> =
            h.iter().filter(|s| s.family == "stampede_request_duration_seconds").map(|s| s.name()).collect();
        assert_eq!(h.len(), DURATION_BUCKETS.len() + 3);
        assert!(h[..=DURATION_BUCKETS.len()].iter().all(|n| n.ends_with("_bucket")));
        assert_eq!(
            &h[DURATION_BUCKETS.len() + 1..],
            ["stampede_request_duration_seconds_sum", "stampede_request_duration_seconds_count"]
        );
        // No two series share a label set.
        let sets: BTreeSet<&Vec<Label>> = all.iter().map(|s| &s.labels).collect();
        assert_eq!(sets.len(), all.len());
    }

    #[test]
    fn prom_empty_label_values_left_out_and_names_made_valid() {
        let mut s = Snapshot::default();
        s.steps.insert((String::new(), "GET /".into()), StepSnapshot::default());
        s.metrics.insert("9x-y".into(), MetricStats::Counter { count: 1 });
        let all = series(&s, &labels());
        assert!(all.iter().all(|s| s.label("scenario").is_none()));
        assert!(all.iter().any(|s| s.name() == "stampede_metric__9x_y_total"));
        assert!(
            all.iter()
                .filter(|s| s.family.starts_with("stampede_request_duration"))
                .all(|s| s.label("step") == Some("GET /"))
        );
    }

    #[test]
    fn prom_user_metric_name_clash() {
        let err = check_metric_names([("a", Kind::Rate), ("a_hits", Kind::Counter)]).unwrap_err();
        assert!(matches!(&err, PromError::NameClash { first, second, series }
            if first == "a" && second == "a_hits" && series == "stampede_metric_a_hits_total"));
        assert!(err.to_string().contains("stampede_metric_a_hits_total"), "{err}");
        assert!(check_metric_names([("a", Kind::Counter), ("a_total", Kind::Trend)]).is_err());
        assert!(check_metric_names([("a", Kind::Rate), ("b", Kind::Trend), ("c", Kind::Counter)]).is_ok());
        // series() keeps the first in name order and stays free of duplicates.
        let mut s = Snapshot::default();
        s.metrics.insert("a".into(), MetricStats::Rate { hits: 1, total: 2 });
        s.metrics.insert("a_hits".into(), MetricStats::Counter { count: 5 });
        let all = series(&s, &labels());
        let hits: Vec<f64> =
            all.iter().filter(|s| s.name() == "stampede_metric_a_hits_total").map(|s| s.value).collect();
        assert_eq!(hits, [1.0]);
    }

    #[test]
    fn prom_encode_round_trip() {
        let all = series(&snapshot(), &labels());
        let body = encode(&all).unwrap();
        let proto = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let back = wire::WriteRequest::decode(proto.as_slice()).unwrap();
        assert_eq!(back, write_request(&all));
        assert_eq!(back.timeseries.len(), all.len());
        for (ts, s) in back.timeseries.iter().zip(&all) {
            let labels: Vec<(&str, &str)> = ts.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
            let want: Vec<(&str, &str)> = s.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
            assert_eq!(labels, want);
            assert_eq!(ts.samples.len(), 1);
            assert_eq!(ts.samples[0].value.to_bits(), s.value.to_bits());
            assert_eq!(ts.samples[0].timestamp, 1_700_000_000_123);
        }
    }

    #[test]
    fn prom_encode_golden_bytes() {
        let one = Series {
            family: "a".into(),
            kind: Type::Gauge,
            labels: vec![label("__name__", "a")],
            value: 1.0,
            timestamp_ms: 2,
        };
        #[rustfmt::skip]
        let want: Vec<u8> = [
            &[0x0a, 28][..],                 // WriteRequest.timeseries (1, length-delimited), 28 bytes
            &[0x0a, 13],                     // TimeSeries.labels (1, length-delimited), 13 bytes
            &[0x0a, 8], b"__name__",         // Label.name (1, length-delimited)
            &[0x12, 1], b"a",                // Label.value (2, length-delimited)
            &[0x12, 11],                     // TimeSeries.samples (2, length-delimited), 11 bytes
            &[0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f], // Sample.value (1, 64-bit): 1.0 little-endian
            &[0x10, 2],                      // Sample.timestamp (2, varint): 2
        ]
        .concat();
        let proto = write_request(std::slice::from_ref(&one)).encode_to_vec();
        assert_eq!(proto, want);
        let body = encode(&[one]).unwrap();
        // Snappy block format: the uncompressed length as a varint first.
        assert_eq!(body[0], 30);
        assert_eq!(snap::raw::Decoder::new().decompress_vec(&body).unwrap(), want);
        assert_eq!(encode(&[]).unwrap(), [0]);
    }

    #[test]
    fn prom_headers() {
        let h = headers();
        assert!(h.contains(&("Content-Encoding", "snappy")));
        assert!(h.contains(&("Content-Type", "application/x-protobuf")));
        assert!(h.contains(&("X-Prometheus-Remote-Write-Version", "0.1.0")));
        assert_eq!(h[3], ("User-Agent", concat!("stampede/", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn prom_text_escapes_and_types() {
        let mut s = Snapshot::default();
        let step = StepSnapshot { requests: BTreeMap::from([(200, 1)]), ..StepSnapshot::default() };
        s.steps.insert(("sc".into(), "a\\b\"c\nd".into()), step);
        let all = series(&s, &Labels { run: "r".into(), shard: None });
        let t = text(&all);
        assert!(t.contains("# TYPE stampede_requests_total counter\n"), "{t}");
        assert!(t.contains("# TYPE stampede_request_duration_seconds histogram\n"), "{t}");
        assert!(t.contains("# TYPE stampede_in_flight gauge\n"), "{t}");
        let line = "stampede_requests_total{run=\"r\",scenario=\"sc\",status=\"200\",step=\"a\\\\b\\\"c\\nd\"} 1\n";
        assert!(t.contains(line), "{t}");
        assert!(
            t.contains("stampede_request_duration_seconds_bucket{le=\"+Inf\",run=\"r\",scenario=\"sc\",step="),
            "{t}"
        );
        assert_eq!(t.matches("# TYPE").count(), all.iter().map(|s| &s.family).collect::<BTreeSet<_>>().len());
        let mut v = String::new();
        for (x, w) in [(f64::INFINITY, "+Inf"), (f64::NEG_INFINITY, "-Inf"), (f64::NAN, "NaN"), (0.25, "0.25")] {
            v.clear();
            format_value(x, &mut v);
            assert_eq!(v, w);
        }
    }

    /// A sample as (name, labels without `__name__`, value).
    type Flat = (String, Vec<(String, String)>, f64);

    #[test]
    fn prom_text_round_trip_through_a_parser() {
        use openmetrics_parser::{MetricNumber, PrometheusValue, prometheus::parse_prometheus};
        let mut snap = snapshot();
        let step = StepSnapshot { requests: BTreeMap::from([(201, 2)]), ..StepSnapshot::default() };
        snap.steps.insert(("odd \"one\"".into(), "x\\y\nz, {a=b}".into()), step);
        let all = series(&snap, &Labels { run: "r1".into(), shard: Some("s=1".into()) });
        let parsed = parse_prometheus(&text(&all)).unwrap();

        // (name, labels without __name__, value) as the parser reads them, against ours.
        let mut got: Vec<Flat> = Vec::new();
        for (name, family) in &parsed.families {
            for sample in family.iter_samples() {
                let set = sample.get_labelset().unwrap();
                let mut labels: Vec<(String, String)> = set.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
                labels.sort();
                let num = |n: &MetricNumber| n.as_f64();
                match &sample.value {
                    PrometheusValue::Counter(c) => got.push((name.clone(), labels, num(&c.value))),
                    PrometheusValue::Gauge(g) => got.push((name.clone(), labels, num(g))),
                    PrometheusValue::Histogram(h) => {
                        for b in &h.buckets {
                            let mut with_le = labels.clone();
                            with_le.push(("le".into(), b.upper_bound.to_string()));
                            with_le.sort();
                            got.push((format!("{name}_bucket"), with_le, num(&b.count)));
                        }
                        got.push((format!("{name}_sum"), labels.clone(), h.sum.as_ref().map_or(f64::NAN, num)));
                        got.push((format!("{name}_count"), labels, h.count.map_or(f64::NAN, |c| c as f64)));
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        let mut want: Vec<Flat> = all
            .iter()
            .map(|s| {
                let mut labels: Vec<(String, String)> = s
                    .labels
                    .iter()
                    .filter(|l| l.name != "__name__")
                    .map(|l| {
                        let v =
                            if l.name == "le" { l.value.parse::<f64>().unwrap().to_string() } else { l.value.clone() };
                        (l.name.clone(), v)
                    })
                    .collect();
                labels.sort();
                (s.name().to_string(), labels, s.value)
            })
            .collect();
        let key = |a: &Flat, b: &Flat| (&a.0, &a.1).cmp(&(&b.0, &b.1));
        got.sort_by(key);
        want.sort_by(key);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((&g.0, &g.1), (&w.0, &w.1));
            assert!((g.2 - w.2).abs() <= 1e-9 * w.2.abs().max(1.0), "{g:?} vs {w:?}");
        }
        assert!(got.iter().any(|g| g.1.contains(&("step".into(), "x\\y\nz, {a=b}".into()))));
    }
}
