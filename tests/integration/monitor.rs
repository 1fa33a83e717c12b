//! Watching the service: series from a real Prometheus scraping a real node_exporter, and from an
//! in-process exporter whose numbers are known (a counter advancing at a set pace, a gauge), in
//! the timeline, the summary, thresholds and a capacity search; bad sources refused before load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::util::exporter::Exporter;
use crate::util::prometheus::{NodeExporter, Prometheus, free_port};
use crate::util::{self, Outcome, Response, Server, TempDir, TestTarget};

/// An exporter with `test_events_total` rising 50 a second from its start, and `test_gauge 5`.
fn paced_exporter() -> Exporter {
    let start = Instant::now();
    Exporter::start(move || {
        format!(
            "# HELP test_events_total Events.\n# TYPE test_events_total counter\ntest_events_total{{kind=\"a\"}} {}\n\
             # TYPE test_gauge gauge\ntest_gauge{{host=\"x\"}} 5\ntest_gauge{{host=\"y\"}} 0\n",
            50.0 * start.elapsed().as_secs_f64()
        )
    })
}

/// A server answering `ok`, and the count of requests it answered.
fn counting_server() -> (Server, Arc<AtomicU64>) {
    let served = Arc::new(AtomicU64::new(0));
    let s = served.clone();
    let server = Server::start(move |_| {
        s.fetch_add(1, Ordering::Relaxed);
        Response::with_length(200, "ok").into()
    });
    (server, served)
}

/// Timeline values of one series, in order (seconds without a sample left out).
fn values(out: &Outcome, name: &str) -> Vec<f64> {
    out.at("/timeline").as_array().unwrap().iter().filter_map(|r| r["monitor"][name].as_f64()).collect()
}

#[test]
fn a_scraped_counter_becomes_its_rate_and_a_gauge_its_value() {
    let exporter = paced_exporter();
    let server = Server::start(|_| Response::with_length(200, "ok").into());
    let out = {
        let _m = util::shared_machine();
        util::bench(
            &server.url("/"),
            &[
                "-c",
                "2",
                "-R",
                "100",
                "-d",
                "5s",
                "--monitor-scrape",
                &exporter.url(),
                "--monitor",
                "events=test_events_total",
                "--monitor",
                "gauge=test_gauge{host=\"x\"}",
            ],
        )
    };
    out.assert_code(0);
    let events = values(&out, "events");
    let rows = out.at("/timeline").as_array().unwrap().len();
    assert!(events.len() + 2 >= rows, "a sample nearly every second: {} of {rows}\n{}", events.len(), out.describe());
    for v in &events {
        assert!((v - 50.0).abs() <= 5.0, "a counter rising 50/s read as {v}/s: {events:?}");
    }
    let s = &out.at("/monitor/series/events");
    assert!((s["avg"].as_f64().unwrap() - 50.0).abs() <= 2.0, "{s}");
    assert_eq!(s["source"], "scrape: test_events_total");
    let g = &out.at("/monitor/series/gauge");
    assert_eq!((g["min"].as_f64(), g["max"].as_f64(), g["last"].as_f64()), (Some(5.0), Some(5.0), Some(5.0)));
    assert!(g["samples"].as_u64().unwrap() >= 4, "{g}");
    assert!(out.stdout.contains("service") && out.stdout.contains("events"), "{}", out.stdout);
    assert!(exporter.scrapes() >= 5, "one scrape a second, and one to check: {}", exporter.scrapes());
}

#[test]
fn a_threshold_on_a_series_fails_the_run_with_its_measured_value() {
    let exporter = paced_exporter();
    let target = TestTarget::start();
    let dir = TempDir::new("monitor-threshold");
    let file = dir.write(
        "watch.toml",
        &format!(
            r#"
target = "{}"
thresholds = ["max(gauge) < 3", "avg(events) > 10", {{ expr = "growth(gauge) < 10%", level = "warn" }}]

[load]
executor = "constant-vus"
vus = 2
duration = "3s"

[monitor]
scrape = ["{}"]

[monitor.series]
gauge = 'test_gauge{{host="x"}}'
events = {{ scrape = "test_events_total" }}

[[users]]
name = "u"
think = "20ms"
  [[users.steps]]
  request = "GET /"
"#,
            target.url(),
            exporter.url()
        ),
    );
    let out = {
        let _m = util::shared_machine();
        util::scenario(&file, &[])
    };
    out.assert_code(1);
    let th = out.at("/thresholds").as_array().unwrap();
    let find = |e: &str| th.iter().find(|t| t["expr"] == e).unwrap_or_else(|| panic!("no {e}: {th:?}"));
    assert_eq!(find("max(gauge) < 3")["ok"], false);
    assert_eq!(find("max(gauge) < 3")["value"].as_f64(), Some(5.0));
    assert_eq!(find("avg(events) > 10")["ok"], true);
    let growth = find("growth(gauge) < 10%");
    assert_eq!(
        (growth["ok"].as_bool(), growth["value"].as_f64(), growth["unit"].as_str()),
        (Some(true), Some(0.0), Some("%"))
    );
    assert!(out.stdout.contains("max(gauge) < 3"), "{}", out.stdout);
}

