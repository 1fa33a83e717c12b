//! Scenario files that carry a real suite: HTTPS targets in `run`, `{{env.NAME}}` and
//! `-e`, per-user cookie jars, redirects, step names shared by user types, step conditions, data
//! feeder orders, fixed-iteration executors, `--vus/--duration`, a dry run without DNS, refused
//! `--hdr-log` on saved results, and bad input named by file:line:col. Each run is the real
//! binary on one worker for a few seconds at most, against the in-process [`App`] on loopback,
//! whose own counts (per route, per login email, per item id, the bytes on the wire) are what
//! the result is held to.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::app::App;
use crate::util::run::temp_path;
use crate::util::tls_server::{Pki, arg};
use crate::util::{self, Outcome, TempDir, TestTarget};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `stampede run FILE --target <app> -t 1 EXTRA... -q --json ...`.
fn run(file: &Path, app: &App, extra: &[&str]) -> Outcome {
    let url = app.url("");
    let mut args = vec!["--target", url.as_str(), "-t", "1"];
    args.extend_from_slice(extra);
    util::scenario(file, &args)
}

/// Like [`run`], with these variables set in the environment of the process and those in
/// `unset` removed from it.
fn run_env(file: &Path, app: &App, extra: &[&str], set: &[(&str, &str)], unset: &[&str]) -> Outcome {
    let json = temp_path("result.json");
    let url = app.url("");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.arg("run").arg(file).args(["--target", url.as_str(), "-t", "1"]).args(extra).arg("-q").arg("--json");
    cmd.arg(&json).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, value) in set {
        cmd.env(name, value);
    }
    for name in unset {
        cmd.env_remove(name);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn the stampede binary");
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>));
    let err = drain(child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for stampede") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`stampede run {}` still running after 30 s; killed", file.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    let json_doc = std::fs::read_to_string(&json).ok().map(|t| {
        let _ = std::fs::remove_file(&json);
        serde_json::from_str(&t).unwrap_or_else(|e| panic!("result is not JSON: {e}\n{t}"))
    });
    Outcome {
        code: status.code(),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        json: json_doc,
        wall,
    }
}

/// Every entry of `steps[]` called `name`.
fn steps_named<'a>(out: &'a Outcome, name: &str) -> Vec<&'a Value> {
    out.at("/steps").as_array().expect("steps is an array").iter().filter(|s| s["name"] == name).collect()
}

/// The one entry of `steps[]` called `name`.
fn step<'a>(out: &'a Outcome, name: &str) -> &'a Value {
    let found = steps_named(out, name);
    assert_eq!(
        found.len(),
        1,
        "expected one step `{name}` in the result, found {}: {:?}",
        found.len(),
        out.at("/steps").as_array().unwrap().iter().map(|s| &s["name"]).collect::<Vec<_>>()
    );
    found[0]
}

/// A u64 field of step `name` (`requests`, `errors`, `skipped`, `redirects`...).
fn of(out: &Outcome, name: &str, field: &str) -> u64 {
    let s = step(out, name);
    s[field].as_u64().unwrap_or_else(|| panic!("step `{name}`: `{field}` is not a u64: {}\n{s}", s[field]))
}

/// `{"email":"{{email}}","password":"{{password}}"}` to `POST /login`, keeping the token.
const LOGIN_STEP: &str = r#"  [[users.steps]]
  name = "login"
  request = "POST /login"
  headers = { "Content-Type" = "application/json" }
  body = '{"email":"{{email}}","password":"{{password}}"}'
  extract = { token = "json $.token" }
"#;

/// `email,password` rows for these emails, password `pw`.
fn users_csv(emails: &[&str]) -> String {
    let mut s = String::from("email,password\n");
    for e in emails {
        s.push_str(&format!("{e},pw\n"));
    }
    s
}

/// A CA, an HTTPS app with a certificate for 127.0.0.1 from it, and the CA written to `dir`.
fn https_app(dir: &TempDir) -> (App, PathBuf) {
    let pki = Pki::new("suite CA");
    let app = App::https(pki.server(&["127.0.0.1", "localhost"]));
    (app, pki.write_ca(dir))
}

// ---------------------------------------------------------------------------------------------
// A real suite's journey: HTTPS, cookies, a redirect, an API key, a shared login row
// ---------------------------------------------------------------------------------------------

const JOURNEY: &str = r#"name = "suite journey"
thresholds = ["errors < 1%"]

[load]
executor = "constant-vus"
vus = 4
duration = "2s"
graceful_stop = "5s"

[[users]]
name = "shopper"
think = "10ms"
data = "shoppers.csv"

LOGIN
  [[users.steps]]
  name = "home"
  request = "GET /start"
  expect = { status = 200, body_contains = "welcome" }

  [[users.steps]]
  name = "secure"
  request = "GET /secure"
  headers = { "X-Api-Key" = "{{env.API_KEY}}" }
  expect = { status = 200 }

[[users]]
name = "admin"
think = "10ms"
data = "admins.csv"

LOGIN
  [[users.steps]]
  name = "home via absolute redirect"
  request = "GET /start-abs"
  expect = { status = 200, body_contains = "welcome" }

  [[users.steps]]
  name = "profile"
  request = "GET /home"
  headers = { "X-Email" = "{{email}}" }
  expect = { status = 200 }
"#;

const SHOPPERS: [&str; 4] = ["s0@app.test", "s1@app.test", "s2@app.test", "s3@app.test"];
const ADMINS: [&str; 4] = ["a0@app.test", "a1@app.test", "a2@app.test", "a3@app.test"];

