//! Metrics of your own (`[metrics]`): a rate, counter or trend read from the responses of chosen
//! steps, accumulated per worker without allocating, merged exactly, and summarised for the result.
//!
//! ```toml
//! [metrics]
//! cache_hit = { rate = "header X-Cache == HIT", steps = ["authorize"] }   # share of responses meeting a condition
//! server_ms = { trend = "header Server-Timing dur", steps = ["search"] }  # a number per response, as a histogram
//! created   = { counter = "status == 201" }                               # how many responses met a condition
//! ```
//!
//! - `rate` and `counter` take a condition in the text form of [`crate::rules::check::parse_cond`]
//!   (`status == 201`, `status in 2xx`, `header X-Cache == HIT`, `header ETag`, `body contains ok`,
//!   `json $.ok == true`). A response that does not meet it is not an error, only not counted.
//! - `trend` takes a source: `header NAME` (the header's value as a number), `header NAME dur`
//!   (the `dur` parameter of the first metric that has one in a Server-Timing value such as
//!   `cache;desc=hit, db;dur=53.2`) or `json $.path` (a JSON number). A response without a
//!   value (absent, not a number, negative, NaN or infinite) is counted as `missing`, not as an
//!   error. Values are kept to three decimals (×1000 in an HdrHistogram of 3 significant digits)
//!   up to [`MAX_TREND_VALUE`], larger ones are clamped to it; a trend has no unit of its own.
//! - `steps` names the steps whose responses are observed; without it, every step's.
//! - Names are ASCII letters, digits and `_`, starting with a letter, and none of the names the
//!   threshold parser reads itself (`p`, `avg`, `errors`, `p95`, …: [`crate::rules::threshold::words::is_reserved`])
//!   nor a built-in metric ([`BUILT_IN`]).
//!
//! Only responses are observed (a request without a response has nothing to read).

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

use crate::http::Response;
use crate::rules::ParseError;
use crate::rules::check::{self, ResponseCond};
use crate::rules::extract::{JsonBody, PathSeg};

/// Metric names the run defines itself (a user's metric may not take them).
pub const BUILT_IN: &[&str] = &["iteration_duration", "iterations", "dropped_iterations"];

/// The largest trend value kept; larger ones are recorded as this.
pub const MAX_TREND_VALUE: f64 = 1e12;

/// Trend values are stored ×1000 in their histograms: three decimals kept.
pub const TREND_SCALE: f64 = 1000.0;

/// Significant digits of a trend's histogram (as latency's).
const SIGFIGS: u8 = 3;

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

/// What kind of metric a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Rate,
    Counter,
    Trend,
}

impl Kind {
    /// `rate`, `counter` or `trend`, as written in the file and the result.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rate => "rate",
            Kind::Counter => "counter",
            Kind::Trend => "trend",
        }
    }
}

/// Where a trend's number comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TrendSource {
    /// `header NAME`: the header's (first) value as a number.
    Header(String),
    /// `header NAME dur`: the `dur` of the first Server-Timing metric that has one, over the
    /// header's values in order.
    ServerTiming(String),
    /// `json $.path`: a JSON number.
    Json(Vec<PathSeg>),
    /// Built in: a whole iteration's time in ms, recorded by the engine at each iteration's end
    /// (no response carries it).
    Iteration,
}

/// What a metric measures.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricKind {
    Rate(ResponseCond),
    Counter(ResponseCond),
    Trend(TrendSource),
}

/// A validated metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    /// The condition or source as written, trimmed.
    pub source: String,
    /// The step rows observed, sorted and without repeats; `None`: every step.
    steps: Option<Vec<usize>>,
}

/// Which part of a metric's table an error is about, so the caller can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The metric's name (its key in `[metrics]`).
    Name,
    /// The table as a whole: none, or more than one, of `rate`, `trend`, `counter`.
    Table,
    /// The `rate`, `trend` or `counter` string, at this byte offset into it (as written).
    Source { offset: usize },
    /// The `steps` array as a whole.
    Steps,
    /// The `steps` entry at this index.
    Step(usize),
}

/// A metric that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MetricError {
    pub message: String,
    pub which: Field,
}

fn error<T>(which: Field, message: impl Into<String>) -> Result<T, MetricError> {
    Err(MetricError { message: message.into(), which })
}

/// Why `name` cannot name a metric, if it cannot.
fn bad_name(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!(
            "metric name `{name}`: use ASCII letters, digits and `_`, starting with a letter (e.g. cache_hit)"
        ));
    }
    if crate::rules::threshold::words::is_reserved(name) || BUILT_IN.iter().any(|b| b.eq_ignore_ascii_case(name)) {
        return Some(format!("metric name `{name}` is taken by a built-in metric; choose another"));
    }
    None
}