/// Regression: this test judged the load by the machine's CPU, which other work on the box (a
/// build beside the suite) can hold at every core before the load starts: "CPU under load 1.99
/// cores against 1.99 idle". It now judges it by the bytes received on loopback, which only the
/// load moves in bulk (the machine lock keeps other tests' loads out); the CPU series is still
/// watched and must be sampled and within the machine's cores.
#[test]
fn node_exporter_through_prometheus_shows_loopback_traffic_rising_under_load() {
    let node = NodeExporter::start();
    let prom = Prometheus::start_scraping(&[node.addr]);
    let target = TestTarget::start();
    let cpu = r#"sum(rate(node_cpu_seconds_total{mode!="idle"}[3s]))"#;
    let lo = r#"sum(rate(node_network_receive_bytes_total{device="lo"}[3s]))"#;
    // Prometheus needs a few scrapes before the rates have a value.
    let start = Instant::now();
    while prom.query(cpu).is_empty() || prom.query(lo).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "no rates after 20 s:\n{}", prom.log_tail());
        std::thread::sleep(Duration::from_millis(250));
    }
    let _m = util::exclusive_machine();
    std::thread::sleep(Duration::from_secs(3));
    let idle = prom.value(lo);
    let server = format!("http://{}", prom.addr);
    let out = util::bench(
        &target.url(),
        &[
            "-c",
            "32",
            "-t",
            "1",
            "-d",
            "6s",
            "--monitor-prometheus",
            &server,
            "--monitor",
            &format!("server_cpu={cpu}"),
            "--monitor",
            &format!("lo_bytes={lo}"),
            "--monitor",
            "mem_available=node_memory_MemAvailable_bytes",
        ],
    );
    out.assert_code(0);
    let rows = out.at("/timeline").as_array().unwrap().len();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let cpu_values = values(&out, "server_cpu");
    assert!(cpu_values.len() * 10 >= rows * 7, "CPU samples in {} of {rows} seconds", cpu_values.len());
    assert!(cpu_values.iter().all(|c| (0.0..=cores + 0.1).contains(c)), "CPU outside 0..{cores}: {cpu_values:?}");
    let lo_values = values(&out, "lo_bytes");
    assert!(lo_values.len() * 10 >= rows * 7, "loopback samples in {} of {rows} seconds", lo_values.len());
    // Every HTTP byte the run moved crossed loopback (inside packets with their headers): once the
    // 3 s rate window is inside the load, loopback carries at least half the run's HTTP bytes per
    // second, and far more than before the load.
    let http = (out.f64("/totals/bytes_in") + out.f64("/totals/bytes_out")) / out.f64("/duration_s");
    let busy = lo_values[lo_values.len() / 2..].iter().sum::<f64>() / (lo_values.len() - lo_values.len() / 2) as f64;
    assert!(
        busy > http / 2.0 && busy > 4.0 * idle,
        "loopback under load {busy:.0} B/s against {idle:.0} idle and {http:.0} B/s of HTTP: {lo_values:?}"
    );
    let mem = &out.at("/monitor/series/mem_available");
    assert!(mem["min"].as_f64().unwrap() > 1e6, "{mem}");
}

#[test]
#[ignore = "pre-release set (a capacity search): bash .ci/run --full"]
fn a_capacity_search_finds_the_rate_a_series_slo_allows() {
    // The exporter counts the requests the server has answered: its rate is the load itself.
    let (server, served) = counting_server();
    let counter = served.clone();
    let exporter = Exporter::start(move || {
        format!("# TYPE served_total counter\nserved_total {}\n", counter.load(Ordering::Relaxed))
    });
    let out = {
        let _m = util::exclusive_machine();
        util::stampede_json_within(
            &[
                "capacity",
                &server.url("/"),
                "-q",
                "-t",
                "1",
                "-c",
                "50",
                "--step-duration",
                "3s",
                "--warmup",
                "1s",
                "--start",
                "700",
                "--slo",
                "p(99) < 500ms",
                "--slo",
                "avg(served) < 1500",
                "--monitor-scrape",
                &exporter.url(),
                "--monitor",
                "served=served_total",
            ],
            Duration::from_secs(120),
        )
    };
    out.assert_code(0);
    let found = out.f64("/capacity/max_rps");
    assert!((found - 1500.0).abs() <= 150.0, "found {found} req/s for avg(served) < 1500\n{}", out.describe());
    let limited = out.at("/capacity/limited_by").as_str().unwrap().to_string();
    assert!(limited.contains("avg(served) < 1500") && limited.contains("served "), "{limited}");
    let steps = out.at("/capacity/steps").as_array().unwrap();
    assert!(steps.iter().all(|s| s["monitor"]["served"].is_number()), "each step records the series: {steps:?}");
    assert!(out.at("/monitor/series/served").is_object(), "{}", out.describe());
}