#[test]
fn https_journey_with_cookies_redirects_an_env_api_key_and_a_shared_login_row() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-journey");
    let (app, ca) = https_app(&dir);
    app.set_api_key("key-from-env-7f3a");
    dir.write("shoppers.csv", &users_csv(&SHOPPERS));
    dir.write("admins.csv", &users_csv(&ADMINS));
    let file = dir.write("journey.toml", &JOURNEY.replace("LOGIN\n", LOGIN_STEP));
    let out = run_env(&file, &app, &["--cacert", arg(&ca)], &[("API_KEY", "key-from-env-7f3a")], &[]);

    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), app.describe());
    assert_eq!(out.unfinished(), 0, "{}", out.describe());

    // Two user types, one `login` row, counted exactly as the server counted.
    let login = of(&out, "login", "requests");
    assert!(login > 10, "too few logins in 2 s: {login}\n{}", out.describe());
    assert_eq!(login, app.logins(), "the login row against the server's own count\n{}", app.describe());
    assert_eq!(login, app.count("POST /login"), "{}", app.describe());
    let by_user = step(&out, "login")["by_user"].as_object().expect("the shared login row has by_user");
    let mut types: Vec<&String> = by_user.keys().collect();
    types.sort();
    assert_eq!(types, ["admin", "shopper"], "{by_user:?}");
    let per_type = |t: &str| by_user[t]["requests"].as_u64().expect("by_user requests is a u64");
    let shoppers: u64 = SHOPPERS.iter().map(|e| app.logins_of(e)).sum();
    let admins: u64 = ADMINS.iter().map(|e| app.logins_of(e)).sum();
    assert_eq!((per_type("shopper"), per_type("admin")), (shoppers, admins), "{by_user:?}\n{}", app.describe());
    assert!(shoppers > 0 && admins > 0, "both user types ran: {shoppers} / {admins}");
    assert_eq!(per_type("shopper") + per_type("admin"), login);

    // The redirects reached a page that needs the session cookie: 200 every time. The Secure
    // cookie came back over HTTPS, on the hop too.
    let (home, abs, profile) = (
        of(&out, "home", "requests"),
        of(&out, "home via absolute redirect", "requests"),
        of(&out, "profile", "requests"),
    );
    assert!(home > 0 && abs > 0 && profile > 0, "{}", out.describe());
    assert_eq!(app.count("home_ok"), home + abs + profile, "{}", app.describe());
    assert_eq!(app.count("home_denied"), 0, "a request to /home came without the session cookie\n{}", app.describe());
    assert_eq!(app.count("home_wrong_user"), 0, "a user sent another user's cookie\n{}", app.describe());
    assert_eq!((app.count("GET /start"), app.count("GET /start-abs")), (home, abs), "{}", app.describe());
    assert_eq!(of(&out, "home", "redirects"), home, "one hop per request");
    assert_eq!(of(&out, "home via absolute redirect", "redirects"), abs, "one hop per request");
    assert_eq!(out.u64("/totals/redirects"), home + abs, "{}", out.describe());

    // The API key from the environment, on the wire, every time.
    let secure = of(&out, "secure", "requests");
    assert!(secure > 0);
    assert_eq!((app.count("secure_ok"), app.count("secure_denied")), (secure, 0), "{}", app.describe());
    let keys = app.api_keys();
    assert_eq!(keys.len() as u64, secure, "an X-Api-Key header on each /secure request and only there");
    assert!(keys.iter().all(|k| k == "key-from-env-7f3a"), "keys received: {:?}", &keys[..keys.len().min(5)]);
    assert_eq!(
        app.unfilled(),
        0,
        "a `{{{{` hole reached the server: {:?}",
        app.heads().iter().find(|h| h.contains("{{"))
    );
}

// ---------------------------------------------------------------------------------------------
// Bug 1: `{{env.NAME}}` in a header or path of an otherwise static step; `-e NAME=VALUE`
// ---------------------------------------------------------------------------------------------

const ENV_FILE: &str = r#"[load]
executor = "constant-vus"
vus = 1
duration = "1s"

[[users]]
name = "u"
think = "10ms"

  [[users.steps]]
  name = "bearer"
  request = "GET /secure"
  headers = { Authorization = "Bearer {{env.TOKEN}}", "X-Api-Key" = "{{env.API_KEY}}" }
  expect = { status = 200 }

  [[users.steps]]
  name = "path"
  request = "GET /item/{{env.ITEM}}"
  expect = { status = 200 }
"#;

/// The run sent exactly the values given for TOKEN, API_KEY and ITEM, never a literal hole.
fn assert_env_filled(out: &Outcome, app: &App, token: &str, key: &str, item: &str) {
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), app.describe());
    let (bearer, path) = (of(out, "bearer", "requests"), of(out, "path", "requests"));
    assert!(bearer > 0 && path > 0, "{}", out.describe());
    assert_eq!(app.count("secure_ok"), bearer, "{}", app.describe());
    assert_eq!(
        app.heads_containing(&format!("Bearer {token}\r\n")),
        bearer,
        "Authorization on the wire: {:?}",
        app.heads().first()
    );
    assert!(app.api_keys().iter().all(|k| k == key), "{:?}", app.api_keys().first());
    assert_eq!(app.item_count(item), path, "{}", app.describe());
    assert_eq!(app.unfilled(), 0, "a literal hole was sent: {:?}", app.heads().iter().find(|h| h.contains("{{")));
    assert_eq!(app.heads_containing("{{env."), 0);
}

#[test]
fn env_in_a_header_of_an_otherwise_static_step_is_sent_filled_in() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-env");
    let file = dir.write("env.toml", ENV_FILE);
    let app = App::http();
    app.set_api_key("k-123");
    let env = [("TOKEN", "t-456"), ("API_KEY", "k-123"), ("ITEM", "env-item")];
    let out = run_env(&file, &app, &[], &env, &[]);
    assert_env_filled(&out, &app, "t-456", "k-123", "env-item");
}

#[test]
fn env_values_from_the_command_line_fill_headers_and_paths() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-env-cli");
    let file = dir.write("env.toml", ENV_FILE);
    let app = App::http();
    app.set_api_key("cli-key");
    let args = ["-e", "TOKEN=cli-tok", "-e", "API_KEY=cli-key", "-e", "ITEM=cli-item"];
    let out = run_env(&file, &app, &args, &[], &["TOKEN", "API_KEY", "ITEM"]);
    assert_env_filled(&out, &app, "cli-tok", "cli-key", "cli-item");
}

