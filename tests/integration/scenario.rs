//! Integration tests of `stampede run` (and `demo`, `--dry-run`): real scenario files written into
//! per-test temp dirs, run by the real binary against the built-in target started in the test
//! process on a loopback ephemeral port. The server's own per-route counts are the reference the
//! client's results are held to. Every run takes a few seconds at most, on one worker.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util::{self, Outcome, TempDir, TestTarget};

/// `stampede run FILE --target URL -t 1 -q --json ...`.
fn run(file: &Path, target: &TestTarget) -> Outcome {
    let url = target.url();
    util::scenario(file, &["--target", &url, "-t", "1"])
}

/// The step called `name` in the result.
fn step<'a>(out: &'a Outcome, name: &str) -> &'a Value {
    let steps = out.at("/steps").as_array().expect("steps is an array");
    steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| {
        panic!("no step `{name}` in the result: {:?}", steps.iter().map(|s| &s["name"]).collect::<Vec<_>>())
    })
}

/// Requests the client completed for step `name`.
fn step_requests(out: &Outcome, name: &str) -> u64 {
    step(out, name)["requests"].as_u64().expect("step requests is a u64")
}

fn timeline(out: &Outcome) -> &Vec<Value> {
    out.at("/timeline").as_array().expect("timeline is an array")
}

/// The threshold whose expression is `expr`.
fn threshold<'a>(out: &'a Outcome, expr: &str) -> &'a Value {
    let all = out.at("/thresholds").as_array().expect("thresholds is an array");
    all.iter().find(|t| t["expr"] == expr).unwrap_or_else(|| panic!("no threshold `{expr}` in {all:?}"))
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

// ---------------------------------------------------------------------------------------------
// A journey with extraction against the stateful target
// ---------------------------------------------------------------------------------------------

const JOURNEY: &str = r#"name = "journey"
thresholds = ["errors < 1%", "checks > 99%", "p(95) < 250ms"]

[load]
executor = "ramping-vus"
stages = [
  { duration = "1s", target = 20 },
  { duration = "1.5s", target = 20 },
  { duration = "0.5s", target = 0 },
]
graceful_stop = "5s"

[[users]]
name = "agent"
weight = 70
think = "20ms"
data = "agents.csv"

  [[users.steps]]
  name = "login"
  request = "POST /auth/login"
  headers = { "Content-Type" = "application/json" }
  body = '{"email":"{{email}}","password":"{{password}}"}'
  # The target answers the email back: this proves the row came from the CSV file.
  expect = { status = 200, body_contains = "@csv.test" }
  extract = { token = "json $.token" }

  [[users.steps]]
  name = "create escrow"
  request = "POST /escrows"
  headers = { Authorization = "Bearer {{token}}", "Content-Type" = "application/json" }
  body = '{"property_address":"{{vu}}-{{iter}} Test St","purchase_price":{{rand 300000 1300000}}}'
  expect = { status = 201 }
  extract = { escrow_id = "json $.id" }

  [[users.steps]]
  name = "escrow detail"
  request = "GET /escrows/{{escrow_id}}"
  headers = { Authorization = "Bearer {{token}}" }
  expect = { status = 200, body_contains = "Test St" }

[[users]]
name = "browser"
weight = 30
pick = "weighted"
think = "20ms"

  [[users.steps]]
  name = "pricing"
  request = "GET /api/pricing"
  weight = 3

  [[users.steps]]
  name = "reports"
  request = "GET /api/reports"
  weight = 1
"#;

const AGENTS_CSV: &str = "email,password\n\
    agent1@csv.test,pw-1\nagent2@csv.test,pw-2\nagent3@csv.test,pw-3\nagent4@csv.test,pw-4\nagent5@csv.test,pw-5\n";

