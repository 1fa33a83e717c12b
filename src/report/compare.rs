//! Comparing a result with a baseline (`stampede compare`): throughput, p50/p95/p99 and error
//! rate, in total, per step and per scenario; metrics of the user's own; and which changes are
//! regressions.

use std::fmt::Write;

use super::RunResult;
use super::result::Summary;
use crate::report::metric::{MetricSummary, TrendSummary};
use crate::rules::threshold::Op;
use crate::units::{group, micros};

/// A latency change of this much or less (µs) is never a regression, whatever its percentage:
/// sub-millisecond moves are scheduling noise (0.2 ms → 0.3 ms is +50% and means nothing).
pub const LATENCY_FLOOR_US: u64 = 1000;

/// An error-rate rise of this much or less (percentage points) is never a regression: a rate
/// of 0.01% doubling to 0.02% is two errors in ten thousand, not a trend.
pub const ERROR_FLOOR_POINTS: f64 = 1.0;

/// A trend's p95 change of this much or less (in the trend's own unit) is never a regression:
/// 1 ms for a duration such as `iteration_duration`, the latency floor again.
pub const TREND_FLOOR: f64 = 1.0;

/// How `compare` judges: the bounds, the fewest requests a row needs, and the confidence at
/// which a percentile's change must be beyond what sampling explains.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Largest change for the worse allowed (fraction): throughput, p50, error rate, metrics.
    pub bound: f64,
    /// The same for p95 and p99 (`--p95`, `--p99`; default `bound`).
    pub p95: f64,
    pub p99: f64,
    /// Rows with fewer requests (or samples) than this on either side are too few to judge.
    pub min_requests: u64,
    /// Confidence of the percentiles' intervals (0.95 for `--confidence 95%`).
    pub confidence: f64,
}

impl Rules {
    /// `bound` for every measure, at least 100 requests, 95% intervals.
    pub fn new(bound: f64) -> Rules {
        let bound = bound.max(0.0);
        Rules { bound, p95: bound, p99: bound, min_requests: 100, confidence: 0.95 }
    }
}

/// The confidences `--confidence` takes, with their two-sided normal quantile z.
pub const CONFIDENCES: [(f64, f64); 6] =
    [(0.80, 1.2816), (0.90, 1.6449), (0.95, 1.9600), (0.98, 2.3263), (0.99, 2.5758), (0.999, 3.2905)];

/// z for a confidence of [`CONFIDENCES`]; `None` for another.
pub fn z_of(confidence: f64) -> Option<f64> {
    CONFIDENCES.iter().find(|(c, _)| (c - confidence).abs() < 1e-9).map(|(_, z)| *z)
}

/// The interval (µs) in which quantile `q` of the population lies at confidence `z`, by order
/// statistics: ranks `n·q ∓ z·√(n·q·(1−q))` of the `n` samples in `h` (normal approximation of
/// the binomial), read from the histogram (the low end at its bucket's lowest value, the high end
/// at its highest). A rank below the first sample leaves the interval open below (0), one past
/// the last open above ([`u64::MAX`]): too few samples to bound it (a p99 of 100 samples).
pub fn quantile_interval(h: &hdrhistogram::Histogram<u64>, q: f64, z: f64) -> Option<(u64, u64)> {
    let n = h.len() as f64;
    if n == 0.0 {
        return None;
    }
    let half = z * (n * q * (1.0 - q)).sqrt();
    let (lo, hi) = ((n * q - half).floor(), (n * q + half).ceil());
    let lo = if lo < 1.0 { 0 } else { h.lowest_equivalent(h.value_at_quantile(lo / n)) };
    let hi = if hi > n { u64::MAX } else { h.highest_equivalent(h.value_at_quantile(hi / n)) };
    Some((lo, hi))
}

/// The comparison of `current` with `baseline`.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// One line per regression beyond the bound, each starting with what it is on: `total`,
    /// "step `name`", "scenario `name`" or "metric `name`".
    pub regressions: Vec<String>,
    /// The readable table.
    pub table: String,
}

