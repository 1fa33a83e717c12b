//! Thresholds against the built-in target, whose own request counts say what was really sent:
//! what was measured and what had nothing to measure ("no data", which fails), and their windows.

use serde_json::Value;

use crate::util::{self, Outcome, TempDir, TestTarget};

/// The threshold whose expression is `expr`.
fn threshold<'a>(out: &'a Outcome, expr: &str) -> &'a Value {
    let all = out.at("/thresholds").as_array().expect("thresholds is an array");
    all.iter().find(|t| t["expr"] == expr).unwrap_or_else(|| panic!("no threshold `{expr}` in {all:?}"))
}

/// The summary's line for the threshold `expr`.
fn line<'a>(out: &'a Outcome, expr: &str) -> &'a str {
    out.stdout.lines().find(|l| l.contains(expr)).unwrap_or_else(|| panic!("no line for `{expr}`:\n{}", out.stdout))
}

/// A step that never runs (`probability = 0`), a trend whose every response lacks its header, and
/// a run-wide error share that has requests: the first two have nothing to measure.
const NOTHING: &str = r#"thresholds = ["errors < 1%", "p(95)(server_ms) < 50"]

[metrics]
server_ms = { trend = "header Server-Timing dur", steps = ["hello"] }

[load]
executor = "constant-vus"
vus = 2
duration = "1s"
graceful_stop = "1s"

[[users]]
name = "u"
  [[users.steps]]
  name = "hello"
  request = "GET /"
  [[users.steps]]
  name = "never"
  request = "GET /status/204"
  probability = 0
  thresholds = ["p(95) < 1us", { expr = "errors < 1%", level = "warn" }]
"#;

#[test]
fn thresholds_pass_on_nothing() {
    let _m = util::shared_machine();
    let dir = TempDir::new("nothing");
    let target = TestTarget::start();
    let out = util::scenario(&dir.write("nothing.toml", NOTHING), &["--target", &target.url(), "-t", "1"]);
    out.assert_code(1);
    assert_eq!(target.route("GET /status/:code"), 0, "the step never ran: {:?}", target.counters().by_route());
    assert!(target.route("GET /") > 10, "{}", out.describe());

    let never = threshold(&out, "p(95) < 1us");
    assert_eq!((&never["ok"], &never["value"], &never["step"]), (&Value::Bool(false), &Value::Null, &"never".into()));
    assert_eq!(never["reason"], "no data: no responses with a latency", "{never}");
    assert!(line(&out, "p(95) < 1us").starts_with("    FAIL") && line(&out, "p(95) < 1us").contains("no data"));
    let warn = out.at("/thresholds").as_array().unwrap().iter().find(|t| t["step"] == "never" && t["level"] == "warn");
    let warn = warn.expect("the warning on `never`");
    assert_eq!((&warn["ok"], &warn["value"]), (&Value::Bool(false), &Value::Null), "{warn}");
    assert_eq!(warn["reason"], "no data: no requests completed");
    let trend = threshold(&out, "p(95)(server_ms) < 50");
    assert_eq!(
        (&trend["ok"], &trend["value"], &trend["reason"]),
        (&false.into(), &Value::Null, &"no data: no values recorded".into())
    );
    assert!(line(&out, "p(95)(server_ms) < 50").contains("FAIL"), "{}", out.stdout);
    assert_eq!(threshold(&out, "errors < 1%")["value"], 0.0, "measured on real requests: 0% is data");

    let steps = out.at("/steps").as_array().unwrap();
    let never = steps.iter().find(|s| s["name"] == "never").expect("step `never`");
    assert_eq!((&never["requests"], &never["latency_us"]), (&0.into(), &Value::Null), "no latency, not 0: {never}");
}

#[test]
fn a_bench_whose_connects_were_all_refused_has_no_latency() {
    let _m = util::shared_machine();
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = util::bench(&format!("http://127.0.0.1:{port}/"), &["-c", "2", "-d", "1s", "-t", "1"]);
    assert!(out.errors_of("connect_refused") > 0 || out.errors() > 0, "{}", out.describe());
    assert_eq!(out.at("/totals/latency_us"), &Value::Null, "{}", out.describe());
    assert!(!out.stdout.contains("min 0µs"), "{}", out.stdout);
    assert!(out.stdout.contains("latency     no data"), "{}", out.stdout);
}

