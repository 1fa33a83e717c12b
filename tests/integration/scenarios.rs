//! Integration tests of several scenarios in one file (`[scenarios.NAME]`): each runs only inside
//! its window (checked against the server's own clock), its thresholds pass or fail on its own
//! requests, and shards of a multi-scenario run merge into the run of both.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::util::tls_server::arg;
use crate::util::{self, Outcome, Response, Server, TempDir};

/// Each request-target a server read, with when it arrived (wall clock, ms).
type Arrivals = Arc<Mutex<Vec<(u64, String)>>>;

/// A server answering 200 to everything, recording when (wall clock, ms) each path arrived.
fn clock_server() -> (Server, Arrivals) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let server = Server::start(move |req| {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis() as u64;
        s.lock().unwrap().push((ms, req.target.clone()));
        Response::with_length(200, "ok").into()
    });
    (server, seen)
}

/// Background requests at 40/s for 3 s, and a burst of users on another path from 1.5 s to 2.5 s.
fn two_scenarios(url: &str, extra: &str) -> String {
    format!(
        r#"name = "two"
target = "{url}"

[scenarios.background]
executor = "constant-arrival-rate"
rate = 40
duration = "3s"
users = ["reader"]
thresholds = ["requests > 60"]

[scenarios.burst]
executor = "constant-vus"
vus = 2
duration = "1s"
start_time = "1.5s"
users = ["buyer"]
thresholds = ["requests < 5"]
{extra}
[[users]]
name = "reader"
  [[users.steps]]
  name = "read"
  request = "GET /a"

[[users]]
name = "buyer"
think = "20ms"
  [[users.steps]]
  name = "buy"
  request = "GET /b"
"#
    )
}

fn scenario<'a>(out: &'a Outcome, name: &str) -> &'a serde_json::Value {
    let all = out.at("/scenarios").as_array().expect("scenarios is an array");
    all.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no scenario `{name}`: {all:?}"))
}

#[test]
fn each_scenario_sends_only_inside_its_window() {
    let _m = util::exclusive_machine();
    let (server, seen) = clock_server();
    let dir = TempDir::new("scenarios-window");
    let file = dir.write("two.toml", &two_scenarios(&server.url(""), ""));
    let out = util::scenario(&file, &["-t", "1"]);
    // The burst's threshold fails, the background's holds: exit 1.
    out.assert_code(1);
    let start = out.u64("/started_at_unix_ms");
    let seen = seen.lock().unwrap().clone();
    let (a, b): (Vec<_>, Vec<_>) = seen.iter().partition(|(_, path)| path == "/a");
    assert!(!b.is_empty() && a.len() > 100, "a {} b {}", a.len(), b.len());
    for (ms, _) in &b {
        let at = *ms as i64 - start as i64;
        assert!((1450..=2600).contains(&at), "a burst request arrived {at} ms after the start, outside 1.5 s..2.5 s");
    }
    for (ms, _) in &a {
        let at = *ms as i64 - start as i64;
        assert!((-50..=3100).contains(&at), "a background request arrived {at} ms after the start");
    }
    // The client's counts per scenario are the server's per path.
    assert_eq!(scenario(&out, "background")["requests"].as_u64(), Some(a.len() as u64), "{}", out.describe());
    assert_eq!(scenario(&out, "burst")["requests"].as_u64(), Some(b.len() as u64), "{}", out.describe());
    assert_eq!(scenario(&out, "burst")["start_s"].as_f64(), Some(1.5));
    // The timeline's per-scenario seconds: nothing from the burst in the first second, some in
    // the second and third (it runs from 1.5 s to 2.5 s), all of the background's in its own.
    let rows = out.at("/timeline").as_array().expect("timeline");
    let in_second = |i: usize, sc: usize| rows[i]["scenarios"][sc]["requests"].as_u64().expect("per-scenario second");
    assert_eq!(in_second(0, 1), 0, "{rows:?}");
    assert!(in_second(1, 1) > 0 && in_second(2, 1) > 0, "{rows:?}");
    let per_second: u64 = (0..rows.len()).map(|i| in_second(i, 0)).sum();
    assert_eq!(per_second, a.len() as u64, "{rows:?}");
}

