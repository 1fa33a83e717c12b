//! The text summary printed at the end of a run (and by `stampede report`), from the result
//! document alone.

use std::fmt::Write;

use super::result::{Latency, RunResult, Summary};
use crate::capacity::Unit;
use crate::report::metric::MetricSummary;
use crate::units::{bytes, group, micros};

/// The full summary: heading, totals, latency, status codes, errors, steps, thresholds, generator.
pub fn summary(r: &RunResult) -> String {
    let mut o = String::new();
    heading(&mut o, r);
    counts(&mut o, r);
    tables(&mut o, r);
    if let Some(m) = &r.monitor {
        service(&mut o, m);
    }
    metrics(&mut o, r);
    thresholds(&mut o, r);
    generator(&mut o, r);
    o
}

/// What ran: the command, target, load model, workers and length; the scenario's name.
fn heading(o: &mut String, r: &RunResult) {
    // `bench --streams N`: N users share each connection.
    let conns = match r.load.streams {
        Some(n) => format!("{} × {n} streams", count(r.load.users / n.max(1), "connection")),
        None => count(r.load.users, "connection"),
    };
    let model = if !r.scenarios.is_empty() {
        format!(
            "{} ({} model), {} users at most",
            count(r.scenarios.len() as u64, "scenario"),
            r.load.model,
            r.load.users
        )
    } else if r.load.model == "open" {
        // Starts are requests in `bench` and `capacity URL`, iterations of a file's journeys otherwise.
        let per_request = r.command == "bench" || r.capacity.as_ref().is_some_and(|c| c.unit() == Unit::Requests);
        let unit = if per_request { "req/s" } else { "iterations/s" };
        format!("open model at {} {unit} over {conns}", fmt_rate(r.load.rate.unwrap_or(0.0)))
    } else if r.command == "bench" {
        format!("closed model, {conns}")
    } else {
        format!("closed model, {}", count(r.load.users, "user"))
    };
    let shard = r.load.shard.as_ref().map(|s| format!(", shard {s}")).unwrap_or_default();
    let _ = writeln!(
        o,
        "stampede {} · {} · {model} · {}{shard} · {:.1}s{}",
        r.command,
        r.target,
        count(r.load.workers, "worker"),
        r.duration_s,
        if r.interrupted { " (interrupted)" } else { "" }
    );
    if r.name != r.target {
        let _ = writeln!(o, "  scenario    {}", r.name);
    }
    for line in &r.overrides {
        let _ = writeln!(o, "  overrides   {line}");
    }
    o.push('\n');
}

/// The totals, and the counts that are not requests (unfinished, dropped, skipped, redirects, iterations).
fn counts(o: &mut String, r: &RunResult) {
    let t = &r.totals.summary;
    totals(o, t, r.duration_s, latency_basis(&r.load.model));
    if r.totals.unfinished > 0 {
        let n = r.totals.unfinished;
        let _ = writeln!(o, "  unfinished  {} still in flight at the end (not counted)", count(n, "request"));
    }
    if r.totals.dropped_iterations > 0 {
        let _ = writeln!(o, "  dropped     {} scheduled starts found no free user", group(r.totals.dropped_iterations));
    }
    if t.skipped > 0 {
        let _ = writeln!(
            o,
            "  skipped     {} steps not sent (condition false, or a variable without value)",
            group(t.skipped)
        );
    }
    if t.redirects > 0 {
        let _ = writeln!(o, "  redirects   {} followed", group(t.redirects));
    }
    if r.totals.iterations > 0 {
        let _ = writeln!(o, "  iterations  {}", group(r.totals.iterations));
    }
    if r.totals.data_exhausted > 0 {
        let _ =
            writeln!(o, "  data        {} users stopped: their unique data ran out", group(r.totals.data_exhausted));
    }
}

/// A row per step, and per scenario, when there are several.
fn tables(o: &mut String, r: &RunResult) {
    if r.steps.len() > 1 {
        o.push_str("\n  step                              requests      req/s   errors      p50      p95      p99\n");
        for s in &r.steps {
            step_line(o, "  ", &s.name, 30, &s.summary);
            for (user, m) in &s.by_user {
                step_line(o, "    ", &format!("as {user}"), 28, m);
            }
        }
    }
    if !r.scenarios.is_empty() {
        o.push_str("\n  scenario                          requests      req/s   errors      p50      p95      p99\n");
        for s in &r.scenarios {
            let window = format!("{} ({}–{})", s.name, seconds(s.start_s), seconds(s.start_s + s.duration_s));
            step_line(o, "  ", &window, 30, &s.totals.summary);
        }
    }
}