/// Compare in total, per step, per scenario and per metric; a change worse than the bound of
/// `rules` (a fraction, 0.1 = 10%) is a regression.
///
/// The rule, for the whole run, each step and each scenario both results have (matched by name),
/// unless either side has fewer than `rules.min_requests` requests (then it is "too few to
/// judge", never a regression):
/// - throughput (req/s) lower than the baseline's by more than the bound of it;
/// - p50, p95 or p99 higher than the baseline's by more than its bound (`rules.p95`, `rules.p99`)
///   **and** by more than [`LATENCY_FLOOR_US`] (1 ms), so noise in sub-millisecond latencies is
///   not a regression while a run 10 ms slower than a 5 ms baseline is, **and** beyond what
///   sampling explains: the current's interval for the percentile (see [`quantile_interval`], at
///   `rules.confidence`) lies wholly above the baseline's;
/// - the error rate (errors / requests) higher by more than `max_regression` of the baseline's
///   rate **and** by more than [`ERROR_FLOOR_POINTS`] (1 percentage point).
///
/// A scenario's throughput is over its own window. Latency and error rate are not judged where
/// either side completed no request. Steps and scenarios only one side has are listed, not judged.
/// Steps are compared when either run has several (a run of one step has the same numbers as its
/// total), and scenarios likewise. Runs at different loads are compared all the same, with a note
/// under the table: their throughputs say little.
///
/// Metrics of the user's own that both results have, matched by name and kind: a rate by its
/// percent (the change in percentage points), a counter by its count (relative), a trend by its
/// p95 (relative). Which way is worse comes from a threshold on the metric in either document
/// (`<`: higher is worse, `>`: lower is; the current's first); a trend without one is taken as a
/// duration (higher is worse); a rate or counter without one is shown, not judged. A regression:
/// - a counter's count worse than the baseline's by more than `max_regression` of it;
/// - a trend's p95 worse than the baseline's by more than `max_regression` of it **and** by more
///   than [`TREND_FLOOR`] (not judged when it recorded nothing on either side);
/// - a rate's share on its worse side (the rate itself when higher is worse, 100% − the rate when
///   lower is) higher by more than `max_regression` of the baseline's and by more than
///   [`ERROR_FLOOR_POINTS`]: the error rate's rule (not judged when either side observed nothing).
pub fn compare<'a>(baseline: &'a RunResult, current: &'a RunResult, rules: &Rules) -> Comparison {
    let bound = rules.bound;
    let mut c = Comparison::default();
    let t = &mut c.table;
    let _ = writeln!(t, "baseline  {}", describe(baseline));
    let _ = writeln!(t, "current   {}", describe(current));
    let _ = writeln!(
        t,
        "a regression: throughput lower by more than {pct}, p50/p95/p99 higher by more than {pct}/{}/{} and {} and beyond what sampling explains ({}% intervals apart), error rate higher by more than {pct} and {ERROR_FLOOR_POINTS} point; fewer than {} requests on either side: too few to judge",
        percent(rules.p95),
        percent(rules.p99),
        floor_ms(),
        crate::units::round3(rules.confidence * 100.0),
        group(rules.min_requests),
        pct = percent(bound),
    );
    let has_metrics = baseline.metrics.keys().any(|k| current.metrics.contains_key(k));
    if has_metrics {
        let _ = writeln!(
            t,
            "metrics: a counter's count worse by more than {pct}, a trend's p95 by more than {pct} and {TREND_FLOOR} (in its unit), a rate's worse share higher by more than {pct} and {ERROR_FLOOR_POINTS} point (which way is worse: from their thresholds; a trend without one: higher)",
            pct = percent(bound),
        );
    }
    let mut rows = Vec::new();
    let total = |r: &'a RunResult| Side { summary: &r.totals.summary, histogram: &r.histogram };
    scope(&mut rows, "total", total(baseline), total(current), rules);
    let mut unmatched = Vec::new();
    let step =
        |s: &'a super::result::StepResult| (s.name.as_str(), Side { summary: &s.summary, histogram: &s.histogram });
    by_name(&mut rows, &mut unmatched, "step", (&baseline.steps, &current.steps), step, rules);
    let (bs, cs) = (&baseline.scenarios, &current.scenarios);
    let scenario = |s: &'a super::result::ScenarioResult| {
        (s.name.as_str(), Side { summary: &s.totals.summary, histogram: &s.histogram })
    };
    by_name(&mut rows, &mut unmatched, "scenario", (bs, cs), scenario, rules);
    let not_judged = metrics(&mut rows, &mut unmatched, baseline, current, rules);
    table(t, &rows);
    for line in unmatched {
        let _ = writeln!(t, "\n{line}");
    }
    if !not_judged.is_empty() {
        let _ = writeln!(
            t,
            "\nmetrics not judged (no threshold on them says which way is worse): {}",
            not_judged.join(", ")
        );
    }
    service(t, baseline, current);
    let (lb, lc) = (load(baseline), load(current));
    if lb != lc {
        let _ =
            writeln!(t, "\nnote: the runs had different loads (baseline {lb}, current {lc}): throughputs say little");
    }
    for (which, r) in [("baseline", baseline), ("current result", current)] {
        if r.interrupted || r.aborted_by.is_some() {
            let _ = writeln!(t, "\nnote: the {which} is of a run stopped early");
        }
        // Changes by hand (`--control`) explain jumps its numbers alone would not.
        if !r.control.is_empty() {
            let changes: Vec<String> = r.control.iter().map(ToString::to_string).collect();
            let _ = writeln!(t, "\nnote: the {which} was steered by hand: {}", changes.join("; "));
        }
    }
    c.regressions = rows.into_iter().filter_map(|r| r.regression).collect();
    c
}

/// The watched series both results have (by name; a merged result's first shard): avg and max,
/// shown with their change, not judged (which way is worse depends on the series).
fn service(t: &mut String, baseline: &RunResult, current: &RunResult) {
    let series = |r: &RunResult| {
        r.monitor.as_ref().map(|m| {
            if m.series.is_empty() {
                m.shards.first().map(|s| s.series.clone()).unwrap_or_default()
            } else {
                m.series.clone()
            }
        })
    };
    let (Some(b), Some(c)) = (series(baseline), series(current)) else { return };
    let both: Vec<(&String, &crate::monitor::SeriesSummary, &crate::monitor::SeriesSummary)> =
        b.iter().filter_map(|(n, bs)| c.get(n).map(|cs| (n, bs, cs))).collect();
    if both.is_empty() {
        return;
    }
    let _ = writeln!(t, "\nservice (watched series; shown, not judged)");
    let _ = writeln!(
        t,
        "  {:<24} {:>14} {:>14} {:>9}   {:>14} {:>14} {:>9}",
        "", "avg before", "avg now", "", "max before", "max now", ""
    );
    for (name, bs, cs) in both {
        let num = |v: f64| crate::units::round3(v).to_string();
        let _ = writeln!(
            t,
            "  {:<24} {:>14} {:>14} {:>9}   {:>14} {:>14} {:>9}",
            name,
            num(bs.avg),
            num(cs.avg),
            change(cs.avg, bs.avg),
            num(bs.max),
            num(cs.max),
            change(cs.max, bs.max)
        );
    }
}

/// Rows for the steps (or scenarios) both sides have, matched by name, when either has several
/// (one on each side, of the same name, repeats the total); lines listing those only one side has.
fn by_name<'a, T>(
    rows: &mut Vec<Row>,
    unmatched: &mut Vec<String>,
    what: &str,
    (base, cur): (&'a [T], &'a [T]),
    part: impl Fn(&'a T) -> (&'a str, Side<'a>),
    rules: &Rules,
) {
    if base.len() == 1 && cur.len() == 1 && part(&base[0]).0 == part(&cur[0]).0 {
        return;
    }
    let mut only_base = Vec::new();
    for b in base {
        let (name, bs) = part(b);
        match cur.iter().map(&part).find(|(n, _)| *n == name) {
            Some((_, cs)) => scope(rows, &format!("{what} `{name}`"), bs, cs, rules),
            None => only_base.push(format!("`{name}`")),
        }
    }
    let only_cur: Vec<String> = cur
        .iter()
        .map(&part)
        .filter(|(name, _)| !base.iter().any(|b| part(b).0 == *name))
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    if !only_base.is_empty() {
        unmatched.push(format!("{what}s only in the baseline (not judged): {}", only_base.join(", ")));
    }
    if !only_cur.is_empty() {
        unmatched.push(format!("{what}s only in the current result (not judged): {}", only_cur.join(", ")));
    }
}

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Worse {
    Higher,
    Lower,
    /// Nothing says: shown, not judged.
    Unknown,
}

