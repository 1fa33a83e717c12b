//! Steering a run while it goes (`--control`): rate and users changed through `POST
//! /api/control`, pause and resume, stop, the token, bad input, and `stampede ctl` — each checked
//! against a server that counts the requests of each second and the connections it accepted.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::counting::CountingServer;
use crate::util::prometheus::{free_port, http_get};
use crate::util::{self, TempDir};

pub const TOKEN: &str = "test-token-123";

/// `stampede` with `--dashboard` and `--control` in the background; its result file.
pub struct Steered {
    child: Child,
    dir: TempDir,
    pub addr: SocketAddr,
}

impl Steered {
    pub fn start(name: &str, args: &[&str]) -> Steered {
        let dir = TempDir::new(name);
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let json = dir.path().join("result.json");
        let child = Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args(args)
            .args(["-q", "--json", json.to_str().unwrap(), "--dashboard", &addr.to_string(), "--control"])
            .args(["--control-token", TOKEN])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .expect("spawn stampede");
        let s = Steered { child, dir, addr };
        s.wait_running();
        s
    }

    pub fn output(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!("stdout:\n{}\nstderr:\n{}", read("stdout"), read("stderr"))
    }

    fn json(&self) -> PathBuf {
        self.dir.path().join("result.json")
    }

    /// Until the control API says the run is going.
    fn wait_running(&self) {
        let start = Instant::now();
        loop {
            if let Ok((200, body)) = http_get(self.addr, "/api/control") {
                if body.contains("\"running\"") {
                    return;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(10), "the run did not start\n{}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn post(&self, token: Option<&str>, body: &str) -> (u16, Value) {
        post(self.addr, token, body)
    }

    pub fn status(&self) -> Value {
        let (code, body) = http_get(self.addr, "/api/control").expect("GET /api/control");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Wait for the exit (at most `limit`); the exit code and the result.
    pub fn finish(&mut self, limit: Duration) -> (Option<i32>, Value) {
        let start = Instant::now();
        let code = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code();
            }
            assert!(start.elapsed() < limit, "stampede still running after {limit:?}\n{}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        };
        let text =
            std::fs::read_to_string(self.json()).unwrap_or_else(|e| panic!("no result file ({e})\n{}", self.output()));
        (code, serde_json::from_str(&text).expect("a whole result document"))
    }
}

impl Drop for Steered {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST /api/control` with a bearer token (or none); the status and the JSON answer.
pub fn post(addr: SocketAddr, token: Option<&str>, body: &str) -> (u16, Value) {
    let (code, text) = post_raw(addr, token, body.as_bytes()).expect("POST /api/control");
    (code, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")))
}

fn post_raw(addr: SocketAddr, token: Option<&str>, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        s,
        "POST /api/control HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((code, body.to_string()))
}

/// The mean of the server's counts over seconds `from..to` of its clock.
pub fn mean(server: &CountingServer, from: usize, to: usize) -> f64 {
    let s = server.seconds();
    (from..to).map(|i| s.get(i).copied().unwrap_or(0)).sum::<u64>() as f64 / (to - from) as f64
}

#[test]
fn raising_the_rate_shows_in_the_servers_own_counts_within_two_seconds() {
    let server = CountingServer::start();
    let _m = util::exclusive_machine();
    let mut run = Steered::start("control-rate", &["bench", &server.url(), "-c", "40", "-R", "100", "-d", "9s"]);
    std::thread::sleep(Duration::from_millis(3000));
    let changed_at = server.now();
    let (code, answer) = run.post(Some(TOKEN), r#"{"rate": 300, "over": "0s"}"#);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["state"], "running");
    assert_eq!(answer["scenarios"][0]["rate"], 300.0, "{answer}");
    assert_eq!(answer["scenarios"][0]["changed"], true);
    assert!(answer["note"].as_str().unwrap().contains("no longer apply"), "{answer}");
    let (exit, result) = run.finish(Duration::from_secs(20));
    assert_eq!(exit, Some(0), "{}", run.output());
    let c = changed_at.floor() as usize;
    // Before: 100/s; from 2 s after the change on: 300/s, in the server's own seconds.
    let before = mean(&server, c - 2, c);
    let after = mean(&server, c + 2, c + 5);
    assert!((80.0..=120.0).contains(&before), "before the change {before}/s: {:?}", server.seconds());
    assert!((250.0..=350.0).contains(&after), "2 s after the change {after}/s: {:?}", server.seconds());
    let events = result["control"].as_array().expect("control[] in the result");
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!((e["action"].as_str(), e["from"].as_f64(), e["to"].as_f64()), (Some("rate"), Some(100.0), Some(300.0)));
    assert_eq!(e["over"], 0.0);
    assert!((2.0..5.0).contains(&e["t"].as_f64().unwrap()), "{e}");
    // Every start of the new schedule went: none dropped, the total what the schedule asked.
    assert_eq!(result["totals"]["dropped_iterations"], 0);
    let t = e["t"].as_f64().unwrap();
    let expected = 100.0 * t + 300.0 * (result["duration_s"].as_f64().unwrap() - t);
    let requests = result["totals"]["requests"].as_f64().unwrap();
    assert!((requests - expected).abs() < expected * 0.05, "{requests} requests against {expected} scheduled");
}

#[test]
fn raising_users_raises_the_servers_connections_and_bad_requests_change_nothing() {
    let server = CountingServer::start();
    let _m = util::shared_machine();
    let mut run = Steered::start("control-users", &["bench", &server.url(), "-c", "2", "-d", "30s"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.connections(), 2);
    // Refused, and nothing changes: a wrong or missing token, bad input, a body over 64 KiB.
    let (code, a) = run.post(Some("not-the-token"), r#"{"users": 9}"#);
    assert_eq!(code, 401, "{a}");
    let (code, _) = run.post(None, r#"{"users": 9}"#);
    assert_eq!(code, 401);
    for (body, says) in [
        (r#"{"users": -1}"#, "0 or more"),
        (r#"{"users": 2.5}"#, "whole number"),
        (r#"{"users": 100000000}"#, "open-files limit"),
        (r#"{"rate": 50}"#, "cannot take a rate change"),
        (r#"{"scenario": "nope", "users": 5}"#, "no scenario `nope`"),
        (r#"{"users": 5"#, "not a control request"),
        (r#"{"action": "resume"}"#, "not paused"),
    ] {
        let (code, a) = run.post(Some(TOKEN), body);
        assert_eq!(code, 400, "{body}: {a}");
        assert!(a["error"].as_str().unwrap().contains(says), "{body}: {a}");
    }
    let big = format!(r#"{{"users": 5, "scenario": "{}"}}"#, "x".repeat(70 * 1024));
    let (code, text) = post_raw(run.addr, Some(TOKEN), big.as_bytes()).unwrap();
    assert_eq!(code, 413, "{text}");
    assert_eq!(run.status()["scenarios"][0]["users"], 2.0, "a refused request changed the run");
    assert_eq!(run.status()["events"], 0);
    assert_eq!(run.status()["refused"], 2, "the refused attempts are counted");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.connections(), 2, "a refused request changed the load");

    let (code, a) = run.post(Some(TOKEN), r#"{"users": 8, "over": "1s"}"#);
    assert_eq!(code, 200, "{a}");
    let start = Instant::now();
    while server.connections() < 8 {
        assert!(start.elapsed() < Duration::from_secs(5), "{} connections after 5 s", server.connections());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(server.connections(), 8, "8 users, each its own connection");
    // The live series count the change and the refusals.
    let (_, metrics) = http_get(run.addr, "/metrics").unwrap();
    let value = |name: &str| {
        let line = metrics.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name}:\n{metrics}"));
        line.rsplit(' ').next().unwrap().parse::<f64>().unwrap()
    };
    assert_eq!(value("stampede_control_events_total"), 1.0);
    assert_eq!(value("stampede_control_refused_total"), 2.0);
    // Stop ends the run as Ctrl-C does: a whole result, exit by thresholds (none: 0).
    let (code, a) = run.post(Some(TOKEN), r#"{"action": "stop"}"#);
    assert_eq!(code, 200, "{a}");
    let (exit, result) = run.finish(Duration::from_secs(5));
    assert_eq!(exit, Some(0), "{}", run.output());
    assert_eq!(result["interrupted"], true);
    assert!(result["duration_s"].as_f64().unwrap() < 10.0);
    let actions: Vec<&str> =
        result["control"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["users", "stop"]);
    assert_eq!(result["control"][0]["from"], 2.0);
    assert_eq!(result["control"][0]["to"], 8.0);
    assert!(run.output().contains("control: "), "the live view shows the change:\n{}", run.output());
    let peak = result["timeline"].as_array().unwrap().iter().map(|r| r["active_users"].as_u64().unwrap()).max();
    assert_eq!(peak, Some(8), "the timeline's users");
}

#[test]
fn a_pause_sends_nothing_and_the_resume_brings_the_load_back() {
    let server = CountingServer::start();
    let _m = util::exclusive_machine();
    let mut run = Steered::start("control-pause", &["bench", &server.url(), "-c", "20", "-R", "200", "-d", "9s"]);
    std::thread::sleep(Duration::from_millis(2000));
    let paused_at = server.now();
    let (code, a) = run.post(Some(TOKEN), r#"{"action": "pause"}"#);
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["state"], "paused");
    std::thread::sleep(Duration::from_millis(3000));
    let resumed_at = server.now();
    let (code, a) = run.post(Some(TOKEN), r#"{"action": "resume"}"#);
    assert_eq!(code, 200, "{a}");
    let (exit, result) = run.finish(Duration::from_secs(20));
    assert_eq!(exit, Some(0), "{}", run.output());
    // The seconds wholly inside the pause (and 100 ms for the workers to see it) saw nothing.
    let (p, r) = ((paused_at + 0.15).ceil() as usize, resumed_at.floor() as usize);
    assert!(r > p, "no whole second paused: {paused_at} to {resumed_at}");
    let seconds = server.seconds();
    for s in p..r {
        assert_eq!(seconds.get(s).copied().unwrap_or(0), 0, "second {s} of a pause: {seconds:?}");
    }
    let after = mean(&server, r + 1, r + 3);
    assert!((160.0..=240.0).contains(&after), "after the resume {after}/s: {seconds:?}");
    // The pause is not latency, drops no start, and rates are over the time the load ran.
    assert_eq!(result["totals"]["dropped_iterations"], 0);
    let paused = result["paused_s"].as_f64().unwrap();
    assert!((2.8..3.3).contains(&paused), "paused_s {paused}");
    let ran = result["duration_s"].as_f64().unwrap() - paused;
    let rps = result["totals"]["rps"].as_f64().unwrap();
    assert!((180.0..=220.0).contains(&rps), "rps {rps} over {ran} s of load");
    assert!(result["totals"]["latency_us"]["max"].as_u64().unwrap() < 1_000_000, "the pause counted as latency");
    let marked = result["timeline"].as_array().unwrap().iter().filter(|r| r["paused"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(marked.count() >= 3, "the paused seconds say so in the timeline");
    let actions: Vec<&str> =
        result["control"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["pause", "resume"]);
}

#[test]
fn after_the_run_ends_a_change_gets_409_and_without_control_401() {
    let server = CountingServer::start();
    let _m = util::shared_machine();
    let dir = TempDir::new("control-ended");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["bench", &server.url(), "-c", "1", "-d", "1s", "-q", "--dashboard", &addr.to_string()])
        .args(["--control", "--control-token", TOKEN, "--dashboard-linger", "30s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Ok((200, body)) = http_get(addr, "/api/control") {
            if body.contains("\"ended\"") {
                break;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(15), "the run did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, a) = post(addr, Some(TOKEN), r#"{"action": "pause"}"#);
    assert_eq!(code, 409, "{a}");
    assert!(a["error"].as_str().unwrap().contains("ended"), "{a}");
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let _ = child.wait();

    // Without --control nothing can change a run: 401, watching stays open.
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["bench", &server.url(), "-c", "1", "-d", "3s", "-q", "--dashboard", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while http_get(addr, "/api/frame").is_err() {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, a) = post(addr, Some(TOKEN), r#"{"action": "stop"}"#);
    assert_eq!(code, 401, "{a}");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn control_flags_are_checked_before_any_load() {
    let server = CountingServer::start();
    let url = server.url();
    for (args, says) in [
        (vec!["--control", "--dashboard", "0.0.0.0:0"], "needs a token you choose"),
        (vec!["--control", "--dashboard", "127.0.0.1:0", "--control-token", "short"], "--control-token"),
    ] {
        let mut all = vec![url.as_str(), "-c", "1", "-d", "1s"];
        all.extend(args);
        let out = util::bench(all[0], &all[1..]);
        out.assert_code(2);
        assert!(out.stderr.contains(says), "{}", out.stderr);
    }
    let out = util::bench(&url, &["-c", "1", "-d", "1s", "--control"]);
    out.assert_code(2);
    assert_eq!(server.connections(), 0, "load was sent");
}

#[test]
fn stampede_ctl_steers_a_run_from_the_shell() {
    let server = CountingServer::start();
    let _m = util::shared_machine();
    let mut run = Steered::start("control-ctl", &["bench", &server.url(), "-c", "10", "-R", "100", "-d", "20s"]);
    let url = format!("http://{}", run.addr);
    let ctl = |args: &[&str]| {
        let mut all = vec!["ctl", url.as_str()];
        all.extend_from_slice(args);
        util::stampede(&all)
    };
    let out = ctl(&["rate", "200", "--over", "0s", "--token", TOKEN]);
    out.assert_code(0);
    let state: Value = serde_json::from_str(&out.stdout).expect("ctl prints the new state as JSON");
    assert_eq!(state["scenarios"][0]["rate"], 200.0, "{state}");
    let out = ctl(&["rate", "300", "--token", "wrong-token"]);
    out.assert_code(1);
    assert!(out.stderr.contains("HTTP 401"), "{}", out.stderr);
    let out = ctl(&["users", "5", "--token", TOKEN]);
    out.assert_code(1);
    assert!(out.stderr.contains("cannot take a users change"), "{}", out.stderr);
    ctl(&["rate", "lots", "--token", TOKEN]).assert_code(2);
    ctl(&["jump", "--token", TOKEN]).assert_code(2);
    let out = ctl(&["status"]);
    out.assert_code(0);
    assert!(out.stdout.contains("\"running\""), "{}", out.stdout);
    // The token from the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["ctl", &url, "stop"])
        .env("STAMPEDE_CONTROL_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let (exit, result) = run.finish(Duration::from_secs(5));
    assert_eq!(exit, Some(0), "{}", run.output());
    let actions: Vec<&str> =
        result["control"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["rate", "stop"]);
    // Nobody answers any more.
    ctl(&["status"]).assert_code(3);
}

/// Users raised by hand beyond a scenario's file count took the `{{vu}}` numbers of the next
/// scenario's users: two users on one account.
#[test]
fn users_raised_beyond_the_file_take_vu_numbers_no_other_user_has() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let s = seen.clone();
    let server = util::Server::start(move |req| {
        s.lock().unwrap().push(req.target.clone());
        util::Response::with_length(200, "ok").into()
    });
    let _m = util::shared_machine();
    let dir = TempDir::new("control-vu");
    let scenario = |name: &str| {
        format!(
            "[scenarios.{name}]\nexecutor = \"constant-vus\"\nvus = 2\nduration = \"20s\"\nusers = [\"{name}\"]\n\n\
             [[users]]\nname = \"{name}\"\nthink = \"50ms\"\n  [[users.steps]]\n  name = \"get\"\n  request = \"GET /{name}/{{{{vu}}}}\"\n\n"
        )
    };
    let file = format!("name = \"vu\"\ntarget = \"{}\"\n\n{}{}", server.url(""), scenario("a"), scenario("b"));
    let file = dir.write("vu.toml", &file);
    let mut run = Steered::start("control-vu", &["run", file.to_str().unwrap()]);
    let (code, a) = run.post(Some(TOKEN), r#"{"scenario": "a", "users": 5, "over": "0s"}"#);
    assert_eq!(code, 200, "{a}");
    std::thread::sleep(Duration::from_millis(1500));
    let (code, a) = run.post(Some(TOKEN), r#"{"action": "stop"}"#);
    assert_eq!(code, 200, "{a}");
    let (exit, _) = run.finish(Duration::from_secs(20));
    assert_eq!(exit, Some(0), "{}", run.output());
    let numbers = |prefix: &str| -> std::collections::BTreeSet<u64> {
        let seen = seen.lock().unwrap();
        seen.iter().filter_map(|t| t.strip_prefix(prefix)?.parse().ok()).collect()
    };
    let (a, b) = (numbers("/a/"), numbers("/b/"));
    assert_eq!(a.len(), 5, "scenario a's users: {a:?}");
    assert_eq!(b.len(), 2, "scenario b's users: {b:?}");
    assert!(a.is_disjoint(&b), "a user raised by hand took a number of the other scenario's: a {a:?}, b {b:?}");
    assert!(a.iter().chain(&b).all(|n| *n >= 1), "{{{{vu}}}} is 1-based: a {a:?}, b {b:?}");
}