/// The metrics of your own and the built-in trends.
fn metrics(o: &mut String, r: &RunResult) {
    // A user type that ran no iteration has no iteration_duration row (it would be all zeros).
    let shown: Vec<(&String, &MetricSummary)> = r
        .metrics
        .iter()
        .filter(|(name, m)| {
            !(name.starts_with("iteration_duration:") && matches!(m, MetricSummary::Trend(t) if t.count == 0))
        })
        .collect();
    if shown.is_empty() {
        return;
    }
    o.push_str("\n  metrics\n");
    // The names' column fits the longest name.
    let w = shown.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0).max(24);
    for (name, m) in shown {
        let _ = match m {
            MetricSummary::Rate { rate, hits, total } => {
                writeln!(o, "    {name:<w$} rate     {rate:.2}%  ({} of {})", group(*hits), group(*total))
            }
            MetricSummary::Counter { count } => writeln!(o, "    {name:<w$} counter  {}", group(*count)),
            MetricSummary::Trend(t) if t.count == 0 => {
                writeln!(o, "    {name:<w$} trend    no values ({} without one)", group(t.missing))
            }
            MetricSummary::Trend(t) => {
                // The built-in iteration durations are in ms; a trend of your own is in its unit.
                let unit = if name.starts_with("iteration_duration") { "ms" } else { "" };
                let v = |x: f64| format!("{}{unit}", fmt_value(x));
                writeln!(
                    o,
                    "    {name:<w$} trend    avg {}  p50 {}  p95 {}  p99 {}  max {}  ({}{})",
                    v(t.mean),
                    v(t.p50),
                    v(t.p95),
                    v(t.p99),
                    v(t.max),
                    count(t.count, "value"),
                    if t.missing > 0 { format!(", {} without one", group(t.missing)) } else { String::new() }
                )
            }
        };
    }
}

/// Whether the run was aborted, and each threshold's verdict.
fn thresholds(o: &mut String, r: &RunResult) {
    if let Some(expr) = &r.aborted_by {
        let _ = writeln!(o, "\n  ABORTED     threshold `{expr}` failed during the run (abort_on_fail)");
    }
    if !r.thresholds.is_empty() {
        o.push_str("\n  thresholds\n");
        for th in &r.thresholds {
            let mut step = th.step.as_ref().or(th.scenario.as_ref()).map(|s| format!(" [{s}]")).unwrap_or_default();
            if let Some(w) = th.window() {
                step += &format!(" during {w}");
            }
            let _ = writeln!(
                o,
                "    {:<4} {}{step}  ({})",
                th.verdict(),
                th.expr,
                match th.value {
                    Some(_) => format!("measured {}{}", th.measured(fmt_value), th.beside(fmt_value)),
                    None => th.measured(fmt_value),
                }
            );
        }
    }
    if !r.thresholds_not_run.is_empty() {
        o.push_str("\n  thresholds not run\n");
        for n in &r.thresholds_not_run {
            let at = n.step.as_ref().or(n.scenario.as_ref()).map(|s| format!(" [{s}]")).unwrap_or_default();
            let _ = writeln!(o, "    {}{at}: {}", n.expr, n.reason);
        }
    }
}

