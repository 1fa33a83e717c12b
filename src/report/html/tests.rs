//! Tests of the HTML report on synthetic result documents: the charts are there, nothing is
//! fetched, strings from the run are escaped, degenerate documents still render.

use std::collections::BTreeMap;

use super::render;
use crate::capacity::{CapacityResult, Phase, StepReport};
use crate::report::result::{
    GeneratorInfo, Latency, LoadInfo, RunResult, SCHEMA, StepResult, Summary, ThresholdResult, Totals, encode_histogram,
};
use crate::stats::{StepSecond, TimelineRow, histogram, record};

const HOSTILE: &str = "<script>alert('x')</script> & \"quoted\"";

fn summary(requests: u64, errors: u64, h: &hdrhistogram::Histogram<u64>) -> Summary {
    Summary {
        requests,
        errors,
        rps: requests as f64 / 10.0,
        bytes_in: requests * 120,
        bytes_out: requests * 80,
        latency_us: Latency::of(h),
        service_us: None,
        status: BTreeMap::from([("200".to_string(), requests - errors), ("503".to_string(), errors)]),
        errors_by_kind: BTreeMap::from([("status".to_string(), errors)]),
        checks: 0,
        checks_failed: 0,
        error_reasons: BTreeMap::from([(format!("status: 503 from {HOSTILE}"), errors)]),
        ..Summary::default()
    }
}

fn row(t: u64) -> TimelineRow {
    let requests = 90 + t * 3;
    TimelineRow {
        t: t as f64,
        interval_s: 1.0,
        requests,
        rps: requests as f64,
        errors: t % 3,
        bytes_in: requests * 120,
        p50_us: 900 + t * 10,
        p95_us: 3000 + t * 40,
        p99_us: 6000 + t * 90,
        max_us: 9000,
        active_users: t.min(5) * 10,
        in_flight: 3,
        dropped: 0,
        lag_p99_us: 0,
        worker_cpu_max: 20.0 + t as f64,
        worker_wait_max: 1.0,
        steps: vec![
            StepSecond { requests: requests / 3, errors: 0, p50_us: 800, p95_us: 2000, p99_us: 5000 },
            StepSecond { requests: requests - requests / 3, errors: t % 3, p50_us: 1000, p95_us: 4000, p99_us: 7000 },
        ],
        scenarios: Vec::new(),
        metrics: Default::default(),
    }
}

/// A ten-second closed-model run with two steps, one failed threshold, and hostile strings.
pub fn sample() -> RunResult {
    let mut h = histogram();
    for i in 1..=5000u64 {
        record(&mut h, 500 + (i * 7919) % 9000);
    }
    let steps = ["login", HOSTILE]
        .iter()
        .map(|name| StepResult {
            name: name.to_string(),
            summary: summary(2500, 10, &h),
            histogram: encode_histogram(&h),
            by_user: BTreeMap::new(),
        })
        .collect();
    RunResult {
        schema: SCHEMA.to_string(),
        tool: "stampede 0.1.0".to_string(),
        command: "run".to_string(),
        name: format!("checkout {HOSTILE}"),
        target: "https://shop.example.test/?a=1&b=<2>".to_string(),
        started_at: "2025-01-02T03:04:05.678Z".to_string(),
        started_at_unix_ms: 1_735_787_045_678,
        duration_s: 10.0,
        interrupted: false,
        aborted_by: None,
        load: LoadInfo { model: "closed".into(), users: 50, rate: None, workers: 2, timeout_s: 10.0, shard: None },
        totals: Totals { summary: summary(5000, 20, &h), ..Totals::default() },
        steps,
        scenarios: Vec::new(),
        metrics: Default::default(),
        timeline: (1..=10).map(row).collect(),
        thresholds: vec![
            ThresholdResult {
                expr: "p(95) < 200ms".into(),
                ok: true,
                value: 8.1,
                unit: "ms".into(),
                step: None,
                scenario: None,
                during: None,
                level: None,
            },
            ThresholdResult {
                expr: "errors < 0.1%".into(),
                ok: false,
                value: 0.4,
                unit: "%".into(),
                step: Some(HOSTILE.into()),
                scenario: None,
                during: None,
                level: None,
            },
        ],
        generator: GeneratorInfo {
            cpu_percent: 35.0,
            rss_bytes: 12 << 20,
            peak_rss_bytes: 13 << 20,
            workers: 2,
            worker_cpu_s: vec![1.5, 1.7],
            busiest_worker_cpu_percent: 17.0,
            busiest_worker_wait_percent: 2.0,
            schedule_lag_p99_us: 0,
            saturated: false,
            warnings: Vec::new(),
        },
        histogram: encode_histogram(&h),
        capacity: None,
    }
}