#[test]
fn journey_with_extraction_matches_the_servers_own_counts_per_route() {
    let _m = util::shared_machine();
    let dir = TempDir::new("journey");
    dir.write("agents.csv", AGENTS_CSV);
    let file = dir.write("journey.toml", JOURNEY);
    let target = TestTarget::start();
    let out = run(&file, &target);

    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!(out.unfinished(), 0, "graceful_stop lets requests in flight finish\n{}", out.describe());
    let thresholds = out.at("/thresholds").as_array().unwrap();
    assert_eq!(thresholds.len(), 3);
    assert!(thresholds.iter().all(|t| t["ok"] == true), "thresholds: {thresholds:?}");
    let checks = out.u64("/totals/checks");
    assert!(checks > 0 && out.u64("/totals/checks_failed") == 0, "{}", out.describe());
    assert_eq!(
        target.counters().misuse(),
        0,
        "the target saw a wrong token, id or owner: {:?}",
        target.counters().by_route()
    );

    // Each step's count is exactly the server's count for its route.
    let (login, create, detail) =
        (step_requests(&out, "login"), step_requests(&out, "create escrow"), step_requests(&out, "escrow detail"));
    let (pricing, reports) = (step_requests(&out, "pricing"), step_requests(&out, "reports"));
    let routes = target.counters().by_route();
    assert_eq!(login, target.route("POST /auth/login"), "login; server routes {routes:?}");
    assert_eq!(create, target.route("POST /escrows"), "create escrow; server routes {routes:?}");
    assert_eq!(detail, target.route("GET /escrows/:id"), "escrow detail; server routes {routes:?}");
    assert_eq!(pricing + reports, target.route("GET /api/:name"), "pricing + reports; server routes {routes:?}");
    assert_eq!(out.requests(), target.requests(), "totals; server routes {routes:?}");
    assert_eq!(login, target.counters().logins(), "every login succeeded");
    // A journey runs in order; a user stopped by the ramp-down may leave its last one unfinished.
    assert!(login >= create && create >= detail && login - detail <= 20, "{login} / {create} / {detail}");
    assert!(detail > 300, "too few journeys for 20 users over 3 s: {detail}\n{}", out.describe());

    // Both user types ran, about 70 : 30 (each user does one request per think time).
    let agent = login + create + detail;
    let browser = pricing + reports;
    let share = agent as f64 / (agent + browser) as f64;
    println!(
        "journey: login {login}, create {create}, detail {detail}, pricing {pricing}, reports {reports}; agents' share {share:.3}"
    );
    assert!((0.6..=0.8).contains(&share), "agents made {agent} requests, browsers {browser}: {share:.2} of them");
    // Within the browsers' weighted pick, pricing : reports is 3 : 1.
    let pricing_share = pricing as f64 / browser as f64;
    assert!((0.65..=0.85).contains(&pricing_share), "pricing {pricing}, reports {reports}");
}

// ---------------------------------------------------------------------------------------------
// Coordinated omission: a server that stalls 100 ms of every second
// ---------------------------------------------------------------------------------------------

/// The server stalls the first 100 ms of every second: requests arriving in a stall wait for its
/// end, so with arrivals uniform in time 10% of them wait uniformly 0..100 ms: true p95 = 50 ms,
/// true p99 = 90 ms.
const STALL: &str = "/stall/1000/100";
const TRUE_P95_MS: f64 = 50.0;
const TRUE_P99_MS: f64 = 90.0;

/// Start the run 400 ms into the target's second, so every stall of the run is whole (the run
/// neither starts nor ends inside one).
fn align_to_stalls(target: &TestTarget) {
    target.wait_for_phase(Duration::from_secs(1), Duration::from_millis(400));
}

fn assert_true_percentiles(out: &Outcome, what: &str) {
    let (p95, p99) = (ms(out.u64("/totals/latency_us/p95")), ms(out.u64("/totals/latency_us/p99")));
    println!("{what}: p95 {p95:.1} ms, p99 {p99:.1} ms");
    assert!(
        (p95 - TRUE_P95_MS).abs() <= 0.15 * TRUE_P95_MS,
        "{what}: p95 {p95} ms, true p95 is {TRUE_P95_MS} ms ± 15%\n{}",
        out.describe()
    );
    assert!(
        (p99 - TRUE_P99_MS).abs() <= 0.15 * TRUE_P99_MS,
        "{what}: p99 {p99} ms, true p99 is {TRUE_P99_MS} ms ± 15%\n{}",
        out.describe()
    );
}