/// Two scenarios: `base` on `/` for 3 s, `spike` on `/delay/40` from 1.5 s for 1.5 s, whose
/// thresholds are `spike_thresholds`.
fn spike_file(spike_thresholds: &str) -> String {
    format!(
        r#"[scenarios.base]
executor = "constant-vus"
vus = 1
duration = "3s"
users = ["fast"]

[scenarios.spike]
executor = "constant-vus"
vus = 2
duration = "1500ms"
start_time = "1500ms"
users = ["slow"]
thresholds = [{spike_thresholds}]

[[users]]
name = "fast"
  [[users.steps]]
  request = "GET /"

[[users]]
name = "slow"
  [[users.steps]]
  request = "GET /delay/40"
"#
    )
}

/// A scenario's `during` counts from its own start_time: `0s..1s` of a spike that starts at
/// 1.5 s is the run's 1.5–2.5 s (when the spike's slow requests ran), not the run's first second
/// (when it had not started, and nothing was measured).
#[test]
fn scenario_windows_count_from_its_start_time() {
    let _m = util::shared_machine();
    let dir = TempDir::new("scenario-window");
    let target = TestTarget::start();
    let file = dir.write("spike.toml", &spike_file(r#"{ expr = "p(95) < 20ms", during = "0s..1s" }"#));
    let out = util::scenario(&file, &["--target", &target.url(), "-t", "1"]);
    out.assert_code(1);
    assert!(target.route("GET /delay") > 0, "{:?}", target.counters().by_route());
    let t = threshold(&out, "p(95) < 20ms");
    assert_eq!((&t["scenario"], &t["during"], &t["ok"]), (&"spike".into(), &"0s..1s".into(), &false.into()), "{t}");
    let v = t["value"].as_f64().unwrap_or_else(|| panic!("measured nothing: {t}"));
    assert!(v >= 40.0, "the spike's own /delay/40 requests: {t}");
}

/// Windows that cannot be measured as written are refused when the file is read, with where.
#[test]
fn windows_that_cannot_be_measured_are_refused_when_the_file_is_read() {
    let _m = util::shared_machine();
    let dir = TempDir::new("bad-windows");
    let target = TestTarget::start();
    let cases = [
        (r#"{ expr = "p(95) < 20ms", during = "1200ms..2700ms" }"#, "whole seconds"),
        (
            r#"{ expr = "p(95) < 20ms", during = "2s..5s" }"#,
            "scenario `spike` runs for 1.5s: the window starts after it",
        ),
    ];
    for (th, why) in cases {
        let file = dir.write("bad.toml", &spike_file(th));
        let out = util::scenario(&file, &["--target", &target.url(), "-t", "1"]);
        out.assert_code(2);
        assert!(out.stderr.contains(why), "{th}: {}", out.stderr);
        assert!(out.stderr.contains("bad.toml:13:"), "{th}: names file, line and column: {}", out.stderr);
    }
    assert_eq!(target.requests(), 0, "refused before any load: {:?}", target.counters().by_route());
}

/// `errors < 1` was read as 100%; a k6 line got "expected an operator". Both are refused when the
/// file is read, saying what to write, before any request.
#[test]
fn errors_below_one_is_read_as_100_percent_and_k6_lines_show_the_stampede_form() {
    let _m = util::shared_machine();
    let dir = TempDir::new("ambiguous");
    let target = TestTarget::start();
    let cases = [
        ("errors < 1", "did you mean 1%?"),
        ("http_req_failed: rate<0.01", "k6's form: stampede writes `errors < 1%`"),
        ("http_req_duration: p(95)<200", "stampede writes `p(95) < 200ms`"),
        ("checks: rate>0.99", "stampede writes `checks > 99%`"),
    ];
    for (th, why) in cases {
        let file = dir
            .write("t.toml", &format!("thresholds = [\"{th}\"]\n{}", &NOTHING[NOTHING.find("\n[metrics]").unwrap()..]));
        let out = util::scenario(&file, &["--target", &target.url(), "-t", "1"]);
        out.assert_code(2);
        assert!(out.stderr.contains(why) && out.stderr.contains("t.toml:1:"), "{th}: {}", out.stderr);
    }
    assert_eq!(target.requests(), 0, "refused before any load");
}

/// A step's `rps` in a multi-scenario file divided by the whole run's length: the spike's step
/// ran only in its own 1.5 s, and its rate is over those.
#[test]
fn a_step_rps_divides_by_the_time_its_scenarios_ran() {
    let _m = util::shared_machine();
    let dir = TempDir::new("step-rps");
    let target = TestTarget::start();
    let text = spike_file("")
        .replace("request = \"GET /delay/40\"", "request = \"GET /delay/40\"\n  thresholds = [\"rps > 0\"]");
    let out = util::scenario(&dir.write("rps.toml", &text), &["--target", &target.url(), "-t", "1"]);
    out.assert_code(0);
    let sent = target.route("GET /delay");
    let t = threshold(&out, "rps > 0");
    let rps = t["value"].as_f64().unwrap();
    // Two users on /delay/40 for 1.5 s: about 25 req/s each; over the whole 3 s run it would be half.
    let want = sent as f64 / 1.5;
    assert!((rps - want).abs() <= want * 0.1, "{rps} req/s, the server saw {sent} in the spike's 1.5 s: {t}");
}

/// `iteration_duration:TYPE` is in the summary and JSON; a threshold on it was refused.
#[test]
fn iteration_duration_of_a_user_type_is_accepted_in_thresholds() {
    let _m = util::shared_machine();
    let dir = TempDir::new("iteration-type");
    let target = TestTarget::start();
    let text = format!(
        "thresholds = [\"p(95)(iteration_duration:slow) > 35\", \"p(95)( iteration_duration: fast ) < 35\"]\n{}",
        spike_file("")
    );
    let out = util::scenario(&dir.write("types.toml", &text), &["--target", &target.url(), "-t", "1"]);
    out.assert_code(0);
    assert!(target.route("GET /delay") > 0);
    let slow = threshold(&out, "p(95)(iteration_duration:slow) > 35");
    assert!(slow["ok"] == true && slow["value"].as_f64().unwrap() >= 40.0, "{slow}");
    let fast = threshold(&out, "p(95)( iteration_duration: fast ) < 35");
    assert!(fast["ok"] == true && fast["value"].as_f64().unwrap() < 35.0, "{fast}");
}

/// `during` on a watched series' threshold was shown but measured the whole run: a gauge at 0 for
/// its first 2 s and 100 after passes `max(g) < 50` in the run's first second, and measures 100
/// in its last.
#[test]
fn during_on_a_watched_series_threshold_was_ignored() {
    // The gauge's clock starts once the machine is ours: a wait for it would shift the change.
    let _m = util::shared_machine();
    let start = std::time::Instant::now();
    let exporter = crate::util::exporter::Exporter::start(move || {
        let v = if start.elapsed().as_secs_f64() < 2.0 { 0 } else { 100 };
        format!("# TYPE test_gauge gauge\ntest_gauge {v}\n")
    });
    let target = TestTarget::start();
    let dir = TempDir::new("series-window");
    let file = dir.write(
        "watch.toml",
        &format!(
            r#"thresholds = [{{ expr = "max(g) < 50", during = "0s..1s" }}, {{ expr = "max(g) > 50", during = "3s..4s" }}]

[load]
executor = "constant-vus"
vus = 1
duration = "4s"

[monitor]
scrape = ["{}"]

[monitor.series]
g = "test_gauge"

[[users]]
name = "u"
think = "50ms"
  [[users.steps]]
  request = "GET /"
"#,
            exporter.url()
        ),
    );
    let out = util::scenario(&file, &["--target", &target.url(), "-t", "1"]);
    let early = threshold(&out, "max(g) < 50");
    assert_eq!(
        (&early["ok"], early["value"].as_f64(), &early["during"]),
        (&true.into(), Some(0.0), &"0s..1s".into()),
        "{early}"
    );
    let late = threshold(&out, "max(g) > 50");
    assert_eq!((&late["ok"], late["value"].as_f64()), (&true.into(), Some(100.0)), "{late}");
    out.assert_code(0);
    assert!(target.route("GET /") > 0);
}

/// A run of 10 s on a route that answers after 20 ms, and after 500 ms from 3 s to 6 s of the
/// server's clock (which starts a little before the run: the slow span covers 3s..5s of the run
/// and ends by 6s). `{FROM}`/`{TO}`: the slow span on the server's clock, in ms.
const SCHEDULE: &str = r#"thresholds = [
  "p(50) during 3s..5s < 1.5 * p(50) during 0s..2s",
  "p(50) during 8s..10s < 1.5 * p(50) during 0s..2s",
  { expr = "recovery(p(50) < 100ms) < 3s", after = "6s", hold = "2s" },
  { expr = "recovery(p(50) < 5ms) < 3s", after = "1s" },
]

[load]
executor = "constant-vus"
vus = 4
duration = "10s"

[[users]]
name = "u"
  [[users.steps]]
  name = "scheduled"
  request = "GET /schedule/20/500/{FROM}/{TO}"
"#;

/// The seeds' soak and spike judgements against a server whose latency rises and falls on a
/// known schedule: the slow window drifts from the first (fails), the last one does not (passes),
/// latency is back under 100 ms within 3 s of the slow span's end (passes), and a bound it never
/// meets never recovers, saying for how long it was watched.
#[test]
fn a_drift_threshold_fails_and_a_recovery_threshold_passes_on_a_known_schedule() {
    let _m = util::exclusive_machine();
    let dir = TempDir::new("schedule");
    let target = TestTarget::start();
    let now = target.started.elapsed().as_millis() as u64;
    let text = SCHEDULE.replace("{FROM}", &(now + 3000).to_string()).replace("{TO}", &(now + 6000).to_string());
    let out = util::scenario(&dir.write("schedule.toml", &text), &["--target", &target.url()]);
    out.assert_code(1);
    assert!(target.route("GET /schedule") > 100, "{}", out.describe());

    let drifted = threshold(&out, "p(50) during 3s..5s < 1.5 * p(50) during 0s..2s");
    assert_eq!(drifted["ok"], false, "{drifted}");
    let (value, baseline) = (drifted["value"].as_f64().unwrap(), drifted["extra"]["baseline"].as_f64().unwrap());
    assert!(value >= 490.0 && (19.0..100.0).contains(&baseline), "{drifted}");
    let ratio = drifted["extra"]["ratio"].as_f64().unwrap();
    assert!((ratio - value / baseline).abs() < 0.01, "the ratio is value / baseline: {drifted}");
    assert_eq!((&drifted["during"], &drifted["baseline_during"]), (&"3s..5s".into(), &"0s..2s".into()));

    let held = threshold(&out, "p(50) during 8s..10s < 1.5 * p(50) during 0s..2s");
    assert_eq!(held["ok"], true, "{held}");

    let recovered = threshold(&out, "recovery(p(50) < 100ms) < 3s");
    assert_eq!((&recovered["ok"], &recovered["unit"], &recovered["after"]), (&true.into(), &"s".into(), &"6s".into()));
    let took = recovered["value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&took), "back within a second of 6s: {recovered}");
    assert_eq!((recovered["extra"]["after_s"].as_f64(), recovered["extra"]["hold_s"].as_f64()), (Some(6.0), Some(2.0)));

    let never = threshold(&out, "recovery(p(50) < 5ms) < 3s");
    assert_eq!((&never["ok"], &never["value"]), (&false.into(), &Value::Null), "{never}");
    let watched = never["extra"]["watched_s"].as_f64().unwrap();
    assert!((8.5..=9.5).contains(&watched), "watched from 1s to the end of the run: {never}");
    let reason = never["reason"].as_str().unwrap();
    assert!(reason.starts_with("never recovered: watched for") && reason.contains("from 1s of the run"), "{reason}");
}

/// Drift and recovery thresholds that cannot mean anything are refused when the file is read,
/// naming file, line and column, before any request.
#[test]
fn drift_and_recovery_nonsense_is_refused_when_the_file_is_read() {
    let _m = util::shared_machine();
    let dir = TempDir::new("bad-drift");
    let target = TestTarget::start();
    let cases = [
        (
            r#""p(95) during 1s..2s < 1.5 * errors during 0s..1s""#,
            "t.toml:1:44",
            "`p(95)` is in milliseconds and `errors` in percent",
        ),
        (
            r#""p(95) during 5s..6s < p(95) during 0s..1s""#,
            "t.toml:1:15",
            "the run lasts 1s: the window starts after it",
        ),
        (
            r#"{ expr = "recovery(p(95) < 200ms) < 5s", after = "spike" }"#,
            "t.toml:1:15",
            "after = \"spike\" is neither a scenario",
        ),
        (
            r#"{ expr = "recovery(p(95) < 200ms) < 5s", after = "0s", hold = "0s" }"#,
            "t.toml:1:15",
            "hold whole seconds, at least 1s",
        ),
        (r#"{ expr = "recovery(p(95) < 200ms) < 5s" }"#, "t.toml:1:15", "a recovery is watched from `after`"),
        (r#"{ expr = "recovery(p(90) < 200ms) < 5s", after = "0s" }"#, "t.toml:1:15", "recovery watches each second"),
    ];
    for (th, at, why) in cases {
        let file =
            dir.write("t.toml", &format!("thresholds = [{th}]\n{}", &NOTHING[NOTHING.find("\n[metrics]").unwrap()..]));
        let out = util::scenario(&file, &["--target", &target.url(), "-t", "1"]);
        out.assert_code(2);
        assert!(out.stderr.contains(why) && out.stderr.contains(at), "{th}: {}", out.stderr);
    }
    assert_eq!(target.requests(), 0, "refused before any load");
}

/// With one way to judge, a window's threshold while the run goes on has nothing to measure yet;
/// the dashboard showed it measured on the whole run so far (and now must not show it failing):
/// its `ok` is null until the end, where the result judges it on its window.
#[test]
fn a_window_threshold_is_pending_on_the_dashboard_until_the_end() {
    use crate::util::prometheus::{free_port, http_get};
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("window-live");
    let file = dir.write(
        "w.toml",
        r#"thresholds = [{ expr = "p(95) < 10s", during = "3s..4s" }, "requests > 0"]

[load]
executor = "constant-vus"
vus = 1
duration = "4s"

[[users]]
name = "u"
think = "50ms"
  [[users.steps]]
  request = "GET /"
"#,
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let json = dir.path().join("r.json");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["run", file.to_str().unwrap(), "--target", &target.url(), "-t", "1", "-q"])
        .args(["--dashboard", &addr.to_string(), "--json", json.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn stampede");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let frame = loop {
        let got = http_get(addr, "/api/frame").ok().filter(|(code, _)| *code == 200);
        let v: Option<Value> = got.and_then(|(_, body)| serde_json::from_str(&body).ok());
        if let Some(v) = v.filter(|v| v["thresholds"].as_array().is_some_and(|a| !a.is_empty())) {
            break v;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("no frame with thresholds from the dashboard at {addr}");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let status = child.wait().expect("stampede ends");
    let find = |v: &Value, expr: &str| -> Value {
        v["thresholds"].as_array().unwrap().iter().find(|t| t["expr"] == expr).cloned().expect(expr)
    };
    let live = find(&frame, "p(95) < 10s");
    assert!(live["ok"].is_null(), "pending, neither passing nor failing: {live}");
    assert!(live["reason"].as_str().unwrap().contains("judged at the end"), "{live}");
    assert_eq!(find(&frame, "requests > 0")["ok"], true, "a run-wide threshold is judged live");
    assert_eq!(status.code(), Some(0));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let end = find(&doc, "p(95) < 10s");
    assert_eq!((&end["ok"], &end["window"]["from_s"]), (&true.into(), &3.0.into()), "judged on its window: {end}");
    assert!(target.route("GET /") > 0);
}
