//! Live outputs of a real run: remote write into a real Prometheus (queried over its API, with the
//! Grafana dashboard's own queries), an endpoint that is down or hangs, bad flags, and the live
//! dashboard read by headless Chromium while the run goes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::prometheus::{Prometheus, free_port, http_get, program};
use crate::util::{self, Action, Response, Server, TempDir};

/// A server that answers every tenth request with 500 and the others with 200 after 0–4 ms.
fn mixed_server() -> Server {
    Server::start(|req| {
        let r = if req.index % 10 == 9 {
            Response::with_length(500, "oops")
        } else {
            Response::with_length(200, "ok").delay(Duration::from_millis(req.index % 5))
        };
        Action::Respond(r)
    })
}

/// A run id no other test uses.
fn run_id(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Index of the duration bucket (upper bounds in seconds) a value falls in.
fn bucket(seconds: f64) -> usize {
    const BOUNDS: [f64; 18] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        60.0,
    ];
    BOUNDS.iter().position(|b| seconds <= *b * 1.001).unwrap_or(BOUNDS.len())
}

#[test]
fn remote_write_reaches_a_real_prometheus_and_agrees_with_the_result() {
    let prom = Prometheus::start();
    let server = mixed_server();
    let id = run_id("agree");
    let out = {
        let _m = util::shared_machine();
        let target = format!("prometheus={}", prom.write_url());
        util::bench(&server.url("/"), &["-c", "4", "-R", "300", "-d", "4s", "--out", &target, "--run-id", &id])
    };
    out.assert_code(0);
    let requests = out.requests();
    assert!(requests > 500, "{}", out.describe());
    assert_eq!(out.at("/run_id"), &Value::from(id.clone()), "run id in the result");
    let pushed = out.u64("/outputs/0/pushed");
    assert!(pushed >= 4, "one push a second and one at the end, got {pushed}\n{}", out.describe());
    assert_eq!(out.u64("/outputs/0/dropped"), 0, "{}", out.describe());
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);

    let sel = format!("{{run=\"{id}\"}}");
    let total = prom.value(&format!("sum(stampede_requests_total{sel})"));
    assert_eq!(total as u64, requests, "Prometheus sum against the result's requests\n{}", prom.log_tail());
    for (code, n) in [(200u16, out.status(200)), (500, out.status(500))] {
        let got = prom.value(&format!("sum(stampede_requests_total{{run=\"{id}\",status=\"{code}\"}})"));
        assert_eq!(got as u64, n, "status {code}");
    }
    let errors = prom.value(&format!("sum(stampede_errors_total{{run=\"{id}\",kind=\"status\"}})"));
    assert_eq!(errors as u64, out.errors_of("status"), "errors of kind status");
    let count = prom.value(&format!("sum(stampede_request_duration_seconds_count{sel})"));
    assert_eq!(count as u64, out.answered(), "histogram count against the answered requests");
    // One sample a second, not only the last one.
    let samples =
        prom.value(&format!("max(count_over_time(stampede_requests_total{{run=\"{id}\",status=\"200\"}}[5m]))"));
    assert!(samples >= 4.0, "only {samples} samples of the request counter");
    // The quantile Grafana would show lies within one bucket of the run's own p99.
    let q99 =
        prom.value(&format!("histogram_quantile(0.99, sum by (le) (stampede_request_duration_seconds_bucket{sel}))"));
    let p99 = out.f64("/totals/latency_us/p99") / 1e6;
    let (a, b) = (bucket(q99), bucket(p99));
    assert!(
        a.abs_diff(b) <= 1,
        "histogram_quantile p99 {q99}s (bucket {a}) against the result's p99 {p99}s (bucket {b})"
    );
    // The gauges are there, one series each for an unsharded run.
    for gauge in ["stampede_in_flight", "stampede_generator_cpu_ratio", "stampede_generator_send_lag_seconds"] {
        assert_eq!(prom.value(&format!("count({gauge}{sel})")), 1.0, "{gauge}");
    }

    // Every query of the Grafana dashboard runs on these series; those on requests and
    // durations find them.
    let dashboard = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/stampede.json"))
        .expect("read deploy/grafana/stampede.json");
    let doc: Value = serde_json::from_str(&dashboard).expect("the Grafana dashboard is JSON");
    let mut exprs = Vec::new();
    collect_exprs(&doc["panels"], &mut exprs);
    assert!(exprs.len() >= 10, "only {} queries in the dashboard", exprs.len());
    let mut empty = Vec::new();
    for e in &exprs {
        let q = e
            .replace("$run", &id)
            .replace("$scenario", ".*")
            .replace("$step", ".*")
            .replace("$__rate_interval", "1m")
            .replace("$__range", "5m")
            .replace("$__interval", "15s");
        let v = prom.query_raw(&q);
        if v["data"]["result"].as_array().is_none_or(Vec::is_empty) {
            empty.push(e.clone());
        }
    }
    let core: Vec<&String> = empty
        .iter()
        .filter(|e| e.contains("stampede_requests_total") || e.contains("stampede_request_duration_seconds"))
        .collect();
    assert!(core.is_empty(), "dashboard queries that found nothing: {core:#?}");
}

