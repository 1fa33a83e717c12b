//! Comparing a result with a baseline (`stampede compare`): throughput, p50/p95/p99 and error
//! rate, in total and per step, and which changes are regressions.

use std::fmt::Write;

use super::RunResult;
use super::result::Summary;
use crate::units::{group, micros};

/// A latency change of this much or less (µs) is never a regression, whatever its percentage:
/// sub-millisecond moves are scheduling noise (0.2 ms → 0.3 ms is +50% and means nothing).
pub const LATENCY_FLOOR_US: u64 = 1000;

/// An error-rate rise of this much or less (percentage points) is never a regression: a rate
/// of 0.01% doubling to 0.02% is two errors in ten thousand, not a trend.
pub const ERROR_FLOOR_POINTS: f64 = 1.0;

/// The comparison of `current` with `baseline`.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// One line per regression beyond the bound.
    pub regressions: Vec<String>,
    /// The readable table.
    pub table: String,
}

/// Compare per step and in total: throughput and p50/p95/p99; a change worse than
/// `max_regression` (a fraction, 0.1 = 10%) is a regression.
///
/// The rule, for the whole run and for each step both results have (matched by name):
/// - throughput (req/s) lower than the baseline's by more than `max_regression` of it;
/// - p50, p95 or p99 higher than the baseline's by more than `max_regression` of it **and** by
///   more than [`LATENCY_FLOOR_US`] (1 ms), so noise in sub-millisecond latencies is not a
///   regression while a run 10 ms slower than a 5 ms baseline is;
/// - the error rate (errors / requests) higher by more than `max_regression` of the baseline's
///   rate **and** by more than [`ERROR_FLOOR_POINTS`] (1 percentage point).
///
/// Latency and error rate are not judged where either side completed no request. Steps only one
/// side has are listed, not judged. Steps are compared when either run has several (a run of
/// one step has the same numbers as its total). Runs at different loads are compared all the
/// same, with a note under the table: their throughputs say little.
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
    let mut rows = Vec::new();
    scope(&mut rows, "total", &baseline.totals.summary, &current.totals.summary, bound);
    let single_same =
        baseline.steps.len() == 1 && current.steps.len() == 1 && baseline.steps[0].name == current.steps[0].name;
    let mut only_base = Vec::new();
    let mut only_cur = Vec::new();
    if !single_same {
        for b in &baseline.steps {
            match current.steps.iter().find(|s| s.name == b.name) {
                Some(s) => scope(&mut rows, &format!("step `{}`", b.name), &b.summary, &s.summary, bound),
                None => only_base.push(format!("`{}`", b.name)),
            }
        }
        only_cur = current
            .steps
            .iter()
            .filter(|s| !baseline.steps.iter().any(|b| b.name == s.name))
            .map(|s| format!("`{}`", s.name))
            .collect();
    }
    table(t, &rows);
    if !only_base.is_empty() {
        let _ = writeln!(t, "\nsteps only in the baseline (not judged): {}", only_base.join(", "));
    }
    if !only_cur.is_empty() {
        let _ = writeln!(t, "\nsteps only in the current result (not judged): {}", only_cur.join(", "));
    }
    let (lb, lc) = (load(baseline), load(current));
    if lb != lc {
        let _ =
            writeln!(t, "\nnote: the runs had different loads (baseline {lb}, current {lc}): throughputs say little");
    }
    for (which, r) in [("baseline", baseline), ("current result", current)] {
        if r.interrupted || r.aborted_by.is_some() {
            let _ = writeln!(t, "\nnote: the {which} is of a run stopped early");
        }
    }
    c.regressions = rows.into_iter().filter_map(|r| r.regression).collect();
    c
}

/// One compared measure.
struct Row {
    /// `total` or "step `name`", on the first row of its group only.
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

/// Rows for one scope (the total or a step).
fn scope(rows: &mut Vec<Row>, name: &str, b: &Summary, c: &Summary, bound: f64) {
    let first = rows.len();
    let arrow = |d: f64| {
        if d > 0.0 {
            "▲"
        } else if d < 0.0 {
            "▼"
        } else {
            "="
        }
    };
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
    let judged = b.requests > 0 && c.requests > 0;
    for (measure, bv, cv) in [
        ("p50", b.latency_us.p50, c.latency_us.p50),
        ("p95", b.latency_us.p95, c.latency_us.p95),
        ("p99", b.latency_us.p99, c.latency_us.p99),
    ] {
        let d = cv as f64 - bv as f64;
        let worse = judged && cv as f64 > bv as f64 * (1.0 + bound) && d > LATENCY_FLOOR_US as f64;
        rows.push(Row {
            scope: None,
            measure,
            base: if b.requests > 0 { micros(bv as f64) } else { "-".into() },
            cur: if c.requests > 0 { micros(cv as f64) } else { "-".into() },
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

    #[test]
    fn nothing_completed_is_not_judged() {
        let empty = sample(&[("s", &[])], 10);
        let c = compare(&run(5, 100), &empty, 0.1);
        // Throughput fell to 0: a regression; latency and errors: not judged.
        assert_eq!(c.regressions.len(), 1, "{:?}", c.regressions);
        assert!(c.regressions[0].contains("throughput"));
    }
}
