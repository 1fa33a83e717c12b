//! HTTP/2 against a real nginx (h2c with prior knowledge, h2 over TLS by ALPN) and against
//! hostile in-process servers: counts that agree with nginx's access log, a journey with login,
//! extraction, cookies and a redirect, ALPN fallback and refusal, streams in flight, GOAWAY,
//! flow control both ways, and every misbehaviour counted as a named error kind; and the built-in
//! target's own h2c side against an outside client (h2load).

use std::collections::BTreeMap;
use std::time::Duration;

use stampede::http::h2::frame as f;

use crate::util::h2_server::{H2Conn, H2Server};
use crate::util::nginx_h2::{self, H1_TLS, H2_TLS, H2C, access_log};
use crate::util::{TempDir, TestTarget, bench, exclusive_machine, scenario, shared_machine, stampede};

/// The built-in target behind nginx, and nginx.
fn servers(keepalive_requests: u64) -> (TestTarget, crate::util::nginx::Nginx, std::path::PathBuf) {
    let target = TestTarget::start();
    let upstream = target.url().trim_start_matches("http://").trim_end_matches('/').to_string();
    let (nginx, ca) = nginx_h2::h2(&upstream, keepalive_requests);
    (target, nginx, ca)
}

fn statuses_file(dir: &TempDir, base: &str) -> std::path::PathBuf {
    dir.write(
        "statuses.toml",
        &format!(
            r#"
name = "h2 statuses"
target = "{base}"
http = "2"
[load]
executor = "per-vu-iterations"
vus = 5
iterations = 20
[[users]]
name = "u"
  [[users.steps]]
  request = "GET /s/200"
  [[users.steps]]
  request = "GET /s/404"
  expect = {{ status = 404 }}
  [[users.steps]]
  request = "GET /s/503"
  expect = {{ status = 503 }}
"#
        ),
    )
}

#[test]
fn counts_by_status_agree_with_nginx_over_h2c_and_h2_over_tls() {
    let _m = shared_machine();
    let (_t, nginx, ca) = servers(1000);
    let dir = TempDir::new("h2-statuses");
    for (i, base) in [
        (H2C, format!("http://{}", nginx.addrs[H2C])),
        (H2_TLS, format!("https://localhost:{}", nginx.addrs[H2_TLS].port())),
    ] {
        let file = statuses_file(&dir, &base);
        let out = scenario(&file, &["--cacert", ca.to_str().unwrap()]);
        out.assert_code(0);
        assert_eq!(out.requests(), 300, "{}", out.describe());
        assert_eq!((out.status(200), out.status(404), out.status(503)), (100, 100, 100), "{}", out.describe());
        assert_eq!(out.u64("/totals/protocols/h2"), 300, "{}", out.describe());
        let log = access_log(&nginx, nginx.addrs[i]);
        let mut by_status = BTreeMap::new();
        for (proto, status, _, _) in &log {
            assert_eq!(proto, "HTTP/2.0", "{base}");
            *by_status.entry(*status).or_insert(0u64) += 1;
        }
        assert_eq!(by_status, BTreeMap::from([(200, 100), (404, 100), (503, 100)]), "{base}");
        assert!(out.stdout.contains("spoke h2"), "{}", out.stdout);
    }
}

fn journey_file(dir: &TempDir, base: &str) -> std::path::PathBuf {
    dir.write(
        "journey.toml",
        &format!(
            r#"
name = "h2 journey"
target = "{base}"
[load]
executor = "per-vu-iterations"
vus = 4
iterations = 5
[[users]]
name = "agent"
  [[users.steps]]
  name = "login"
  request = "POST /auth/login"
  headers = {{ "Content-Type" = "application/json" }}
  body = '{{"email":"u{{{{vu}}}}@example.com","password":"pw"}}'
  expect = {{ status = 200 }}
  extract = {{ token = "json $.token" }}
  [[users.steps]]
  name = "cookie and redirect"
  request = "GET /login-cookie"
  expect = {{ status = 200, body_contains = "welcome home" }}
  [[users.steps]]
  name = "create"
  request = "POST /escrows"
  headers = {{ Authorization = "Bearer {{{{token}}}}", "Content-Type" = "application/json" }}
  body = '{{"property_address":"{{{{vu}}}} Test St"}}'
  expect = {{ status = 201 }}
  extract = {{ id = "json $.id" }}
  [[users.steps]]
  name = "read back"
  request = "GET /escrows/{{{{id}}}}"
  headers = {{ Authorization = "Bearer {{{{token}}}}" }}
  expect = {{ status = 200, body_contains = "Test St" }}
"#
        ),
    )
}

