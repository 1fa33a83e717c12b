//! Tests of the HTML report on synthetic result documents: the charts are there, nothing is
//! fetched, strings from the run are escaped, degenerate documents still render.

use std::collections::BTreeMap;

use super::render;
use crate::capacity::{CapacityResult, Phase, StepReport};
use crate::report::metric::{MetricSummary, TrendSummary};
use crate::report::result::{
    GeneratorInfo, Latency, LoadInfo, RunResult, SCHEMA, ScenarioResult, StepResult, Summary, ThresholdResult, Totals,
    encode_histogram,
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
        paused: 0.0,
        steps: vec![
            StepSecond { requests: requests / 3, errors: 0, p50_us: 800, p95_us: 2000, p99_us: 5000 },
            StepSecond { requests: requests - requests / 3, errors: t % 3, p50_us: 1000, p95_us: 4000, p99_us: 7000 },
        ],
        scenarios: Vec::new(),
        metrics: Default::default(),
        monitor: Default::default(),
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
            duration_s: None,
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
        load: LoadInfo {
            model: "closed".into(),
            users: 50,
            rate: None,
            workers: 2,
            timeout_s: 10.0,
            shard: None,
            streams: None,
        },
        totals: Totals { summary: summary(5000, 20, &h), ..Totals::default() },
        steps,
        scenarios: Vec::new(),
        metrics: Default::default(),
        timeline: (1..=10).map(row).collect(),
        thresholds_not_run: Vec::new(),
        overrides: Vec::new(),
        thresholds: vec![
            ThresholdResult::bare("p(95) < 200ms", 8.1, "ms"),
            ThresholdResult {
                ok: false,
                step: Some(HOSTILE.into()),
                ..ThresholdResult::bare("errors < 0.1%", 0.4, "%")
            },
        ],
        generator: GeneratorInfo {
            io: String::new(),
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
            ..GeneratorInfo::default()
        },
        histogram: encode_histogram(&h),
        capacity: None,
        run_id: String::new(),
        run: None,
        outputs: Vec::new(),
        monitor: None,
        paused_s: 0.0,
        control: Vec::new(),
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
fn the_protocols_spoken_are_shown_with_the_generator() {
    let mut r = sample();
    assert!(!render(&r).contains("<dt>spoke</dt>"), "nothing said when no protocol was counted");
    r.totals.summary.protocols = BTreeMap::from([("h2".to_string(), 1200)]);
    assert!(render(&r).contains("<dt>spoke</dt><dd>h2</dd>"));
    r.totals.summary.protocols.insert("http/1.1".to_string(), 10);
    let html = render(&r);
    assert!(html.contains("<dt>spoke</dt><dd>h2 × 1,200 and http/1.1 × 10</dd>"), "{html}");
    assert!(html.find("<dt>spoke</dt>").unwrap() > html.find("id=\"generator\"").unwrap());
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
        monitor: Default::default(),
        users: 0,
        search: 0,
    }
}

