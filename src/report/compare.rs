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

/// The comparison of `current` with `baseline`.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// One line per regression beyond the bound, each starting with what it is on: `total`,
    /// "step `name`", "scenario `name`" or "metric `name`".
    pub regressions: Vec<String>,
    /// The readable table.
    pub table: String,
}

/// Compare in total, per step, per scenario and per metric; a change worse than
/// `max_regression` (a fraction, 0.1 = 10%) is a regression.
///
/// The rule, for the whole run, each step and each scenario both results have (matched by name):
/// - throughput (req/s) lower than the baseline's by more than `max_regression` of it;
/// - p50, p95 or p99 higher than the baseline's by more than `max_regression` of it **and** by
///   more than [`LATENCY_FLOOR_US`] (1 ms), so noise in sub-millisecond latencies is not a
///   regression while a run 10 ms slower than a 5 ms baseline is;
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
pub fn compare(baseline: &RunResult, current: &RunResult, max_regression: f64) -> Comparison {
    let bound = max_regression.max(0.0);
    let mut c = Comparison::default();
    let t = &mut c.table;
    let _ = writeln!(t, "baseline  {}", describe(baseline));
    let _ = writeln!(t, "current   {}", describe(current));
    let _ = writeln!(
        t,
        "a regression: throughput lower by more than {pct}, p50/p95/p99 higher by more than {pct} and {}, error rate higher by more than {pct} and {ERROR_FLOOR_POINTS} point",
        floor_ms(),
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
    scope(&mut rows, "total", &baseline.totals.summary, &current.totals.summary, bound);
    let mut unmatched = Vec::new();
    by_name(
        &mut rows,
        &mut unmatched,
        "step",
        &baseline.steps,
        &current.steps,
        |s| (s.name.as_str(), &s.summary),
        bound,
    );
    let (bs, cs) = (&baseline.scenarios, &current.scenarios);
    by_name(&mut rows, &mut unmatched, "scenario", bs, cs, |s| (s.name.as_str(), &s.totals.summary), bound);
    let not_judged = metrics(&mut rows, &mut unmatched, baseline, current, bound);
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
fn by_name<T>(
    rows: &mut Vec<Row>,
    unmatched: &mut Vec<String>,
    what: &str,
    base: &[T],
    cur: &[T],
    part: impl Fn(&T) -> (&str, &Summary),
    bound: f64,
) {
    if base.len() == 1 && cur.len() == 1 && part(&base[0]).0 == part(&cur[0]).0 {
        return;
    }
    let mut only_base = Vec::new();
    for b in base {
        let (name, bs) = part(b);
        match cur.iter().map(&part).find(|(n, _)| *n == name) {
            Some((_, cs)) => scope(rows, &format!("{what} `{name}`"), bs, cs, bound),
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
    bound: f64,
) -> Vec<String> {
    let mut not_judged = Vec::new();
    let mut other_kind = Vec::new();
    for (name, b) in &baseline.metrics {
        let Some(c) = current.metrics.get(name) else { continue };
        let worse = direction(name, matches!(b, MetricSummary::Trend(_)), baseline, current);
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
        if worse == Worse::Unknown {
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
    regression: Option<String>,
}

/// Rows for one scope (the total, a step or a scenario).
fn scope(rows: &mut Vec<Row>, name: &str, b: &Summary, c: &Summary, bound: f64) {
    let first = rows.len();
    // Throughput.
    let (br, cr) = (b.rps, c.rps);
    let worse = br > 0.0 && cr < br * (1.0 - bound);
    rows.push(Row {
        scope: None,
        measure: "req/s",
        base: rate(br),
        cur: rate(cr),
        delta: signed(cr - br, rate),
        pct: change(cr, br),
        arrow: arrow(cr - br),
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
    // Latency percentiles.
    let judged = b.latency_us.is_some() && c.latency_us.is_some();
    let q = |s: &Summary, f: fn(&super::result::Latency) -> u64| s.latency_us.as_ref().map_or(0, f);
    for (measure, bv, cv) in [
        ("p50", q(b, |l| l.p50), q(c, |l| l.p50)),
        ("p95", q(b, |l| l.p95), q(c, |l| l.p95)),
        ("p99", q(b, |l| l.p99), q(c, |l| l.p99)),
    ] {
        let d = cv as f64 - bv as f64;
        let worse = judged && cv as f64 > bv as f64 * (1.0 + bound) && d > LATENCY_FLOOR_US as f64;
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
                    "{name}: {measure} {} → {} ({}, {}), higher by more than {} and {}",
                    micros(bv as f64),
                    micros(cv as f64),
                    signed(d, micros),
                    change(cv as f64, bv as f64),
                    percent(bound),
                    floor_ms()
                )
            }),
        });
    }
    // Error rate.
    let er = |s: &Summary| 100.0 * s.errors as f64 / s.requests.max(1) as f64;
    let (be, ce) = (er(b), er(c));
    let d = ce - be;
    let worse = judged && ce > be * (1.0 + bound) && d > ERROR_FLOOR_POINTS;
    let points = |v: f64| format!("{v:.2}pt");
    rows.push(Row {
        scope: None,
        measure: "errors",
        base: if b.requests > 0 { format!("{be:.2}%") } else { "-".into() },
        cur: if c.requests > 0 { format!("{ce:.2}%") } else { "-".into() },
        delta: if judged { signed(d, points) } else { String::new() },
        pct: String::new(),
        arrow: if judged { arrow(d) } else { "" },
        regression: worse.then(|| {
            format!(
                "{name}: error rate {be:.2}% → {ce:.2}% ({}), higher by more than {} and {ERROR_FLOOR_POINTS} point",
                signed(d, points),
                percent(bound)
            )
        }),
    });
    rows[first].scope = Some(name.to_string());
}

/// The rows, aligned under a header; each scope's name on a line of its own.
fn table(t: &mut String, rows: &[Row]) {
    let w = |f: fn(&Row) -> &str, min: usize| rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0).max(min);
    let (wb, wc, wd, wp) = (w(|r| &r.base, 8), w(|r| &r.cur, 7), w(|r| &r.delta, 6), w(|r| &r.pct, 0));
    let header = format!("  {:<8}  {:>wb$}  {:>wc$}  {:>wd$}", "", "baseline", "current", "change");
    let _ = writeln!(t, "\n{}", header.trim_end());
    for r in rows {
        if let Some(s) = &r.scope {
            let _ = writeln!(t, "{s}");
        }
        let flag = if r.regression.is_some() { "  REGRESSION" } else { "" };
        let line = format!(
            "  {:<8}  {:>wb$}  {:>wc$}  {:>wd$}  {:>wp$}  {}{flag}",
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
        compare(b, c, 0.10).regressions
    }

    #[test]
    fn ten_ms_slower_is_a_regression_and_faster_is_not() {
        let (base, slow) = (run(5, 1000), run(15, 1000));
        let r = verdict(&base, &slow);
        assert_eq!(r.len(), 3, "p50, p95, p99: {r:?}");
        assert!(r[0].starts_with("total: p50 5.00ms → 15.0ms (+10.0ms, +200.0%)"), "{r:?}");
        assert!(verdict(&slow, &base).is_empty(), "faster is not a regression");
        assert!(verdict(&base, &base).is_empty());
        let c = compare(&base, &slow, 0.1);
        assert!(c.table.contains("REGRESSION") && c.table.contains("▲"), "{}", c.table);
        assert!(!compare(&base, &base, 0.1).table.contains("REGRESSION"));
    }

    #[test]
    fn sub_millisecond_changes_are_not_regressions() {
        // +50% on 0.2 ms, +0.9 ms on 0.5 ms: beyond the fraction, within the floor.
        let us = |v: u64| sample(&[("s", &vec![v; 100])], 10);
        assert!(verdict(&us(200), &us(300)).is_empty());
        assert!(verdict(&us(500), &us(1400)).is_empty());
        assert_eq!(verdict(&us(500), &us(1600)).len(), 3);
        // Beyond the floor, within the fraction: 100 ms → 105 ms.
        assert!(verdict(&run(100, 100), &run(105, 100)).is_empty());
        assert_eq!(compare(&run(100, 100), &run(105, 100), 0.04).regressions.len(), 3);
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
        let c = compare(&base, &cur, 0.1);
        assert!(c.regressions.iter().any(|r| r.starts_with("step `search`: p50")), "{:?}", c.regressions);
        assert!(!c.regressions.iter().any(|r| r.contains("login") || r.contains("old") || r.contains("new")));
        assert!(c.table.contains("steps only in the baseline (not judged): `old`"), "{}", c.table);
        assert!(c.table.contains("steps only in the current result (not judged): `new`"), "{}", c.table);
    }

    #[test]
    fn one_step_runs_are_judged_once() {
        let c = compare(&run(5, 100), &run(50, 100), 0.1);
        assert_eq!(c.regressions.len(), 3, "{:?}", c.regressions);
        assert!(!c.table.contains("step `s`"), "{}", c.table);
    }

    #[test]
    fn the_table_is_aligned() {
        let c = compare(&run(5, 1000), &run(15, 1200), 0.1);
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
        let c = compare(&run(5, 100), &cur, 0.1);
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
        let e = |t: f64, action: &str| crate::engine::control::ControlEvent {
            t,
            action: action.into(),
            scenario: None,
            from: None,
            to: None,
            over: None,
        };
        let steered = RunResult { control: vec![e(3.0, "pause"), e(5.5, "resume")], ..run(5, 1000) };
        let c = compare(&run(5, 1000), &steered, 0.1);
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
        let c = compare(&base, &cur, 0.1);
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
        let r = compare(&base, &cur, 0.1).regressions;
        assert!(
            r.contains(
                &"scenario `browse`: error rate 0.00% → 1.50% (+1.50pt), higher by more than 10% and 1 point"
                    .to_string()
            ),
            "{r:?}"
        );
        // Nothing changed: nothing flagged.
        assert!(compare(&base, &base, 0.1).regressions.is_empty());
    }

    #[test]
    fn a_single_scenario_of_the_same_name_is_the_total() {
        let base = with_scenarios(vec![scenario("only", 5, 1000)]);
        let cur = with_scenarios(vec![scenario("only", 50, 1000)]);
        let c = compare(&base, &cur, 0.1);
        assert!(!c.table.contains("scenario `only`"), "{}", c.table);
        // An older document without scenarios against one with: listed, not judged.
        let c = compare(&run(5, 1000), &cur, 0.1);
        assert!(c.table.contains("scenarios only in the current result (not judged): `only`"), "{}", c.table);
    }

    fn th(expr: &str) -> ThresholdResult {
        ThresholdResult {
            expr: expr.into(),
            ok: true,
            value: Some(0.0),
            unit: String::new(),
            step: None,
            scenario: None,
            during: None,
            level: None,
            reason: None,
        }
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
        let c = compare(&none, &some, 0.1);
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
        let c = compare(&hits(97.0), &hits(90.0), 0.1);
        assert!(c.table.contains("-7.00pt") && c.table.contains("\nmetric `cache_hit`\n"), "{}", c.table);
        // `slow < 5%`, in the baseline only: higher is worse.
        let slow = |r, ths: &[&str]| with_metrics(vec![("slow", rate_of(r))], ths);
        assert_eq!(
            verdict(&slow(2.0, &["slow < 5%"]), &slow(4.0, &[])),
            ["metric `slow`: rate 2.00% → 4.00% (+2.00pt), higher by more than 10% and 1 point"]
        );
        assert!(verdict(&slow(4.0, &["slow < 5%"]), &slow(2.0, &[])).is_empty());
        // No threshold: compared, never judged, and said so.
        let c = compare(&slow(2.0, &[]), &slow(60.0, &[]), 0.1);
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
        let c = compare(&retries(10), &retries(1000), 0.1);
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
        let c = compare(&base, &cur, 0.1);
        assert!(c.regressions.is_empty());
        assert!(c.table.contains("metrics only in the baseline (not judged): `gone`"), "{}", c.table);
        assert!(c.table.contains("metrics only in the current result (not judged): `new`"), "{}", c.table);
        assert!(c.table.contains("metrics of another kind (not compared): `k` (trend → counter)"), "{}", c.table);
        assert!(!c.table.contains("metric `k`"));
        // Older documents: no metrics line at all.
        assert!(!compare(&run(5, 10), &run(5, 10), 0.1).table.contains("metric"));
    }

    #[test]
    fn nothing_completed_is_not_judged() {
        let empty = sample(&[("s", &[])], 10);
        let c = compare(&run(5, 100), &empty, 0.1);
        // Throughput fell to 0: a regression; latency and errors: not judged.
        assert_eq!(c.regressions.len(), 1, "{:?}", c.regressions);
        assert!(c.regressions[0].contains("throughput"));
    }
}