/// Validate `[metrics].NAME`. `known_steps` gives a step name's row (the index `observe` is
/// called with), or `None` for a name the scenario does not have.
pub fn compile(
    name: &str,
    spec: &MetricSpec,
    known_steps: &dyn Fn(&str) -> Option<usize>,
) -> Result<Metric, MetricError> {
    if name.is_empty() {
        return error(Field::Name, "empty metric name: use letters, digits and `_` (e.g. cache_hit)");
    }
    if let Some(why) = bad_name(name) {
        return error(Field::Name, why);
    }
    let given: Vec<(Kind, &String)> =
        [(Kind::Rate, &spec.rate), (Kind::Trend, &spec.trend), (Kind::Counter, &spec.counter)]
            .into_iter()
            .filter_map(|(k, s)| s.as_ref().map(|s| (k, s)))
            .collect();
    let (kind, src) = match given.as_slice() {
        [one] => *one,
        [] => {
            return error(
                Field::Table,
                format!(
                    "metric `{name}`: give one of rate, trend or counter, as in {{ rate = \"header X-Cache == HIT\" }}"
                ),
            );
        }
        [a, b, ..] => {
            return error(
                Field::Table,
                format!(
                    "metric `{name}`: give one of rate, trend or counter, not both {} and {}",
                    a.0.name(),
                    b.0.name()
                ),
            );
        }
    };
    let located = |e: ParseError| MetricError {
        message: format!("metric `{name}`: {} `{}`: {}", kind.name(), src.trim(), e.message),
        which: Field::Source { offset: e.offset },
    };
    let kind = match kind {
        Kind::Rate => MetricKind::Rate(check::parse_cond(src).map_err(located)?),
        Kind::Counter => MetricKind::Counter(check::parse_cond(src).map_err(located)?),
        Kind::Trend => MetricKind::Trend(parse_trend(src).map_err(located)?),
    };
    let steps = match &spec.steps {
        None => None,
        Some(list) if list.is_empty() => {
            return error(Field::Steps, format!("metric `{name}`: steps is empty; leave it out to observe every step"));
        }
        Some(list) => {
            let mut rows = Vec::with_capacity(list.len());
            for (i, step) in list.iter().enumerate() {
                match known_steps(step) {
                    Some(row) => rows.push(row),
                    None => return error(Field::Step(i), format!("metric `{name}`: unknown step `{step}`")),
                }
            }
            rows.sort_unstable();
            rows.dedup();
            Some(rows)
        }
    };
    Ok(Metric { name: name.to_string(), kind, source: src.trim().to_string(), steps })
}

const TREND_FORMS: &str = "use `header NAME`, `header Server-Timing dur` or `json $.path`";

/// A trend source: `header NAME`, `header NAME dur` or `json $.path`. Offsets are bytes into `src`.
pub fn parse_trend(src: &str) -> Result<TrendSource, ParseError> {
    let err = |offset: usize, message: String| Err(ParseError { offset, message });
    let start = src.len() - src.trim_start().len();
    let text = src.trim_end();
    if start == src.len() {
        return err(start, format!("empty trend source: {TREND_FORMS}"));
    }
    let word_end = text[start..].find(char::is_whitespace).map_or(text.len(), |r| start + r);
    let arg_at = word_end + (text[word_end..].len() - text[word_end..].trim_start().len());
    let arg = &text[arg_at..];
    match text[start..word_end].to_ascii_lowercase().as_str() {
        "header" if arg.is_empty() => err(arg_at, format!("expected a header name after `header`: {TREND_FORMS}")),
        "header" => {
            let name_end = arg.find(char::is_whitespace).unwrap_or(arg.len());
            let name = &arg[..name_end];
            if let Some(colon) = name.find(':') {
                return err(arg_at + colon, format!("bad header name `{name}`: write it without `:`"));
            }
            let rest_at = arg_at + name_end + (arg[name_end..].len() - arg[name_end..].trim_start().len());
            match &text[rest_at..] {
                "" => Ok(TrendSource::Header(name.to_string())),
                w if w.eq_ignore_ascii_case("dur") => Ok(TrendSource::ServerTiming(name.to_string())),
                w => err(
                    rest_at,
                    format!("unexpected `{w}` after the header name: only `dur` may follow (`header {name} dur`)"),
                ),
            }
        }
        "json" if arg.is_empty() => err(arg_at, format!("expected a JSON path after `json`: {TREND_FORMS}")),
        "json" => crate::rules::extract::parse_path(arg).map(TrendSource::Json).or_else(|e| err(arg_at, e)),
        _ => err(start, format!("unknown trend source `{}`: {TREND_FORMS}", &text[start..word_end])),
    }
}

/// `b` as a trend value: a finite, non-negative number, surrounding whitespace allowed.
fn number(b: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(b).ok()?.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// The raw `dur` value (quotes removed) of the first metric that has a `dur` parameter in one
/// Server-Timing value: `metric *( OWS ";" OWS name OWS "=" OWS value )`, metrics separated by
/// commas; a value may be a quoted string (with `\` escapes), in which `,` and `;` do not count.
fn first_dur(v: &[u8]) -> Option<&[u8]> {
    let trim = |b: &'_ [u8]| -> (usize, usize) {
        let s = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
        let e = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(s, |e| e + 1);
        (s, e)
    };
    let (mut quoted, mut escaped) = (false, false);
    let mut piece = 0; // where the current metric name or parameter starts
    let mut is_param = false; // the metric name comes first, then its parameters
    for i in 0..=v.len() {
        let c = v.get(i).copied();
        if quoted {
            match c {
                _ if escaped => escaped = false,
                Some(b'\\') => escaped = true,
                Some(b'"') => quoted = false,
                _ => {}
            }
            if c.is_some() {
                continue;
            }
        }
        match c {
            Some(b'"') => quoted = true,
            Some(b';' | b',') | None => {
                let p = &v[piece..i];
                if is_param && let Some(eq) = p.iter().position(|&b| b == b'=') {
                    let (ns, ne) = trim(&p[..eq]);
                    if p[ns..ne].eq_ignore_ascii_case(b"dur") {
                        let val = &p[eq + 1..];
                        let (vs, ve) = trim(val);
                        let val = &val[vs..ve];
                        return Some(match val {
                            [b'"', inner @ .., b'"'] => inner,
                            _ => val,
                        });
                    }
                }
                is_param = c == Some(b';');
                piece = i + 1;
            }
            _ => {}
        }
    }
    None
}