/// Which way metric `name` gets worse: from the first threshold on it with `<` or `>` (the
/// current's, then the baseline's); else higher for a trend, unknown for a rate or a counter.
fn direction(name: &str, trend: bool, baseline: &RunResult, current: &RunResult) -> Worse {
    let ops = current.thresholds.iter().chain(&baseline.thresholds).filter_map(|th| {
        let t = crate::rules::threshold::parse(&th.expr).ok()?;
        (t.metric_name() == Some(name)).then_some(t.op)
    });
    for op in ops {
        match op {
            Op::Lt | Op::Le => return Worse::Higher,
            Op::Gt | Op::Ge => return Worse::Lower,
            Op::Eq | Op::Ne => {}
        }
    }
    if trend { Worse::Higher } else { Worse::Unknown }
}

/// Rows for the metrics both sides have (in the baseline's order); lines listing those only one
/// side has or of different kinds. Returns the metrics compared but not judged.
fn metrics(
    rows: &mut Vec<Row>,
    unmatched: &mut Vec<String>,
    baseline: &RunResult,
    current: &RunResult,
    rules: &Rules,
) -> Vec<String> {
    let bound = rules.bound;
    let mut not_judged = Vec::new();
    let mut too_few = Vec::new();
    let mut other_kind = Vec::new();
    for (name, b) in &baseline.metrics {
        let Some(c) = current.metrics.get(name) else { continue };
        let mut worse = direction(name, matches!(b, MetricSummary::Trend(_)), baseline, current);
        let samples = |m: &MetricSummary| match m {
            MetricSummary::Rate { total, .. } => Some(*total),
            MetricSummary::Trend(t) => Some(t.count),
            MetricSummary::Counter { .. } => None,
        };
        if samples(b).zip(samples(c)).is_some_and(|(b, c)| b.min(c) < rules.min_requests) {
            too_few.push(format!("`{name}`"));
            worse = Worse::Unknown;
        }
        let scope = format!("metric `{name}`");
        let first = rows.len();
        match (b, c) {
            (MetricSummary::Rate { rate: be, total: bt, .. }, MetricSummary::Rate { rate: ce, total: ct, .. }) => {
                rows.push(rate_row(&scope, (*be, *bt), (*ce, *ct), worse, bound))
            }
            (MetricSummary::Counter { count: bc }, MetricSummary::Counter { count: cc }) => {
                let (b, c) = (Some(*bc as f64), Some(*cc as f64));
                rows.push(relative_row(&scope, "count", b, c, worse, (bound, 0.0), counted))
            }
            (MetricSummary::Trend(bt), MetricSummary::Trend(ct)) => {
                let p95 = |t: &TrendSummary| (t.count > 0).then_some(t.p95);
                rows.push(relative_row(&scope, "p95", p95(bt), p95(ct), worse, (bound, TREND_FLOOR), trend_value))
            }
            _ => {
                other_kind.push(format!("`{name}` ({} → {})", b.kind().name(), c.kind().name()));
                continue;
            }
        }
        rows[first].scope = Some(scope);
        if worse == Worse::Unknown && !too_few.contains(&format!("`{name}`")) {
            not_judged.push(format!("`{name}`"));
        }
    }
    let only = |a: &RunResult, b: &RunResult| -> Vec<String> {
        a.metrics.keys().filter(|k| !b.metrics.contains_key(*k)).map(|k| format!("`{k}`")).collect()
    };
    for (names, which) in [(only(baseline, current), "baseline"), (only(current, baseline), "current result")] {
        if !names.is_empty() {
            unmatched.push(format!("metrics only in the {which} (not judged): {}", names.join(", ")));
        }
    }
    if !other_kind.is_empty() {
        unmatched.push(format!("metrics of another kind (not compared): {}", other_kind.join(", ")));
    }
    if !too_few.is_empty() {
        unmatched.push(format!(
            "metrics with too few samples to judge (fewer than --min-requests {} on a side): {}",
            group(rules.min_requests),
            too_few.join(", ")
        ));
    }
    not_judged
}

/// A rate metric's row: percent on each side, the change in points; judged by the share on its
/// worse side, as the error rate is.
fn rate_row(name: &str, (be, bt): (f64, u64), (ce, ct): (f64, u64), worse: Worse, bound: f64) -> Row {
    let observed = bt > 0 && ct > 0;
    let d = ce - be;
    let (bad_b, bad_c) = match worse {
        Worse::Lower => (100.0 - be, 100.0 - ce),
        _ => (be, ce),
    };
    let judged = observed && worse != Worse::Unknown;
    let regression = judged && bad_c > bad_b * (1.0 + bound) && bad_c - bad_b > ERROR_FLOOR_POINTS;
    let points = |v: f64| format!("{v:.2}pt");
    let shown = |pct: f64, total: u64| if total > 0 { format!("{pct:.2}%") } else { "-".into() };
    Row {
        scope: None,
        measure: "rate",
        base: shown(be, bt),
        cur: shown(ce, ct),
        delta: if observed { signed(d, points) } else { String::new() },
        pct: String::new(),
        arrow: if observed { arrow(d) } else { "" },
        interval: String::new(),
        regression: regression.then(|| {
            let what = if worse == Worse::Lower { ": its misses" } else { "," };
            format!(
                "{name}: rate {be:.2}% → {ce:.2}% ({}){what} higher by more than {} and {ERROR_FLOOR_POINTS} point",
                signed(d, points),
                percent(bound),
            )
        }),
    }
}