/// Every `expr` of the dashboard's targets, rows' nested panels included.
fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(e)) = m.get("expr") {
                out.push(e.clone());
            }
            for (_, x) in m {
                collect_exprs(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_exprs(x, out)),
        _ => {}
    }
}

#[test]
fn each_scenario_has_its_own_series() {
    let prom = Prometheus::start();
    let server = Server::start(|_| Response::with_length(200, "ok").into());
    let dir = TempDir::new("live-scenarios");
    let file = dir.write(
        "two.toml",
        &format!(
            r#"
target = "{}"

[scenarios.browse]
executor = "constant-vus"
vus = 2
duration = "3s"
users = ["browser"]

[scenarios.buy]
executor = "constant-arrival-rate"
rate = 50
duration = "3s"
max_vus = 5
users = ["buyer"]

[[users]]
name = "browser"
think = "10ms"
  [[users.steps]]
  name = "home"
  request = "GET /"

[[users]]
name = "buyer"
  [[users.steps]]
  name = "checkout"
  request = "POST /buy"
"#,
            server.url("")
        ),
    );
    let id = run_id("scen");
    let out = {
        let _m = util::shared_machine();
        util::scenario(&file, &["--out", &format!("prometheus={}", prom.write_url()), "--run-id", &id])
    };
    out.assert_code(0);
    let by = prom.query(&format!("sum by (scenario, step) (stampede_requests_total{{run=\"{id}\"}})"));
    let mut got: Vec<(String, String, u64)> = by
        .iter()
        .map(|(l, v)| (l["scenario"].as_str().unwrap().to_string(), l["step"].as_str().unwrap().to_string(), *v as u64))
        .collect();
    got.sort();
    let steps = out.at("/steps").as_array().unwrap();
    let of = |name: &str| steps.iter().find(|s| s["name"] == name).map(|s| s["requests"].as_u64().unwrap()).unwrap();
    assert_eq!(
        got,
        vec![("browse".into(), "home".into(), of("home")), ("buy".into(), "checkout".into(), of("checkout"))],
        "series by scenario and step against the result's steps"
    );
    let users = prom.query(&format!("stampede_active_users{{run=\"{id}\"}}"));
    let mut names: Vec<&str> = users.iter().map(|(l, _)| l["scenario"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["browse", "buy"]);
}

#[test]
fn an_endpoint_that_is_down_or_hangs_is_warned_about_once_and_the_run_goes_on() {
    let server = Server::start(|_| Response::with_length(200, "ok").into());
    // Nothing listens on the first; the second accepts and never answers.
    let down = format!("prometheus=http://127.0.0.1:{}/api/v1/write", free_port());
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_url = format!("prometheus=http://{}/api/v1/write", hang.local_addr().unwrap());
    let _m = util::exclusive_machine();
    let started = Instant::now();
    let out = util::bench(&server.url("/"), &["-c", "2", "-R", "200", "-d", "3s", "--out", &down, "--out", &hang_url]);
    let wall = started.elapsed();
    out.assert_code(0);
    assert!(out.requests() >= 500, "the load went on\n{}", out.describe());
    // Every second of the run carried its load: nothing waited for the endpoints.
    let timeline = out.at("/timeline").as_array().unwrap();
    let full: Vec<&Value> = timeline.iter().filter(|r| r["interval_s"].as_f64().unwrap() > 0.99).collect();
    assert!(full.len() >= 3, "{timeline:?}");
    for r in full {
        assert!(r["requests"].as_u64().unwrap() >= 190, "a second short of its load: {r}");
    }
    // The run ends on time: the final push waits 2 s at most.
    assert!(wall < Duration::from_secs(9), "the run took {wall:?} with endpoints down");
    let warnings = out.stderr.matches("warning: remote write to").count();
    assert_eq!(warnings, 2, "one warning per endpoint:\n{}", out.stderr);
    for i in 0..2 {
        let p = format!("/outputs/{i}");
        assert_eq!(out.u64(&format!("{p}/pushed")), 0, "{}", out.describe());
        assert!(out.u64(&format!("{p}/dropped")) >= 2, "dropped pushes counted\n{}", out.describe());
        assert!(out.at(&format!("{p}/last_error")).is_string(), "{}", out.describe());
    }
    assert!(out.stdout.contains("pushes sent"), "{}", out.stdout);
    drop(hang);
}

#[test]
fn bad_live_flags_are_refused_before_any_load() {
    let server = Server::start(|_| Response::with_length(200, "ok").into());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    for (args, says) in [
        (vec!["--out", "kafka=http://127.0.0.1:1/"], "--out `kafka=http://127.0.0.1:1/`: unknown output kind `kafka`"),
        (vec!["--out", "prometheus=127.0.0.1:9090"], "--out `prometheus=127.0.0.1:9090`"),
        (vec!["--out", "prometheus"], "use KIND=URL"),
        (vec!["--dashboard", &taken], "--dashboard"),
        (vec!["--dashboard", "not-an-address"], "--dashboard `not-an-address`"),
        (vec!["--run-id", "two words"], "--run-id `two words`"),
    ] {
        let mut all = vec!["-c", "1", "-d", "1s"];
        all.extend(args.iter().copied());
        let out = util::bench(&server.url("/"), &all);
        util::assert_refused_before_sending(&server, &out, &args.join(" "));
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// The dashboard
// ---------------------------------------------------------------------------------------------

/// `stampede` started in the background, its output in files.
struct Background {
    child: Child,
    dir: TempDir,
}

impl Background {
    fn start(args: &[&str]) -> Background {
        let dir = TempDir::new("background");
        let child = Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .expect("spawn stampede");
        Background { child, dir }
    }

    fn output(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!("stdout:\n{}\nstderr:\n{}", read("stdout"), read("stderr"))
    }

    /// Wait for the exit (at most `limit`); the exit code.
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("stampede still running after {limit:?}\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page as headless Chromium has it after running its scripts for a while.
fn dom(chromium: &Path, url: &str, scratch: &Path) -> String {
    let out = Command::new(chromium)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", scratch.join("profile").display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Flags for a headless Chromium that reads a loopback page and talks to nothing else.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=3000",
];

/// The `data-value` of the element with this id.
fn data_value(dom: &str, id: &str) -> String {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} on the page:\n{dom}"));
    let tag_start = dom[..at].rfind('<').unwrap();
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>').unwrap()];
    let v = tag.split("data-value=\"").nth(1).unwrap_or_else(|| panic!("#{id} has no data-value: {tag}"));
    v[..v.find('"').unwrap()].to_string()
}

fn number(dom: &str, id: &str) -> f64 {
    let v = data_value(dom, id);
    v.parse().unwrap_or_else(|_| panic!("#{id} data-value `{v}` is not a number"))
}

#[test]
fn the_dashboard_follows_the_run_in_headless_chromium() {
    let chromium = program("chromium", "chromium");
    let server = Server::start(|_| Response::with_length(200, "ok").into());
    // A watched series (a gauge of 7 from an in-process exporter) shows on the page too.
    let exporter = crate::util::exporter::Exporter::start(|| "# TYPE queue_depth gauge\nqueue_depth 7\n".to_string());
    let exporter_url = exporter.url();
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let json = util::run::temp_path("dashboard.json");
    let scratch = TempDir::new("chromium-dashboard");
    let _m = util::shared_machine();
    let url = server.url("/");
    let json_arg = json.to_str().unwrap();
    let addr_arg = addr.to_string();
    let mut run = Background::start(&[
        "bench",
        &url,
        "-c",
        "2",
        "-R",
        "300",
        "-d",
        "15s",
        "-q",
        "--json",
        json_arg,
        "--run-id",
        "dash",
        "--dashboard",
        &addr_arg,
        "--dashboard-linger",
        "60s",
        "--monitor-scrape",
        &exporter_url,
        "--monitor",
        "queue=queue_depth",
    ]);
    // Wait for the first second.
    let start = Instant::now();
    loop {
        if let Ok((200, body)) = http_get(addr, "/api/frame") {
            if body.contains("\"point\"") {
                break;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no frame after 15 s\n{}", run.output());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The page stops listening after two frames (`?frames=2`): headless Chromium dumps the page
    // only once no request is open, and the event stream stays open until the run ends.
    let page = format!("http://{addr}/");
    let snapshot = format!("http://{addr}/?frames=2");
    let first = dom(&chromium, &snapshot, scratch.path());
    std::thread::sleep(Duration::from_millis(1500));
    let second = dom(&chromium, &snapshot, scratch.path());
    assert!(number(&second, "elapsed") < 14.0, "the second read came after the run: no longer live");
    let (a, b) = (number(&first, "total-requests"), number(&second, "total-requests"));
    assert!(a > 0.0 && b > a, "requests on the page did not grow: {a} then {b}");
    assert!(number(&second, "elapsed") > number(&first, "elapsed"));
    assert_eq!(data_value(&second, "status"), "running");
    assert!(second.contains("data-series=\"queue\" data-value=\"7\""), "the watched series on the page:\n{second}");
    assert!(second.contains("dash"), "the run id is on the page");
    // Without --control the page is watch-only: no control panel, no buttons.
    assert!(second.contains("<section id=\"control\" hidden"), "controls on a watch-only page:\n{second}");
    assert!(!second.contains("id=\"ctl-value-0\""), "a change input on a watch-only page");
    // A run at 300 req/s shows about that.
    let rps = number(&second, "rps-now");
    assert!((150.0..=450.0).contains(&rps), "req/s now {rps}");

    // The run ends; the dashboard lingers with the final numbers, which are the result's.
    let start = Instant::now();
    while !json.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "no result after 20 s\n{}", run.output());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let requests = result["totals"]["requests"].as_u64().unwrap();
    let last = dom(&chromium, &page, scratch.path());
    assert_eq!(number(&last, "total-requests") as u64, requests, "final requests on the page");
    assert_eq!(data_value(&last, "status"), "finished");
    // /metrics on the same address says the same.
    let (code, text) = http_get(addr, "/metrics").unwrap();
    assert_eq!(code, 200);
    let sum: f64 = text
        .lines()
        .filter(|l| l.starts_with("stampede_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(sum as u64, requests, "/metrics against the result:\n{text}");
    // Ctrl-C closes the lingering dashboard at once.
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(run.child.id() as libc::pid_t, libc::SIGINT) };
    let t = Instant::now();
    assert_eq!(run.wait(Duration::from_secs(5)), Some(0), "{}", run.output());
    assert!(t.elapsed() < Duration::from_secs(2), "Ctrl-C took {:?} to close the dashboard", t.elapsed());
    assert!(http_get(addr, "/").is_err(), "the dashboard still answers after the exit");
    let _ = std::fs::remove_file(&json);
}

#[test]
#[ignore = "pre-release set (a capacity search): bash .ci/run --full"]
fn a_capacity_search_pushes_every_step_and_serves_its_dashboard() {
    let prom = Prometheus::start();
    let target = util::TestTarget::start();
    let url = format!("{}/capacity/refuse/400", target.url());
    let id = run_id("capacity");
    let port = free_port().to_string();
    let dashboard = format!("127.0.0.1:{port}");
    let out = {
        let _m = util::shared_machine();
        util::stampede_json_within(
            &[
                "capacity",
                &url,
                "-q",
                "-t",
                "1",
                "--step-duration",
                "2s",
                "--warmup",
                "500ms",
                "--start",
                "100",
                "--max",
                "800",
                "--slo",
                "errors < 1%",
                "--out",
                &format!("prometheus={}", prom.write_url()),
                "--run-id",
                &id,
                "--dashboard",
                &dashboard,
            ],
            Duration::from_secs(90),
        )
    };
    out.assert_code(0);
    let steps = out.at("/capacity/steps").as_array().unwrap().len();
    assert!(steps >= 3, "{}", out.describe());
    assert_eq!(out.at("/run_id"), &Value::from(id.clone()));
    let pushed = out.u64("/outputs/0/pushed");
    assert!(pushed as usize >= 2 * steps, "{pushed} pushes over {steps} steps of 2 s\n{}", out.describe());
    // The counters keep rising across the steps: their sum is every step's requests, more than
    // the one step the document describes.
    let total = prom.value(&format!("sum(stampede_requests_total{{run=\"{id}\"}})")) as u64;
    assert!(total > out.requests(), "Prometheus has {total} requests, the last step alone {}", out.requests());
    let refused = prom.value(&format!("sum(stampede_requests_total{{run=\"{id}\",status=\"503\"}})"));
    assert!(refused > 0.0, "the steps above 400/s were refused in part");
    assert!(out.stderr.contains(&format!("dashboard: http://{dashboard}/")), "{}", out.stderr);
}

/// Issue 24 items 4 and 5: the `scenario` label of a `bench` run is what the README says
/// (`default`) both on the dashboard's `/metrics` and in remote write, and a clean run has its
/// error series at 0 from the start, so the README's error-share query gives 0, not "no data".
#[test]
fn series_labels_agree_with_the_readme_and_a_clean_runs_error_share_is_zero() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let said = readme.split("`scenario` is the scenario's name").nth(1).expect("the README names the label");
    let said = &said[..said.find("; in a").expect("the sentence about the label")];
    assert!(said.contains("for `bench`") && said.contains("`default`"), "the README says: {said}");

    let prom = Prometheus::start();
    let server = Server::start(|_| Response::with_length(200, "ok").into());
    let id = run_id("clean");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let _m = util::shared_machine();
    let (url, write, addr_arg) = (server.url("/"), format!("prometheus={}", prom.write_url()), addr.to_string());
    let mut run = Background::start(&[
        "bench",
        &url,
        "-c",
        "2",
        "-R",
        "200",
        "-d",
        "4s",
        "-q",
        "--run-id",
        &id,
        "--out",
        &write,
        "--dashboard",
        &addr_arg,
    ]);
    let start = Instant::now();
    let text = loop {
        if let Ok((200, body)) = http_get(addr, "/metrics") {
            if body.contains("stampede_requests_total{") {
                break body;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no series on /metrics after 10 s\n{}", run.output());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(run.wait(Duration::from_secs(20)), Some(0), "{}", run.output());
    let requests: Vec<&str> = text.lines().filter(|l| l.starts_with("stampede_requests_total{")).collect();
    assert!(requests.iter().all(|l| l.contains("scenario=\"default\"")), "/metrics:\n{text}");
    let connect = text
        .lines()
        .find(|l| l.starts_with("stampede_errors_total{") && l.contains("kind=\"connect\""))
        .unwrap_or_else(|| panic!("no connect error series on /metrics of a clean run:\n{text}"));
    assert!(connect.ends_with(" 0"), "{connect}");

    let labels = prom.query(&format!("stampede_requests_total{{run=\"{id}\"}}"));
    assert!(!labels.is_empty(), "{}", prom.log_tail());
    assert!(labels.iter().all(|(l, _)| l["scenario"] == "default"), "remote write: {labels:?}");
    let share = prom.value(&format!(
        "sum(rate(stampede_errors_total{{run=\"{id}\"}}[1m])) / sum(rate(stampede_requests_total{{run=\"{id}\"}}[1m]))"
    ));
    assert_eq!(share, 0.0, "the README's error share of a clean run");
}

/// Issue 24 item 9: the README's `--config.file=deploy/prometheus/prometheus.yml` is shipped and
/// is a configuration Prometheus accepts.
#[test]
fn the_shipped_prometheus_config_is_valid() {
    let promtool = program("promtool", "prometheus");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/prometheus.yml");
    let out = Command::new(promtool).args(["check", "config"]).arg(&file).output().expect("run promtool");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains("--config.file=deploy/prometheus/prometheus.yml"));
}
