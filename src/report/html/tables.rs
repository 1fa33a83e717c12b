//! The report's tables: steps (with bars and sparklines), thresholds (pass/fail/warn), and the
//! capacity search (its curves and steps).

use std::fmt::Write;

use super::charts::{self, AMBER, BLUE_, GREEN_, RED_, RatePoint};
use super::sections::figure;
use super::timeline::Point;
use super::{RunResult, bar, esc, fmt_pct, lat_ms, lat_of, pct, rate};
use crate::capacity::CapacityResult;
use crate::report::result::ThresholdResult;
use crate::rules::threshold::{Measure, Op};
use crate::units::group;

/// One row per step: counts, latency, a bar for its share and its p95, its rate over time.
pub fn steps(o: &mut String, r: &RunResult, points: &[Point]) {
    o.push_str("<section id=\"steps\">\n<h2>Steps</h2>\n");
    if r.steps.is_empty() {
        o.push_str("<p class=\"muted\">no steps</p>\n</section>\n");
        return;
    }
    let total: u64 = r.steps.iter().map(|s| s.summary.requests).sum();
    let max_p95 = r.steps.iter().map(|s| s.summary.latency_us.as_ref().map_or(0, |l| l.p95)).max().unwrap_or(0) as f64;
    o.push_str(
        "<div class=\"scroll\"><table>\n<tr><th class=\"t\">step</th><th>requests</th><th class=\"t\">share</th>\
         <th>req/s</th><th>errors</th><th>p50</th><th>p95</th><th class=\"t\">p95 vs slowest</th><th>p99</th>\
         <th>max</th><th class=\"t\">req/s over time</th></tr>\n",
    );
    for (i, s) in r.steps.iter().enumerate() {
        let m = &s.summary;
        let l = m.latency_us.as_ref();
        // Each step's second-by-second rate, when the timeline carries steps (or there is one step).
        let over_time: Vec<f64> = if points.iter().all(|p| p.step_rps.len() > i) {
            points.iter().map(|p| p.step_rps[i]).collect()
        } else if r.steps.len() == 1 {
            points.iter().map(|p| p.rps).collect()
        } else {
            Vec::new()
        };
        let spark = charts::sparkline(&format!("{} requests per second over time", s.name), &over_time, BLUE_);
        let errors = if m.errors == 0 {
            "0".to_string()
        } else {
            format!("<span class=\"bad\">{} ({})</span>", group(m.errors), fmt_pct(pct(m.errors, m.requests)))
        };
        let _ = writeln!(
            o,
            "<tr><td class=\"wrap\">{}</td><td>{}</td><td class=\"t\">{} {}</td><td>{}</td><td>{errors}</td>\
             <td>{}</td><td>{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td></tr>",
            esc(&s.name),
            group(m.requests),
            bar(m.requests as f64, total as f64, ""),
            fmt_pct(pct(m.requests, total)),
            rate(m.rps),
            lat_of(l, |l| l.p50),
            lat_of(l, |l| l.p95),
            bar(l.map_or(0, |l| l.p95) as f64, max_p95, "lat"),
            lat_of(l, |l| l.p99),
            lat_of(l, |l| l.max),
            if spark.is_empty() { "<span class=\"muted\">–</span>".to_string() } else { spark }
        );
    }
    o.push_str("</table></div>\n</section>\n");
}

/// Every threshold, pass, fail or warning, with what it applies to and what was measured; then
/// the file's thresholds this run did not judge (a smoke, `--scenario`), each with its reason.
pub fn thresholds(o: &mut String, r: &RunResult) {
    o.push_str("<section id=\"thresholds\">\n<h2>Thresholds</h2>\n");
    match (r.thresholds.is_empty(), r.thresholds_not_run.is_empty()) {
        (true, true) => o.push_str("<p class=\"muted\">no thresholds set</p>\n"),
        (true, false) => o.push_str("<p class=\"muted\">no threshold was judged</p>\n"),
        (false, _) => threshold_table(o, &r.thresholds, None),
    }
    if !r.thresholds_not_run.is_empty() {
        not_run_table(o, &r.thresholds_not_run);
    }
    o.push_str("</section>\n");
}