/// A typo is still refused: a scrape page without the metric, an expression Prometheus rejects,
/// a source that does not answer. (A series with no data yet is watched: see below.)
#[test]
fn bad_sources_are_refused_before_any_load_naming_the_series() {
    let exporter = paced_exporter();
    let prom = Prometheus::start();
    let server = Server::start(|_| Response::with_length(200, "ok").into());
    let dead = format!("http://127.0.0.1:{}/metrics", free_port());
    let prom_url = format!("http://{}", prom.addr);
    for (args, says) in [
        (vec!["--monitor-scrape", &dead, "--monitor", "x=up"], "monitor series `x`"),
        (
            vec!["--monitor-scrape", &exporter.url(), "--monitor", "nope=no_such_metric"],
            "no metric `no_such_metric` in the scraped text",
        ),
        (vec!["--monitor-prometheus", &prom_url, "--monitor", "bad=sum(rate(x[5m]"], "Prometheus rejected it"),
        (vec!["--monitor", "lonely=up"], "no source"),
        (vec!["--monitor-scrape", &exporter.url(), "--monitor", "p95=test_gauge"], "taken by a built-in metric"),
    ] {
        let mut all = vec!["-c", "1", "-d", "1s"];
        all.extend(args.iter().copied());
        let out = util::bench(&server.url("/"), &all);
        util::assert_refused_before_sending(&server, &out, &args.join(" "));
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

/// Issue 20: a counter the service creates on its first request has no data before the load.
/// Both ways of watching it (PromQL through a real Prometheus scraping the service, and the
/// scrape page itself, whose family has no sample yet) warn, watch it once it appears, and judge
/// thresholds on it by what it measured.
#[test]
fn a_series_with_no_data_before_the_load_is_warned_about_then_watched_and_judged() {
    let (server, served) = counting_server();
    // As client libraries write a labelled counter: the family always, a sample once touched.
    let counter = served.clone();
    let exporter = Exporter::start(move || {
        let n = counter.load(Ordering::Relaxed);
        let sample = if n > 0 { format!("served_total{{path=\"/\"}} {n}\n") } else { String::new() };
        format!("# HELP served_total Requests served.\n# TYPE served_total counter\n{sample}")
    });
    let prom = Prometheus::start_scraping(&[exporter.addr]);
    let start = Instant::now();
    while prom.query(r#"up{job="node"}"#).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "no scrape after 20 s:\n{}", prom.log_tail());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(prom.query("sum(served_total)").is_empty(), "no data before the load");
    let dir = TempDir::new("monitor-no-data-yet");
    let file = dir.write(
        "watch.toml",
        &format!(
            r#"
target = "{}"
thresholds = ["max(served) > 10", "max(served) < 5", "avg(scraped) > 10"]

[load]
executor = "constant-vus"
vus = 2
duration = "5s"

[monitor]
prometheus = "http://{}"
scrape = ["{}"]

[monitor.series]
served = {{ promql = "sum(served_total)" }}
scraped = {{ scrape = 'served_total{{path="/"}}' }}

[[users]]
name = "u"
think = "20ms"
  [[users.steps]]
  request = "GET /"
"#,
            server.url("/"),
            prom.addr,
            exporter.url()
        ),
    );
    let out = {
        let _m = util::shared_machine();
        util::scenario(&file, &[])
    };
    out.assert_code(1);
    for name in ["served", "scraped"] {
        assert!(
            out.stderr.contains(&format!("warning: monitor series `{name}` has no data yet")),
            "{name}: {}",
            out.stderr
        );
    }
    let sent = server.requests() as f64;
    let th = out.at("/thresholds").as_array().unwrap();
    let find = |e: &str| th.iter().find(|t| t["expr"] == e).unwrap_or_else(|| panic!("no {e}: {th:?}"));
    let max = find("max(served) > 10")["value"].as_f64().unwrap_or_else(|| panic!("{th:?}"));
    assert!(max > 10.0 && max <= sent, "Prometheus saw {max} of the {sent} requests served: {th:?}");
    assert_eq!(find("max(served) > 10")["ok"], true);
    assert_eq!(
        (find("max(served) < 5")["ok"].as_bool(), find("max(served) < 5")["value"].as_f64()),
        (Some(false), Some(max))
    );
    assert_eq!(find("avg(scraped) > 10")["ok"], true, "a scraped counter is judged by its rate: {th:?}");
    // Gaps before the first sample, then a value every second.
    assert!(values(&out, "served").len() >= 2, "{}", out.describe());
    assert!(values(&out, "scraped").len() >= 3, "{}", out.describe());
    assert_eq!(out.at("/monitor/series/served/failures").as_u64().unwrap_or(0), 0, "no data is a gap, not a failure");
}