#[test]
fn a_journey_with_login_extraction_cookies_and_a_redirect_runs_over_h2() {
    let _m = shared_machine();
    let (target, nginx, ca) = servers(1000);
    let dir = TempDir::new("h2-journey");
    let file = journey_file(&dir, &format!("https://localhost:{}", nginx.addrs[H2_TLS].port()));
    // Each user on its own connection, then the users sharing two connections per worker.
    for extra in [&[][..], &["--connections", "2"][..]] {
        let mut args = vec!["--cacert", ca.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = scenario(&file, &args);
        out.assert_code(0);
        assert_eq!(out.requests(), 80, "{}", out.describe());
        assert_eq!(out.errors(), 0, "{}", out.describe());
        assert_eq!(out.u64("/totals/checks_failed"), 0, "{}", out.describe());
        assert_eq!(out.u64("/totals/redirects"), 20, "{}", out.describe());
        assert_eq!(out.u64("/totals/protocols/h2"), 80, "{}", out.describe());
    }
    assert_eq!(target.counters().misuse(), 0, "every read-back used its own token and id");
    let log = access_log(&nginx, nginx.addrs[H2_TLS]);
    assert!(log.iter().all(|(p, ..)| p == "HTTP/2.0"));
    assert_eq!(log.iter().filter(|(_, s, _, u)| *s == 302 && u == "/login-cookie").count(), 40);
}

#[test]
fn auto_falls_back_to_http_1_1_and_2_refuses_a_server_that_picks_it() {
    let _m = shared_machine();
    let (_t, nginx, ca) = servers(1000);
    let ca = ca.to_str().unwrap();
    let h1 = format!("https://localhost:{}/hello", nginx.addrs[H1_TLS].port());
    let out = bench(&h1, &["-c", "2", "-d", "500ms", "--cacert", ca]);
    out.assert_code(0);
    assert!(out.requests() > 0);
    assert_eq!(out.u64("/totals/protocols/http~11.1"), out.requests(), "{}", out.describe());
    let refused = stampede(&["bench", &h1, "-c", "2", "-d", "500ms", "--cacert", ca, "--http", "2", "-q"]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("picked `http/1.1` in ALPN"), "{}", refused.stderr);
    // Plain HTTP/1.1 refuses h2 with prior knowledge.
    let plain = format!("http://{}/hello", nginx.addr);
    let refused = stampede(&["bench", &plain, "-d", "500ms", "--http", "2", "-q"]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("does not answer it"), "{}", refused.stderr);
    let streams = stampede(&["bench", &plain, "-d", "500ms", "--streams", "4", "-q"]);
    streams.assert_code(2);
    assert!(streams.stderr.contains("--streams 4 needs HTTP/2"), "{}", streams.stderr);
    // h2 by ALPN under auto.
    let h2 = format!("https://localhost:{}/hello", nginx.addrs[H2_TLS].port());
    let out = bench(&h2, &["-c", "2", "-d", "500ms", "--cacert", ca]);
    out.assert_code(0);
    assert_eq!(out.u64("/totals/protocols/h2"), out.requests(), "{}", out.describe());
}

#[test]
fn a_redirect_from_an_h2_host_to_an_http_1_1_host_is_followed_on_each_protocol() {
    let _m = shared_machine();
    let (_t, nginx, ca) = servers(1000);
    let url = format!("https://localhost:{}/to-h1", nginx.addrs[H2_TLS].port());
    let dir = TempDir::new("h2-redirect");
    let file = dir.write(
        "redirect.toml",
        &format!(
            r#"target = "{url}"
[load]
executor = "per-vu-iterations"
vus = 2
iterations = 5
[[users]]
name = "u"
  [[users.steps]]
  request = "GET {url}"
  expect = {{ status = 200, body_contains = "hello world" }}
"#
        ),
    );
    let out = scenario(&file, &["--cacert", ca.to_str().unwrap()]);
    out.assert_code(0);
    assert_eq!((out.requests(), out.errors(), out.u64("/totals/redirects")), (10, 0, 10), "{}", out.describe());
    // The chain's last hop spoke HTTP/1.1; the first was h2.
    assert_eq!(out.u64("/totals/protocols/http~11.1"), 10, "{}", out.describe());
    let first = access_log(&nginx, nginx.addrs[H2_TLS]);
    assert_eq!(first.iter().filter(|(p, s, ..)| p == "HTTP/2.0" && *s == 302).count(), 10);
    let second = access_log(&nginx, nginx.addrs[H1_TLS]);
    assert_eq!(second.iter().filter(|(p, s, ..)| p == "HTTP/1.1" && *s == 200).count(), 10);
}

#[test]
fn streams_keep_n_requests_in_flight_on_each_connection() {
    let _m = exclusive_machine();
    let (_t, nginx, _) = servers(100_000);
    let url = format!("http://{}/delay/100", nginx.addrs[H2C]);
    // 2 connections × 5 streams, each request 100 ms: about 100 requests a second.
    let out = bench(&url, &["-c", "2", "--streams", "5", "-d", "2s", "--http", "2", "-t", "1"]);
    out.assert_code(0);
    let rps = out.f64("/totals/rps");
    assert!((70.0..=110.0).contains(&rps), "expected ≈100 req/s, got {rps}\n{}", out.describe());
    assert_eq!(out.u64("/load/streams"), 5);
    assert!(out.stdout.contains("2 connections × 5 streams"), "{}", out.stdout);
    let one = bench(&url, &["-c", "2", "--streams", "1", "-d", "2s", "--http", "2", "-t", "1"]);
    let rps1 = one.f64("/totals/rps");
    assert!((14.0..=22.0).contains(&rps1), "expected ≈20 req/s, got {rps1}\n{}", one.describe());
}

#[test]
fn goaway_mid_run_loses_nothing_and_counts_nothing_twice() {
    let _m = shared_machine();
    // nginx ends each h2 connection with GOAWAY after 50 requests.
    let (_t, nginx, _) = servers(50);
    let url = format!("http://{}/hello", nginx.addrs[H2C]);
    let out = bench(&url, &["-c", "2", "--streams", "8", "-d", "1s", "--http", "2"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.requests() > 200, "{}", out.describe());
    let log = access_log(&nginx, nginx.addrs[H2C]);
    let served = log.iter().filter(|(_, s, _, u)| *s == 200 && u == "/hello").count() as u64;
    // Every request counted was served once; those still in flight at the end may or may not be.
    assert!(
        (out.requests()..=out.requests() + out.unfinished()).contains(&served),
        "nginx served {served}\n{}",
        out.describe()
    );
}

#[test]
fn ten_mib_up_and_down_go_through_flow_control() {
    let _m = shared_machine();
    let (_t, nginx, ca) = servers(1000);
    let dir = TempDir::new("h2-flow");
    let body: String = (0..10 * 1024 * 1024).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let file = dir.write("big.txt", &body);
    let at = format!("@{}", file.display());
    for base in [format!("http://{}", nginx.addrs[H2C]), format!("https://localhost:{}", nginx.addrs[H2_TLS].port())] {
        let url = format!("{base}/files/big.txt");
        let tls = ["--http", "2", "--cacert", ca.to_str().unwrap()];
        let mut args = vec!["-m", "PUT", "--body", &at, "-c", "1", "-d", "300ms"];
        args.extend_from_slice(&tls);
        let up = bench(&url, &args);
        assert_eq!(up.errors(), 0, "{}", up.describe());
        assert!(up.u64("/totals/bytes_out") >= 10 << 20, "{}", up.describe());
        let stored = std::fs::metadata(nginx.dir.path().join("www/files/big.txt")).unwrap().len();
        assert_eq!(stored, 10 << 20, "nginx stored the whole upload");
        let mut args = vec!["-c", "1", "-d", "300ms"];
        args.extend_from_slice(&tls);
        let down = bench(&url, &args);
        assert_eq!(down.errors(), 0, "{}", down.describe());
        assert!(down.status(200) > 0);
        assert!(down.u64("/totals/bytes_in") >= down.status(200) * (10 << 20), "{}", down.describe());
    }
}

/// Over HTTPS with HTTP/1.1 the request went into the TLS session with one `write_all` whose
/// result was ignored: a body larger than rustls's buffer (64 KiB) must still arrive whole.
#[test]
fn a_large_upload_over_https_http1_is_not_truncated() {
    let _m = shared_machine();
    let (_t, nginx, ca) = servers(1000);
    let dir = TempDir::new("h1-tls-upload");
    let body: String = (0..3 * 1024 * 1024).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let file = dir.write("big.txt", &body);
    let at = format!("@{}", file.display());
    let url = format!("https://localhost:{}/files/up.txt", nginx.addrs[H1_TLS].port());
    let args = ["-m", "PUT", "--body", &at, "-c", "1", "-d", "300ms", "--timeout", "5s"];
    let up = bench(&url, &[&args[..], &["--http", "1.1", "--cacert", ca.to_str().unwrap()]].concat());
    assert_eq!(up.errors(), 0, "{}", up.describe());
    assert!(up.requests() > 0, "{}", up.describe());
    assert_eq!(up.u64("/totals/protocols/http~11.1"), up.requests(), "{}", up.describe());
    let stored = std::fs::metadata(nginx.dir.path().join("www/files/up.txt")).unwrap().len();
    assert_eq!(stored, 3 << 20, "nginx stored the whole upload");
}

/// A bench of one hostile server: `--http 2`, one connection, short timeouts.
fn hostile(server: &H2Server, extra: &[&str]) -> crate::util::Outcome {
    let mut args = vec!["-c", "1", "-d", "600ms", "--http", "2", "--timeout", "200ms"];
    args.extend_from_slice(extra);
    bench(&server.url("/"), &args)
}

fn reasons(out: &crate::util::Outcome) -> String {
    out.at("/totals/error_reasons").to_string()
}

type Script = Box<dyn Fn(H2Conn) + Send + Sync>;

/// A server that answers every request's HEADERS with what `answer` makes for its stream.
fn answering(settings: &'static [(u16, u32)], answer: fn(u32) -> Vec<u8>) -> Script {
    Box::new(move |mut c: H2Conn| {
        if c.handshake(settings) {
            while let Some(id) = c.request() {
                c.send(&answer(id));
            }
        }
    })
}

/// A server that says `settings` and never answers.
fn silent(settings: &'static [(u16, u32)]) -> Script {
    Box::new(move |mut c: H2Conn| {
        if c.handshake(settings) {
            c.linger();
        }
    })
}

#[test]
fn hostile_h2_servers_are_named_error_kinds_and_the_run_goes_on() {
    let _m = shared_machine();
    let too_large = |id| {
        let mut out = Vec::new();
        f::write_head(&mut out, 20_000, f::DATA, 0, id);
        out.extend(vec![0u8; 20_000]);
        out
    };
    let bad_hpack = |id| {
        let mut out = Vec::new();
        f::write_headers(&mut out, id, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], true, 16_384);
        out
    };
    let reset = |id| {
        let mut out = Vec::new();
        f::write_rst(&mut out, id, 0x2);
        out
    };
    let refuse = |id| {
        let mut out = Vec::new();
        f::write_rst(&mut out, id, f::REFUSED_STREAM);
        out
    };
    let cut: Script = Box::new(|mut c: H2Conn| {
        if c.handshake(&[]) && c.request().is_some() {
            c.send(&[0, 0, 40, f::HEADERS, f::END_HEADERS, 0, 0, 0, 1, 0x88]);
            c.close_after(Duration::from_millis(500));
        }
    });
    let post: &[&str] = &["-m", "POST", "--body", "0123456789"];
    let cases: Vec<(&str, Script, &[&str], &str, &str)> = vec![
        ("frame too large", answering(&[], too_large), &[], "parse", "frame of 20000 bytes"),
        ("bad HPACK", answering(&[], bad_hpack), &[], "parse", "HPACK"),
        ("no window", silent(&[(f::SETTINGS_INITIAL_WINDOW_SIZE, 0)]), post, "timeout", "no flow-control window"),
        ("zero streams", silent(&[(f::SETTINGS_MAX_CONCURRENT_STREAMS, 0)]), &[], "timeout", "allows 0 concurrent"),
        ("closed mid-frame", cut, &[], "closed", "middle of a frame"),
        ("reset", answering(&[], reset), &[], "h2_reset", "INTERNAL_ERROR"),
        ("refused twice", answering(&[], refuse), &[], "h2_reset", "refused the stream twice"),
    ];
    for (name, script, extra, kind, reason) in cases {
        let server = H2Server::start(script);
        let out = hostile(&server, extra);
        assert!(out.requests() > 0, "{name}: {}", out.describe());
        assert_eq!(out.errors_of(kind), out.errors(), "{name}: {}", out.describe());
        assert_eq!(out.errors(), out.requests(), "{name}: {}", out.describe());
        assert!(reasons(&out).contains(reason), "{name}: {}", reasons(&out));
    }
}

#[test]
fn streams_above_a_goaway_are_retried_on_a_new_connection() {
    let _m = shared_machine();
    // Each connection answers three requests, then says GOAWAY with the third as the last stream
    // and closes: the streams sent after it go again on a new connection.
    let server = H2Server::start(|mut c: H2Conn| {
        if !c.handshake(&[]) {
            return;
        }
        for _ in 0..3 {
            let Some(id) = c.request() else { return };
            c.answer(id);
            if c.answered_here() == 3 {
                let mut out = Vec::new();
                f::write_goaway(&mut out, id, f::NO_ERROR);
                c.send(&out);
            }
        }
        c.close_after(Duration::from_millis(100));
    });
    let out = bench(&server.url("/"), &["-c", "1", "--streams", "4", "-d", "500ms", "--http", "2"]);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.requests() > 10, "{}", out.describe());
    let answered = server.answered();
    assert!((out.requests()..=out.requests() + out.unfinished()).contains(&answered), "{answered}\n{}", out.describe());
}