#[test]
fn scenario_thresholds_pass_and_fail_on_their_own_requests() {
    let _m = util::shared_machine();
    let (server, _) = clock_server();
    let dir = TempDir::new("scenarios-thresholds");
    let file = dir.write("two.toml", &two_scenarios(&server.url(""), ""));
    let out = util::scenario(&file, &["-t", "1"]);
    out.assert_code(1);
    let verdict = |name: &str| {
        let th = &scenario(&out, name)["thresholds"][0];
        (th["ok"].as_bool().expect("ok"), th["scenario"].as_str().map(String::from))
    };
    assert_eq!(verdict("background"), (true, Some("background".into())), "{}", out.describe());
    assert_eq!(verdict("burst"), (false, Some("burst".into())), "{}", out.describe());
    // The run-wide list carries both, each naming its scenario.
    let all = out.at("/thresholds").as_array().expect("thresholds");
    assert_eq!(all.iter().filter(|t| t["scenario"].is_string()).count(), 2, "{all:?}");
    assert!(out.stdout.contains("FAIL requests < 5 [burst]"), "{}", out.stdout);
}

#[test]
fn shards_of_a_multi_scenario_run_merge_into_the_run_of_both() {
    let _m = util::shared_machine();
    let (server, seen) = clock_server();
    let dir = TempDir::new("scenarios-merge");
    let file = dir.write("two.toml", &two_scenarios(&server.url(""), ""));
    let mut parts = Vec::new();
    for shard in ["1/2", "2/2"] {
        let json = dir.path().join(format!("shard-{}.json", &shard[..1]));
        let out = util::stampede(&["run", arg(&file), "-t", "1", "-q", "--shard", shard, "--json", arg(&json)]);
        assert!(matches!(out.code, Some(0 | 1)), "{}", out.describe());
        parts.push(json);
    }
    let merged = dir.path().join("merged.json");
    let out = util::stampede_json(&["merge", arg(&parts[0]), arg(&parts[1]), "-o", arg(&merged)]);
    assert!(matches!(out.code, Some(0 | 1)), "{}\n{}", out.stdout, out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let seen = seen.lock().unwrap().clone();
    let count = |path: &str| seen.iter().filter(|(_, p)| p == path).count() as u64;
    let sc = |i: usize, f: &str| doc["scenarios"][i][f].clone();
    assert_eq!(sc(0, "name"), "background");
    assert_eq!(sc(0, "requests").as_u64(), Some(count("/a")), "{doc}");
    assert_eq!(sc(1, "requests").as_u64(), Some(count("/b")), "{doc}");
    assert_eq!(doc["totals"]["requests"].as_u64(), Some(count("/a") + count("/b")));
    // Each shard ran half of each scenario: 20/s of background, one burst user each.
    let shard_requests = |p: &std::path::Path, i: usize| -> u64 {
        let d: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        d["scenarios"][i]["requests"].as_u64().unwrap()
    };
    for i in 0..2 {
        assert_eq!(shard_requests(&parts[0], i) + shard_requests(&parts[1], i), sc(i, "requests").as_u64().unwrap());
    }
    // Thresholds measured again on the merged scenarios.
    let th = doc["scenarios"][1]["thresholds"][0].clone();
    assert_eq!((th["expr"].as_str(), th["ok"].as_bool()), (Some("requests < 5"), Some(false)), "{doc}");
}

#[test]
fn bad_scenario_tables_are_refused_where_they_are() {
    let _m = util::shared_machine();
    let (server, seen) = clock_server();
    let dir = TempDir::new("scenarios-bad");
    let url = server.url("");
    let cases = [
        (
            "unknown-user",
            two_scenarios(&url, "").replace("users = [\"buyer\"]", "users = [\"buyr\"]"),
            "unknown user type `buyr`",
        ),
        (
            "both",
            two_scenarios(&url, "\n[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n"),
            "not both",
        ),
        (
            "start-in-load",
            format!(
                "target = \"{url}\"\n[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\nstart_time = \"1s\"\n[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n"
            ),
            "belongs to a named scenario",
        ),
        ("bad-start", two_scenarios(&url, "").replace("start_time = \"1.5s\"", "start_time = \"soon\""), "start_time"),
    ];
    for (name, text, needle) in cases {
        let file = dir.write(&format!("{name}.toml"), &text);
        let out = util::scenario(&file, &["-t", "1"]);
        assert_eq!(out.code, Some(2), "{name}: {}", out.stderr);
        let path = file.display().to_string();
        assert!(out.stderr.contains(&format!("{path}:")), "{name}: names the file: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{name}: {}", out.stderr);
    }
    std::thread::sleep(Duration::from_millis(30));
    assert!(seen.lock().unwrap().is_empty(), "a refused file sent requests");
}

/// A `during` window fails where the whole run passes; a failed `warn` threshold is reported as
/// WARN and does not fail the exit code. (On p(99): the slow second's ~16 requests are its p99
/// however many fast ones share its first milliseconds — on p(50) they flipped it whenever the
/// first connect took over a millisecond, and the window passed.)
#[test]
fn a_window_threshold_fails_where_the_whole_run_passes_and_warnings_do_not_fail() {
    let _m = util::exclusive_machine();
    // Slow (60 ms) for requests that arrive between 1 s and 2 s after the first one.
    let first = Arc::new(Mutex::new(None::<std::time::Instant>));
    let f = first.clone();
    let server = Server::start(move |_| {
        let now = std::time::Instant::now();
        let t0 = *f.lock().unwrap().get_or_insert(now);
        let at = now.duration_since(t0);
        let resp = Response::with_length(200, "ok");
        if at >= Duration::from_millis(1000) && at < Duration::from_millis(2000) {
            resp.delay(Duration::from_millis(60)).into()
        } else {
            resp.into()
        }
    });
    let dir = TempDir::new("scenarios-during");
    let text = format!(
        r#"target = "{}"
thresholds = [
  "p(99) < 30ms",
  {{ expr = "p(99) < 30ms", during = "1s..2s" }},
  {{ expr = "max < 1ms", level = "warn" }},
]
[load]
executor = "constant-vus"
vus = 1
duration = "3s"
[[users]]
name = "u"
  [[users.steps]]
  request = "GET /"
"#,
        server.url("")
    );
    let file = dir.write("during.toml", &text);
    let out = util::scenario(&file, &["-t", "1"]);
    out.assert_code(1);
    let all = out.at("/thresholds").as_array().expect("thresholds").clone();
    let whole = &all[0];
    let window = &all[1];
    let warn = &all[2];
    assert_eq!(whole["ok"], true, "{all:?}");
    assert_eq!((window["ok"].as_bool(), window["during"].as_str()), (Some(false), Some("1s..2s")), "{all:?}");
    assert!(window["value"].as_f64().unwrap() >= 60.0, "the window's p99 is the slow second's: {all:?}");
    assert_eq!((warn["ok"].as_bool(), warn["level"].as_str()), (Some(false), Some("warn")), "{all:?}");
    assert!(out.stdout.contains("WARN max < 1ms"), "{}", out.stdout);

    // Without the window's threshold, the failed warning alone leaves the exit code 0.
    let text = text.replace("  { expr = \"p(99) < 30ms\", during = \"1s..2s\" },\n", "");
    let file = dir.write("warn.toml", &text);
    *first.lock().unwrap() = None;
    let out = util::scenario(&file, &["-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.at("/thresholds/1/level"), "warn");
    assert_eq!(out.at("/thresholds/1/ok"), false);
}

// ---------------------------------------------------------------------------------------------
// Metrics of your own
// ---------------------------------------------------------------------------------------------

/// A server whose answers have a known exact mix: `X-Cache: HIT` on three of every four, status
/// 201 on one of every five, and `Server-Timing: app;dur=N` with N = 10, 20, 30 in turn. It
/// counts what it sent, so the client's metrics can be held to it exactly.
#[test]
fn metrics_of_your_own_match_what_the_server_sent() {
    let _m = util::shared_machine();
    let sent = Arc::new(Mutex::new((0u64, 0u64, 0u64, 0u64))); // requests, hits, created, dur total
    let s = sent.clone();
    let server = Server::start(move |_| {
        let mut g = s.lock().unwrap();
        let i = g.0;
        g.0 += 1;
        let hit = i % 4 != 0;
        let created = i % 5 == 0;
        let dur = 10 * (i % 3 + 1);
        g.1 += u64::from(hit);
        g.2 += u64::from(created);
        g.3 += dur;
        let status = if created { "201 Created" } else { "200 OK" };
        let cache = if hit { "HIT" } else { "MISS" };
        Response::raw(format!(
            "HTTP/1.1 {status}\r\nX-Cache: {cache}\r\nServer-Timing: app;desc=\"x, y\";dur={dur}\r\nContent-Length: 2\r\n\r\nok"
        ))
        .into()
    });
    let dir = TempDir::new("scenarios-metrics");
    let text = format!(
        r#"target = "{}"
thresholds = ["cache_hit > 70%", "created > 5", {{ expr = "cache_hit > 80%", level = "warn" }}, "avg(server_ms) < 25"]

[metrics]
cache_hit = {{ rate = "header X-Cache == HIT", steps = ["authorize"] }}
server_ms = {{ trend = "header Server-Timing dur" }}
created = {{ counter = "status == 201" }}

[load]
executor = "per-vu-iterations"
vus = 2
iterations = 120

[[users]]
name = "u"
  [[users.steps]]
  name = "authorize"
  request = "GET /authorize"
"#,
        server.url("")
    );
    let file = dir.write("metrics.toml", &text);
    let out = util::scenario(&file, &["-t", "1"]);
    out.assert_code(0);
    let (requests, hits, created, dur) = *sent.lock().unwrap();
    assert_eq!(requests, 240, "{}", out.describe());
    assert_eq!(out.at("/metrics/cache_hit/kind"), "rate");
    assert_eq!((out.u64("/metrics/cache_hit/hits"), out.u64("/metrics/cache_hit/total")), (hits, requests));
    assert_eq!(out.f64("/metrics/cache_hit/rate"), 75.0, "three in four exactly over 240");
    assert_eq!(out.u64("/metrics/created/count"), created);
    assert_eq!(out.u64("/metrics/server_ms/count"), requests);
    let mean = out.f64("/metrics/server_ms/mean");
    assert!((mean - dur as f64 / requests as f64).abs() < 0.05, "mean {mean} vs {}", dur as f64 / requests as f64);
    let max = out.f64("/metrics/server_ms/max");
    assert!((max - 30.0).abs() < 0.05, "max {max}: 30 within the histogram's three digits");
    // A metric's condition is not an error: the MISSes and 200s are no failures.
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let th = |i: usize| (out.at(&format!("/thresholds/{i}/ok")).as_bool(), out.f64(&format!("/thresholds/{i}/value")));
    assert_eq!(th(0), (Some(true), 75.0));
    assert_eq!(th(1), (Some(true), created as f64));
    assert_eq!(th(2).0, Some(false), "the 80% target is missed, as a warning");
    assert_eq!(th(3).0, Some(true));
    assert!(out.stdout.contains("cache_hit") && out.stdout.contains("75.00%"), "{}", out.stdout);
}

/// Regression (issue 24 item 3, issue 20): `--vus/--duration` on a file with scenarios dropped
/// every scenario threshold without a word, and count/throughput thresholds failed the smoke by
/// construction. Now the smoke judges what it can and lists the rest, with a reason, in the
/// summary and the JSON; `smoke = false` leaves a threshold out, `smoke = true` keeps one.
#[test]
fn regression_a_smoke_of_a_file_says_which_thresholds_it_left_out_and_why() {
    let (server, _) = clock_server();
    let dir = TempDir::new("smoke-thresholds");
    let file = dir.write(
        "suite.toml",
        &format!(
            r#"target = "{url}"
thresholds = [
  "p(95) < 1s",
  "requests > 1000000",
  "rps > 1000000",
  {{ expr = "errors < 1%", smoke = false }},
  {{ expr = "requests > 1", smoke = true }},
  {{ expr = "p(99) < 1s", during = "1m..2m" }},
]

[scenarios.background]
executor = "constant-arrival-rate"
rate = 10
duration = "2m"
pre_allocated_vus = 5
max_vus = 5
thresholds = ["p(95) < 200ms"]

[scenarios.spike]
executor = "constant-vus"
vus = 3
duration = "10s"
start_time = "1m"
thresholds = ["errors < 5%"]

[[users]]
name = "u"

  [[users.steps]]
  name = "home"
  request = "GET /"
  thresholds = ["rps > 1000000", "p(99) < 1s"]
"#,
            url = server.url("")
        ),
    );
    let (html, junit) = (dir.path().join("smoke.html"), dir.path().join("smoke.xml"));
    let out = {
        let _m = util::shared_machine();
        let reports = ["--html", html.to_str().unwrap(), "--junit", junit.to_str().unwrap()];
        util::scenario(&file, &[&["--vus", "2", "--duration", "1s"][..], &reports].concat())
    };
    out.assert_code(0);
    let judged: Vec<&str> =
        out.at("/thresholds").as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap()).collect();
    assert_eq!(judged, ["p(95) < 1s", "requests > 1", "p(99) < 1s"], "{}", out.describe());
    let not_run: Vec<(String, String, String)> = out
        .at("/thresholds_not_run")
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let at = t["scenario"].as_str().or(t["step"].as_str()).unwrap_or("").to_string();
            (t["expr"].as_str().unwrap().to_string(), at, t["reason"].as_str().unwrap().to_string())
        })
        .collect();
    let has = |expr: &str, at: &str, why: &str| {
        assert!(
            not_run.iter().any(|(e, a, r)| e == expr && a == at && r.contains(why)),
            "`{expr}` [{at}] not listed as not run ({why}): {not_run:#?}"
        )
    };
    has("p(95) < 200ms", "background", "its scenario does not run");
    has("errors < 5%", "spike", "its scenario does not run");
    has("requests > 1000000", "", "a count or throughput");
    has("rps > 1000000", "", "a count or throughput");
    has("rps > 1000000", "home", "a count or throughput");
    has("errors < 1%", "", "marked `smoke = false`");
    has("p(99) < 1s", "", "its window starts at 1m, after the smoke's 1s");
    assert_eq!(not_run.len(), 7, "{not_run:#?}");
    let overrides = out.at("/overrides/0").as_str().unwrap();
    assert!(overrides.contains("scenarios `background`, `spike` do not run"), "{overrides}");
    assert!(out.stdout.contains("thresholds not run\n"), "{}", out.stdout);
    assert!(out.stdout.contains("    errors < 5% [spike]: its scenario does not run in a smoke"), "{}", out.stdout);
    assert!(out.stdout.contains("  overrides   --vus 2 --duration 1s: "), "{}", out.stdout);
    // The HTML report and the JUnit XML list them too: a CI system shows them as skipped.
    let html = std::fs::read_to_string(&html).unwrap();
    assert_eq!(html.matches("<td class=\"t v\">NOT RUN</td>").count(), 7, "{html}");
    assert!(html.contains("<code>errors &lt; 5%</code></td><td class=\"wrap\">scenario <b>spike</b></td>"), "{html}");
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains(" tests=\"10\" failures=\"0\" errors=\"0\" skipped=\"7\""), "{junit}");
    assert!(
        junit.contains(
            "<testcase name=\"errors &lt; 5%\" classname=\"suite.spike\" time=\"0\">\n      <skipped message=\"its scenario does not run in a smoke (--vus 2 --duration 1s)\"/>"
        ),
        "{junit}"
    );
}