// ---------------------------------------------------------------------------------------------
// Bug 2: https:// targets in `run`
// ---------------------------------------------------------------------------------------------

const ONE_ITEM: &str = r#"[load]
executor = "constant-vus"
vus = 2
duration = "1s"

[[users]]
name = "u"
think = "10ms"
  [[users.steps]]
  name = "item"
  request = "GET /item/1"
  expect = { json = { "$.status" = "active" } }
"#;

#[test]
fn https_target_in_run_is_accepted() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-https");
    let (app, ca) = https_app(&dir);
    let file = dir.write("item.toml", ONE_ITEM);

    let out = run(&file, &app, &["--cacert", arg(&ca)]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), app.describe());
    let trusted = of(&out, "item", "requests");
    assert!(trusted > 20, "{}", out.describe());
    assert_eq!(app.item_count("1"), trusted, "{}", app.describe());
    assert!(out.at("/target").as_str().is_some_and(|t| t.starts_with("https://")), "{}", out.at("/target"));

    let out = run(&file, &app, &["-k"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "-k: {}\n{}", out.describe(), app.describe());
    let insecure = of(&out, "item", "requests");
    assert!(insecure > 20, "{}", out.describe());
    assert_eq!(app.item_count("1"), trusted + insecure, "{}", app.describe());

    // Neither: the certificate is checked against the system's roots and refused.
    let out = run(&file, &app, &[]);
    assert_eq!(out.code, Some(3), "nothing could reach the target\n{}", out.describe());
    assert!(out.errors_of("tls") > 0, "{}", out.describe());
    assert_eq!(app.item_count("1"), trusted + insecure, "a request passed an untrusted handshake");
}

/// Bug 2, the other half: `capacity FILE` searches an https scenario with the TLS flags `bench`
/// has. The app has no knee below the search's `--max`, so every step passes over TLS.
#[test]
fn capacity_searches_an_https_scenario_file() {
    let _m = util::exclusive_machine();
    let dir = TempDir::new("suite-https-capacity");
    let (app, ca) = https_app(&dir);
    let file = dir.write("item.toml", ONE_ITEM);
    let url = app.url("");
    let out = util::stampede_json_within(
        &[
            "capacity",
            arg(&file),
            "--base-url",
            &url,
            "--cacert",
            arg(&ca),
            "-q",
            "-t",
            "1",
            "--start",
            "50",
            "--max",
            "100",
            "--step-duration",
            "2s",
            "--slo",
            "p(99) < 500ms",
        ],
        Duration::from_secs(60),
    );
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), app.describe());
    assert!(out.f64("/capacity/max_rps") >= 50.0, "{}", out.describe());
    assert!(app.item_count("1") > 50, "the search's requests went over TLS to the app: {}", app.describe());
}

// ---------------------------------------------------------------------------------------------
// Bug 3: the same step name in two user types
// ---------------------------------------------------------------------------------------------

#[test]
fn same_step_name_in_two_user_types_shares_one_row() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-shared-name");
    dir.write("readers.csv", &users_csv(&["r0@app.test", "r1@app.test"]));
    dir.write("writers.csv", &users_csv(&["w0@app.test", "w1@app.test"]));
    let text = r#"[load]
executor = "constant-vus"
vus = 4
duration = "1s"

[[users]]
name = "reader"
think = "10ms"
data = "readers.csv"
LOGIN
  [[users.steps]]
  name = "read"
  request = "GET /item/r"

[[users]]
name = "writer"
think = "10ms"
data = "writers.csv"
LOGIN
  [[users.steps]]
  name = "write"
  request = "POST /items"
  body = "{}"
  expect = { status = 201 }
"#
    .replace("LOGIN\n", LOGIN_STEP);
    let file = dir.write("shared.toml", &text);
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());

    assert_eq!(steps_named(&out, "login").len(), 1, "one row for both user types' `login`");
    let login = step(&out, "login");
    let requests = of(&out, "login", "requests");
    assert!(requests > 0);
    assert_eq!(requests, app.logins(), "{}", app.describe());
    let by_user = login["by_user"].as_object().expect("by_user on a shared row");
    assert_eq!(by_user.len(), 2, "{by_user:?}");
    let of_type = |t: &str| by_user[t]["requests"].as_u64().unwrap_or_else(|| panic!("by_user.{t}: {by_user:?}"));
    assert_eq!(of_type("reader"), app.logins_of("r0@app.test") + app.logins_of("r1@app.test"), "{}", app.describe());
    assert_eq!(of_type("writer"), app.logins_of("w0@app.test") + app.logins_of("w1@app.test"), "{}", app.describe());
    assert_eq!(of_type("reader") + of_type("writer"), requests);
    assert!(by_user.values().all(|u| u["errors"] == 0), "{by_user:?}");
    // The steps of one user type keep their own rows.
    assert_eq!(of(&out, "read", "requests"), app.item_count("r"));
    assert_eq!(of(&out, "write", "requests"), app.count("POST /items"));
    assert_eq!(out.requests(), app.requests(), "{}", app.describe());
}

// ---------------------------------------------------------------------------------------------
// Bug 4: a request whose variable has no value is not sent, and not counted as a request
// ---------------------------------------------------------------------------------------------