/// A counter's count or a trend's p95 (`None`: nothing recorded): judged by its relative change
/// beyond `bound`, when it also moved by more than `floor`.
fn relative_row(
    name: &str,
    measure: &'static str,
    b: Option<f64>,
    c: Option<f64>,
    worse: Worse,
    (bound, floor): (f64, f64),
    f: fn(f64) -> String,
) -> Row {
    let both = b.zip(c);
    let regression = both.is_some_and(|(b, c)| match worse {
        Worse::Higher => c > b * (1.0 + bound) && c - b > floor,
        Worse::Lower => c < b * (1.0 - bound) && b - c > floor,
        Worse::Unknown => false,
    });
    Row {
        scope: None,
        measure,
        base: b.map_or_else(|| "-".into(), f),
        cur: c.map_or_else(|| "-".into(), f),
        delta: both.map_or_else(String::new, |(b, c)| signed(c - b, f)),
        pct: both.map_or_else(String::new, |(b, c)| change(c, b)),
        arrow: both.map_or("", |(b, c)| arrow(c - b)),
        interval: String::new(),
        regression: both.filter(|_| regression).map(|(b, c)| {
            let floor = if floor > 0.0 { format!(" and {floor}") } else { String::new() };
            format!(
                "{name}: {measure} {} → {} ({}, {}), {} by more than {}{floor}",
                f(b),
                f(c),
                signed(c - b, f),
                change(c, b),
                if worse == Worse::Lower { "lower" } else { "higher" },
                percent(bound)
            )
        }),
    }
}

/// A count, grouped: `1,234`.
fn counted(v: f64) -> String {
    group(v.abs().round() as u64)
}

/// A trend's value in its own unit, to three decimals at most.
fn trend_value(v: f64) -> String {
    let s = format!("{:.3}", v.abs());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// ▲ higher, ▼ lower, = unchanged.
fn arrow(d: f64) -> &'static str {
    if d > 0.0 {
        "▲"
    } else if d < 0.0 {
        "▼"
    } else {
        "="
    }
}

/// One compared measure.
struct Row {
    /// `total`, "step `name`", "scenario `name`" or "metric `name`", on the first row of its group
    /// only.
    scope: Option<String>,
    measure: &'static str,
    base: String,
    cur: String,
    delta: String,
    pct: String,
    /// ▲ higher, ▼ lower, = unchanged, blank when not judged.
    arrow: &'static str,
    /// A percentile's intervals (baseline → current) at the confidence asked for.
    interval: String,
    regression: Option<String>,
}

/// One side of a scope: its summary and its latency histogram (base64, as in the document).
#[derive(Clone, Copy)]
struct Side<'a> {
    summary: &'a Summary,
    histogram: &'a str,
}

/// Rows for one scope (the total, a step or a scenario): none judged when either side has fewer
/// than `rules.min_requests` requests.
fn scope(rows: &mut Vec<Row>, name: &str, bs: Side<'_>, cs: Side<'_>, rules: &Rules) {
    let (b, c) = (bs.summary, cs.summary);
    let bound = rules.bound;
    let first = rows.len();
    let enough = b.requests >= rules.min_requests && c.requests >= rules.min_requests;
    // Throughput.
    let (br, cr) = (b.rps, c.rps);
    let worse = enough && br > 0.0 && cr < br * (1.0 - bound);
    rows.push(Row {
        scope: None,
        measure: "req/s",
        base: rate(br),
        cur: rate(cr),
        delta: signed(cr - br, rate),
        pct: change(cr, br),
        arrow: arrow(cr - br),
        interval: String::new(),
        regression: worse.then(|| {
            format!(
                "{name}: throughput {} → {} req/s ({}), lower by more than {}",
                rate(br),
                rate(cr),
                change(cr, br),
                percent(bound)
            )
        }),
    });
    percentile_rows(rows, name, (bs, cs), enough, rules);
    // Error rate.
    let judged = b.requests > 0 && c.requests > 0;
    let er = |s: &Summary| 100.0 * s.errors as f64 / s.requests.max(1) as f64;
    let (be, ce) = (er(b), er(c));
    let d = ce - be;
    let worse = enough && ce > be * (1.0 + bound) && d > ERROR_FLOOR_POINTS;
    let points = |v: f64| format!("{v:.2}pt");
    rows.push(Row {
        scope: None,
        measure: "errors",
        base: if b.requests > 0 { format!("{be:.2}%") } else { "-".into() },
        cur: if c.requests > 0 { format!("{ce:.2}%") } else { "-".into() },
        delta: if judged { signed(d, points) } else { String::new() },
        pct: String::new(),
        arrow: if judged { arrow(d) } else { "" },
        interval: String::new(),
        regression: worse.then(|| {
            format!(
                "{name}: error rate {be:.2}% → {ce:.2}% ({}), higher by more than {} and {ERROR_FLOOR_POINTS} point",
                signed(d, points),
                percent(bound)
            )
        }),
    });
    rows[first].scope = Some(if enough {
        name.to_string()
    } else {
        format!(
            "{name}  too few to judge ({} → {} requests; fewer than --min-requests {})",
            group(b.requests),
            group(c.requests),
            group(rules.min_requests)
        )
    });
}

/// The p50, p95 and p99 rows of a scope, each with the intervals sampling allows (when both
/// sides' histograms decode): a regression only beyond its bound, the latency floor and the
/// baseline's interval.
fn percentile_rows(rows: &mut Vec<Row>, name: &str, (bs, cs): (Side<'_>, Side<'_>), enough: bool, rules: &Rules) {
    let (b, c) = (bs.summary, cs.summary);
    let judged = b.latency_us.is_some() && c.latency_us.is_some();
    let q = |s: &Summary, f: fn(&super::result::Latency) -> u64| s.latency_us.as_ref().map_or(0, f);
    let z = z_of(rules.confidence).unwrap_or(1.96);
    let hists =
        super::result::decode_histogram(bs.histogram).ok().zip(super::result::decode_histogram(cs.histogram).ok());
    for (measure, q, bound, bv, cv) in [
        ("p50", 0.50, rules.bound, q(b, |l| l.p50), q(c, |l| l.p50)),
        ("p95", 0.95, rules.p95, q(b, |l| l.p95), q(c, |l| l.p95)),
        ("p99", 0.99, rules.p99, q(b, |l| l.p99), q(c, |l| l.p99)),
    ] {
        let intervals = hists
            .as_ref()
            .filter(|_| judged)
            .and_then(|(bh, ch)| quantile_interval(bh, q, z).zip(quantile_interval(ch, q, z)));
        // Beyond sampling: the current's interval wholly above the baseline's (no histograms: as
        // before, by the bound and the floor alone).
        let beyond_sampling = intervals.is_none_or(|((_, b_hi), (c_lo, _))| c_lo > b_hi);
        let d = cv as f64 - bv as f64;
        let worse =
            enough && judged && cv as f64 > bv as f64 * (1.0 + bound) && d > LATENCY_FLOOR_US as f64 && beyond_sampling;
        let end = |v: u64| if v == u64::MAX { "∞".to_string() } else { micros(v as f64) };
        let span = |(lo, hi): (u64, u64)| format!("{}–{}", end(lo), end(hi));
        let interval = intervals.map_or_else(String::new, |(bi, ci)| format!("{} → {}", span(bi), span(ci)));
        rows.push(Row {
            scope: None,
            measure,
            base: if b.latency_us.is_some() { micros(bv as f64) } else { "-".into() },
            cur: if c.latency_us.is_some() { micros(cv as f64) } else { "-".into() },
            delta: if judged { signed(d, micros) } else { String::new() },
            pct: if judged { change(cv as f64, bv as f64) } else { String::new() },
            arrow: if judged { arrow(d) } else { "" },
            regression: worse.then(|| {
                format!(
                    "{name}: {measure} {} → {} ({}, {}), higher by more than {} and {}, beyond what sampling explains ({}% intervals {interval})",
                    micros(bv as f64),
                    micros(cv as f64),
                    signed(d, micros),
                    change(cv as f64, bv as f64),
                    percent(bound),
                    floor_ms(),
                    crate::units::round3(rules.confidence * 100.0),
                )
            }),
            interval,
        });
    }
}