#[test]
fn open_model_bench_reports_the_true_p95_p99_of_a_stalling_server() {
    let _m = util::exclusive_machine();
    let target = TestTarget::start();
    align_to_stalls(&target);
    let url = format!("{}{STALL}", target.url());
    let out = util::bench(&url, &["--rate", "200", "-c", "4", "-d", "4s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let started = out.requests() + out.unfinished() + out.u64("/totals/dropped_iterations");
    assert!(started.abs_diff(800) <= 4, "200/s for 4 s: {started} started\n{}", out.describe());
    assert_true_percentiles(&out, "bench --rate 200 -c 4");
}

#[test]
fn constant_arrival_rate_reports_the_true_p95_p99_of_a_stalling_server() {
    let _m = util::exclusive_machine();
    let dir = TempDir::new("co-open");
    // 20 starts fall into each stall; max_vus leaves room for all of them, so none is dropped.
    let file = dir.write(
        "open.toml",
        &format!(
            r#"[load]
executor = "constant-arrival-rate"
rate = 200
duration = "4s"
pre_allocated_vus = 4
max_vus = 40
graceful_stop = "2s"

[[users]]
name = "reader"
  [[users.steps]]
  request = "GET {STALL}"
"#
        ),
    );
    let target = TestTarget::start();
    align_to_stalls(&target);
    let out = run(&file, &target);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!(out.u64("/totals/dropped_iterations"), 0, "{}", out.describe());
    assert_eq!(out.unfinished(), 0, "{}", out.describe());
    assert!(out.requests().abs_diff(800) <= 4, "200/s for 4 s\n{}", out.describe());
    assert_eq!(out.requests(), target.route("GET /stall"));
    assert_true_percentiles(&out, "constant-arrival-rate 200/s");
}

/// With `max_vus` below what a stall piles up, the starts beyond it are dropped and counted,
/// never silently skipped: each stall holds 5 users and lets 5 more starts wait; of its 20 starts,
/// 10 are dropped.
#[test]
fn constant_arrival_rate_counts_starts_beyond_max_vus_as_dropped() {
    let _m = util::exclusive_machine();
    let dir = TempDir::new("co-drop");
    let file = dir.write(
        "drop.toml",
        &format!(
            r#"[load]
executor = "constant-arrival-rate"
rate = 200
duration = "2s"
pre_allocated_vus = 5
max_vus = 5
graceful_stop = "2s"

[[users]]
name = "reader"
  [[users.steps]]
  request = "GET {STALL}"
"#
        ),
    );
    let target = TestTarget::start();
    align_to_stalls(&target);
    let out = run(&file, &target);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let dropped = out.u64("/totals/dropped_iterations");
    println!("constant-arrival-rate 200/s, max_vus 5: {} requests, {dropped} dropped", out.requests());
    assert!((15..=25).contains(&dropped), "two stalls drop about 10 starts each: {dropped}\n{}", out.describe());
    let accounted = out.requests() + out.unfinished() + dropped;
    assert!(accounted.abs_diff(400) <= 2, "400 starts scheduled, {accounted} accounted for\n{}", out.describe());
    let timeline_dropped: u64 = timeline(&out).iter().map(|r| r["dropped"].as_u64().unwrap()).sum();
    assert_eq!(timeline_dropped, dropped, "timeline dropped does not add up to the total");
    assert_eq!(out.requests(), target.route("GET /stall"));
}

#[test]
fn closed_model_hides_the_stalls_from_its_percentiles() {
    let _m = util::exclusive_machine();
    let dir = TempDir::new("co-closed");
    let file = dir.write(
        "closed.toml",
        &format!(
            r#"[load]
executor = "constant-vus"
vus = 4
duration = "2s"

[[users]]
name = "reader"
  [[users.steps]]
  request = "GET {STALL}"
"#
        ),
    );
    let target = TestTarget::start();
    align_to_stalls(&target);
    let out = run(&file, &target);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let (p99, max) = (ms(out.u64("/totals/latency_us/p99")), ms(out.u64("/totals/latency_us/max")));
    println!("constant-vus 4: {} requests, p99 {p99:.2} ms, max {max:.1} ms", out.requests());
    // The users did wait out the stalls...
    assert!(max >= 80.0, "max {max} ms: the run never met a stall\n{}", out.describe());
    // ...but only 4 requests per stall did, among thousands: the p99 does not show them.
    assert!(out.requests() > 1000, "{}", out.describe());
    assert!(p99 < 10.0, "closed-model p99 {p99} ms\n{}", out.describe());
}

// ---------------------------------------------------------------------------------------------
// Thresholds and the exit code
// ---------------------------------------------------------------------------------------------

/// Two users on `/delay/5` (about 5 ms per request) for `duration`, with these thresholds.
fn slow_scenario(duration: &str, thresholds: &str, step_thresholds: &str) -> String {
    format!(
        r#"thresholds = [{thresholds}]

[load]
executor = "constant-vus"
vus = 2
duration = "{duration}"
graceful_stop = "1s"

[[users]]
name = "u"
  [[users.steps]]
  name = "slow"
  request = "GET /delay/5"
  thresholds = [{step_thresholds}]
"#
    )
}

#[test]
fn a_failing_threshold_exits_1_and_is_named_with_its_measured_value() {
    let _m = util::shared_machine();
    let dir = TempDir::new("thresholds");
    let target = TestTarget::start();

    let failing = dir.write("failing.toml", &slow_scenario("1s", r#""p(95) < 2ms", "errors < 1%""#, r#""p(99) < 1s""#));
    let out = run(&failing, &target);
    out.assert_code(1);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let p95 = ms(out.u64("/totals/latency_us/p95"));
    assert!(p95 >= 5.0, "/delay/5 answered in {p95} ms\n{}", out.describe());
    let failed = threshold(&out, "p(95) < 2ms");
    assert_eq!(failed["ok"], false, "{failed}");
    assert_eq!(failed["unit"], "ms");
    let value = failed["value"].as_f64().unwrap();
    assert!((value - p95).abs() < 0.01, "threshold measured {value} ms, the result's p95 is {p95} ms");
    let errors = threshold(&out, "errors < 1%");
    assert_eq!(
        (errors["ok"].clone(), errors["value"].as_f64(), errors["unit"].clone()),
        (Value::Bool(true), Some(0.0), "%".into())
    );
    let on_step = threshold(&out, "p(99) < 1s");
    assert_eq!((on_step["ok"].clone(), on_step["step"].clone()), (Value::Bool(true), "slow".into()), "{on_step}");
    // The text report names the failed threshold and what was measured.
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("p(95) < 2ms"))
        .unwrap_or_else(|| panic!("the report does not name the threshold:\n{}", out.stdout));
    assert!(line.contains("FAIL") && line.contains(&format!("measured {value:.3}ms")), "{line}");
    assert!(out.stdout.lines().any(|l| l.contains("ok") && l.contains("errors < 1%")), "{}", out.stdout);

    let passing =
        dir.write("passing.toml", &slow_scenario("1s", r#""p(95) < 500ms", "errors < 1%""#, r#""p(99) < 1s""#));
    let out = run(&passing, &target);
    out.assert_code(0);
    let all = out.at("/thresholds").as_array().unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|t| t["ok"] == true), "{all:?}");
    assert!(!out.stdout.contains("FAIL"), "{}", out.stdout);
}

#[test]
fn abort_on_fail_threshold_stops_a_10s_run_early_and_exits_1() {
    let _m = util::shared_machine();
    let dir = TempDir::new("abort");
    let target = TestTarget::start();
    let file = dir.write("abort.toml", &slow_scenario("10s", r#"{ expr = "p(95) < 2ms", abort_on_fail = true }"#, ""));
    let out = run(&file, &target);
    out.assert_code(1);
    println!("abort_on_fail: stopped after {:?}, duration_s {}", out.wall, out.f64("/duration_s"));
    assert!(out.wall < Duration::from_secs(5), "the run went on for {:?}\n{}", out.wall, out.describe());
    assert!(out.f64("/duration_s") < 5.0, "{}", out.describe());
    assert_eq!(out.at("/aborted_by"), "p(95) < 2ms", "{}", out.describe());
    assert_eq!(out.at("/interrupted"), true);
    assert_eq!(threshold(&out, "p(95) < 2ms")["ok"], false);
    assert!(out.requests() > 50, "{}", out.describe());
    assert!(out.stdout.contains("ABORTED") && out.stdout.contains("p(95) < 2ms"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------------------------
// Bad scenario files
// ---------------------------------------------------------------------------------------------

#[test]
fn a_broken_file_exits_2_naming_file_and_line_and_sends_nothing() {
    let _m = util::shared_machine();
    let dir = TempDir::new("broken");
    let target = TestTarget::start();
    let url = target.url();
    let head = |executor: &str, duration: &str| {
        format!("target = \"{url}\"\n[load]\nexecutor = \"{executor}\"\nvus = 2\nduration = \"{duration}\"\n")
    };
    let user = |data: &str, request: &str| {
        format!(
            "[[users]]\nname = \"u\"\n{data}  [[users.steps]]\n  request = \"POST /auth/login\"\n  extract = {{ token = \"json $.token\" }}\n  [[users.steps]]\n  request = \"{request}\"\n"
        )
    };
    let good_user = user("", "GET /escrows/{{token}}");
    // (what, file text, line the error is on, words the message must hold)
    let cases: Vec<(&str, String, usize, &[&str])> = vec![
        ("unknown variable", head("constant-vus", "1s") + &user("", "GET /escrows/{{tokn}}"), 12, &["tokn"]),
        ("bad duration", head("constant-vus", "10x") + &good_user, 5, &["unknown unit `x`"]),
        ("unknown executor", head("constant-users", "1s") + &good_user, 3, &["unknown executor `constant-users`"]),
        (
            "missing CSV file",
            head("constant-vus", "1s") + &user("data = \"missing.csv\"\n", "GET /escrows/{{token}}"),
            8,
            &["missing.csv"],
        ),
        (
            "bad threshold",
            format!("thresholds = [\"p95 < 1s\"]\n{}{good_user}", head("constant-vus", "1s")),
            1,
            &["p(95)"],
        ),
    ];
    for (what, text, line, words) in cases {
        let file = dir.write(&format!("{}.toml", what.replace(' ', "-")), &text);
        let out = util::stampede_json(&["run", file.to_str().unwrap(), "-t", "1", "-q"]);
        assert_eq!(out.code, Some(2), "{what}: expected exit code 2\n{}\n{text}", out.describe());
        let at = format!("{}:{line}:", file.display());
        assert!(out.stderr.contains(&at), "{what}: stderr does not name `{at}`: {}\n{text}", out.stderr);
        for w in words {
            assert!(out.stderr.contains(w), "{what}: stderr does not say `{w}`: {}", out.stderr);
        }
        assert!(out.json.is_none(), "{what}: a result document was written");
        assert!(out.wall < Duration::from_secs(2), "{what}: took {:?}", out.wall);
    }
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(target.requests(), 0, "the target was sent {:?}", target.counters().by_route());
}

// ---------------------------------------------------------------------------------------------
// Executors: the load follows its curve
// ---------------------------------------------------------------------------------------------

/// A scenario of one step on `GET /api/curve` with this `[load]` body and user think time.
fn curve_scenario(load: &str, think: &str) -> String {
    format!(
        "[load]\n{load}\ngraceful_stop = \"2s\"\n\n[[users]]\nname = \"u\"\nthink = \"{think}\"\n  [[users.steps]]\n  request = \"GET /api/curve\"\n"
    )
}

/// The timeline row ending closest to `t` seconds.
fn row_at(out: &Outcome, t: f64) -> &Value {
    timeline(out)
        .iter()
        .min_by(|a, b| (a["t"].as_f64().unwrap() - t).abs().total_cmp(&(b["t"].as_f64().unwrap() - t).abs()))
        .expect("a timeline row")
}

#[test]
fn ramping_vus_active_users_follow_the_stages() {
    let _m = util::shared_machine();
    let dir = TempDir::new("ramping-vus");
    let load = r#"executor = "ramping-vus"
stages = [{ duration = "2s", target = 20 }, { duration = "1s", target = 20 }, { duration = "1s", target = 0 }]"#;
    let file = dir.write("ramp.toml", &curve_scenario(load, "50ms"));
    let target = TestTarget::start();
    let out = run(&file, &target);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let users = |t: f64| row_at(&out, t)["active_users"].as_u64().unwrap();
    let rows: Vec<(f64, u64)> =
        timeline(&out).iter().map(|r| (r["t"].as_f64().unwrap(), r["active_users"].as_u64().unwrap())).collect();
    let (at1, at2, at3) = (users(1.0), users(2.0), users(3.0));
    assert!(at1.abs_diff(10) <= 4, "{at1} users at 1 s, the ramp is at 10: {rows:?}");
    assert!(at2.abs_diff(20) <= 3, "{at2} users at 2 s, the ramp is at 20: {rows:?}");
    assert!(at3.abs_diff(20) <= 2, "{at3} users at 3 s, the hold is at 20: {rows:?}");
    println!("ramping-vus (t, active_users): {rows:?}");
    let last = rows.last().unwrap().1;
    assert!(last <= 5, "{last} users at the end of the ramp down: {rows:?}");
    // Requests follow the users: the first second (average 5 users) carries less than the third (20).
    let req = |t: f64| row_at(&out, t)["requests"].as_u64().unwrap();
    assert!(
        req(1.0) * 2 < req(3.0),
        "requests per second: {:?}",
        timeline(&out).iter().map(|r| &r["requests"]).collect::<Vec<_>>()
    );
    assert_eq!(out.requests(), target.route("GET /api/:name"));
}

#[test]
fn constant_arrival_rate_holds_its_rate() {
    let _m = util::exclusive_machine();
    let dir = TempDir::new("car");
    let file = dir.write(
        "car.toml",
        &curve_scenario("executor = \"constant-arrival-rate\"\nrate = 500\nduration = \"2s\"", "0s"),
    );
    let target = TestTarget::start();
    let out = run(&file, &target);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!(out.u64("/totals/dropped_iterations"), 0, "{}", out.describe());
    assert!(out.requests().abs_diff(1000) <= 20, "500/s for 2 s\n{}", out.describe());
    let rps = out.f64("/totals/rps");
    println!(
        "constant-arrival-rate 500/s: {} requests, {rps} req/s, rows {:?}",
        out.requests(),
        timeline(&out).iter().map(|r| &r["rps"]).collect::<Vec<_>>()
    );
    assert!((rps - 500.0).abs() <= 15.0, "rps {rps}\n{}", out.describe());
    for r in timeline(&out).iter().filter(|r| r["interval_s"].as_f64().unwrap() > 0.99) {
        let rps = r["rps"].as_f64().unwrap();
        assert!((rps - 500.0).abs() <= 15.0, "timeline row at 500/s ± 3%: {r}");
    }
    assert_eq!(out.requests(), target.route("GET /api/:name"));
}

#[test]
fn ramping_arrival_rate_total_is_the_integral_of_its_stages() {
    let _m = util::exclusive_machine();
    let dir = TempDir::new("rar");
    let load = r#"executor = "ramping-arrival-rate"
stages = [{ duration = "2s", target = 400 }, { duration = "1s", target = 400 }]"#;
    let file = dir.write("rar.toml", &curve_scenario(load, "0s"));
    let target = TestTarget::start();
    let out = run(&file, &target);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    // 0 → 400/s over 2 s (400 iterations), then 400/s for 1 s (400 more): the schedule has
    // exactly 800 starts, the last due at 2.9975 s. Every one of them is either sent (answered,
    // or unfinished at the end) or counted as dropped, never lost and never added: that sum is
    // the executor's total and must be the integral exactly.
    let (sent, dropped) = (out.requests() + out.u64("/totals/unfinished"), out.u64("/totals/dropped_iterations"));
    assert_eq!(sent + dropped, 800, "{sent} sent + {dropped} dropped, 800 scheduled\n{}", out.describe());
    // Dropped starts are allowed only at the boundary. With 400 users ready (the default: one per
    // start per second), no start waits for a free user, so none is dropped during the run.
    // But a start due just before the end that the worker has not sent when the end comes (the
    // OS ran something else on its core at that moment: the machine is busy even when no other
    // test runs) is honestly counted as dropped, not sent after the end; that happened once
    // under load (one start). Such drops land in the last interval, and are the starts due in
    // the last moments of the run: allow those due in the last 50 ms (20 at 400/s, several
    // scheduler time slices), nothing earlier. (Measured by stopping the process with SIGSTOP:
    // 20 ms across the end dropped 6 starts, 300 ms dropped 19 to 55, all in the last second and
    // with the sum still 800; the same stalls at 1.5 s or 2.5 s dropped none.)
    let drops: Vec<u64> = timeline(&out).iter().map(|r| r["dropped"].as_u64().unwrap_or(0)).collect();
    let (last, earlier) = drops.split_last().expect("a timeline row");
    assert!(earlier.iter().all(|&d| d == 0), "starts dropped before the end, per second {drops:?}");
    assert!(*last <= 20, "{last} starts dropped at the end, more than were due in its last 50 ms");
    let rows: Vec<u64> = timeline(&out).iter().map(|r| r["requests"].as_u64().unwrap()).collect();
    println!("ramping-arrival-rate: {sent} sent, {dropped} dropped at the end, per second {rows:?}");
    // Seconds 1, 2, 3 carry about 100, 300 and 400.
    assert!(rows.len() >= 3, "{rows:?}");
    for (i, want) in [100u64, 300, 400].into_iter().enumerate() {
        assert!(
            rows[i].abs_diff(want) <= want / 10 + 5,
            "second {}: {} requests, expected about {want}: {rows:?}",
            i + 1,
            rows[i]
        );
    }
    assert_eq!(out.requests(), target.route("GET /api/:name"));
}

// ---------------------------------------------------------------------------------------------
// Think time
// ---------------------------------------------------------------------------------------------

#[test]
fn think_time_paces_each_user() {
    let _m = util::shared_machine();
    let dir = TempDir::new("think");
    let file =
        dir.write("think.toml", &curve_scenario("executor = \"constant-vus\"\nvus = 2\nduration = \"2s\"", "200ms"));
    let target = TestTarget::start();
    let out = run(&file, &target);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    // One request per 200 ms per user: 2 users × 2 s / 0.2 s = 20. Without think time a
    // loopback server answers thousands.
    let n = out.requests();
    println!("think 200ms: {n} requests");
    assert!((16..=24).contains(&n), "{n} requests\n{}", out.describe());
    assert_eq!(n, target.route("GET /api/:name"));
}

// ---------------------------------------------------------------------------------------------
// demo and --dry-run
// ---------------------------------------------------------------------------------------------

#[test]
fn demo_exits_0_with_every_threshold_ok_and_no_misuse() {
    let _m = util::shared_machine();
    let out = util::stampede_json(&["demo", "-q"]);
    assert_demo_agrees_with_its_target(&out);
    assert_eq!(out.at("/totals/protocols/http~11.1").as_u64(), Some(out.requests()), "{}", out.describe());
    assert!(out.stdout.contains("spoke http/1.1"), "{}", out.stdout);
}

#[test]
fn demo_over_http_2_speaks_h2c_to_the_built_in_target_and_counts_agree() {
    let _m = util::shared_machine();
    let out = util::stampede_json(&["demo", "-q", "--http", "2"]);
    assert_demo_agrees_with_its_target(&out);
    // Every request went over h2 (prior knowledge on the target's plain port), none over HTTP/1.1.
    assert_eq!(out.at("/totals/protocols/h2").as_u64(), Some(out.requests()), "{}", out.describe());
    assert!(out.doc().pointer("/totals/protocols/http~11.1").is_none(), "{}", out.describe());
    assert!(out.stdout.contains("spoke h2"), "{}", out.stdout);
}

/// The demo passed (exit 0, every threshold ok, no errors, no misuse), and its target served
/// exactly the requests the client counted, with every login a success.
fn assert_demo_agrees_with_its_target(out: &Outcome) {
    out.assert_code(0);
    let thresholds = out.at("/thresholds").as_array().unwrap();
    assert!(!thresholds.is_empty());
    assert!(thresholds.iter().all(|t| t["ok"] == true), "{thresholds:?}");
    assert!(!out.stdout.contains("FAIL"), "{}", out.stdout);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    // "served N requests: L logins, R records created, 0 misuse (...)"
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("served") && l.contains("misuse"))
        .unwrap_or_else(|| panic!("no target line in the demo's report:\n{}", out.stdout));
    println!(
        "demo: {} | thresholds {:?}",
        line.trim(),
        thresholds.iter().map(|t| (&t["expr"], &t["value"])).collect::<Vec<_>>()
    );
    assert!(line.contains(" 0 misuse"), "{line}");
    let numbers: Vec<u64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == ','))
        .filter(|w| !w.is_empty() && w.chars().any(|c| c.is_ascii_digit()))
        .map(|w| w.replace(',', "").parse().unwrap())
        .collect();
    // The target answered exactly what the client counted; every login succeeded.
    assert_eq!(numbers[0], out.requests(), "{line}\n{}", out.describe());
    assert_eq!(numbers[1], step_requests(out, "login"), "{line}");
    assert!(numbers[1] > 0);
}

#[test]
fn dry_run_prints_the_plan_and_sends_nothing() {
    let _m = util::shared_machine();
    let dir = TempDir::new("dry-run");
    dir.write("agents.csv", AGENTS_CSV);
    let file = dir.write("journey.toml", JOURNEY);
    let target = TestTarget::start();
    let url = target.url();
    let out = util::stampede_json(&["run", file.to_str().unwrap(), "--target", &url, "--dry-run"]);
    out.assert_code(0);
    assert!(out.json.is_none(), "a dry run wrote a result document");
    assert!(out.wall < Duration::from_secs(2), "took {:?}", out.wall);
    let plan = &out.stdout;
    assert!(plan.contains("valid, nothing sent") && plan.contains(&url), "{plan}");
    assert!(plan.contains("ramping-vus") || plan.contains("closed model"), "{plan}");
    for name in ["agent", "browser", "login", "create escrow", "escrow detail", "pricing", "reports"] {
        assert!(plan.contains(name), "the plan does not mention `{name}`:\n{plan}");
    }
    assert!(plan.contains("5 data rows"), "{plan}");
    assert!(plan.contains("p(95) < 250ms"), "{plan}");
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(target.requests(), 0, "a dry run sent {:?}", target.counters().by_route());
}

#[test]
fn every_scenario_in_the_repository_compiles() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let url = target.url();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("demo.toml")), "{files:?}");
    for f in &files {
        let out = util::stampede(&["run", f.to_str().unwrap(), "--target", &url, "--dry-run"]);
        assert_eq!(out.code, Some(0), "{} does not compile: {}", f.display(), out.stderr);
        assert!(out.stdout.contains("valid, nothing sent"), "{}: {}", f.display(), out.stdout);
    }
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(target.requests(), 0, "a dry run sent {:?}", target.counters().by_route());
}