/// Every real tag of the page (text is escaped, so each `<` opens one).
fn tags(html: &str) -> Vec<&str> {
    html.split('<').skip(1).map(|t| t.split('>').next().unwrap_or(t)).collect()
}

/// The page references nothing outside itself: no `src`, `href`, CSS `url(` or `@import`.
pub fn assert_self_contained(html: &str) {
    for tag in tags(html) {
        let lower = tag.to_ascii_lowercase();
        for bad in ["src=", "href=", "url(", "xmlns"] {
            assert!(!lower.contains(bad), "tag references something: <{tag}>");
        }
    }
    let style = html.split("<style>").nth(1).and_then(|s| s.split("</style>").next()).expect("a <style> element");
    assert!(!style.contains("url(") && !style.contains("@import"), "the stylesheet fetches something");
    assert!(!html.to_ascii_lowercase().contains("<script"), "the page has a script");
    assert!(!html.to_ascii_lowercase().contains("<link"), "the page links something");
}

#[test]
fn renders_every_chart_with_its_title() {
    let html = render(&sample());
    for title in [
        "Throughput (requests per second)",
        "Active users",
        "Latency percentiles",
        "Errors (per second)",
        "Latency by percentile",
        "Worker CPU and wait for a CPU",
    ] {
        assert!(html.contains(&format!("<h3>{}", super::esc(title))), "no chart titled {title}");
    }
    // Six charts plus a sparkline per step.
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 6);
    assert_eq!(html.matches("<svg class=\"spark\"").count(), 2);
    assert!(html.contains("aria-label=\"Throughput over time\""));
    // The spectrum's axis reads in percentiles.
    assert!(html.contains(">99.9%") || html.contains("99.9%\n"), "no 99.9% tick");
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    assert!(!html.contains("no data"));
}

#[test]
fn fetches_nothing() {
    let html = render(&sample());
    assert_self_contained(&html);
    // The only `http` left is the target, as text.
    let rest = html.replace("https://shop.example.test/", "");
    assert!(!rest.contains("http://") && !rest.contains("https://"), "an address in the page");
}

#[test]
fn strings_from_the_run_are_escaped() {
    let html = render(&sample());
    assert!(!html.contains("<script>"), "raw script tag in the page");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"));
    assert!(html.contains("https://shop.example.test/?a=1&amp;b=&lt;2&gt;"));
    // Step names, reasons and threshold scopes all come through escaped.
    assert!(html.matches("&lt;script&gt;").count() >= 4, "{}", html.matches("&lt;script&gt;").count());
}

#[test]
fn thresholds_are_coloured_pass_and_fail() {
    let html = render(&sample());
    assert!(html.contains("<tr class=\"pass\"><td class=\"t v\">PASS</td><td class=\"wrap\"><code>p(95) &lt; 200ms"));
    assert!(html.contains("<tr class=\"fail\"><td class=\"t v\">FAIL</td><td class=\"wrap\"><code>errors &lt; 0.1%"));
    assert!(html.contains("1 THRESHOLD FAILED"));
}

#[test]
fn a_saturated_generator_is_shown_prominently() {
    let mut r = sample();
    r.generator.saturated = true;
    r.generator.warnings = vec!["the busiest worker used 99% of its core <sic>".into()];
    let html = render(&r);
    let banner = html.find("class=\"banner warn\" role=\"alert\"").expect("a warning banner");
    // Above the numbers, not only in the health section at the bottom.
    assert!(banner < html.find("class=\"cards\"").unwrap());
    assert!(html.contains("used 99% of its core &lt;sic&gt;"));
    assert!(html.contains("GENERATOR SATURATED"));
}