/// `h2load`'s `requests:` line: (done, succeeded).
fn h2load(args: &[&str]) -> (u64, u64) {
    let out = std::process::Command::new("h2load").args(args).output().expect("h2load (nghttp2-client) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("requests:")).unwrap_or_else(|| panic!("h2load said:\n{text}"));
    let number = |word: &str| -> u64 {
        let before = line.split(word).next().unwrap();
        before.rsplit(' ').find(|w| !w.is_empty()).unwrap().trim_end_matches(',').parse().unwrap()
    };
    println!("h2load {args:?}: {line}");
    (number(" done"), number(" succeeded"))
}

#[test]
fn the_built_in_target_serves_h2load_over_h2c_and_counts_it() {
    let _m = shared_machine();
    let target = TestTarget::start();
    let url = target.url();
    // 10 streams at once on each of 4 connections; then 20 at once on each of 2, each held 50 ms.
    let (done, ok) = h2load(&["-n", "2000", "-c", "4", "-m", "10", &format!("{url}/")]);
    assert_eq!((done, ok), (2000, 2000));
    let (done, ok) = h2load(&["-n", "40", "-c", "2", "-m", "20", &format!("{url}/delay/50")]);
    assert_eq!((done, ok), (40, 40));
    // Uploads of 200 KB, three times the 64 KiB window the target grants, echoed back.
    let dir = TempDir::new("target-h2load");
    let body = dir.write("upload.bin", &"0123456789abcdef".repeat(12_800));
    let (done, ok) = h2load(&["-n", "20", "-c", "2", "-m", "5", "-d", body.to_str().unwrap(), &format!("{url}/echo")]);
    assert_eq!((done, ok), (20, 20));
    // The target's own counts: every h2 request, like an HTTP/1.1 one.
    assert_eq!(target.route("GET /"), 2000);
    assert_eq!(target.route("GET /delay"), 40);
    assert_eq!(target.route("POST /echo"), 20);
}