/// How the generator fared, and the live outputs.
fn generator(o: &mut String, r: &RunResult) {
    let g = &r.generator;
    let mut lag = if r.load.model == "open" {
        format!(", send lag p99 {}", micros(g.schedule_lag_p99_us as f64))
    } else {
        String::new()
    };
    if g.busiest_worker_wait_percent >= 1.0 {
        lag = format!(", waited for CPU {:.0}%{lag}", g.busiest_worker_wait_percent);
    }
    let _ = writeln!(
        o,
        "\n  generator   {:.0}% CPU over {} (busiest {:.0}%){lag}, RSS {} (peak {}){}{}{}",
        g.cpu_percent,
        count(g.workers, "worker"),
        g.busiest_worker_cpu_percent,
        bytes(g.rss_bytes as f64),
        bytes(g.peak_rss_bytes as f64),
        if g.io == "epoll" { ", epoll I/O path" } else { "" },
        spoke(&r.totals.summary.protocols),
        spread(g)
    );
    for w in &g.warnings {
        let _ = writeln!(o, "  WARNING     {w}");
    }
    for p in &r.outputs {
        let failed = p.last_error.as_ref().map(|e| format!(" (last failure: {e})")).unwrap_or_default();
        let _ = writeln!(
            o,
            "  output      {} {}: {} pushes sent, {} seconds dropped{failed}",
            p.kind,
            p.url,
            group(p.pushed),
            group(p.dropped)
        );
    }
    if !r.run_id.is_empty() && !r.outputs.is_empty() {
        let _ = writeln!(o, "  run id      {} (the `run` label of its series)", r.run_id);
    }
}

/// One row of the step table: name (clipped to `width`), requests, rate, errors, percentiles.
fn step_line(o: &mut String, indent: &str, name: &str, width: usize, m: &Summary) {
    let _ = writeln!(
        o,
        "{indent}{:<width$} {:>11} {:>10} {:>8} {:>8} {:>8} {:>8}",
        clip(name, width),
        group(m.requests),
        format!("{:.1}", m.rps),
        group(m.errors),
        lat(m, |l| l.p50),
        lat(m, |l| l.p95),
        lat(m, |l| l.p99)
    );
}

/// One latency statistic of a row, or `–` when it has no latency.
fn lat(m: &Summary, q: impl Fn(&crate::report::result::Latency) -> u64) -> String {
    m.latency_us.as_ref().map_or_else(|| "–".into(), |l| micros(q(l) as f64))
}

fn totals(o: &mut String, t: &Summary, secs: f64, basis: &str) {
    let _ = writeln!(o, "  requests    {} in {:.1}s, {} req/s", group(t.requests), secs, fmt_rate(t.rps));
    let _ = writeln!(
        o,
        "  transfer    in {} ({}/s), out {}",
        bytes(t.bytes_in as f64),
        bytes(t.bytes_in as f64 / secs.max(1e-9)),
        bytes(t.bytes_out as f64)
    );
    match &t.latency_us {
        Some(l) => latency(o, "latency", l, basis),
        None => o.push_str("  latency     no data (no response had a latency)\n"),
    }
    if let Some(s) = &t.service_us {
        latency(o, "service", s, "from sending, without queueing");
    }
    if !t.status.is_empty() {
        let codes: Vec<String> = t.status.iter().map(|(c, n)| format!("{c} × {}", group(*n))).collect();
        let _ = writeln!(o, "  status      {}", codes.join("   "));
    }
    if t.checks > 0 {
        let pct = 100.0 * (t.checks - t.checks_failed) as f64 / t.checks as f64;
        let _ = writeln!(
            o,
            "  checks      {} of {} passed ({pct:.2}%)",
            group(t.checks - t.checks_failed),
            group(t.checks)
        );
    }
    if t.errors == 0 {
        o.push_str("  errors      none\n");
    } else {
        let pct = 100.0 * t.errors as f64 / t.requests.max(1) as f64;
        let kinds: Vec<String> = t.errors_by_kind.iter().map(|(k, n)| format!("{k} {}", group(*n))).collect();
        let _ = writeln!(o, "  errors      {} ({pct:.2}%): {}", group(t.errors), kinds.join(", "));
        let mut reasons: Vec<(&String, &u64)> = t.error_reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1));
        for (reason, n) in reasons.into_iter().take(5) {
            let _ = writeln!(o, "              {} × {reason}", group(*n));
        }
    }
}

/// Where the latency of a run of this model (`load.model`) is measured from: in a mixed run the
/// open-model scenarios' first requests count from their intended start, the rest from sending.
pub(super) fn latency_basis(model: &str) -> &'static str {
    match model {
        "open" => "from intended start",
        "mixed" => "from intended start in open-model scenarios, else from sending",
        _ => "from sending",
    }
}