/// Issue 20 "One file, many runs": `--scenario NAME` runs only that scenario, from the start of
/// the run (its `start_time` shifted, run-wide windows with it), so the run lasts only as long
/// as that scenario; the thresholds that no longer apply are listed as not run.
#[test]
fn a_scenario_run_lasts_only_as_long_as_its_scenario() {
    let (server, seen) = clock_server();
    let dir = TempDir::new("one-scenario");
    let file = dir.write(
        "suite.toml",
        &format!(
            r#"target = "{url}"
thresholds = [
  {{ expr = "p(99) < 1s", during = "4s..5s" }},
  {{ expr = "p(99) < 2s", during = "0s..1s" }},
]

[scenarios.long]
executor = "constant-vus"
vus = 1
duration = "4s"
thresholds = ["errors < 1%"]

[scenarios.short]
executor = "constant-arrival-rate"
rate = 20
duration = "1500ms"
start_time = "4s"
pre_allocated_vus = 2
max_vus = 2
thresholds = ["errors < 2%"]

[[users]]
name = "u"
think = "10ms"

  [[users.steps]]
  request = "GET /x"
"#,
            url = server.url("")
        ),
    );
    let out = {
        let _m = util::shared_machine();
        util::scenario(&file, &["--scenario", "short"])
    };
    out.assert_code(0);
    let d = out.f64("/duration_s");
    assert!(d < 3.0, "a run of `short` (1.5 s) lasted {d} s\n{}", out.describe());
    assert!(!seen.lock().unwrap().is_empty());
    let judged: Vec<&str> =
        out.at("/thresholds").as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap()).collect();
    assert_eq!(judged, ["p(99) < 1s", "errors < 2%"], "{}", out.describe());
    assert_eq!(out.at("/thresholds/0/during"), "0s..1s", "the window moved with the scenario\n{}", out.describe());
    let not_run = out.at("/thresholds_not_run").as_array().unwrap();
    let exprs: Vec<&str> = not_run.iter().map(|t| t["expr"].as_str().unwrap()).collect();
    assert_eq!(exprs, ["p(99) < 2s", "errors < 1%"], "{not_run:#?}");
    assert!(out.at("/overrides/0").as_str().unwrap().starts_with("--scenario short: scenarios `long` do not run"));

    // A name the file does not have is refused before any load.
    let bad = util::scenario(&file, &["--scenario", "nope"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("--scenario `nope`: no such scenario (known: long, short)"), "{}", bad.stderr);
}