impl TrendSource {
    /// This response's value, or `None` when it has none (absent, not a number, negative, NaN or
    /// infinite).
    pub fn value(&self, r: &Response<'_>, json: &mut JsonBody<'_>) -> Option<f64> {
        match self {
            TrendSource::Header(name) => {
                let mut got = None;
                check::header_values(r.head, name, |v| {
                    got = Some(v);
                    true
                });
                number(got?)
            }
            TrendSource::ServerTiming(name) => {
                let mut dur = None;
                check::header_values(r.head, name, |v| {
                    dur = first_dur(v);
                    dur.is_some()
                });
                number(dur?)
            }
            TrendSource::Json(path) => {
                let v = crate::rules::extract::lookup(json.get().ok()?, path)?.as_f64()?;
                (v.is_finite() && v >= 0.0).then_some(v)
            }
            TrendSource::Iteration => None,
        }
    }

    /// Whether reading it needs the response's headers.
    pub fn needs_head(&self) -> bool {
        matches!(self, TrendSource::Header(_) | TrendSource::ServerTiming(_))
    }

    /// Whether reading it needs the body.
    pub fn needs_body(&self) -> bool {
        matches!(self, TrendSource::Json(_))
    }
}

/// An empty trend histogram: values ×1000, 3 significant digits, sized as values arrive.
fn trend_histogram() -> Histogram<u64> {
    // Constant, valid bounds: this cannot fail.
    Histogram::new(SIGFIGS).expect("valid histogram bounds")
}

/// What one worker (or a merge) has seen of one metric. Updating it never allocates, except a
/// trend's histogram growing to a larger value than it has held. Equal when they have seen the
/// same (whatever size their histograms grew to).
#[derive(Debug, Clone)]
pub enum MetricStats {
    /// `hits` of `total` responses met the condition.
    Rate { hits: u64, total: u64 },
    /// Responses that met the condition.
    Counter { count: u64 },
    /// The values ×1000 (see [`MetricStats::trend_value`]), and the responses without one.
    Trend { hist: Histogram<u64>, missing: u64 },
}

/// Record one trend value (finite and non-negative, as [`TrendSource::value`] gives).
fn record_into(hist: &mut Histogram<u64>, v: f64) {
    // Cannot fail: the histogram resizes, and the value is within what it can hold.
    let _ = hist.record((v.min(MAX_TREND_VALUE) * TREND_SCALE).round() as u64);
}

/// The values recorded and their counts, in order.
fn recorded(h: &Histogram<u64>) -> impl Iterator<Item = (u64, u64)> + '_ {
    h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value()))
}

impl PartialEq for MetricStats {
    fn eq(&self, other: &MetricStats) -> bool {
        match (self, other) {
            (MetricStats::Trend { hist: a, missing: m }, MetricStats::Trend { hist: b, missing: n }) => {
                m == n && a.len() == b.len() && recorded(a).eq(recorded(b))
            }
            (MetricStats::Rate { hits: a, total: b }, MetricStats::Rate { hits: c, total: d }) => (a, b) == (c, d),
            (MetricStats::Counter { count: a }, MetricStats::Counter { count: b }) => a == b,
            _ => false,
        }
    }
}

impl MetricStats {
    /// Nothing seen yet.
    pub fn new(kind: Kind) -> MetricStats {
        match kind {
            Kind::Rate => MetricStats::Rate { hits: 0, total: 0 },
            Kind::Counter => MetricStats::Counter { count: 0 },
            Kind::Trend => MetricStats::Trend { hist: trend_histogram(), missing: 0 },
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            MetricStats::Rate { .. } => Kind::Rate,
            MetricStats::Counter { .. } => Kind::Counter,
            MetricStats::Trend { .. } => Kind::Trend,
        }
    }

    /// A value as stored in a trend's histogram, back in the trend's unit.
    pub fn trend_value(stored: u64) -> f64 {
        stored as f64 / TREND_SCALE
    }

    /// Record one value of a trend (e.g. a built-in one such as an iteration's duration): kept to
    /// three decimals (clamped at [`MAX_TREND_VALUE`]) when finite and non-negative, else counted
    /// as missing. Nothing happens to a rate or a counter.
    /// One number for a timeline row: a rate's percent, a counter's count, a trend's p95 (in its
    /// own unit; 0 when nothing was recorded).
    pub fn headline(&self) -> f64 {
        match self {
            MetricStats::Rate { hits, total } => {
                if *total == 0 {
                    0.0
                } else {
                    (100_000.0 * *hits as f64 / *total as f64).round() / 1000.0
                }
            }
            MetricStats::Counter { count } => *count as f64,
            MetricStats::Trend { hist, .. } if hist.is_empty() => 0.0,
            MetricStats::Trend { hist, .. } => Self::trend_value(hist.value_at_quantile(0.95)),
        }
    }

    pub fn record(&mut self, v: f64) {
        if let MetricStats::Trend { hist, missing } = self {
            if v.is_finite() && v >= 0.0 {
                record_into(hist, v);
            } else {
                *missing += 1;
            }
        }
    }

    /// Add `other` into `self`, exactly: counts summed, histograms added. `Err` when they are
    /// not of the same kind (nothing is changed).
    pub fn merge(&mut self, other: &MetricStats) -> Result<(), String> {
        match (self, other) {
            (MetricStats::Rate { hits, total }, MetricStats::Rate { hits: h, total: t }) => {
                *hits += h;
                *total += t;
            }
            (MetricStats::Counter { count }, MetricStats::Counter { count: c }) => *count += c,
            (MetricStats::Trend { hist, missing }, MetricStats::Trend { hist: h, missing: m }) => {
                hist.add(h).map_err(|e| format!("trend histograms do not add: {e:?}"))?;
                *missing += m;
            }
            (me, _) => return Err(format!("cannot merge a {} into a {}", other.kind().name(), me.kind().name())),
        }
        Ok(())
    }

    /// Back to nothing seen, keeping a trend's histogram's memory (for per-second snapshots).
    pub fn clear(&mut self) {
        match self {
            MetricStats::Rate { hits, total } => (*hits, *total) = (0, 0),
            MetricStats::Counter { count } => *count = 0,
            MetricStats::Trend { hist, missing } => {
                hist.reset();
                *missing = 0;
            }
        }
    }
}