#[test]
fn unsent_request_is_skipped_not_counted() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-unsent");
    dir.write("users.csv", &users_csv(&["nobody@app.test"]));
    // `probability = 0.0`: the login never runs, so `token` never has a value and the detail
    // request cannot be written.
    let text = format!(
        r#"[load]
executor = "constant-vus"
vus = 1
duration = "1s"

[[users]]
name = "u"
think = "20ms"
data = "users.csv"
  [[users.steps]]
  name = "ping"
  request = "GET /item/ping"
{LOGIN_STEP}  probability = 0.0

  [[users.steps]]
  name = "detail"
  request = "GET /item/{{{{token}}}}"
"#
    );
    let file = dir.write("unsent.toml", &text);
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);

    let ping = of(&out, "ping", "requests");
    assert!(ping > 5, "{}", out.describe());
    assert_eq!(ping, app.item_count("ping"));
    assert_eq!((of(&out, "login", "requests"), app.count("POST /login")), (0, 0), "{}", out.describe());
    assert_eq!(app.items().len(), 1, "a request without its token was sent\n{}", app.describe());
    assert_eq!(of(&out, "detail", "requests"), 0, "an unsent request counted as a request\n{}", out.describe());
    let skipped = of(&out, "detail", "skipped");
    assert!(ping - skipped <= 1, "each ping is followed by a skipped detail: {ping} pings, {skipped} skipped");
    assert!(out.u64("/totals/skipped") >= skipped, "{}", out.describe());
    assert_eq!(out.requests(), ping, "totals count only what was sent\n{}", out.describe());
    assert_eq!(out.requests(), app.requests());
    assert_eq!(out.answered(), ping, "{}", out.describe());
}

// ---------------------------------------------------------------------------------------------
// Bug 5: --dry-run needs no DNS
// ---------------------------------------------------------------------------------------------

#[test]
fn dry_run_needs_no_dns() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-dry-run");
    let file = dir.write(
        "placeholder.toml",
        r#"target = "http://placeholder.invalid"

[load]
executor = "constant-vus"
vus = 2
duration = "10s"

[[users]]
name = "u"
  [[users.steps]]
  name = "relative"
  request = "GET /health"

  [[users.steps]]
  name = "other host"
  request = "GET https://api.placeholder.invalid/v1/status"
"#,
    );
    let out = util::stampede(&["run", arg(&file), "-t", "1", "--dry-run"]);
    out.assert_code(0);
    assert!(out.stdout.contains("valid, nothing sent"), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("placeholder.invalid"), "{}", out.stdout);
    assert!(out.stdout.contains("other host"), "{}", out.stdout);
    assert!(out.wall < Duration::from_secs(5), "took {:?}", out.wall);
}

// ---------------------------------------------------------------------------------------------
// Bug 6: --hdr-log on saved results is refused
// ---------------------------------------------------------------------------------------------

#[test]
fn hdr_log_on_saved_results_is_refused() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("suite-hdr-log");
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    for (shard, json) in [("1/2", &a), ("2/2", &b)] {
        let out = util::stampede(&[
            "bench",
            &target.url(),
            "-c",
            "2",
            "-d",
            "300ms",
            "-t",
            "1",
            "--shard",
            shard,
            "-q",
            "--json",
            arg(json),
        ]);
        out.assert_code(0);
    }
    let log = dir.path().join("latency.hlog");

    let out = util::stampede(&["report", arg(&a), "--hdr-log", arg(&log)]);
    assert_eq!(out.code, Some(2), "report --hdr-log: {}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.to_lowercase().contains("hdr"), "the message names the option: {}", out.stderr);
    assert!(!log.exists(), "report --hdr-log created {}", log.display());

    let merged = dir.path().join("m.json");
    let out = util::stampede(&["merge", arg(&a), arg(&b), "-o", arg(&merged), "--hdr-log", arg(&log)]);
    assert_eq!(out.code, Some(2), "merge --hdr-log: {}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.to_lowercase().contains("hdr"), "the message names the option: {}", out.stderr);
    assert!(!log.exists(), "merge --hdr-log created {}", log.display());
    assert!(!merged.exists(), "a refused merge wrote its output");
    // Without the option both still work.
    util::stampede(&["merge", arg(&a), arg(&b), "-o", arg(&merged)]).assert_code(0);
    assert!(merged.exists());
}

// ---------------------------------------------------------------------------------------------
// Cookies
// ---------------------------------------------------------------------------------------------

/// Three users of one type (with these extra user keys) who log in, then take these steps.
fn cookie_file(extra: &str, steps: &str) -> String {
    format!(
        r#"[load]
executor = "constant-vus"
vus = 3
duration = "1s"

[[users]]
name = "u"
think = "10ms"
data = "users.csv"
{extra}
{LOGIN_STEP}
{steps}"#
    )
}

const THREE: [&str; 3] = ["c0@app.test", "c1@app.test", "c2@app.test"];

#[test]
fn each_user_has_its_own_cookie_jar() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-jars");
    dir.write("users.csv", &users_csv(&THREE));
    let steps = r#"  [[users.steps]]
  name = "home"
  request = "GET /home"
  headers = { "X-Email" = "{{email}}" }
  expect = { status = 200 }
"#;
    let file = dir.write("jars.toml", &cookie_file("", steps));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), app.describe());
    let home = of(&out, "home", "requests");
    assert!(home > 20, "{}", out.describe());
    assert_eq!(app.count("home_ok"), home, "{}", app.describe());
    assert_eq!(app.count("home_wrong_user"), 0, "a user sent another user's session\n{}", app.describe());
    assert_eq!(app.count("home_denied"), 0, "{}", app.describe());
    for e in THREE {
        assert!(app.logins_of(e) > 0, "user {e} never logged in: {}", app.describe());
        assert!(app.count(&format!("home_ok:{e}")) > 0, "{e} never reached home: {}", app.describe());
    }
}

#[test]
fn cookies_false_turns_the_jar_off() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-no-cookies");
    dir.write("users.csv", &users_csv(&THREE));
    let steps = r#"  [[users.steps]]
  name = "home"
  request = "GET /home"
  expect = { status = 401 }
"#;
    let file = dir.write("no-cookies.toml", &cookie_file("cookies = false", steps));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "every /home answered 401, as expected\n{}", out.describe());
    let home = of(&out, "home", "requests");
    assert!(home > 20, "{}", out.describe());
    assert_eq!((app.count("home_denied"), app.count("home_ok")), (home, 0), "{}", app.describe());
    assert_eq!(
        app.count("with_cookie"),
        0,
        "a Cookie header was sent: {:?}",
        app.heads().iter().find(|h| h.contains("ookie:"))
    );
}