fn latency(o: &mut String, label: &str, l: &Latency, basis: &str) {
    let _ = writeln!(
        o,
        "  {label:<11} min {}  mean {}  max {}  ({basis})",
        micros(l.min as f64),
        micros(l.mean),
        micros(l.max as f64)
    );
    let _ = writeln!(
        o,
        "              p50 {}  p75 {}  p90 {}  p95 {}  p99 {}  p99.9 {}",
        micros(l.p50 as f64),
        micros(l.p75 as f64),
        micros(l.p90 as f64),
        micros(l.p95 as f64),
        micros(l.p99 as f64),
        micros(l.p999 as f64)
    );
}

fn fmt_rate(r: f64) -> String {
    if r >= 100.0 { group(r.round() as u64) } else { format!("{r:.2}") }
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A moment of the run in seconds, with the precision it has (to the millisecond): `0s`, `1.5s`,
/// `2.25s`, `240s`.
fn seconds(v: f64) -> String {
    let v = format!("{:.3}", v.max(0.0));
    format!("{}s", v.trim_end_matches('0').trim_end_matches('.'))
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

/// The watched series: min, avg, max, last (and each shard's, in a merged result).
fn service(o: &mut String, m: &crate::monitor::MonitorResult) {
    let lines = |o: &mut String, indent: &str, series: &indexmap::IndexMap<String, crate::monitor::SeriesSummary>| {
        for (name, s) in series {
            let gaps = if s.failures > 0 { format!(", {} failed", group(s.failures)) } else { String::new() };
            if s.samples == 0 {
                // Watched from the start, never had a value (no zeros shown as if measured).
                let _ = writeln!(o, "{indent}{name:<24} no data  (0 samples{gaps})");
                continue;
            }
            let _ = writeln!(
                o,
                "{indent}{name:<24} min {}  avg {}  max {}  last {}  ({} samples{gaps})",
                fmt_value(s.min),
                fmt_value(s.avg),
                fmt_value(s.max),
                fmt_value(s.last),
                group(s.samples)
            );
        }
    };
    o.push_str("\n  service     (watched series)\n");
    lines(o, "    ", &m.series);
    for shard in &m.shards {
        let _ = writeln!(o, "    shard {}", shard.shard);
        lines(o, "      ", &shard.series);
    }
}

/// Where the connections came from and went, for the generator line: `, from 3 sources`,
/// `, to 2 addresses of a name` (nothing when one of each).
fn spread(g: &crate::report::result::GeneratorInfo) -> String {
    let mut s = String::new();
    if !g.sources.is_empty() {
        s += &format!(", from {}", count(g.sources.len() as u64, "source"));
    }
    // Addresses served of the main target's name, when it has several.
    let main = g.targets.first().map(|t| t.target.as_str());
    let of_main = g.targets.iter().filter(|t| Some(t.target.as_str()) == main);
    let used = of_main.filter(|t| t.connections > 0).count();
    if used > 1 {
        s += &format!(", to {used} addresses");
    }
    s
}

/// What the requests were carried by, for the generator line: `, spoke h2`, or each protocol's
/// count when there were several.
fn spoke(protocols: &std::collections::BTreeMap<String, u64>) -> String {
    spoken(protocols).map(|s| format!(", spoke {s}")).unwrap_or_default()
}

/// The protocols requests were carried by: `h2`, or each one's count when there were several
/// (`h2 × 1,200 and http/1.1 × 10`); `None` when no request reached a connection.
pub(crate) fn spoken(protocols: &std::collections::BTreeMap<String, u64>) -> Option<String> {
    match protocols.len() {
        0 => None,
        1 => protocols.keys().next().cloned(),
        _ => {
            let parts: Vec<String> = protocols.iter().map(|(p, n)| format!("{p} × {}", group(*n))).collect();
            Some(parts.join(" and "))
        }
    }
}

/// `1 worker`, `2 workers`: a count and its noun.
fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", group(n), if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::metric::TrendSummary;

    fn trend(count: u64, p50: f64) -> MetricSummary {
        MetricSummary::Trend(TrendSummary { count, mean: p50, p50, p95: p50, p99: p50, max: p50, ..Default::default() })
    }

    /// Regression (issue 24 item 8): the metrics block had no unit, columns that broke on long
    /// names, all-zero rows for user types with no iterations, and "(1 values)"; "1 requests
    /// still in flight".
    #[test]
    fn regression_the_metrics_block_has_units_aligned_columns_and_no_empty_types() {
        let mut r = crate::report::sample::sample(&[("a", &[1000])], 1);
        r.metrics = [
            ("iteration_duration".to_string(), trend(1, 0.5)),
            ("iteration_duration:a_long_user_type_name".to_string(), trend(2, 0.5)),
            ("iteration_duration:idle".to_string(), trend(0, 0.0)),
            ("server_ms".to_string(), trend(3, 7.0)),
        ]
        .into_iter()
        .collect();
        r.totals.unfinished = 1;
        let text = summary(&r);
        assert!(text.contains("(1 value)") && !text.contains("(1 values)"), "{text}");
        assert!(text.contains("avg 0.500ms  p50 0.500ms"), "{text}");
        assert!(text.contains("avg 7  p50 7"), "a trend of your own is in its own unit:\n{text}");
        assert!(!text.contains("iteration_duration:idle"), "{text}");
        let columns: Vec<usize> =
            text.lines().filter(|l| l.contains(" trend ")).map(|l| l.find(" trend ").unwrap()).collect();
        assert_eq!(columns.len(), 3, "{text}");
        assert!(columns.iter().all(|c| *c == columns[0]), "columns break: {columns:?}\n{text}");
        assert!(text.contains("  unfinished  1 request still in flight"), "{text}");
    }

    /// Regression (issue 24 item 8): the summary of a file whose scenarios mix the open and the
    /// closed model said its latency was all "from sending"; "1 scenarios".
    #[test]
    fn regression_a_mixed_runs_latency_says_where_it_is_measured_from() {
        let mut r = crate::report::sample::sample(&[("a", &[1000])], 1);
        r.load.model = "mixed".into();
        r.scenarios = vec![crate::report::result::ScenarioResult {
            name: "only".into(),
            executor: "constant-arrival-rate".into(),
            start_s: 0.0,
            duration_s: 1.0,
            totals: r.totals.clone(),
            histogram: r.histogram.clone(),
            thresholds: Vec::new(),
        }];
        let text = summary(&r);
        assert!(text.contains("(from intended start in open-model scenarios, else from sending)\n"), "{text}");
        assert!(text.contains(" · 1 scenario (mixed model), "), "{text}");
        r.load.model = "open".into();
        assert!(summary(&r).contains("(from intended start)\n"));
    }

    /// Regression (issue 20, cosmetics): scenario windows were rounded to whole seconds, so a
    /// scenario from 1.5 s to 2.5 s read "2s–2s".
    #[test]
    fn regression_scenario_windows_keep_their_fractions_of_a_second() {
        let mut r = crate::report::sample::sample(&[("a", &[1000])], 1);
        let scenario = |name: &str, start_s: f64, duration_s: f64| crate::report::result::ScenarioResult {
            name: name.into(),
            executor: "constant-vus".into(),
            start_s,
            duration_s,
            totals: r.totals.clone(),
            histogram: r.histogram.clone(),
            thresholds: Vec::new(),
        };
        r.scenarios = vec![scenario("early", 0.0, 1.5), scenario("late", 1.5, 1.0), scenario("long", 240.0, 600.0)];
        let text = summary(&r);
        assert!(text.contains("  early (0s–1.5s) "), "{text}");
        assert!(text.contains("  late (1.5s–2.5s) "), "{text}");
        assert!(text.contains("  long (240s–840s) "), "{text}");
        assert!(text.contains(" · 3 scenarios ("), "{text}");
        assert_eq!(seconds(0.25), "0.25s");
        assert_eq!(seconds(1.937), "1.937s");
    }
}

#[cfg(test)]
mod service_tests {
    use crate::monitor::{MonitorResult, SeriesSummary};

    /// A series watched from the start that never had a value (a counter the load never
    /// created) says so, instead of zeros that read as measured.
    #[test]
    fn a_series_without_samples_says_no_data() {
        let mut m = MonitorResult { interval_s: 1.0, series: Default::default(), shards: Vec::new() };
        m.series.insert("served".into(), SeriesSummary::of(&[]));
        m.series.insert("cpu".into(), SeriesSummary::of(&[0.5, 1.5]));
        let mut o = String::new();
        super::service(&mut o, &m);
        assert!(o.contains("served                   no data  (0 samples)"), "{o}");
        assert!(o.contains("cpu                      min 0.500  avg 1  max 1.500"), "{o}");
    }
}