/// The rows, aligned under a header; each scope's name on a line of its own.
fn table(t: &mut String, rows: &[Row]) {
    let w = |f: fn(&Row) -> &str, min: usize| rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0).max(min);
    let (wb, wc, wd, wp) = (w(|r| &r.base, 8), w(|r| &r.cur, 7), w(|r| &r.delta, 6), w(|r| &r.pct, 0));
    let wi = w(|r| &r.interval, 0);
    let header = format!("  {:<8}  {:>wb$}  {:>wc$}  {:>wd$}", "", "baseline", "current", "change");
    let _ = writeln!(t, "\n{}", header.trim_end());
    for r in rows {
        if let Some(s) = &r.scope {
            let _ = writeln!(t, "{s}");
        }
        let flag = if r.regression.is_some() { "  REGRESSION" } else { "" };
        let interval = if wi > 0 { format!("  {:<wi$}", r.interval) } else { String::new() };
        let line = format!(
            "  {:<8}  {:>wb$}  {:>wc$}  {:>wd$}  {:>wp$}  {:<1}{interval}{flag}",
            r.measure, r.base, r.cur, r.delta, r.pct, r.arrow
        );
        let _ = writeln!(t, "{}", line.trim_end());
    }
}

/// `name (started_at, 10.0s, 1,234 requests, closed model, 10 users)`.
fn describe(r: &RunResult) -> String {
    format!(
        "{} ({}, {:.1}s, {} requests, {}{})",
        r.name,
        r.started_at,
        r.duration_s,
        group(r.totals.summary.requests),
        load(r),
        if r.interrupted { ", interrupted" } else { "" }
    )
}

/// The latency floor for headings: `1 ms`.
fn floor_ms() -> String {
    format!("{} ms", LATENCY_FLOOR_US as f64 / 1000.0)
}

/// `closed model, 10 users` / `open model, 100 req/s over 20 connections`.
fn load(r: &RunResult) -> String {
    let who = match (r.command == "bench", r.load.users == 1) {
        (true, true) => "connection",
        (true, false) => "connections",
        (false, true) => "user",
        (false, false) => "users",
    };
    match r.load.rate {
        Some(rate) if r.load.model == "open" => {
            format!("open model, {} req/s, {} {who}", self::rate(rate), r.load.users)
        }
        _ => format!("{} model, {} {who}", r.load.model, r.load.users),
    }
}

fn rate(v: f64) -> String {
    if v.abs() >= 1000.0 { group(v.abs().round() as u64) } else { format!("{:.1}", v.abs()) }
}

/// `+x` / `-x` with `f` formatting the magnitude.
fn signed(d: f64, f: fn(f64) -> String) -> String {
    format!("{}{}", if d < 0.0 { "-" } else { "+" }, f(d.abs()))
}

/// The change from `base` to `cur` in percent of `base` (`n/a` from 0).
fn change(cur: f64, base: f64) -> String {
    if base == 0.0 {
        if cur == 0.0 { "+0.0%".into() } else { "n/a".into() }
    } else {
        format!("{:+.1}%", 100.0 * (cur - base) / base)
    }
}