/// The thresholds left out of this run: NOT RUN, what each applies to, and why.
fn not_run_table(o: &mut String, not_run: &[crate::plan::NotRun]) {
    o.push_str("<h3 id=\"thresholds-not-run\">Not run</h3>\n");
    o.push_str("<table>\n<tr><th class=\"t\">result</th><th class=\"t\">threshold</th>");
    o.push_str("<th class=\"t\">applies to</th><th class=\"t\">why not</th></tr>\n");
    for n in not_run {
        let applies = match (&n.scenario, &n.step) {
            (None, None) => "whole run".to_string(),
            (None, Some(step)) => esc(step),
            (Some(sc), None) => format!("scenario <b>{}</b>", esc(sc)),
            (Some(sc), Some(step)) => format!("scenario <b>{}</b>, step {}", esc(sc), esc(step)),
        };
        let _ = writeln!(
            o,
            "<tr class=\"skip\"><td class=\"t v\">NOT RUN</td><td class=\"wrap\"><code>{}</code></td><td class=\"wrap\">{applies}</td><td class=\"wrap t\">{}</td></tr>",
            esc(&n.expr),
            esc(&n.reason)
        );
    }
    o.push_str("</table>\n");
}

/// A table of thresholds: PASS, FAIL, or WARN for a warning that did not hold (it does not fail the
/// run), and what each applies to. In scenario `within`'s own table, the scenario goes without
/// saying: the column is there only for a step or a window.
pub fn threshold_table(o: &mut String, thresholds: &[ThresholdResult], within: Option<&str>) {
    let scope = within.is_none()
        || thresholds.iter().any(|t| t.step.is_some() || t.during.is_some() || t.scenario.as_deref() != within);
    o.push_str("<table>\n<tr><th class=\"t\">result</th><th class=\"t\">threshold</th>");
    if scope {
        o.push_str("<th class=\"t\">applies to</th>");
    }
    o.push_str("<th>measured</th></tr>\n");
    for t in thresholds {
        let (class, word) = match t.verdict() {
            "ok" => ("pass", "PASS"),
            "WARN" => ("warn", "WARN"),
            _ => ("fail", "FAIL"),
        };
        let unit = if t.unit.len() > 2 { format!(" {}", t.unit) } else { t.unit.clone() };
        let level = if t.level.is_some() { " <span class=\"muted\">(warning only)</span>" } else { "" };
        let _ = write!(
            o,
            "<tr class=\"{class}\"><td class=\"t v\">{word}</td><td class=\"wrap\"><code>{}</code>{level}</td>",
            esc(&t.expr)
        );
        if scope {
            let _ = write!(o, "<td class=\"wrap\">{}</td>", applies_to(t, within));
        }
        match t.value {
            Some(v) => writeln!(o, "<td>{}{}{}</td></tr>", value(v), esc(&unit), esc(&t.beside(value))),
            None => writeln!(o, "<td>{}</td></tr>", esc(&t.measured(value))),
        }
        .ok();
    }
    o.push_str("</table>\n");
}

/// What a threshold is measured on, escaped: the whole run (or scenario), a step, a scenario other
/// than `within`, and the window of the run when it has one.
fn applies_to(t: &ThresholdResult, within: Option<&str>) -> String {
    let scenario = t.scenario.as_deref().filter(|sc| Some(*sc) != within);
    let mut s = match (scenario, &t.step) {
        (None, None) if within.is_some() && t.window().is_some() => String::new(),
        (None, None) if within.is_some() => "the whole scenario".to_string(),
        (None, None) => "whole run".to_string(),
        (None, Some(step)) => esc(step),
        (Some(sc), None) => format!("scenario <b>{}</b>", esc(sc)),
        (Some(sc), Some(step)) => format!("scenario <b>{}</b>, step {}", esc(sc), esc(step)),
    };
    if let Some(w) = t.window() {
        let space = if s.is_empty() { "" } else { " " };
        let _ = write!(s, "{space}<span class=\"muted\">during {}</span>", esc(w));
    }
    s
}