/// The built-in `iteration_duration` trend (k6's name): a whole journey's time in ms, of every
/// user type (`name` = `iteration_duration`) or of one (`iteration_duration:TYPE`).
pub fn iteration_duration(name: String) -> Metric {
    Metric {
        name,
        kind: MetricKind::Trend(TrendSource::Iteration),
        source: "iteration time (ms)".into(),
        steps: Some(Vec::new()),
    }
}

impl Metric {
    pub fn kind(&self) -> Kind {
        match self.kind {
            MetricKind::Rate(_) => Kind::Rate,
            MetricKind::Counter(_) => Kind::Counter,
            MetricKind::Trend(_) => Kind::Trend,
        }
    }

    /// The step rows observed (sorted, without repeats); `None`: every step.
    pub fn steps(&self) -> Option<&[usize]> {
        self.steps.as_deref()
    }

    /// Whether responses of the step at `row` are observed.
    pub fn applies_to(&self, row: usize) -> bool {
        self.steps.as_ref().is_none_or(|s| s.binary_search(&row).is_ok())
    }

    /// Empty stats of this metric's kind.
    pub fn new_stats(&self) -> MetricStats {
        MetricStats::new(self.kind())
    }

    /// Whether observing needs the response's headers captured.
    pub fn needs_head(&self) -> bool {
        match &self.kind {
            MetricKind::Rate(c) | MetricKind::Counter(c) => c.needs_head(),
            MetricKind::Trend(t) => t.needs_head(),
        }
    }

    /// Whether observing needs the response's body captured.
    pub fn needs_body(&self) -> bool {
        match &self.kind {
            MetricKind::Rate(c) | MetricKind::Counter(c) => c.needs_body(),
            MetricKind::Trend(t) => t.needs_body(),
        }
    }

    /// Observe one response of the step at `step_row` (ignored when the metric does not apply to
    /// it) into `stats` (made by [`Metric::new_stats`]). Reads the JSON body through `json`
    /// (built from the same `r`), so checks, extraction and metrics share one parse. Does not
    /// allocate (but for that parse).
    pub fn observe(&self, step_row: usize, r: &Response<'_>, json: &mut JsonBody<'_>, stats: &mut MetricStats) {
        if !self.applies_to(step_row) {
            return;
        }
        match (&self.kind, stats) {
            (MetricKind::Rate(c), MetricStats::Rate { hits, total }) => {
                *total += 1;
                *hits += u64::from(c.is_met(r, json));
            }
            (MetricKind::Counter(c), MetricStats::Counter { count }) => *count += u64::from(c.is_met(r, json)),
            (MetricKind::Trend(src), MetricStats::Trend { hist, missing }) => match src.value(r, json) {
                Some(v) => record_into(hist, v),
                None => *missing += 1,
            },
            (_, stats) => debug_assert!(false, "metric `{}` observed into {:?} stats", self.name, stats.kind()),
        }
    }
}

/// A trend in the result document: its own unit, three decimals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendSummary {
    /// Values recorded.
    pub count: u64,
    /// Responses observed without a value.
    pub missing: u64,
    pub min: f64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    /// The values ×1000 as a base64 HdrHistogram V2, for exact merges.
    pub histogram: String,
}

/// A metric in the result document: `{"kind": "rate", "rate": 97.5, "hits": 975, "total": 1000}`,
/// `{"kind": "counter", "count": 12}`, `{"kind": "trend", "count": …, "p95": …, "histogram": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MetricSummary {
    /// `rate`: percent of `total` (0 when nothing was observed), three decimals.
    Rate {
        rate: f64,
        hits: u64,
        total: u64,
    },
    Counter {
        count: u64,
    },
    Trend(TrendSummary),
}

fn round3(v: f64) -> f64 {
    crate::units::round3(v)
}

/// Base64 of the V2 encoding of `h`, sized to what it holds, so that equal contents encode the same.
fn encode(h: &Histogram<u64>) -> String {
    let mut sized = trend_histogram();
    let _ = sized.add(h); // cannot fail: it resizes to fit
    let mut buf = Vec::new();
    if V2Serializer::new().serialize(&sized, &mut buf).is_err() {
        buf.clear(); // cannot happen for a u64 histogram written into memory
    }
    base64::engine::general_purpose::STANDARD.encode(buf)
}

fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("trend histogram is not base64: {e}"))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("trend histogram does not decode: {e:?}"))?;
    // Into a resizing histogram, so that later merges of larger values fit.
    let mut out = trend_histogram();
    out.add(&h).map_err(|e| format!("trend histogram does not add: {e:?}"))?;
    Ok(out)
}

impl MetricSummary {
    /// The summary of `s`.
    pub fn of(s: &MetricStats) -> MetricSummary {
        match s {
            &MetricStats::Rate { hits, total } => {
                let rate = if total == 0 { 0.0 } else { round3(100.0 * hits as f64 / total as f64) };
                MetricSummary::Rate { rate, hits, total }
            }
            &MetricStats::Counter { count } => MetricSummary::Counter { count },
            MetricStats::Trend { hist: h, missing } => {
                let v = |stored: u64| round3(MetricStats::trend_value(stored));
                let mut t = TrendSummary { missing: *missing, histogram: encode(h), ..TrendSummary::default() };
                if !h.is_empty() {
                    let q = |p| v(h.value_at_quantile(p));
                    t.count = h.len();
                    t.min = v(h.min());
                    t.mean = round3(h.mean() / TREND_SCALE);
                    t.stdev = round3(h.stdev() / TREND_SCALE);
                    (t.p50, t.p75, t.p90, t.p95, t.p99, t.p999) = (q(0.5), q(0.75), q(0.9), q(0.95), q(0.99), q(0.999));
                    t.max = v(h.max());
                }
                MetricSummary::Trend(t)
            }
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            MetricSummary::Rate { .. } => Kind::Rate,
            MetricSummary::Counter { .. } => Kind::Counter,
            MetricSummary::Trend(_) => Kind::Trend,
        }
    }