#[test]
fn capacity_runs_show_the_curve_the_answer_and_the_steps() {
    let mut r = sample();
    r.command = "capacity".into();
    r.capacity = Some(CapacityResult {
        max_rps: 400.0,
        unit: "req/s".into(),
        interrupted: false,
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
        searches: Vec::new(),
        spread: None,
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

    // Regression (issue 24 item 6): a search over a scenario file counts iterations, and says so
    // wherever a rate is shown, and what "achieved" counts.
    r.capacity.as_mut().unwrap().unit = "iterations/s".into();
    let html = render(&r);
    let section = &html[html.find("<section id=\"capacity\">").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(!section.contains("req/s<") && !section.contains("(req/s)"), "req/s in an iterations search:\n{section}");
    assert!(section.contains("capacity 400 iterations/s") && section.contains("offered rate (iterations/s)"));
    assert!(section.contains("achieved (iterations/s)") && section.contains("iterations finished per second"));
    assert!(html.contains("400 iterations/s"), "the card names the unit");

    // Regression (issue 24 item 7): an interrupted search shows its last pass, not a capacity.
    r.capacity.as_mut().unwrap().interrupted = true;
    let html = render(&r);
    assert!(html.contains("last pass") && html.contains("interrupted: not an answer"));

    // A search that measured nothing.
    r.capacity.as_mut().unwrap().steps.clear();
    let html = render(&r);
    assert!(html.contains("no steps measured"));
}

fn threshold(expr: &str, ok: bool, value: f64, scenario: &str, during: Option<&str>, warn: bool) -> ThresholdResult {
    ThresholdResult {
        ok,
        scenario: Some(scenario.into()),
        during: during.map(String::from),
        level: warn.then(|| "warn".to_string()),
        ..ThresholdResult::bare(expr, value, "ms")
    }
}

/// The sample as a file of two scenarios (the second with hostile name and three thresholds:
/// one passing, one failing, one warning that did not hold) and four metrics of its own.
pub fn with_scenarios_and_metrics() -> RunResult {
    let mut r = sample();
    let mut h = histogram();
    for i in 1..=1234u64 {
        record(&mut h, 1000 + i);
    }
    let spike = format!("spike {HOSTILE}");
    let own = vec![
        threshold("p(95) < 500ms", true, 2.2, &spike, None, false),
        threshold("p(99) < 1ms", false, 2.3, &spike, None, false),
        threshold("p(50) < 1ms", false, 2.1, &spike, Some("4s..8s"), true),
    ];
    r.thresholds.extend(own.iter().cloned());
    let scenario = |name: &str, start_s: f64, duration_s: f64, thresholds: Vec<ThresholdResult>| ScenarioResult {
        name: name.into(),
        executor: "constant-vus".into(),
        start_s,
        duration_s,
        totals: Totals {
            summary: Summary { rps: 1234.0 / duration_s, ..summary(1234, 7, &h) },
            dropped_iterations: 42,
            iterations: 617,
            ..Totals::default()
        },
        histogram: encode_histogram(&h),
        thresholds,
    };
    r.scenarios = vec![scenario("browse", 0.0, 10.0, Vec::new()), scenario(&spike, 4.0, 4.0, own)];
    r.metrics = [
        ("cache_hit".to_string(), MetricSummary::Rate { rate: 97.5, hits: 975, total: 1000 }),
        ("orders".to_string(), MetricSummary::Counter { count: 1234 }),
        (
            "server_ms".to_string(),
            MetricSummary::Trend(TrendSummary {
                count: 900,
                missing: 3,
                mean: 7.25,
                p50: 6.5,
                p95: 12.5,
                p99: 20.125,
                max: 31.0,
                ..TrendSummary::default()
            }),
        ),
        (format!("never {HOSTILE}"), MetricSummary::Trend(TrendSummary::default())),
    ]
    .into_iter()
    .collect();
    for row in &mut r.timeline {
        let t = row.t as u64;
        let inside = (5..=8).contains(&t);
        row.scenarios = vec![
            StepSecond {
                requests: row.requests - 20 * u64::from(inside),
                errors: 0,
                p50_us: 900,
                p95_us: 3000,
                p99_us: 6000,
            },
            StepSecond { requests: 20 * u64::from(inside), errors: 0, p50_us: 2000, p95_us: 2200, p99_us: 2300 },
        ];
        row.metrics = [
            ("cache_hit".to_string(), 95.0 + t as f64 / 4.0),
            ("orders".to_string(), (t * 12) as f64),
            ("server_ms".to_string(), 10.0 + t as f64),
        ]
        .into_iter()
        .collect();
    }
    r
}

#[test]
fn documents_without_scenarios_or_metrics_have_no_such_sections() {
    let html = render(&sample());
    assert!(!html.contains("id=\"scenarios\"") && !html.contains("id=\"metrics\""));
    assert!(!html.contains("WARNING"));
}

#[test]
fn each_scenario_has_its_section_and_a_line_on_the_chart() {
    let html = render(&with_scenarios_and_metrics());
    assert_self_contained(&html);
    assert!(html.contains("<h2>Scenarios<span class=\"note\">2 scenarios"));
    assert!(html.contains("<h3>Requests per second by scenario"));
    assert!(html.contains("aria-label=\"Requests per second by scenario over time\""));
    assert!(html.contains("<h3>p95 latency by scenario"));
    assert!(html.contains("aria-label=\"p95 latency by scenario over time\""));
    // The charts' legends names both scenarios (escaped).
    assert!(html.contains("\">browse</span>"));
    assert!(html.contains("\">spike &lt;script&gt;"));
    let first = &html[html.find("id=\"scenario-1\"").expect("a section for the first")..];
    let first = &first[..first.find("</section>").unwrap()];
    assert!(first.contains("<h2>Scenario browse<span class=\"note\">constant-vus · from 0s to 10s (10s)</span></h2>"));
    for number in [">1,234<", "<div class=\"v\">123</div>", ">0.57%<", ">42<", ">617<", "no thresholds of its own"] {
        assert!(first.contains(number), "no {number} in\n{first}");
    }
    let second = &html[html.find("id=\"scenario-2\"").expect("a section for the second")..];
    let second = &second[..second.find("</section>").unwrap()];
    assert!(second.contains("Scenario spike &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "{second}");
    assert!(second.contains("from 4s to 8s (4s)"), "{second}");
    assert!(second.contains("<div class=\"v\">309</div>"), "its own rate, over its own window: {second}");
    assert!(second.contains("1 THRESHOLD FAILED") && second.contains("1 WARNING"), "{second}");
    assert!(second.contains("<tr class=\"pass\"><td class=\"t v\">PASS</td>"));
    assert!(second.contains("<tr class=\"fail\"><td class=\"t v\">FAIL</td><td class=\"wrap\"><code>p(99) &lt; 1ms"));
    assert!(second.contains("<tr class=\"warn\"><td class=\"t v\">WARN</td><td class=\"wrap\"><code>p(50) &lt; 1ms"));
    // Its own table does not repeat the scenario, only the window.
    assert!(!second.contains("scenario <b>"), "{second}");
    assert!(second.contains("<td class=\"wrap\"><span class=\"muted\">during 4s..8s</span></td>"), "{second}");
    assert!(second.contains("<td class=\"wrap\">the whole scenario</td>"), "{second}");
}

#[test]
fn thresholds_show_warnings_and_what_they_are_on() {
    let html = render(&with_scenarios_and_metrics());
    let all = &html[html.find("<section id=\"thresholds\">").unwrap()..];
    let all = &all[..all.find("</section>").unwrap()];
    assert_eq!(all.matches("<tr class=").count(), 5, "{all}");
    assert!(all.contains("scenario <b>spike &lt;script&gt;"), "{all}");
    assert!(all.contains("<span class=\"muted\">during 4s..8s</span>"), "{all}");
    assert!(all.contains("(warning only)"));
    assert!(all.contains(">whole run<"));
    // The header: two failed (the run's own and the scenario's), one warning that does not count.
    let header = &html[..html.find("</header>").unwrap()];
    assert!(header.contains("2 THRESHOLDS FAILED") && header.contains("1 WARNING"), "{header}");
    assert!(html.contains("passed, 1 warned"));

    // Only a warning failed: the run passes, and says so.
    let mut r = with_scenarios_and_metrics();
    r.thresholds.retain(|t| t.ok || t.level.is_some());
    let header = render(&r);
    let header = &header[..header.find("</header>").unwrap()];
    assert!(header.contains("THRESHOLDS PASSED") && header.contains("1 WARNING"), "{header}");
}

#[test]
fn metrics_have_a_table_and_a_chart_each() {
    let html = render(&with_scenarios_and_metrics());
    let m = &html[html.find("<section id=\"metrics\">").expect("a metrics section")..];
    let m = &m[..m.find("</section>").unwrap()];
    // Rate: percent and hits of total; counter: count and per second; trend: its statistics.
    assert!(
        m.contains(
            "<td class=\"wrap\">cache_hit</td><td class=\"t\">rate</td><td>97.5%</td><td class=\"t\">975 of 1,000</td>"
        ),
        "{m}"
    );
    assert!(m.contains("<td class=\"wrap\">orders</td><td class=\"t\">counter</td><td>1,234</td><td class=\"t\">123 per second</td>"), "{m}");
    assert!(
        m.contains("<td class=\"wrap\">server_ms</td><td>900</td><td>7.25</td><td>6.5</td><td>12.5</td><td>20.125</td><td>31</td><td><span class=\"bad\">3</span></td>"),
        "{m}"
    );
    // A trend that saw nothing: no zeros pretending to be percentiles.
    assert!(m.contains("<td class=\"wrap\">never &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;</td><td>0</td><td>–</td>"), "{m}");
    for title in [
        "cache_hit (rate, percent per second)",
        "orders (counter, count per second)",
        "server_ms (trend, p95 per second)",
    ] {
        assert!(m.contains(&format!("<h3>{title}")), "no chart {title}");
    }
    assert!(m.contains("aria-label=\"server_ms over time\""));
    // The metric the timeline does not carry: said, not drawn.
    assert_eq!(m.matches("<svg class=\"chart\"").count(), 3, "{m}");
    assert!(m.contains("the timeline has no seconds of this metric"));
    // Six charts, the scenarios' two, three metrics'.
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 6 + 2 + 3);
}

#[test]
fn scenarios_and_metrics_without_data_render() {
    // Rows without per-scenario seconds or metric values (an older or merged document).
    let mut r = with_scenarios_and_metrics();
    for row in &mut r.timeline {
        row.scenarios.clear();
        row.metrics.clear();
    }
    let html = render(&r);
    assert_eq!(html.matches("the timeline has no per-scenario seconds").count(), 2);
    assert_eq!(html.matches("the timeline has no seconds of this metric").count(), 4);
    assert_self_contained(&html);

    // Nothing at all: no timeline, scenarios and metrics of nothing, NaNs.
    let mut r = with_scenarios_and_metrics();
    r.timeline.clear();
    r.duration_s = 0.0;
    r.histogram = encode_histogram(&histogram());
    for s in &mut r.scenarios {
        s.totals = Totals::default();
        s.totals.summary.rps = f64::NAN;
        s.duration_s = f64::NAN;
        s.histogram = "not base64!".into();
    }
    r.metrics.insert("zero".into(), MetricSummary::Rate { rate: f64::NAN, hits: 0, total: 0 });
    r.metrics.insert("none".into(), MetricSummary::Counter { count: 0 });
    let html = render(&r);
    assert!(html.contains("id=\"scenario-2\"") && html.contains("<h3>zero (rate"));
    assert_eq!(html.matches("<svg").count(), 0, "charts drawn from nothing");
    assert_self_contained(&html);

    // A single scenario and rows without per-scenario seconds: the run's own rate is its rate.
    let mut r = with_scenarios_and_metrics();
    r.scenarios.truncate(1);
    for row in &mut r.timeline {
        row.scenarios.clear();
    }
    let html = render(&r);
    assert!(html.contains("aria-label=\"Requests per second by scenario over time\""));
    assert!(html.contains("1 scenario,"));
}

#[test]
fn thresholds_a_smoke_left_out_are_listed_with_their_reason() {
    let mut r = sample();
    assert!(!render(&r).contains("NOT RUN"), "nothing listed when every threshold was judged");
    r.thresholds_not_run = vec![
        crate::plan::NotRun {
            expr: "errors < 1%".into(),
            scenario: Some("spike <b>".into()),
            step: None,
            reason: "its scenario does not run in a smoke (--vus 2 --duration 2s)".into(),
        },
        crate::plan::NotRun {
            expr: "rps > 350".into(),
            scenario: None,
            step: None,
            reason: "a smoke does not judge throughput".into(),
        },
    ];
    let html = render(&r);
    let section = &html[html.find("<section id=\"thresholds\">").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    let not_run = &section[section.find("<h3 id=\"thresholds-not-run\">Not run</h3>").expect("a not-run table")..];
    assert_eq!(not_run.matches("<tr class=\"skip\"><td class=\"t v\">NOT RUN</td>").count(), 2, "{not_run}");
    assert!(
        not_run.contains("<code>errors &lt; 1%</code></td><td class=\"wrap\">scenario <b>spike &lt;b&gt;</b></td>")
    );
    assert!(not_run.contains("its scenario does not run in a smoke (--vus 2 --duration 2s)"));
    assert!(not_run.contains("<code>rps &gt; 350</code></td><td class=\"wrap\">whole run</td>"));
    assert!(html.contains(", 2 not run"), "the thresholds card counts them");
    // A run that judged none of its file's thresholds still lists them.
    r.thresholds.clear();
    let html = render(&r);
    assert!(html.contains("no threshold was judged") && html.contains("Not run</h3>"));
}