/// A measured value: whole numbers bare, fractions to three decimals at most.
pub fn value(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The capacity search: the answer, latency and achieved rate against the offered rate, steps.
pub fn capacity(o: &mut String, c: &CapacityResult) {
    let slos: Vec<String> = c.slo.iter().map(|s| esc(s)).collect();
    let _ = writeln!(
        o,
        "<section id=\"capacity\">\n<h2>Capacity search<span class=\"note\">SLO: {}</span></h2>",
        if slos.is_empty() { "none".to_string() } else { slos.join(", ") }
    );
    let (label, value) = c.headline();
    let unit = c.unit();
    let _ = writeln!(
        o,
        "<dl class=\"kv\"><dt>{label}</dt><dd><b>{}</b></dd><dt>limited by</dt><dd>{}</dd>\
         <dt>achieved</dt><dd>{} in the step's window after its warm-up, against the rate offered \
         ({})</dd></dl>",
        esc(&value),
        esc(&c.limited_by),
        unit.achieved(),
        unit.name()
    );
    let points: Vec<RatePoint> = c
        .steps
        .iter()
        .map(|s| RatePoint {
            rate: s.rate,
            achieved: s.achieved_rps,
            p50: s.p50_ms,
            p95: s.p95_ms,
            p99: s.p99_ms,
            color: verdict_color(&s.verdict),
        })
        .collect();
    let latency_slos: Vec<(String, f64)> = c.slo.iter().filter_map(|s| latency_bound(s)).collect();
    o.push_str("<div class=\"grid2\">\n");
    figure(
        o,
        "Latency vs offered rate",
        &charts::latency_vs_rate("Latency against offered rate", &points, &latency_slos, c.max_rps, unit.name()),
    );
    figure(
        o,
        "Achieved vs offered rate",
        &charts::achieved_vs_rate("Achieved against offered rate", &points, c.max_rps, unit.name()),
    );
    o.push_str("</div>\n");
    if c.steps.is_empty() {
        o.push_str("<p class=\"muted\">no steps</p>\n</section>\n");
        return;
    }
    o.push_str(
        "<div class=\"scroll\"><table>\n<tr><th>#</th><th class=\"t\">phase</th><th>rate/s</th><th>achieved/s</th>\
         <th>p50</th><th>p95</th><th>p99</th><th>errors</th><th>held</th><th class=\"t\">verdict</th></tr>\n",
    );
    for (i, s) in c.steps.iter().enumerate() {
        let class = match s.verdict.as_str() {
            "pass" if s.rate == c.max_rps => "pass answer",
            "pass" => "pass",
            "fail" => "fail",
            _ => "warn",
        };
        let why = s.reason.as_deref().map(|r| format!(": {}", esc(r))).unwrap_or_default();
        let early = if s.stopped_early { " <span class=\"muted\">(stopped early)</span>" } else { "" };
        let _ = writeln!(
            o,
            "<tr class=\"{class}\"><td>{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{:.1}s</td><td class=\"wrap v\">{}{why}{early}</td></tr>",
            i + 1,
            esc(&format!("{:?}", s.phase).to_lowercase()),
            rate(s.rate),
            rate(s.achieved_rps),
            lat_ms(s.p50_ms),
            lat_ms(s.p95_ms),
            lat_ms(s.p99_ms),
            fmt_pct(s.errors),
            s.duration_s,
            esc(&s.verdict)
        );
    }
    o.push_str("</table></div>\n</section>\n");
}

fn verdict_color(verdict: &str) -> plotters::style::RGBColor {
    match verdict {
        "pass" => GREEN_,
        "fail" => RED_,
        _ => AMBER,
    }
}

/// An SLO that caps latency (`p(99) < 100ms`), as its text and its bound in ms.
fn latency_bound(slo: &str) -> Option<(String, f64)> {
    let t = crate::rules::threshold::parse(slo).ok()?;
    let latency =
        matches!(t.metric, Measure::Percentile(_) | Measure::Avg | Measure::Med | Measure::Max | Measure::Min);
    (latency && matches!(t.op, Op::Lt | Op::Le) && t.bound > 0.0).then(|| (t.expr.clone(), t.bound))
}