    /// The stats it summarises, exactly (a trend's histogram decoded), e.g. to measure thresholds
    /// on a saved or merged result. `Err` when the histogram does not decode.
    pub fn to_stats(&self) -> Result<MetricStats, String> {
        Ok(match self {
            &MetricSummary::Rate { hits, total, .. } => MetricStats::Rate { hits, total },
            &MetricSummary::Counter { count } => MetricStats::Counter { count },
            MetricSummary::Trend(t) => MetricStats::Trend { hist: decode(&t.histogram)?, missing: t.missing },
        })
    }

    /// Add `other` into `self` exactly: rates by hits and total, counters summed, trends by their
    /// histograms. `Err` (and `self` unchanged) when the kinds differ or a histogram does not decode.
    pub fn merge(&mut self, other: &MetricSummary) -> Result<(), String> {
        let mut s = self.to_stats()?;
        s.merge(&other.to_stats()?)?;
        *self = MetricSummary::of(&s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nX-Cache: HIT\r\nX-Time: 12.5\r\n\
        Server-Timing: cache;desc=\"hit, fast\", db;dur=53.2;desc=db, app;dur=47\r\n\r\n";

    fn resp<'a>(status: u16, head: &'a [u8], body: &'a [u8]) -> Response<'a> {
        Response { status, head, body, body_truncated: false }
    }

    fn steps(name: &str) -> Option<usize> {
        ["login", "authorize", "search"].iter().position(|s| *s == name)
    }

    fn spec(toml_src: &str) -> Result<MetricSpec, String> {
        #[derive(Deserialize)]
        struct File {
            metrics: std::collections::BTreeMap<String, MetricSpec>,
        }
        let f: File = toml::from_str(toml_src).map_err(|e| e.to_string())?;
        f.metrics.into_values().next().ok_or_else(|| "no metric".to_string())
    }

    fn metric(name: &str, toml_table: &str) -> Result<Metric, MetricError> {
        let s = spec(&format!("[metrics]\n{name:?} = {toml_table}")).unwrap();
        compile(name, &s, &steps)
    }

    fn ok(name: &str, toml_table: &str) -> Metric {
        metric(name, toml_table).unwrap_or_else(|e| panic!("{name} = {toml_table}: {e} ({:?})", e.which))
    }

    fn observe_all(m: &Metric, row: usize, rs: &[Response<'_>]) -> MetricStats {
        let mut s = m.new_stats();
        for r in rs {
            m.observe(row, r, &mut JsonBody::new(r), &mut s);
        }
        s
    }

    #[test]
    fn specs_compile() {
        let m = ok("cache_hit", r#"{ rate = "header X-Cache == HIT", steps = ["authorize"] }"#);
        assert_eq!(m.kind, MetricKind::Rate(check::parse_cond("header X-Cache == HIT").unwrap()));
        assert_eq!(
            (m.kind(), m.steps(), m.source.as_str()),
            (Kind::Rate, Some(&[1usize][..]), "header X-Cache == HIT")
        );
        assert!(m.applies_to(1) && !m.applies_to(0) && !m.applies_to(99));
        assert!(m.needs_head() && !m.needs_body());

        let m = ok("server_ms", r#"{ trend = "header Server-Timing dur", steps = ["search", "login", "search"] }"#);
        assert_eq!(m.kind, MetricKind::Trend(TrendSource::ServerTiming("Server-Timing".into())));
        assert_eq!(m.steps(), Some(&[0usize, 2][..]), "sorted, without repeats");

        let m = ok("created", r#"{ counter = " status == 201 " }"#);
        assert_eq!((m.kind(), m.steps(), m.source.as_str()), (Kind::Counter, None, "status == 201"));
        assert!((0..10).all(|row| m.applies_to(row)));
        assert!(!m.needs_head() && !m.needs_body());

        let m = ok("n_items", r#"{ trend = "json $.items[0].n" }"#);
        assert!(m.needs_body() && !m.needs_head());
        assert!(ok("X9_", r#"{ rate = "body contains ok" }"#).needs_body());
        assert_eq!(
            ok("t", r#"{ trend = "HEADER X-Time" }"#).kind,
            MetricKind::Trend(TrendSource::Header("X-Time".into()))
        );
        assert_eq!(ok("t", r#"{ trend = "header X-Time DUR" }"#).kind(), Kind::Trend);
    }

    #[test]
    fn spec_errors_say_which_field() {
        let cases: &[(&str, &str, Field, &str)] = &[
            ("", r#"{ rate = "status == 200" }"#, Field::Name, "empty metric name"),
            ("cache-hit", r#"{ rate = "status == 200" }"#, Field::Name, "metric name `cache-hit`: use ASCII letters"),
            ("9lives", r#"{ rate = "status == 200" }"#, Field::Name, "starting with a letter"),
            ("_x", r#"{ rate = "status == 200" }"#, Field::Name, "starting with a letter"),
            ("été", r#"{ rate = "status == 200" }"#, Field::Name, "use ASCII letters"),
            ("errors", r#"{ rate = "status == 200" }"#, Field::Name, "taken by a built-in metric"),
            ("Errors", r#"{ rate = "status == 200" }"#, Field::Name, "taken by a built-in metric"),
            ("p95", r#"{ rate = "status == 200" }"#, Field::Name, "taken by a built-in metric"),
            ("avg", r#"{ trend = "header X" }"#, Field::Name, "taken by a built-in metric"),
            ("iteration_duration", r#"{ trend = "header X" }"#, Field::Name, "taken by a built-in metric"),
            ("m", r#"{ steps = ["login"] }"#, Field::Table, "metric `m`: give one of rate, trend or counter, as in"),
            (
                "m",
                r#"{ rate = "status == 200", counter = "status == 201" }"#,
                Field::Table,
                "not both rate and counter",
            ),
            ("m", r#"{ rate = "status = 200" }"#, Field::Source { offset: 7 }, "metric `m`: rate `status = 200`: `=`"),
            ("m", r#"{ counter = "  header" }"#, Field::Source { offset: 8 }, "expected a header name"),
            ("m", r#"{ trend = "header" }"#, Field::Source { offset: 6 }, "expected a header name after `header`"),
            ("m", r#"{ trend = "header X-T: dur" }"#, Field::Source { offset: 10 }, "bad header name `X-T:`"),
            ("m", r#"{ trend = "header X-T  dura" }"#, Field::Source { offset: 12 }, "unexpected `dura`"),
            ("m", r#"{ trend = "header X-T dur x" }"#, Field::Source { offset: 11 }, "unexpected `dur x`"),
            ("m", r#"{ trend = "json" }"#, Field::Source { offset: 4 }, "expected a JSON path after `json`"),
            ("m", r#"{ trend = " json  $.a[" }"#, Field::Source { offset: 7 }, "bad JSON path `$.a[`"),
            ("m", r#"{ trend = "status" }"#, Field::Source { offset: 0 }, "unknown trend source `status`"),
            ("m", r#"{ trend = "  " }"#, Field::Source { offset: 2 }, "empty trend source"),
            ("m", r#"{ rate = "status == 200", steps = [] }"#, Field::Steps, "steps is empty"),
            ("m", r#"{ rate = "status == 200", steps = ["login", "nope"] }"#, Field::Step(1), "unknown step `nope`"),
        ];
        for &(name, table, which, msg) in cases {
            let e = metric(name, table).expect_err(table);
            assert!(e.message.contains(msg), "{name} = {table}: {:?} lacks {msg:?}", e.message);
            assert_eq!(e.which, which, "{name} = {table}: {}", e.message);
        }
        assert!(
            spec("[metrics]\nm = { rate = \"status == 200\", step = [\"a\"] }").unwrap_err().contains("unknown field")
        );
        assert!(spec("[metrics]\nm = { rate = 200 }").is_err());
    }

    #[test]
    fn server_timing_takes_the_first_dur() {
        let dur = |v: &str| first_dur(v.as_bytes()).and_then(number);
        assert_eq!(dur("db;dur=53.2"), Some(53.2));
        assert_eq!(dur("db;dur=53"), Some(53.0));
        assert_eq!(dur("cache;desc=hit, db;dur=53.2, app;dur=47"), Some(53.2), "the first metric with a dur");
        assert_eq!(dur("db;desc=\"a, b; dur=1\";dur=2"), Some(2.0), "`,` `;` and `=` in quotes do not count");
        assert_eq!(dur(r#"db;desc="say \"hi\", dur=1";dur=3"#), Some(3.0), "escaped quotes stay inside");
        assert_eq!(dur("  db ;  dur = 12.5 ; desc=x"), Some(12.5), "whitespace around everything");
        assert_eq!(dur("db;DUR=4"), Some(4.0), "parameter names are case-insensitive");
        assert_eq!(dur("db;dur=\"7.25\""), Some(7.25), "a quoted value");
        assert_eq!(dur("db;dur=1;dur=2"), Some(1.0), "the first dur of a metric");
        assert_eq!(dur("dur;desc=x, b;dur=9"), Some(9.0), "a metric called dur is not a parameter");
        assert_eq!(dur("db,app;dur=0"), Some(0.0));
        assert_eq!(dur("\tdb\t;\tdur=1e2"), Some(100.0));
        assert_eq!(dur("db;dur"), None, "a parameter without a value");
        assert_eq!(dur("db;dur=abc, app;dur=5"), None, "the first dur decides, even when it is not a number");
        assert_eq!(dur("db;dur=-3"), None);
        assert_eq!(dur("db;dur=NaN"), None);
        assert_eq!(dur("db;dur=inf"), None);
        assert_eq!(dur("db;dur="), None);
        assert_eq!(dur("db;desc=\"unterminated, dur=5"), None);
        assert_eq!(dur("db;desc=\"x\\"), None, "an escape at the end");
        assert_eq!(dur(""), None);
        assert_eq!(dur("cache, miss"), None);
        assert_eq!(dur(";;;,,,=;=,\"\""), None);
    }

    #[test]
    fn trend_sources_read_a_response() {
        let r = resp(200, HEAD, br#"{"n": 7.25, "s": "7", "neg": -1, "big": 1e300, "items": [{"n": 3}]}"#);
        let value = |src: &str| parse_trend(src).unwrap().value(&r, &mut JsonBody::new(&r));
        assert_eq!(value("header X-Time"), Some(12.5));
        assert_eq!(value("header x-time"), Some(12.5));
        assert_eq!(value("header X-Cache"), None, "not a number");
        assert_eq!(value("header X-Nope"), None);
        assert_eq!(value("header Server-Timing dur"), Some(53.2));
        assert_eq!(value("header X-Time dur"), None, "no dur parameter");
        assert_eq!(value("json $.n"), Some(7.25));
        assert_eq!(value("json $.items[0].n"), Some(3.0));
        assert_eq!(value("json $.s"), None, "a string is not a number");
        assert_eq!(value("json $.neg"), None);
        assert_eq!(value("json $.big"), Some(1e300), "clamped when recorded, not here");
        assert_eq!(value("json $.nope"), None);
        let html = resp(200, HEAD, b"<html>");
        assert_eq!(parse_trend("json $.n").unwrap().value(&html, &mut JsonBody::new(&html)), None);

        let two = b"HTTP/1.1 200 OK\r\nServer-Timing: cache;desc=miss\r\nServer-Timing: db;dur=8\r\n\r\n";
        let r2 = resp(200, two, b"");
        let st = parse_trend("header Server-Timing dur").unwrap();
        assert_eq!(st.value(&r2, &mut JsonBody::new(&r2)), Some(8.0), "over every value of the header, in order");
    }

    #[test]
    fn rate_and_counter_count_responses_meeting_the_condition() {
        let hit = b"HTTP/1.1 200 OK\r\nX-Cache: HIT\r\n\r\n";
        let miss = b"HTTP/1.1 200 OK\r\nX-Cache: MISS\r\n\r\n";
        let none = b"HTTP/1.1 201 Created\r\n\r\n";
        let rs = [resp(200, hit, b""), resp(200, miss, b""), resp(200, hit, b""), resp(201, none, b"")];
        let rate = ok("cache_hit", r#"{ rate = "header X-Cache == HIT", steps = ["authorize"] }"#);
        assert_eq!(observe_all(&rate, 1, &rs), MetricStats::Rate { hits: 2, total: 4 });
        assert_eq!(observe_all(&rate, 0, &rs), MetricStats::Rate { hits: 0, total: 0 }, "another step: not observed");
        let created = ok("created", r#"{ counter = "status == 201" }"#);
        assert_eq!(observe_all(&created, 0, &rs), MetricStats::Counter { count: 1 });
        assert_eq!(observe_all(&created, 7, &rs), MetricStats::Counter { count: 1 });

        let body = ok("active", r#"{ rate = "json $.status == \"active\"" }"#);
        let a = resp(200, hit, br#"{"status":"active"}"#);
        let b = resp(200, hit, br#"{"status":"closed"}"#);
        let c = resp(200, hit, b"not json");
        let mut s = body.new_stats();
        let mut shared = JsonBody::new(&a);
        body.observe(0, &a, &mut shared, &mut s);
        body.observe(0, &a, &mut shared, &mut s);
        assert_eq!(shared.parses(), 1, "the response's one parse is shared");
        for r in [b, c] {
            body.observe(0, &r, &mut JsonBody::new(&r), &mut s);
        }
        assert_eq!(s, MetricStats::Rate { hits: 2, total: 4 });
    }

    #[test]
    fn trends_record_three_decimals_and_count_missing() {
        let m = ok("server_ms", r#"{ trend = "header Server-Timing dur" }"#);
        let heads: Vec<Vec<u8>> = ["1.5", "0", "0.0004", "2.0006", "abc", "-1", "1e13"]
            .iter()
            .map(|v| format!("HTTP/1.1 200 OK\r\nServer-Timing: app;dur={v}\r\n\r\n").into_bytes())
            .chain([b"HTTP/1.1 200 OK\r\n\r\n".to_vec()])
            .collect();
        let rs: Vec<Response<'_>> = heads.iter().map(|h| resp(200, h, b"")).collect();
        let s = observe_all(&m, 0, &rs);
        let MetricStats::Trend { hist, missing } = &s else { panic!("{s:?}") };
        assert_eq!((hist.len(), *missing), (5, 3), "abc, -1 and no header are missing");
        let stored: Vec<u64> = hist.iter_recorded().map(|v| v.value_iterated_to()).collect();
        assert_eq!(&stored[..3], [0, 1500, 2001], "×1000, rounded; 0.0004 rounds to 0");
        assert_eq!(hist.count_at(0), 2);
        assert!(hist.equivalent(hist.max(), (MAX_TREND_VALUE * TREND_SCALE) as u64), "1e13 is clamped");
        let MetricSummary::Trend(t) = MetricSummary::of(&s) else { panic!() };
        assert_eq!((t.count, t.missing, t.min, t.p50), (5, 3, 0.0, 1.5));
        assert!((t.max - MAX_TREND_VALUE).abs() / MAX_TREND_VALUE < 1e-3, "{}", t.max);

        let big = observe_all(&m, 0, &rs[..1]);
        let MetricSummary::Trend(t) = MetricSummary::of(&big) else { panic!() };
        assert_eq!((t.count, t.min, t.mean, t.p99, t.max, t.stdev), (1, 1.5, 1.5, 1.5, 1.5, 0.0));
    }

    fn trend_of(values: impl Iterator<Item = f64>) -> MetricStats {
        let mut s = MetricStats::new(Kind::Trend);
        values.for_each(|v| s.record(v));
        s
    }

    #[test]
    fn recording_a_trend_value_by_hand() {
        let mut s = trend_of([2.5, -1.0, f64::NAN, f64::INFINITY, 0.0].into_iter());
        let MetricStats::Trend { hist, missing } = &s else { panic!() };
        assert_eq!((hist.len(), *missing), (2, 3));
        assert!(hist.equivalent(hist.max(), 2500) && hist.min() == 0);
        let mut r = MetricStats::new(Kind::Rate);
        r.record(1.0);
        assert_eq!(r, MetricStats::new(Kind::Rate), "not a trend: nothing");
        s.clear();
        assert_eq!(s, MetricStats::new(Kind::Trend));
    }

    #[test]
    fn merges_are_exact() {
        let mut a = MetricStats::Rate { hits: 3, total: 4 };
        a.merge(&MetricStats::Rate { hits: 1, total: 6 }).unwrap();
        assert_eq!(a, MetricStats::Rate { hits: 4, total: 10 });
        let mut c = MetricStats::Counter { count: 5 };
        c.merge(&MetricStats::Counter { count: 7 }).unwrap();
        assert_eq!(c, MetricStats::Counter { count: 12 });
        assert_eq!(c.merge(&a).unwrap_err(), "cannot merge a rate into a counter");
        assert_eq!(c, MetricStats::Counter { count: 12 }, "unchanged");

        let whole = trend_of((1..=2000).map(|i| i as f64 * 0.37));
        let mut lo = trend_of((1..=1000).map(|i| i as f64 * 0.37));
        let hi = trend_of((1001..=2000).map(|i| i as f64 * 0.37));
        if let MetricStats::Trend { missing, .. } = &mut lo {
            *missing = 2;
        }
        lo.merge(&hi).unwrap();
        let MetricStats::Trend { hist, missing } = &lo else { panic!() };
        let MetricStats::Trend { hist: want, .. } = &whole else { panic!() };
        assert_eq!((hist, *missing), (want, 2));
        assert!(lo.merge(&MetricStats::Counter { count: 1 }).is_err());

        lo.clear();
        assert_eq!(lo, MetricStats::new(Kind::Trend));
        let mut r = MetricStats::Rate { hits: 1, total: 2 };
        r.clear();
        assert_eq!(r, MetricStats::new(Kind::Rate));
    }

    #[test]
    fn summaries_serialize_with_their_kind_and_merge_exactly() {
        let rate = MetricSummary::of(&MetricStats::Rate { hits: 975, total: 1000 });
        assert_eq!(serde_json::to_string(&rate).unwrap(), r#"{"kind":"rate","rate":97.5,"hits":975,"total":1000}"#);
        assert_eq!(
            MetricSummary::of(&MetricStats::Rate { hits: 0, total: 0 }),
            MetricSummary::Rate { rate: 0.0, hits: 0, total: 0 }
        );
        assert_eq!(
            MetricSummary::of(&MetricStats::Rate { hits: 1, total: 3 }),
            MetricSummary::Rate { rate: 33.333, hits: 1, total: 3 }
        );
        let counter = MetricSummary::of(&MetricStats::Counter { count: 12 });
        assert_eq!(serde_json::to_string(&counter).unwrap(), r#"{"kind":"counter","count":12}"#);

        let trend = MetricSummary::of(&trend_of((1..=1000).map(f64::from)));
        let json = serde_json::to_value(&trend).unwrap();
        assert_eq!(json["kind"], "trend");
        assert_eq!((json["count"].as_u64(), json["missing"].as_u64()), (Some(1000), Some(0)));
        let near = |field: &str, want: f64| {
            let got = json[field].as_f64().unwrap();
            assert!((got - want).abs() <= want * 0.001 + 0.001, "{field}: {got}, expected ~{want}");
        };
        near("p50", 500.0);
        near("p95", 950.0);
        near("p99", 990.0);
        near("max", 1000.0);
        near("min", 1.0);
        near("mean", 500.5);
        for s in [&rate, &counter, &trend] {
            let back: MetricSummary = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
            assert_eq!(&back, s);
            assert_eq!(MetricSummary::of(&back.to_stats().unwrap()), *s, "summary → stats → summary");
        }

        let mut r = rate.clone();
        r.merge(&MetricSummary::of(&MetricStats::Rate { hits: 25, total: 1000 })).unwrap();
        assert_eq!(r, MetricSummary::Rate { rate: 50.0, hits: 1000, total: 2000 }, "by hits and total, not by rates");
        let mut c = counter.clone();
        c.merge(&counter).unwrap();
        assert_eq!(c, MetricSummary::Counter { count: 24 });
        assert_eq!(c.merge(&rate).unwrap_err(), "cannot merge a rate into a counter");
        assert_eq!(c, MetricSummary::Counter { count: 24 });

        let mut halves = MetricSummary::of(&trend_of((1..=500).map(|i| i as f64 * 2.5)));
        halves.merge(&MetricSummary::of(&trend_of((501..=1000).map(|i| i as f64 * 2.5)))).unwrap();
        assert_eq!(halves, MetricSummary::of(&trend_of((1..=1000).map(|i| i as f64 * 2.5))));
        let mut big = MetricSummary::of(&trend_of([0.5].into_iter()));
        big.merge(&MetricSummary::of(&trend_of([1e9].into_iter()))).unwrap();
        let MetricSummary::Trend(t) = &big else { panic!() };
        assert_eq!((t.count, t.min), (2, 0.5), "a decoded histogram still grows");

        let mut broken = MetricSummary::Trend(TrendSummary { histogram: "not base64!".into(), ..Default::default() });
        assert!(broken.merge(&trend).unwrap_err().contains("not base64"));
        let garbage = base64::engine::general_purpose::STANDARD.encode(b"garbage bytes");
        let broken = MetricSummary::Trend(TrendSummary { histogram: garbage, ..Default::default() });
        assert!(broken.to_stats().unwrap_err().contains("does not decode"));
    }

    /// Every text parser and the Server-Timing reader on many odd inputs: errors, never a panic,
    /// and error offsets on character boundaries.
    #[test]
    fn parsers_never_panic() {
        const PIECES: &[&str] = &[
            "status", "header", "body", "contains", "json", "in", "dur", "$", ".", "[", "]", "'", "\"", "\\", "=",
            "==", "!=", ",", ";", "..", "2xx", "200", "-", "1e9", " ", "\t", "é", "µ", "p(", ")", "(", "%", "ms", "x",
            "_",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 8) as usize;
            for k in 0..len {
                text.push_str(PIECES[((seed >> (k * 6 + 3)) % PIECES.len() as u64) as usize]);
            }
            if let Err(e) = check::parse_cond(&text) {
                assert!(text.is_char_boundary(e.offset), "{text:?}: {e:?}");
            }
            if let Err(e) = parse_trend(&text) {
                assert!(text.is_char_boundary(e.offset), "{text:?}: {e:?}");
            }
            if let Err(e) = crate::rules::threshold::parse(&text) {
                assert!(e.offset <= text.chars().count(), "{text:?}: {e:?}");
            }
            let _ = crate::rules::threshold::parse_checked(&text, &[("x", Kind::Rate)]);
            let _ = first_dur(text.as_bytes()).and_then(number);
        }
    }
}