#[test]
fn empty_and_degenerate_documents_render_no_data() {
    let mut r = sample();
    r.timeline.clear();
    r.steps.clear();
    r.thresholds.clear();
    r.totals = Totals::default();
    r.histogram = encode_histogram(&histogram());
    r.duration_s = 0.0;
    let html = render(&r);
    assert!(html.contains("no data"));
    assert!(html.contains("No requests completed"));
    assert_eq!(html.matches("<svg").count(), 0, "charts drawn from nothing");
    assert_self_contained(&html);

    // A histogram that does not decode says so instead of failing.
    r.histogram = "not base64!".into();
    assert!(render(&r).contains("histogram is not base64"));

    // Rows with nothing in them, a single row, NaNs from a hand-edited document.
    let mut r = sample();
    r.timeline.truncate(1);
    r.timeline[0].worker_cpu_max = f64::NAN;
    r.totals.summary.rps = f64::NAN;
    let html = render(&r);
    assert!(html.contains("<svg class=\"chart\""));
    assert_self_contained(&html);
}

#[test]
fn long_runs_are_thinned() {
    let mut r = sample();
    r.timeline = (1..=7200).map(row).collect();
    let html = render(&r);
    assert!(html.contains("each point merges 12 s"));
    assert!(html.len() < 2_000_000, "{} bytes for a two-hour run", html.len());
    assert!(html.contains("time (min)"));
}

fn step(rate: f64, phase: Phase, p99_ms: f64, verdict: &str) -> StepReport {
    StepReport {
        rate,
        phase,
        achieved_rps: rate.min(420.0),
        p50_ms: p99_ms / 3.0,
        p95_ms: p99_ms / 1.5,
        p99_ms,
        errors: 0.0,
        verdict: verdict.into(),
        reason: (verdict != "pass").then(|| "p(99) < 50ms (measured 700ms)".into()),
        duration_s: 5.0,
        stopped_early: verdict == "fail",
    }
}

#[test]
fn capacity_runs_show_the_curve_the_answer_and_the_steps() {
    let mut r = sample();
    r.command = "capacity".into();
    r.capacity = Some(CapacityResult {
        max_rps: 400.0,
        limited_by: "p(99) < 50ms (measured 120ms at 450 req/s)".into(),
        slo: vec!["p(99) < 50ms".into(), "errors < 1%".into()],
        steps: vec![
            step(100.0, Phase::Probe, 4.0, "pass"),
            step(200.0, Phase::Probe, 6.0, "pass"),
            step(400.0, Phase::Probe, 8.0, "pass"),
            step(800.0, Phase::Probe, 1000.0, "fail"),
            step(600.0, Phase::Bisect, 700.0, "fail"),
            step(450.0, Phase::Bisect, 120.0, "generator"),
            step(400.0, Phase::Confirm, 9.0, "pass"),
        ],
    });
    let html = render(&r);
    assert!(html.contains("<h3>Latency vs offered rate"));
    assert!(html.contains("<h3>Achieved vs offered rate"));
    assert!(html.contains("SLO p(99) &lt; 50ms"), "no SLO line in the legend");
    assert!(html.contains("capacity 400 req/s"), "the answer is not marked");
    assert!(html.contains("offered rate (req/s)"));
    assert_eq!(html.matches("<tr class=\"pass answer\">").count(), 2);
    assert_eq!(
        html.matches("<tr class=\"fail\">").count(),
        2 + 1 + 1,
        "two failed steps, a failed threshold, the 503s"
    );
    assert!(html.contains("<tr class=\"warn\">"));
    assert!(html.contains(">confirm<"));
    assert_self_contained(&html);

    // A search that measured nothing.
    r.capacity.as_mut().unwrap().steps.clear();
    let html = render(&r);
    assert!(html.contains("no steps measured"));
}