/// 0.1 → `10%`, 0.025 → `2.5%`.
fn percent(frac: f64) -> String {
    let p = (frac * 1000.0).round() / 10.0;
    if p.fract() == 0.0 { format!("{p:.0}%") } else { format!("{p}%") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::result::ThresholdResult;
    use crate::report::sample::sample;

    /// A run of one step `s` with `n` requests at `ms` each, over 10 s.
    fn run(ms: u64, n: usize) -> RunResult {
        sample(&[("s", &vec![ms * 1000; n])], 10)
    }

    fn verdict(b: &RunResult, c: &RunResult) -> Vec<String> {
        compare(b, c, &Rules::new(0.10)).regressions
    }

    #[test]
    fn ten_ms_slower_is_a_regression_and_faster_is_not() {
        let (base, slow) = (run(5, 1000), run(15, 1000));
        let r = verdict(&base, &slow);
        assert_eq!(r.len(), 3, "p50, p95, p99: {r:?}");
        assert!(r[0].starts_with("total: p50 5.00ms → 15.0ms (+10.0ms, +200.0%)"), "{r:?}");
        assert!(verdict(&slow, &base).is_empty(), "faster is not a regression");
        assert!(verdict(&base, &base).is_empty());
        let c = compare(&base, &slow, &Rules::new(0.1));
        assert!(c.table.contains("REGRESSION") && c.table.contains("▲"), "{}", c.table);
        assert!(!compare(&base, &base, &Rules::new(0.1)).table.contains("REGRESSION"));
    }

    #[test]
    fn sub_millisecond_changes_are_not_regressions() {
        // +50% on 0.2 ms, +0.9 ms on 0.5 ms: beyond the fraction, within the floor.
        // (1,000 samples: enough for a p99's interval to be bounded.)
        let us = |v: u64| sample(&[("s", &vec![v; 1000])], 10);
        assert!(verdict(&us(200), &us(300)).is_empty());
        assert!(verdict(&us(500), &us(1400)).is_empty());
        assert_eq!(verdict(&us(500), &us(1600)).len(), 3);
        // Beyond the floor, within the fraction: 100 ms → 105 ms.
        assert!(verdict(&run(100, 1000), &run(105, 1000)).is_empty());
        assert_eq!(compare(&run(100, 1000), &run(105, 1000), &Rules::new(0.04)).regressions.len(), 3);
    }

    #[test]
    fn lower_throughput_beyond_the_bound_is_a_regression() {
        let (base, fewer) = (run(5, 1000), run(5, 880));
        let r = verdict(&base, &fewer);
        assert_eq!(r, ["total: throughput 100.0 → 88.0 req/s (-12.0%), lower by more than 10%"]);
        assert!(verdict(&fewer, &base).is_empty());
        assert!(verdict(&base, &run(5, 910)).is_empty());
    }

    #[test]
    fn error_rate_rule() {
        let with_errors = |errors: u64| {
            let mut r = run(5, 1000);
            r.totals.summary.errors = errors;
            r
        };
        // 0% → 0.5%: under a point. 0% → 1.5%: a regression. 20% → 21.5%: within 10% of 20%.
        assert!(verdict(&with_errors(0), &with_errors(5)).is_empty());
        assert_eq!(
            verdict(&with_errors(0), &with_errors(15)),
            ["total: error rate 0.00% → 1.50% (+1.50pt), higher by more than 10% and 1 point"]
        );
        assert!(verdict(&with_errors(200), &with_errors(215)).is_empty());
        assert_eq!(verdict(&with_errors(200), &with_errors(250)).len(), 1);
        assert!(verdict(&with_errors(15), &with_errors(0)).is_empty());
    }

    #[test]
    fn steps_match_by_name_and_unmatched_steps_are_listed() {
        let fast = vec![5000u64; 100];
        let slow = vec![25_000u64; 100];
        let base = sample(&[("login", &fast), ("search", &fast), ("old", &fast)], 10);
        let cur = sample(&[("search", &slow), ("login", &fast), ("new", &fast)], 10);
        let c = compare(&base, &cur, &Rules::new(0.1));
        assert!(c.regressions.iter().any(|r| r.starts_with("step `search`: p50")), "{:?}", c.regressions);
        assert!(!c.regressions.iter().any(|r| r.contains("login") || r.contains("old") || r.contains("new")));
        assert!(c.table.contains("steps only in the baseline (not judged): `old`"), "{}", c.table);
        assert!(c.table.contains("steps only in the current result (not judged): `new`"), "{}", c.table);
    }

    #[test]
    fn one_step_runs_are_judged_once() {
        let c = compare(&run(5, 1000), &run(50, 1000), &Rules::new(0.1));
        assert_eq!(c.regressions.len(), 3, "{:?}", c.regressions);
        assert!(!c.table.contains("step `s`"), "{}", c.table);
    }

    #[test]
    fn the_table_is_aligned() {
        let c = compare(&run(5, 1000), &run(15, 1200), &Rules::new(0.1));
        let rows: Vec<&str> =
            c.table.lines().filter(|l| ["  req/s", "  p", "  errors"].iter().any(|p| l.starts_with(p))).collect();
        assert_eq!(rows.len(), 5, "{}", c.table);
        // The direction markers (after every value column) line up.
        let at: Vec<Option<usize>> = rows.iter().map(|l| l.chars().position(|c| "▲▼=".contains(c))).collect();
        assert!(at[0].is_some() && at.iter().all(|&p| p == at[0]), "{at:?}\n{}", c.table);
        assert!(c.table.contains("\ntotal\n"), "{}", c.table);
    }

    #[test]
    fn different_loads_get_a_note() {
        let mut cur = run(5, 100);
        cur.load.users = 20;
        let c = compare(&run(5, 100), &cur, &Rules::new(0.1));
        assert!(
            c.table.contains(
                "note: the runs had different loads (baseline closed model, 2 users, current closed model, 20 users)"
            ),
            "{}",
            c.table
        );
    }

    fn scenario(name: &str, ms: u64, n: usize) -> crate::report::result::ScenarioResult {
        let r = run(ms, n);
        crate::report::result::ScenarioResult {
            name: name.into(),
            executor: "constant-vus".into(),
            start_s: 0.0,
            duration_s: 10.0,
            totals: r.totals,
            histogram: r.histogram,
            thresholds: Vec::new(),
        }
    }

    #[test]
    fn changes_by_hand_are_kept_in_the_comparison() {
        let e = crate::engine::control::ControlEvent::bare;
        let steered = RunResult { control: vec![e(3.0, "pause"), e(5.5, "resume")], ..run(5, 1000) };
        let c = compare(&run(5, 1000), &steered, &Rules::new(0.1));
        assert!(c.table.contains("the current result was steered by hand: 3.0s  pause; 5.5s  resume"), "{}", c.table);
        assert!(!c.table.contains("the baseline was steered"));
    }

    fn with_scenarios(scenarios: Vec<crate::report::result::ScenarioResult>) -> RunResult {
        RunResult { scenarios, ..run(5, 1000) }
    }

    #[test]
    fn scenarios_match_by_name_and_are_judged_like_steps() {
        let base =
            with_scenarios(vec![scenario("browse", 5, 1000), scenario("spike", 5, 1000), scenario("old", 5, 10)]);
        let mut cur =
            with_scenarios(vec![scenario("spike", 25, 1000), scenario("browse", 5, 880), scenario("new", 5, 10)]);
        let c = compare(&base, &cur, &Rules::new(0.1));
        let r = &c.regressions;
        assert_eq!(r.len(), 4, "{r:?}");
        assert_eq!(r[0], "scenario `browse`: throughput 100.0 → 88.0 req/s (-12.0%), lower by more than 10%");
        for (line, p) in r[1..].iter().zip(["p50", "p95", "p99"]) {
            assert!(line.starts_with(&format!("scenario `spike`: {p} 5.00ms → 25.0ms (+20.0ms")), "{r:?}");
        }
        assert!(c.table.contains("\nscenario `browse`\n") && c.table.contains("\nscenario `spike`\n"), "{}", c.table);
        assert!(c.table.contains("scenarios only in the baseline (not judged): `old`"), "{}", c.table);
        assert!(c.table.contains("scenarios only in the current result (not judged): `new`"), "{}", c.table);
        // The error rate's rule too.
        cur.scenarios[1] = scenario("browse", 5, 1000);
        cur.scenarios[1].totals.summary.errors = 15;
        let r = compare(&base, &cur, &Rules::new(0.1)).regressions;
        assert!(
            r.contains(
                &"scenario `browse`: error rate 0.00% → 1.50% (+1.50pt), higher by more than 10% and 1 point"
                    .to_string()
            ),
            "{r:?}"
        );
        // Nothing changed: nothing flagged.
        assert!(compare(&base, &base, &Rules::new(0.1)).regressions.is_empty());
    }

    #[test]
    fn a_single_scenario_of_the_same_name_is_the_total() {
        let base = with_scenarios(vec![scenario("only", 5, 1000)]);
        let cur = with_scenarios(vec![scenario("only", 50, 1000)]);
        let c = compare(&base, &cur, &Rules::new(0.1));
        assert!(!c.table.contains("scenario `only`"), "{}", c.table);
        // An older document without scenarios against one with: listed, not judged.
        let c = compare(&run(5, 1000), &cur, &Rules::new(0.1));
        assert!(c.table.contains("scenarios only in the current result (not judged): `only`"), "{}", c.table);
    }

    fn th(expr: &str) -> ThresholdResult {
        ThresholdResult::bare(expr, 0.0, "")
    }

    fn rate_of(rate: f64) -> MetricSummary {
        MetricSummary::Rate { rate, hits: (rate * 10.0) as u64, total: 1000 }
    }

    fn trend(count: u64, p95: f64) -> MetricSummary {
        MetricSummary::Trend(TrendSummary { count, p95, ..TrendSummary::default() })
    }

    fn with_metrics(metrics: Vec<(&str, MetricSummary)>, thresholds: &[&str]) -> RunResult {
        let mut r = run(5, 1000);
        r.metrics = metrics.into_iter().map(|(n, m)| (n.to_string(), m)).collect();
        r.thresholds = thresholds.iter().map(|e| th(e)).collect();
        r
    }

    #[test]
    fn trends_are_judged_by_p95_higher_being_worse() {
        let at = |p95| with_metrics(vec![("server_ms", trend(100, p95))], &[]);
        assert_eq!(
            verdict(&at(10.0), &at(12.0)),
            ["metric `server_ms`: p95 10 → 12 (+2, +20.0%), higher by more than 10% and 1"]
        );
        assert!(verdict(&at(10.0), &at(10.5)).is_empty());
        assert!(verdict(&at(12.0), &at(10.0)).is_empty(), "faster is not worse");
        // Within the floor, whatever the percentage: 0.2 → 1.1 is noise, 0.2 → 1.3 is not.
        assert!(verdict(&at(0.2), &at(1.1)).is_empty());
        assert_eq!(verdict(&at(0.2), &at(1.3)).len(), 1);
        // A threshold saying lower is worse turns it round.
        let at = |p95| with_metrics(vec![("score", trend(100, p95))], &["p(95)(score) > 5"]);
        assert_eq!(
            verdict(&at(10.0), &at(8.5)),
            ["metric `score`: p95 10 → 8.5 (-1.5, -15.0%), lower by more than 10% and 1"]
        );
        assert!(verdict(&at(8.5), &at(10.0)).is_empty());
        // Nothing recorded on one side: shown, not judged.
        let none = with_metrics(vec![("server_ms", trend(0, 0.0))], &[]);
        let some = with_metrics(vec![("server_ms", trend(100, 50.0))], &[]);
        let c = compare(&none, &some, &Rules::new(0.1));
        assert!(c.regressions.is_empty(), "{:?}", c.regressions);
        assert!(c.table.contains("\nmetric `server_ms`\n"), "{}", c.table);
        let row = c.table.lines().find(|l| l.trim_start().starts_with("p95") && l.contains('-')).unwrap_or("");
        assert!(row.contains("50"), "{}", c.table);
    }

    #[test]
    fn rates_are_judged_in_points_on_their_worse_side() {
        // `cache_hit > 95%`: lower is worse; its misses go 3% → 10%.
        let hits = |r| with_metrics(vec![("cache_hit", rate_of(r))], &["cache_hit > 95%"]);
        assert_eq!(
            verdict(&hits(97.0), &hits(90.0)),
            ["metric `cache_hit`: rate 97.00% → 90.00% (-7.00pt): its misses higher by more than 10% and 1 point"]
        );
        assert!(verdict(&hits(97.0), &hits(96.5)).is_empty(), "half a point");
        assert!(verdict(&hits(90.0), &hits(97.0)).is_empty(), "better");
        let c = compare(&hits(97.0), &hits(90.0), &Rules::new(0.1));
        assert!(c.table.contains("-7.00pt") && c.table.contains("\nmetric `cache_hit`\n"), "{}", c.table);
        // `slow < 5%`, in the baseline only: higher is worse.
        let slow = |r, ths: &[&str]| with_metrics(vec![("slow", rate_of(r))], ths);
        assert_eq!(
            verdict(&slow(2.0, &["slow < 5%"]), &slow(4.0, &[])),
            ["metric `slow`: rate 2.00% → 4.00% (+2.00pt), higher by more than 10% and 1 point"]
        );
        assert!(verdict(&slow(4.0, &["slow < 5%"]), &slow(2.0, &[])).is_empty());
        // No threshold: compared, never judged, and said so.
        let c = compare(&slow(2.0, &[]), &slow(60.0, &[]), &Rules::new(0.1));
        assert!(c.regressions.is_empty());
        assert!(c.table.contains("+58.00pt"), "{}", c.table);
        assert!(
            c.table.contains("metrics not judged (no threshold on them says which way is worse): `slow`"),
            "{}",
            c.table
        );
        // Nothing observed on a side: not judged.
        let empty = with_metrics(vec![("cache_hit", MetricSummary::Rate { rate: 0.0, hits: 0, total: 0 })], &[]);
        assert!(verdict(&hits(97.0), &empty).is_empty());
    }

    #[test]
    fn counters_are_judged_relatively_when_a_threshold_says_which_way() {
        let orders = |n| with_metrics(vec![("orders", MetricSummary::Counter { count: n })], &["orders > 100"]);
        assert_eq!(
            verdict(&orders(1000), &orders(850)),
            ["metric `orders`: count 1,000 → 850 (-150, -15.0%), lower by more than 10%"]
        );
        assert!(verdict(&orders(1000), &orders(950)).is_empty());
        assert!(verdict(&orders(850), &orders(1000)).is_empty());
        let retries = |n| with_metrics(vec![("retries", MetricSummary::Counter { count: n })], &[]);
        let c = compare(&retries(10), &retries(1000), &Rules::new(0.1));
        assert!(c.regressions.is_empty() && c.table.contains("`retries`"), "{}", c.table);
        assert!(c.table.contains("+990") && c.table.contains("+9900.0%"), "{}", c.table);
    }

    #[test]
    fn unmatched_metrics_and_other_kinds_are_listed() {
        let base = with_metrics(vec![("a", rate_of(1.0)), ("gone", rate_of(1.0)), ("k", trend(1, 1.0))], &[]);
        let cur = with_metrics(
            vec![("a", rate_of(1.0)), ("k", MetricSummary::Counter { count: 1 }), ("new", rate_of(1.0))],
            &[],
        );
        let c = compare(&base, &cur, &Rules::new(0.1));
        assert!(c.regressions.is_empty());
        assert!(c.table.contains("metrics only in the baseline (not judged): `gone`"), "{}", c.table);
        assert!(c.table.contains("metrics only in the current result (not judged): `new`"), "{}", c.table);
        assert!(c.table.contains("metrics of another kind (not compared): `k` (trend → counter)"), "{}", c.table);
        assert!(!c.table.contains("metric `k`"));
        // Older documents: no metrics line at all.
        assert!(!compare(&run(5, 10), &run(5, 10), &Rules::new(0.1)).table.contains("metric"));
    }

    #[test]
    fn nothing_completed_is_not_judged() {
        let empty = sample(&[("s", &[])], 10);
        // Nothing on one side: too few to judge (the run itself exits 3 when nothing answered).
        let c = compare(&run(5, 100), &empty, &Rules::new(0.1));
        assert!(c.regressions.is_empty(), "{:?}", c.regressions);
        // Judged all the same: throughput fell to 0, a regression; latency and errors: not judged.
        let c = compare(&run(5, 100), &empty, &Rules { min_requests: 0, ..Rules::new(0.1) });
        assert_eq!(c.regressions.len(), 1, "{:?}", c.regressions);
        assert!(c.regressions[0].contains("throughput"));
    }

    /// `n` latencies spread evenly over 1..100 ms, those above the 90th percentile times `tail`.
    fn shape(n: u64, tail: f64) -> Vec<u64> {
        (1..=n)
            .map(|i| {
                let v = (i * 100_000 / n) as f64;
                (if i * 10 > n * 9 { v * tail } else { v }) as u64
            })
            .collect()
    }

    /// A p95 20% higher (beyond the 10% bound and the 1 ms floor) on 100 samples a side lies
    /// within what sampling explains: the intervals overlap, so it is not a regression. The same
    /// shapes on 10,000 samples are.
    #[test]
    fn a_percentile_rise_sampling_explains_is_not_a_regression() {
        let few =
            compare(&sample(&[("s", &shape(100, 1.0))], 10), &sample(&[("s", &shape(100, 1.2))], 10), &Rules::new(0.1));
        assert!(few.regressions.iter().all(|r| !r.contains("p95") && !r.contains("p99")), "{:?}", few.regressions);
        assert!(few.table.contains("95%"), "the intervals are printed\n{}", few.table);
        let many = compare(
            &sample(&[("s", &shape(10_000, 1.0))], 10),
            &sample(&[("s", &shape(10_000, 1.2))], 10),
            &Rules::new(0.1),
        );
        let p95 = many.regressions.iter().find(|r| r.contains("p95")).expect("a p95 regression");
        assert!(p95.contains("beyond what sampling explains (95% intervals "), "{p95}");
        // Its own bound: a p95 allowed 25% is no regression.
        let loose = Rules { p95: 0.25, p99: 0.25, ..Rules::new(0.1) };
        let r = compare(&sample(&[("s", &shape(10_000, 1.0))], 10), &sample(&[("s", &shape(10_000, 1.2))], 10), &loose);
        assert!(r.regressions.iter().all(|r| !r.contains("p95")), "{:?}", r.regressions);
    }

    #[test]
    fn quantile_intervals_hold_the_quantile_and_narrow_with_more_samples() {
        let h = |n: u64| {
            let mut h = crate::stats::histogram();
            shape(n, 1.0).into_iter().for_each(|v| crate::stats::record(&mut h, v));
            h
        };
        let z = z_of(0.95).unwrap();
        let (lo, hi) = quantile_interval(&h(100), 0.95, z).unwrap();
        assert!(lo <= 95_000 && 95_000 <= hi && hi - lo >= 5_000, "{lo}..{hi}");
        let (lo2, hi2) = quantile_interval(&h(10_000), 0.95, z).unwrap();
        assert!(lo2 <= 95_100 && 94_900 <= hi2 && hi2 - lo2 < (hi - lo) / 4, "{lo2}..{hi2}");
        assert_eq!(quantile_interval(&crate::stats::histogram(), 0.5, z), None);
        assert_eq!(z_of(0.97), None);
    }

    /// Bug: a step that went from 1 request to 0 was a "-100% REGRESSION".
    #[test]
    fn rows_with_too_few_requests_are_not_judged() {
        let base = sample(&[("s", &[5000; 1000]), ("rare", &[5000])], 10);
        let cur = sample(&[("s", &[5000; 1000]), ("rare", &[])], 10);
        let c = compare(&base, &cur, &Rules::new(0.1));
        assert!(c.regressions.is_empty(), "{:?}", c.regressions);
        assert!(
            c.table.contains("step `rare`  too few to judge (1 → 0 requests; fewer than --min-requests 100)"),
            "{}",
            c.table
        );
        let judged = compare(&base, &cur, &Rules { min_requests: 0, ..Rules::new(0.1) });
        assert!(
            judged.regressions.iter().any(|r| r.starts_with("step `rare`: throughput")),
            "{:?}",
            judged.regressions
        );
    }
}