#[test]
fn a_step_sets_and_clears_cookies_before_its_request() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-set-clear");
    dir.write("users.csv", &users_csv(&THREE));
    let steps = r#"  [[users.steps]]
  name = "cleared"
  request = "GET /home"
  clear_cookies = ["sid"]
  expect = { status = 401 }

  [[users.steps]]
  name = "preset"
  request = "GET /home"
  set_cookies = { sid = "preset-sid" }
  expect = { status = 200 }
"#;
    let file = dir.write("set-clear.toml", &cookie_file("", steps));
    let app = App::http();
    app.accept_sid("preset-sid", "preset@app.test");
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), app.describe());
    let (cleared, preset) = (of(&out, "cleared", "requests"), of(&out, "preset", "requests"));
    assert!(cleared > 10 && preset > 10, "{}", out.describe());
    assert_eq!(
        app.count("home_denied"),
        cleared,
        "the session cookie was cleared before the request\n{}",
        app.describe()
    );
    assert_eq!(app.count("home_ok"), preset, "{}", app.describe());
    assert_eq!(app.count("home_ok:preset@app.test"), preset, "the step's own cookie was sent\n{}", app.describe());
}

#[test]
fn malformed_set_cookie_is_a_cookie_error_and_the_run_goes_on() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-bad-cookie");
    let file = dir.write(
        "bad-cookie.toml",
        r#"[load]
executor = "constant-vus"
vus = 1
duration = "1s"

[[users]]
name = "u"
think = "10ms"
  [[users.steps]]
  name = "crumbs"
  request = "GET /bad-cookie"
"#,
    );
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    let crumbs = of(&out, "crumbs", "requests");
    // One user at 10 ms think for 1 s: the run went on after each bad cookie.
    assert!(crumbs > 20, "{}", out.describe());
    assert_eq!(crumbs, app.count("GET /bad-cookie"));
    assert_eq!(out.status(200), crumbs, "{}", out.describe());
    assert_eq!(out.errors_of("cookie"), crumbs, "one cookie error per malformed Set-Cookie\n{}", out.describe());
    assert_eq!(of(&out, "crumbs", "errors"), crumbs, "{}", out.describe());
    assert_eq!(out.errors(), crumbs, "no other error\n{}", out.describe());
    assert_eq!(app.count("with_cookie"), 0, "the malformed cookie was stored and sent back");
}

// ---------------------------------------------------------------------------------------------
// Redirects
// ---------------------------------------------------------------------------------------------

#[test]
fn redirects_are_followed_by_default_and_post_becomes_get() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-redirects");
    dir.write("users.csv", &users_csv(&["r@app.test"]));
    let steps = r#"  [[users.steps]]
  name = "relative"
  request = "GET /start"
  expect = { status = 200 }

  [[users.steps]]
  name = "absolute"
  request = "GET /start-abs"
  expect = { status = 200 }

  [[users.steps]]
  name = "see other"
  request = "POST /submit"
  headers = { "Content-Type" = "application/x-www-form-urlencoded" }
  body = "a=1&b=2"
  expect = { status = 200, body_contains = "done" }

  [[users.steps]]
  name = "found after post"
  request = "POST /start"
  headers = { "Content-Type" = "application/x-www-form-urlencoded" }
  body = "a=1"
  expect = { status = 200, body_contains = "welcome" }
"#;
    let file = dir.write("redirects.toml", &cookie_file("", steps).replace("vus = 3", "vus = 1"));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), app.describe());
    let n = |s: &str| of(&out, s, "requests");
    let (relative, absolute, see_other, after_post) =
        (n("relative"), n("absolute"), n("see other"), n("found after post"));
    assert!(relative > 5 && see_other > 5, "{}", out.describe());
    for s in ["relative", "absolute", "see other", "found after post"] {
        assert_eq!(of(&out, s, "redirects"), n(s), "step `{s}`: one hop per request");
    }
    assert_eq!(out.u64("/totals/redirects"), relative + absolute + see_other + after_post, "{}", out.describe());
    assert_eq!(app.count("GET /home"), relative + absolute + after_post, "{}", app.describe());
    assert_eq!(app.count("home_ok"), relative + absolute + after_post, "the cookie went along on every hop");
    assert_eq!(app.count("GET /done"), see_other, "{}", app.describe());
    assert_eq!(app.count("POST /done"), 0, "303 must become GET\n{}", app.describe());
    assert_eq!(app.count("POST /home"), 0, "302 after POST must become GET\n{}", app.describe());
    assert_eq!(app.count("body_on_get"), 0, "the POST body went along on the GET\n{}", app.describe());
}

#[test]
fn redirects_zero_returns_the_302_itself_and_a_step_may_allow_more() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-redirects-0");
    dir.write("users.csv", &users_csv(&["z@app.test"]));
    let steps = r#"  [[users.steps]]
  name = "not followed"
  request = "GET /start"
  expect = { status = 302 }

  [[users.steps]]
  name = "followed"
  request = "GET /start"
  redirects = 2
  expect = { status = 200 }
"#;
    let text = format!("redirects = 0\n{}", cookie_file("", steps).replace("vus = 3", "vus = 1"));
    let file = dir.write("redirects-0.toml", &text);
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), app.describe());
    let (kept, followed) = (of(&out, "not followed", "requests"), of(&out, "followed", "requests"));
    assert!(kept > 5 && followed > 5, "{}", out.describe());
    let not_followed = step(&out, "not followed");
    assert_eq!(not_followed["status"]["302"].as_u64(), Some(kept), "{not_followed}");
    assert_eq!(of(&out, "not followed", "redirects"), 0);
    assert_eq!(of(&out, "followed", "redirects"), followed);
    assert_eq!(app.count("GET /start"), kept + followed);
    assert_eq!(app.count("GET /home"), followed, "only the step that allows redirects reached /home");
}

#[test]
fn redirect_loop_past_the_limit_is_a_redirect_error() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-redirect-loop");
    let app = App::http();
    // (step, its `redirects` line, hops allowed)
    for (name, setting, limit) in [("three", "redirects = 3\n", 3u64), ("default", "", 10)] {
        let text = format!(
            "[load]\nexecutor = \"per-vu-iterations\"\nvus = 1\niterations = 5\n\n\
             [[users]]\nname = \"u\"\n\
             [[users.steps]]\nname = \"{name}\"\nrequest = \"GET /loop/{name}\"\n{setting}"
        );
        let file = dir.write(&format!("loop-{name}.toml"), &text);
        let out = run(&file, &app, &[]);
        out.assert_code(0);
        // Every iteration met the loop, and the run went on to the next one.
        assert_eq!(of(&out, name, "requests"), 5, "{name}: {}", out.describe());
        assert_eq!(of(&out, name, "errors"), 5, "{name}: {}", out.describe());
        assert_eq!(out.errors_of("redirect"), 5, "{name}: {}", out.describe());
        assert_eq!(out.errors(), 5, "{name}: no other error kind\n{}", out.describe());
        // The first request and the hops allowed, then the error.
        let path = format!("GET /loop/{name}");
        assert_eq!(app.count(&path), 5 * (1 + limit), "{name}: {}", app.describe());
        assert_eq!(of(&out, name, "redirects"), 5 * limit, "{name}: hops followed before giving up");
        // The last redirect was an answer: its status and bytes are counted.
        assert_eq!(out.status(302), 5, "{name}: {}", out.describe());
        assert!(out.u64("/totals/bytes_in") > 0, "{name}: {}", out.describe());
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

#[test]
fn conditions_run_steps_only_when_they_hold_and_count_the_rest_as_skipped() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-conditions");
    // Users 0..3 keep rows 0..3 (per-user order): an admin and two users who log in, and a user
    // who does not (`go` empty), so has neither a token nor a login status.
    dir.write(
        "users.csv",
        "email,password,role,go\n\
         adm@app.test,pw,admin,yes\nann@app.test,pw,user,yes\nbob@app.test,pw,user,yes\neve@app.test,pw,user,\n",
    );
    // (step name, condition, item id, users of the 4 it holds for)
    let cases: [(&str, &str, &str, u64); 9] = [
        ("admin page", "role == 'admin'", "admin", 1),
        ("with token", "token", "token", 3),
        ("without token", "!token", "no-token", 1),
        ("after ok login", "status(login) == 200", "ok", 3),
        ("without a 200 from login", "status(login) != 200", "not-ok", 1),
        ("login in 2xx", "status(login) in 2xx", "2xx", 3),
        ("admin with token", "role == 'admin' && token", "and", 1),
        ("admin or no token", r#"role == "admin" || !token"#, "or", 2),
        ("not a user with a token", "!(role == 'user' && token)", "not-and", 2),
    ];
    let mut text = format!(
        "[load]\nexecutor = \"per-vu-iterations\"\nvus = 4\niterations = 5\n\n\
         [[users]]\nname = \"u\"\ndata = \"users.csv\"\n{LOGIN_STEP}  if = \"go\"\n"
    );
    for (name, cond, id, _) in cases {
        text.push_str(&format!(
            "\n[[users.steps]]\nname = \"{name}\"\nif = \"{}\"\nrequest = \"GET /item/{id}\"\n\
             expect = {{ status = 200 }}\n",
            cond.replace('"', "\\\"")
        ));
    }
    let file = dir.write("conditions.toml", &text);
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!((of(&out, "login", "requests"), of(&out, "login", "skipped")), (15, 5), "{}", out.describe());
    assert_eq!(app.logins(), 15, "{}", app.describe());
    assert_eq!(app.logins_of("eve@app.test"), 0);
    let mut skipped = 5;
    let mut ran_total = 0;
    for (name, cond, id, holds_for) in cases {
        let ran = holds_for * 5;
        assert_eq!(app.item_count(id), ran, "`{cond}`: server count\n{}", app.describe());
        assert_eq!(of(&out, name, "requests"), ran, "`{cond}`: requests\n{}", out.describe());
        assert_eq!(of(&out, name, "errors"), 0, "`{cond}`: a skipped step is not an error");
        assert_eq!(of(&out, name, "skipped"), 20 - ran, "`{cond}`: skipped");
        skipped += 20 - ran;
        ran_total += ran;
    }
    assert_eq!(out.u64("/totals/skipped"), skipped, "{}", out.describe());
    assert_eq!(out.requests(), 15 + ran_total, "logins and the steps that ran\n{}", out.describe());
    assert_eq!(out.requests(), app.requests());
}

// ---------------------------------------------------------------------------------------------
// Data feeders
// ---------------------------------------------------------------------------------------------

/// A file of one user type with this `[load]` body and `data` value, a login step and nothing else.
fn login_file(load: &str, data: &str) -> String {
    format!("[load]\n{load}\n\n[[users]]\nname = \"u\"\ndata = {data}\n{LOGIN_STEP}")
}

/// A file of one user type with this `[load]` body and `data` value, reading `GET /item/{{id}}`.
fn item_file(load: &str, data: &str) -> String {
    let head = format!("[load]\n{load}\n\n[[users]]\nname = \"u\"\ndata = {data}\n");
    head + r#"  [[users.steps]]
  name = "item"
  request = "GET /item/{{id}}"
"#
}

const FIVE: [&str; 5] = ["p0@app.test", "p1@app.test", "p2@app.test", "p3@app.test", "p4@app.test"];

#[test]
fn per_user_order_gives_user_n_the_row_n_mod_rows() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-per-user");
    dir.write("users.csv", &users_csv(&FIVE));
    let load = "executor = \"per-vu-iterations\"\nvus = 7\niterations = 2";
    let file = dir.write("per-user.toml", &login_file(load, r#"{ file = "users.csv", order = "per-user" }"#));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    // Users 0..6 take rows 0, 1, 2, 3, 4, 0, 1 and keep them for both their iterations.
    let counts: Vec<u64> = FIVE.iter().map(|e| app.logins_of(e)).collect();
    assert_eq!(counts, [4, 4, 2, 2, 2], "{}", app.describe());
    assert_eq!(of(&out, "login", "requests"), 14);
}

#[test]
fn sequential_order_walks_the_rows_in_turn_run_wide() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-sequential");
    let four = &FIVE[..4];
    dir.write("users.csv", &users_csv(four));
    let load = "executor = \"shared-iterations\"\nvus = 2\niterations = 10";
    let file = dir.write("sequential.toml", &login_file(load, r#"{ file = "users.csv", order = "sequential" }"#));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    // One worker walks rows 0, 1, 2, 3, 0, 1, 2, 3, 0, 1 whichever user takes the iteration.
    let counts: Vec<u64> = four.iter().map(|e| app.logins_of(e)).collect();
    assert_eq!(counts, [3, 3, 2, 2], "{}", app.describe());
    assert_eq!(out.u64("/totals/iterations"), 10, "{}", out.describe());
}

#[test]
fn unique_order_uses_every_row_once_then_the_users_stop() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-unique");
    dir.write("items.json", r#"[{"id": 11}, {"id": 12}, {"id": 13}, {"id": 14}, {"id": 15}, {"id": 16}]"#);
    // Each user wants 10 iterations; there are 6 rows for both: both run out.
    let load = "executor = \"per-vu-iterations\"\nvus = 2\niterations = 10";
    let file = dir.write("unique.toml", &item_file(load, r#"{ file = "items.json", order = "unique" }"#));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let items = app.items();
    let want: std::collections::BTreeMap<String, u64> = (11..=16).map(|i| (i.to_string(), 1)).collect();
    assert_eq!(items, want, "every row exactly once");
    assert_eq!(of(&out, "item", "requests"), 6, "{}", out.describe());
    assert_eq!(out.u64("/totals/data_exhausted"), 2, "both users ran out of rows\n{}", out.describe());
    assert!(out.wall < Duration::from_secs(10), "the users stopped, and so did the run: {:?}", out.wall);
}

#[test]
fn random_order_draws_only_rows_that_exist() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-random");
    dir.write("items.json", r#"[{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}, {"id": "e"}]"#);
    let load = "executor = \"shared-iterations\"\nvus = 2\niterations = 60";
    let file = dir.write("random.toml", &item_file(load, r#"{ file = "items.json", order = "random" }"#));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let items = app.items();
    assert!(items.keys().all(|k| ["a", "b", "c", "d", "e"].contains(&k.as_str())), "{items:?}");
    assert_eq!(items.values().sum::<u64>(), 60, "{items:?}");
    // 60 uniform draws from 5 rows all falling on 2 rows or fewer: about 1 in 10^19.
    assert!(items.len() >= 3, "hardly random: {items:?}");
    assert_eq!(of(&out, "item", "requests"), 60);
}

// ---------------------------------------------------------------------------------------------
// Fixed-iteration executors and --vus/--duration
// ---------------------------------------------------------------------------------------------

/// A file of one user type with this `[load]` body: log in, then `GET /item/vu-{{vu}}`.
fn journey_file(load: &str) -> String {
    let head = format!("[load]\n{load}\n\n[[users]]\nname = \"u\"\nthink = \"10ms\"\ndata = \"users.csv\"\n");
    head + LOGIN_STEP
        + r#"
  [[users.steps]]
  name = "item"
  request = "GET /item/vu-{{vu}}"
"#
}

#[test]
fn per_vu_iterations_runs_exactly_vus_times_iterations() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-per-vu");
    dir.write("users.csv", &users_csv(&THREE));
    let file = dir.write("per-vu.toml", &journey_file("executor = \"per-vu-iterations\"\nvus = 3\niterations = 7"));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!(app.logins(), 21, "{}", app.describe());
    for vu in 1..=3 {
        assert_eq!(app.item_count(&format!("vu-{vu}")), 7, "user {vu}: {}", app.describe());
    }
    assert_eq!(out.u64("/totals/iterations"), 21, "{}", out.describe());
    assert_eq!(out.requests(), 42);
    assert_eq!(app.requests(), 42);
    // Ends by itself once done, long before the default max_duration of 10 minutes.
    assert!(out.wall < Duration::from_secs(10), "{:?}", out.wall);
}

#[test]
fn shared_iterations_runs_exactly_its_iterations_in_total() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-shared-iterations");
    dir.write("users.csv", &users_csv(&THREE));
    let load = "executor = \"shared-iterations\"\nvus = 4\niterations = 25\nmax_duration = \"20s\"";
    let file = dir.write("shared-iterations.toml", &journey_file(load));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!(app.logins(), 25, "{}", app.describe());
    assert_eq!(app.count("GET /item/:id"), 25, "{}", app.describe());
    assert_eq!(out.u64("/totals/iterations"), 25, "{}", out.describe());
    assert_eq!((out.requests(), app.requests()), (50, 50));
    assert!(out.wall < Duration::from_secs(10), "{:?}", out.wall);
}

#[test]
fn fixed_iterations_stop_at_max_duration() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-max-duration");
    dir.write("users.csv", &users_csv(&THREE));
    let load = "executor = \"shared-iterations\"\nvus = 1\niterations = 100000\nmax_duration = \"1s\"";
    let file = dir.write("max-duration.toml", &journey_file(load).replace("think = \"10ms\"", "think = \"50ms\""));
    let app = App::http();
    let out = run(&file, &app, &[]);
    out.assert_code(0);
    let duration = out.f64("/duration_s");
    assert!((0.8..2.5).contains(&duration), "max_duration 1s, ran {duration} s\n{}", out.describe());
    assert!(out.wall < Duration::from_secs(6), "{:?}", out.wall);
    let iterations = out.u64("/totals/iterations");
    assert!((3..=30).contains(&iterations), "one user, 2 × 50 ms think per iteration, 1 s: {iterations}");
    assert_eq!(out.requests(), app.requests());
}

#[test]
fn vus_and_duration_on_the_command_line_replace_the_files_load() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-vus-duration");
    dir.write("users.csv", &users_csv(&THREE));
    // On its own this file would run for hours.
    let load = "executor = \"per-vu-iterations\"\nvus = 1\niterations = 1000000\nmax_duration = \"2h\"";
    let file = dir.write("long.toml", &journey_file(load));
    let app = App::http();
    let out = run(&file, &app, &["--vus", "3", "--duration", "2s"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!(out.u64("/load/users"), 3, "{}", out.at("/load"));
    let duration = out.f64("/duration_s");
    assert!((1.8..3.0).contains(&duration), "--duration 2s, ran {duration} s\n{}", out.describe());
    assert!(out.wall < Duration::from_secs(8), "{:?}", out.wall);
    // Three users, each its own data row.
    for e in THREE {
        assert!(app.logins_of(e) > 5, "{e}: {}", app.describe());
    }
    for vu in 1..=3 {
        assert!(app.item_count(&format!("vu-{vu}")) > 5, "user {vu}: {}", app.describe());
    }
    assert_eq!(app.item_count("vu-4"), 0, "a fourth user ran: {}", app.describe());
}

// ---------------------------------------------------------------------------------------------
// Bad input: exit 2 naming file:line:col, before any load
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_suite_settings_exit_2_naming_file_line_and_column() {
    let _m = util::shared_machine();
    let dir = TempDir::new("suite-bad-input");
    dir.write("users.csv", &users_csv(&THREE));
    let app = App::http();
    let good_load = "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n";
    let user = |user_keys: &str, step_keys: &str| {
        format!(
            "[[users]]\nname = \"u\"\ndata = \"users.csv\"\n{user_keys}\n{LOGIN_STEP}\n\
             [[users.steps]]\nname = \"home\"\nrequest = \"GET /home\"\n{step_keys}\n"
        )
    };
    // (what, file text, the text on the offending line, words the message must hold)
    let cases: Vec<(&str, String, &str, &[&str])> = vec![
        ("bad if", format!("{good_load}{}", user("", "  if = \"status(login) ==\"")), "if = ", &[]),
        ("if on an unknown variable", format!("{good_load}{}", user("", "  if = \"tokn\"")), "if = ", &["tokn"]),
        (
            "unknown order",
            format!("{good_load}{}", user("", ""))
                .replace("data = \"users.csv\"", "data = { file = \"users.csv\", order = \"shuffled\" }"),
            "order = ",
            &["shuffled"],
        ),
        ("negative redirects in the file", format!("redirects = -1\n{good_load}{}", user("", "")), "redirects", &[]),
        ("negative redirects on a step", format!("{good_load}{}", user("", "  redirects = -1")), "redirects", &[]),
        ("cookies not a boolean", format!("{good_load}{}", user("cookies = \"yes\"", "")), "cookies", &[]),
        (
            "set_cookies value with ;",
            format!("{good_load}{}", user("", "  set_cookies = { sid = \"a;b\" }")),
            "set_cookies",
            &[],
        ),
        (
            "rate on per-vu-iterations",
            format!("[load]\nexecutor = \"per-vu-iterations\"\nvus = 1\niterations = 1\nrate = 10\n{}", user("", "")),
            "rate = ",
            &["rate"],
        ),
    ];
    for (what, text, marker, words) in cases {
        let file = dir.write(&format!("{}.toml", what.replace([' ', ';'], "-")), &text);
        let line = text[..text.find(marker).unwrap_or_else(|| panic!("{what}: no `{marker}` in\n{text}"))]
            .matches('\n')
            .count()
            + 1;
        let url = app.url("");
        let out = util::stampede_json(&["run", arg(&file), "--target", &url, "-t", "1", "-q"]);
        assert_eq!(out.code, Some(2), "{what}: expected exit code 2\n{}\n{text}", out.describe());
        let at = format!("{}:{line}:", file.display());
        let col = out.stderr.find(&at).map(|i| &out.stderr[i + at.len()..]);
        assert!(
            col.is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())),
            "{what}: stderr does not name `{at}<column>`: {}\n{text}",
            out.stderr
        );
        for w in words {
            assert!(out.stderr.contains(w), "{what}: stderr does not say `{w}`: {}", out.stderr);
        }
        assert!(out.json.is_none(), "{what}: a result document was written");
        assert!(out.wall < Duration::from_secs(2), "{what}: took {:?}", out.wall);
    }
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(app.requests(), 0, "bad input reached the server: {}", app.describe());
}

// ---------------------------------------------------------------------------------------------
// The ready-made file that shows these features runs as documented
// ---------------------------------------------------------------------------------------------

/// scenarios/burst.toml against the built-in target: exactly 100 journeys, each account of its
/// JSON feeder used once, every conditional step run because the earlier ones answered as hoped.
#[test]
fn the_burst_scenario_runs_its_hundred_journeys_exactly() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/burst.toml");
    let out = util::scenario(&file, &["--target", &target.url(), "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.u64("/totals/iterations"), 100, "{}", out.describe());
    assert_eq!(out.u64("/totals/data_exhausted"), 0, "{}", out.describe());
    assert_eq!(out.u64("/totals/skipped"), 0, "{}", out.describe());
    assert_eq!(of(&out, "login", "requests"), 100, "{}", out.describe());
    assert_eq!(of(&out, "escrow detail", "requests"), 100, "{}", out.describe());
    assert_eq!(target.counters().logins(), 100);
    assert_eq!(target.counters().records(), 100);
    assert!(out.at("/interrupted") == false, "a finished burst is not interrupted");
}
