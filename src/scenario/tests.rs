//! Scenario compiler tests: good files become the expected plan; every kind of bad file is
//! refused naming file, line and column.

use std::path::PathBuf;
use std::time::Duration;

use super::{Overrides, compile};
use crate::error::PlanError;
use crate::plan::{Load, Pick, Request, Think};

/// A directory with the given files; returns the path of `scenario.toml` in it.
fn files(name: &str, scenario: &str, extra: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stampede-scn-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (f, text) in extra {
        std::fs::write(dir.join(f), text).unwrap();
    }
    let p = dir.join("scenario.toml");
    std::fs::write(&p, scenario).unwrap();
    p
}

fn refused(name: &str, scenario: &str, extra: &[(&str, &str)]) -> (usize, usize, String) {
    let p = files(name, scenario, extra);
    match compile(scenario, &p, &Overrides::default()) {
        Err(PlanError::At { path, line, col, message }) => {
            assert_eq!(path, p.display().to_string());
            (line, col, message)
        }
        Err(other) => panic!("{name}: expected a located error, got {other}"),
        Ok(_) => panic!("{name}: accepted a bad file"),
    }
}

const JOURNEY: &str = r#"name = "agent workflow"
target = "http://127.0.0.1:9"
thresholds = ["p(95) < 200ms", { expr = "errors < 1%", abort_on_fail = true, delay = "5s" }]

[load]
executor = "ramping-vus"
stages = [{ duration = "2s", target = 10 }, { duration = "1s", target = 0 }]

[[users]]
name = "agent"
weight = 70
think = "1s..2s"
data = "agents.csv"

  [[users.steps]]
  name = "login"
  request = "POST /auth/login"
  headers = { "Content-Type" = "application/json" }
  body = '{"email":"{{email}}","password":"{{password}}"}'
  expect = { status = 200 }
  extract = { token = "json $.token" }

  [[users.steps]]
  name = "create"
  request = "POST /escrows"
  headers = { Authorization = "Bearer {{token}}" }
  body = '{"price":{{rand 300000 1300000}},"ref":"{{vu}}-{{iter}}"}'
  expect = { status = 201 }
  extract = { id = "json $.id" }

  [[users.steps]]
  name = "detail"
  request = "GET /escrows/{{id}}"
  headers = { Authorization = "Bearer {{token}}" }
  think = "0s"
  thresholds = ["p(95) < 100ms"]

[[users]]
name = "browser"
weight = 30
pick = "weighted"

  [[users.steps]]
  request = "GET /api/pricing"
  weight = 3

  [[users.steps]]
  request = "GET /api/reports"
  weight = 1
  probability = 0.5
"#;

#[test]
fn a_full_journey_compiles_into_the_plan() {
    let p = files("journey", JOURNEY, &[("agents.csv", "email,password\na@x.io,pw1\nb@x.io,pw2\n")]);
    let plan = compile(JOURNEY, &p, &Overrides::default()).unwrap();
    assert_eq!(plan.name, "agent workflow");
    assert_eq!(plan.steps.len(), 5);
    assert_eq!(plan.users.len(), 2);
    assert_eq!((plan.users[0].weight, plan.users[1].weight), (70, 30));
    assert_eq!(plan.users[0].think, Think::Range(Duration::from_secs(1), Duration::from_secs(2)));
    assert_eq!(plan.users[1].pick, Pick::Weighted);
    assert_eq!(plan.vars, ["email", "password", "token", "id"]);
    let data = plan.users[0].data.as_ref().unwrap();
    assert_eq!(data.rows.len(), 2);
    assert_eq!(data.rows[1][0], b"b@x.io");
    assert!(plan.steps[0].capture && plan.steps[1].capture, "steps with checks or extraction keep the response");
    assert!(!plan.steps[3].capture);
    assert!(matches!(plan.steps[0].request, Request::Template { .. }));
    assert!(matches!(plan.steps[3].request, Request::Static { .. }), "a request without holes is prebuilt");
    assert_eq!(plan.steps[2].think, Some(Think::None));
    assert_eq!(plan.steps[4].probability, 0.5);
    assert_eq!(plan.thresholds.len(), 3);
    assert!(plan.thresholds[1].threshold.abort_on_fail);
    assert_eq!(plan.thresholds[1].delay, Duration::from_secs(5));
    assert_eq!(plan.thresholds[2].step, Some(2));
    match &plan.scenarios[0].load {
        Load::Closed { users } => {
            assert_eq!(users.max(), 10.0);
            assert_eq!(users.duration(), Duration::from_secs(3));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(plan.duration(), Duration::from_secs(3));
}

#[test]
fn prebuilt_request_bytes_are_exact() {
    let text = r#"target = "http://127.0.0.1:8080"
[load]
executor = "constant-vus"
vus = 1
duration = "1s"
[[users]]
name = "u"
  [[users.steps]]
  request = "PUT /a?b=1"
  headers = { "X-Test" = "yes" }
  body = "hello"
"#;
    let p = files("bytes", text, &[]);
    let plan = compile(text, &p, &Overrides::default()).unwrap();
    let Request::Static { bytes, .. } = &plan.steps[0].request else { panic!("static") };
    let expected = format!(
        "PUT /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: {}\r\nX-Test: yes\r\nContent-Length: 5\r\n\r\nhello",
        crate::http::request::USER_AGENT
    );
    assert_eq!(String::from_utf8_lossy(bytes), expected);
}

#[test]
fn arrival_rate_executors_get_user_pools() {
    let text = r#"target = "http://127.0.0.1:8080"
[load]
executor = "ramping-arrival-rate"
start_rate = 10
stages = [{ duration = "10s", target = 200 }]
max_vus = 50
[[users]]
name = "u"
  [[users.steps]]
  request = "GET /"
"#;
    let p = files("arrival", text, &[]);
    let plan = compile(text, &p, &Overrides::default()).unwrap();
    match &plan.scenarios[0].load {
        Load::Open { rate, pre_allocated, max_users, .. } => {
            assert_eq!((rate.start_value(), rate.max()), (10.0, 200.0));
            assert_eq!((*pre_allocated, *max_users), (50, 50));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn target_override_wins() {
    let p = files("override", JOURNEY, &[("agents.csv", "email,password\na,b\n")]);
    let plan =
        compile(JOURNEY, &p, &Overrides { target: Some("http://127.0.0.1:7777".into()), ..Overrides::default() })
            .unwrap();
    assert_eq!(plan.target().port, 7777);
}

const MINIMAL_HEAD: &str =
    "target = \"http://127.0.0.1:9\"\n[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n";

fn with_step(step: &str) -> String {
    format!("{MINIMAL_HEAD}[[users]]\nname = \"u\"\n  [[users.steps]]\n{step}\n")
}

#[test]
fn unknown_keys_are_refused_where_they_are() {
    let (line, col, msg) = refused("unknown-key", &with_step("  request = \"GET /\"\n  reqest = \"x\""), &[]);
    assert_eq!((line, col), (10, 3), "{msg}");
    assert!(msg.contains("unknown field `reqest`"), "{msg}");
}

#[test]
fn bad_durations_name_the_unit() {
    let text = "target = \"http://127.0.0.1:9\"\n[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"10x\"\n[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n";
    let (line, col, msg) = refused("duration", text, &[]);
    assert_eq!((line, col), (5, 12));
    assert!(msg.contains("unknown unit `x`"), "{msg}");
}

#[test]
fn unknown_executor_lists_the_known_ones() {
    let text = MINIMAL_HEAD.replace("constant-vus", "constant-users");
    let (line, col, msg) =
        refused("executor", &format!("{text}[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n"), &[]);
    assert_eq!((line, col), (3, 12));
    assert!(msg.contains("unknown executor `constant-users`") && msg.contains("ramping-arrival-rate"), "{msg}");
}

#[test]
fn settings_an_executor_does_not_use_are_refused() {
    let text = MINIMAL_HEAD.replace("vus = 1\n", "vus = 1\nrate = 5\n");
    let (line, _, msg) =
        refused("unused", &format!("{text}[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n"), &[]);
    assert_eq!(line, 5);
    assert!(msg.contains("`rate` is not used by the constant-vus executor"), "{msg}");
}

#[test]
fn unknown_variables_point_into_the_string() {
    let (line, col, msg) = refused("var", &with_step("  request = \"GET /items/{{itme}}\""), &[]);
    assert_eq!((line, col), (9, 25), "{msg}");
    assert!(msg.contains("itme"), "{msg}");
}

#[test]
fn values_extracted_later_cannot_be_used_earlier() {
    let steps = "  request = \"GET /a/{{token}}\"\n  [[users.steps]]\n  request = \"GET /b\"\n  extract = { token = \"header X-Token\" }";
    let (line, _, msg) = refused("order", &with_step(steps), &[]);
    assert_eq!(line, 9);
    assert!(msg.contains("token") && msg.contains("before it"), "{msg}");
}

#[test]
fn missing_csv_files_and_columns_are_refused() {
    let base = format!(
        "{MINIMAL_HEAD}[[users]]\nname = \"u\"\ndata = \"people.csv\"\n  [[users.steps]]\n  request = \"GET /{{{{email}}}}\"\n"
    );
    let (line, col, msg) = refused("nocsv", &base, &[]);
    assert_eq!((line, col), (8, 8));
    assert!(msg.contains("people.csv"), "{msg}");
    let (line, _, msg) = refused("nocolumn", &base, &[("people.csv", "name,password\nx,y\n")]);
    assert_eq!(line, 10);
    assert!(msg.contains("unknown variable `email`"), "{msg}");
    let (_, _, msg) = refused("ragged", &base, &[("people.csv", "email,password\nx\n")]);
    assert!(msg.contains("has 1 fields where the header has 2"), "{msg}");
}

#[test]
fn bad_thresholds_extractions_and_checks_are_located() {
    let (line, col, msg) =
        refused("threshold", &with_step("  request = \"GET /\"\n  thresholds = [\"p95 < 1s\"]"), &[]);
    assert_eq!((line, col), (10, 18), "{msg}");
    assert!(msg.contains("p(95)"), "{msg}");
    let (line, _, msg) = refused("extract", &with_step("  request = \"GET /\"\n  extract = { x = \"xml /a\" }"), &[]);
    assert_eq!(line, 10);
    assert!(msg.contains("use json, header or regex"), "{msg}");
    let (line, _, msg) = refused("expect", &with_step("  request = \"GET /\"\n  expect = { status = \"abc\" }"), &[]);
    assert_eq!(line, 10);
    assert!(msg.starts_with("expect:"), "{msg}");
}

#[test]
fn toml_syntax_errors_are_located() {
    let (line, _, msg) = refused("syntax", "target = \"http://x\"\n[load\n", &[]);
    assert_eq!(line, 2, "{msg}");
}

#[test]
fn missing_pieces_are_named() {
    let (_, _, msg) = refused("nousers", MINIMAL_HEAD, &[]);
    assert!(msg.contains("no users"), "{msg}");
    let (_, _, msg) =
        refused("notarget", &with_step("  request = \"GET /\"").replace("target = \"http://127.0.0.1:9\"\n", ""), &[]);
    assert!(msg.contains("no target"), "{msg}");
    let (_, _, msg) = refused(
        "norate",
        &with_step("  request = \"GET /\"")
            .replace("executor = \"constant-vus\"\nvus = 1\n", "executor = \"constant-arrival-rate\"\n"),
        &[],
    );
    assert!(msg.contains("needs `rate`"), "{msg}");
    let (_, _, msg) = refused("badrequest", &with_step("  request = \"/nomethod\""), &[]);
    assert!(msg.contains("METHOD /path"), "{msg}");
}

#[test]
fn a_target_path_is_the_base_of_relative_requests() {
    let text = with_step("  request = \"GET /items?x=1\"").replace("http://127.0.0.1:9", "http://127.0.0.1:9/api/v1/");
    let p = files("base", &text, &[]);
    let plan = compile(&text, &p, &Overrides::default()).unwrap();
    let Request::Static { bytes, .. } = &plan.steps[0].request else { panic!("static") };
    assert!(bytes.starts_with(b"GET /api/v1/items?x=1 HTTP/1.1\r\n"), "{}", String::from_utf8_lossy(bytes));
}

/// The two characters at 1-based `line`, `col` of `text`.
fn text_at(text: &str, line: usize, col: usize) -> String {
    text.split('\n').nth(line - 1).unwrap_or("").chars().skip(col - 1).take(2).collect()
}

/// Bug found by the scenario fuzz target: a template error's byte offset was taken as a count of
/// characters, so after a non-ASCII character the column was past the `{{`.
#[test]
fn template_error_positions_count_bytes_not_characters() {
    let text = with_step("  request = \"GET /é/{{ünknown}}\"");
    let (line, col, msg) = refused("utf8-pos", &text, &[]);
    assert_eq!((line, col), (9, 21), "{msg}");
    assert_eq!(text_at(&text, line, col), "{{");
}

/// Same family: TOML escapes (`\"`, `\u00e9`, `\t`) take more room in the file than in the value.
#[test]
fn template_error_positions_skip_toml_escapes() {
    let text = with_step("  request = \"POST /\"\n  body = \"a\\\"b\\u00e9\\t{{nope}}\"");
    let (line, col, msg) = refused("escape-pos", &text, &[]);
    assert_eq!(text_at(&text, line, col), "{{", "{line}:{col} {msg}");
    let text = with_step("  request = '''GET /'''\n  body = '''\r\né{{nope}}'''");
    let (line, col, msg) = refused("ml-literal-pos", &text, &[]);
    assert_eq!(text_at(&text, line, col), "{{", "{line}:{col} {msg}");
    let text = with_step("  request = \"POST /\"\n  body = \"\"\"\nab \\\n   \r\n  x\\u0041{{nope}}\"\"\"");
    let (line, col, msg) = refused("ml-basic-pos", &text, &[]);
    assert_eq!((line, col), (13, 10), "{msg}");
    assert_eq!(text_at(&text, line, col), "{{");
}

/// Same family: leading spaces of a request were trimmed before its path's offset was measured.
#[test]
fn template_error_positions_keep_leading_whitespace_of_the_request() {
    let text = with_step("  request = \"   GET /{{nope}}\"");
    let (line, col, msg) = refused("lead-ws-pos", &text, &[]);
    assert_eq!(text_at(&text, line, col), "{{", "{line}:{col} {msg}");
}

/// Same family: threshold errors count characters, which went through escapes unmapped.
#[test]
fn threshold_error_positions_skip_toml_escapes() {
    let text = with_step("  request = \"GET /\"\n  thresholds = [\"p(95)\\t<\\t2 parsecs\"]");
    let (line, col, msg) = refused("threshold-pos", &text, &[]);
    assert_eq!(text_at(&text, line, col), "pa", "{line}:{col} {msg}");
}

/// Bug: `run` refused an https target. Accepted now, with no name looked up.
#[test]
fn https_target_in_run_is_accepted() {
    let text = with_step("  request = \"GET /\"").replace("http://127.0.0.1:9", "https://placeholder.invalid");
    let p = files("https", &text, &[]);
    let plan = compile(&text, &p, &Overrides::default()).expect("an https target compiles");
    assert!(plan.target().tls && plan.target().addrs.is_empty(), "compiled without DNS");
}

/// Bug: two user types with a step called `login` were refused. They share one
/// stats row, and a threshold written on both is one threshold of that row.
#[test]
fn same_step_name_in_two_user_types_shares_one_row() {
    let text = format!(
        "{MINIMAL_HEAD}[[users]]\nname = \"a\"\n  [[users.steps]]\n  name = \"login\"\n  request = \"GET /a\"\n  thresholds = [\"p(95) < 1s\"]\n  [[users.steps]]\n  request = \"GET /x\"\n[[users]]\nname = \"b\"\n  [[users.steps]]\n  name = \"login\"\n  request = \"GET /b\"\n  thresholds = [\"p(95) < 1s\"]\n"
    );
    let p = files("shared-rows", &text, &[]);
    let plan = compile(&text, &p, &Overrides::default()).unwrap();
    assert_eq!(plan.rows, vec!["login".to_string(), "GET /x".to_string()]);
    assert_eq!(plan.steps.iter().map(|s| s.row).collect::<Vec<_>>(), vec![0, 1, 0]);
    assert!(plan.shares_rows());
    assert_eq!(plan.thresholds.len(), 1, "one threshold on the shared row");
    assert_eq!(plan.thresholds[0].step, Some(0));
}

/// Bug: `{{env.NAME}}` in a header of a step with no other hole was sent as written.
#[test]
fn env_in_a_header_of_an_otherwise_static_step_is_filled_in() {
    let text = with_step(
        "  request = \"GET /k/{{env.STAMPEDE_T_PATH}}\"\n  headers = { X-Api-Key = \"{{env.STAMPEDE_T_KEY}}\" }",
    );
    let p = files("env-header", &text, &[]);
    let over = Overrides {
        env: vec![("STAMPEDE_T_KEY".into(), "s3cret".into()), ("STAMPEDE_T_PATH".into(), "p1".into())],
        ..Overrides::default()
    };
    let plan = compile(&text, &p, &over).unwrap();
    let Request::Static { bytes, head_len } = &plan.steps[0].request else { panic!("prebuilt") };
    let wire = String::from_utf8(bytes.clone()).unwrap();
    assert!(wire.starts_with("GET /k/p1 HTTP/1.1\r\n"), "{wire}");
    assert!(wire.contains("X-Api-Key: s3cret\r\n") && !wire.contains("{{"), "{wire}");
    assert_eq!(&wire[*head_len..], "\r\n");
}

/// Conditions, cookies, redirects and feeders compile into the plan.
#[test]
fn conditions_cookies_redirects_and_orders_compile() {
    let text = format!(
        "{MINIMAL_HEAD}redirects = 3\n[[users]]\nname = \"u\"\ncookies = false\ndata = {{ file = \"d.json\", order = \"unique\" }}\n  [[users.steps]]\n  name = \"login\"\n  request = \"GET /{{{{id}}}}\"\n  [[users.steps]]\n  request = \"GET /b\"\n  if = \"status(login) == 200 && id != 'x'\"\n  redirects = 0\n  set_cookies = {{ a = \"1\" }}\n  clear_cookies = [\"b\"]\n"
    )
    .replace("redirects = 3\n[[users]]", "[[users]]")
    .replace("target = ", "redirects = 3\ntarget = ");
    let p = files("features", &text, &[("d.json", r#"[{"id": "r1"}, {"id": 2}]"#)]);
    let plan = compile(&text, &p, &Overrides::default()).unwrap();
    let u = &plan.users[0];
    assert!(!u.cookies);
    let data = u.data.as_ref().unwrap();
    assert_eq!(data.order, crate::feeder::Order::Unique);
    assert_eq!(data.rows, vec![vec![b"r1".to_vec()], vec![b"2".to_vec()]]);
    assert_eq!((plan.steps[0].redirects, plan.steps[1].redirects), (3, 0));
    assert!(plan.steps[1].condition.is_some() && plan.steps[0].condition.is_none());
    assert_eq!(plan.status_slots, plan.rows.len());
    assert_eq!(plan.steps[1].set_cookies, vec![("a".to_string(), "1".to_string())]);
    assert_eq!(plan.steps[1].clear_cookies, vec!["b".to_string()]);
}

#[test]
fn fixed_iteration_executors_and_the_constant_override() {
    for (exec, shared) in [("per-vu-iterations", false), ("shared-iterations", true)] {
        let text = MINIMAL_HEAD.replace(
            "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
            &format!("executor = \"{exec}\"\nvus = 3\niterations = 7\nmax_duration = \"30s\""),
        );
        let text = format!("{text}[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n");
        let p = files(exec, &text, &[]);
        let plan = compile(&text, &p, &Overrides::default()).unwrap();
        assert_eq!(
            plan.scenarios[0].load,
            Load::Iterations { users: 3, iterations: 7, shared, max_duration: Duration::from_secs(30) },
            "{exec}"
        );
        let over = Overrides { constant: Some((5, Duration::from_secs(2))), ..Overrides::default() };
        let plan = compile(&text, &p, &over).unwrap();
        assert_eq!(
            (plan.scenarios[0].load.users(), plan.duration()),
            (5, Duration::from_secs(2)),
            "--vus/--duration replace [load]"
        );
    }
}

/// Every new key refuses what it cannot understand, at its place in the file.
#[test]
fn bad_conditions_orders_redirects_and_cookies_are_located() {
    let cases: [(&str, String, &str); 6] = [
        ("if", with_step("  request = \"GET /\"\n  if = \"status(nope) == 200\""), "unknown step"),
        (
            "order",
            with_step("  request = \"GET /\"")
                .replace("name = \"u\"", "name = \"u\"\ndata = { file = \"d.csv\", order = \"shuffled\" }"),
            "order `shuffled`",
        ),
        ("redirects", with_step("  request = \"GET /\"\n  redirects = -1"), "redirects"),
        (
            "cookies",
            with_step("  request = \"GET /\"").replace("name = \"u\"", "name = \"u\"\ncookies = \"yes\""),
            "bool",
        ),
        ("set-cookie", with_step("  request = \"GET /\"\n  set_cookies = { a = \"x;y\" }"), "set_cookies `a`"),
        (
            "iter-rate",
            MINIMAL_HEAD
                .replace("vus = 1", "rate = 5\nvus = 1")
                .replace("constant-vus", "per-vu-iterations")
                .replace("duration = \"1s\"", "iterations = 1")
                + "[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n",
            "`rate` is not used",
        ),
    ];
    for (name, text, needle) in cases {
        let (line, col, msg) = refused(name, &text, &[("d.csv", "a\n1\n")]);
        assert!(line > 1 && col > 0, "{name}: {line}:{col}");
        assert!(msg.contains(needle), "{name}: {msg}");
    }
}

/// Bug: a brace in the target's host went into the Host header of the request template, where it
/// opened a hole (or failed with a position inside the request string).
#[test]
fn braces_in_the_target_host_are_refused() {
    for host in ["a{{b", "a{{vu}}b"] {
        let text = with_step("  request = \"GET /\"").replace("127.0.0.1:9", host);
        let (line, col, msg) = refused("host-braces", &text, &[]);
        assert_eq!((line, col), (1, 10), "{msg}");
        assert!(msg.contains("cannot contain"), "{msg}");
    }
}

/// `[metrics]` and thresholds on them: what cannot be understood is refused where it is written.
#[test]
fn bad_metrics_and_thresholds_on_unknown_metrics_are_located() {
    let step = "  name = \"s\"\n  request = \"GET /\"";
    let cases: [(&str, String, &str); 4] = [
        ("metric-cond", with_step(step).replace("[load]", "[metrics]\nhit = { rate = \"header\" }\n[load]"), "hit"),
        (
            "metric-step",
            with_step(step)
                .replace("[load]", "[metrics]\nhit = { rate = \"status == 200\", steps = [\"nope\"] }\n[load]"),
            "nope",
        ),
        (
            "metric-two",
            with_step(step).replace(
                "[load]",
                "[metrics]\nhit = { rate = \"status == 200\", counter = \"status == 201\" }\n[load]",
            ),
            "not both",
        ),
        (
            "threshold-unknown",
            with_step(step).replace("[load]", "thresholds = [\"cache_hits > 95%\"]\n[load]"),
            "cache_hits",
        ),
    ];
    for (name, text, needle) in cases {
        let (line, col, msg) = refused(name, &text, &[]);
        assert!(line >= 1 && col >= 1, "{name}");
        assert!(msg.contains(needle), "{name}: {msg}");
    }
    // Known ones compile, and each step knows the metrics it feeds.
    let text = with_step(step)
        .replace("[load]", "thresholds = [\"hit > 95%\", \"p(95)(iteration_duration) < 1000\"]\n[metrics]\nhit = { rate = \"header X-Cache == HIT\" }\n[load]");
    let p = files("metrics-ok", &text, &[]);
    let plan = compile(&text, &p, &Overrides::default()).unwrap();
    assert_eq!(plan.metrics[0].name, "hit");
    assert_eq!(plan.steps[0].metrics, vec![0]);
    assert!(plan.steps[0].capture, "a header metric needs the head kept");
    assert_eq!(plan.metrics.last().unwrap().name, "iteration_duration");
}

/// A threshold on a metric of your own is run-wide: in a scenario's table it is refused, saying
/// where it belongs.
#[test]
fn metric_thresholds_in_a_scenario_say_they_are_run_wide() {
    let text = "target = \"http://127.0.0.1:9\"\n[metrics]\nhit = { rate = \"status == 200\" }\n[scenarios.a]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\nthresholds = [\"hit > 90%\"]\n[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n";
    let (line, _, msg) = refused("scenario-metric-threshold", text, &[]);
    assert_eq!(line, 8, "{msg}");
    assert!(msg.contains("top-level `thresholds`"), "{msg}");
}

/// A scenario is reported with the executor its file names, even when its curve happens to be
/// flat (a ramping-vus that starts at its target is not a constant-vus).
#[test]
fn a_scenario_keeps_the_executor_its_file_names() {
    let text = "target = \"http://127.0.0.1:9\"\n[scenarios.a]\nexecutor = \"ramping-vus\"\nstart_vus = 3\nstages = [{ duration = \"1s\", target = 3 }]\n[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n";
    let p = files("executor-name", text, &[]);
    let plan = compile(text, &p, &Overrides::default()).unwrap();
    assert_eq!(plan.scenarios[0].executor, "ramping-vus");
}

#[test]
fn http_and_connections_are_read_and_bad_values_are_refused_where_they_stand() {
    let good = r#"target = "http://127.0.0.1:9"
http = "2"
[scenarios.shared]
executor = "constant-vus"
vus = 10
duration = "1s"
connections = 3
[scenarios.own]
executor = "constant-vus"
vus = 2
duration = "1s"
[[users]]
name = "u"
  [[users.steps]]
  request = "GET /"
"#;
    let p = files("h2-good", good, &[]);
    let plan = compile(good, &p, &Overrides::default()).unwrap();
    assert_eq!(plan.http, crate::http::version::Http::H2);
    assert_eq!(plan.scenarios[0].connections, Some(3));
    assert_eq!(plan.scenarios[1].connections, None);
    let bad_http = good.replace(r#"http = "2""#, r#"http = "3""#);
    let (line, col, message) = refused("h2-bad-http", &bad_http, &[]);
    assert_eq!((line, col), (2, 8), "{message}");
    assert!(message.contains("use auto, 1.1 or 2"), "{message}");
    let zero = good.replace("connections = 3", "connections = 0");
    let (line, _, message) = refused("h2-zero", &zero, &[]);
    assert_eq!(line, 7, "{message}");
    assert!(message.contains("connections must be between 1 and 100000"), "{message}");
}

/// `on_fail` for the file and per step; a step's `if` may test what that step extracts (values
/// live across iterations: log in once, then reuse the token).
#[test]
fn on_fail_and_a_condition_on_the_steps_own_value_compile() {
    use crate::plan::OnFail;
    let step = "  name = \"login\"\n  request = \"POST /login\"\n  if = \"!token\"\n  extract = { token = \"json $.token\" }\n  [[users.steps]]\n  request = \"GET /a\"\n  on_fail = \"continue\"\n  [[users.steps]]\n  request = \"GET /b\"";
    let text = with_step(step);
    let p = files("on-fail", &text, &[]);
    let plan = compile(&text, &p, &Overrides::default()).unwrap();
    assert!(plan.steps[0].condition.is_some());
    assert!(plan.steps.iter().all(|s| s.on_fail == OnFail::Continue), "the default");
    let text = format!("on_fail = \"end-iteration\"\n{text}");
    let plan = compile(&text, &p, &Overrides::default()).unwrap();
    let got: Vec<OnFail> = plan.steps.iter().map(|s| s.on_fail).collect();
    assert_eq!(got, [OnFail::EndIteration, OnFail::Continue, OnFail::EndIteration]);
    let (line, col, msg) = refused("on-fail-bad", &with_step("  request = \"GET /\"\n  on_fail = \"stop\""), &[]);
    assert!(line > 1 && col > 0 && msg.contains("on_fail = \"stop\""), "{line}:{col} {msg}");
    // Still refused: a name no step extracts.
    let (_, _, msg) = refused("if-unknown", &with_step("  request = \"GET /\"\n  if = \"!nope\""), &[]);
    assert!(msg.contains("unknown variable"), "{msg}");
}

#[test]
fn sources_and_dns_are_read_and_bad_values_are_refused_where_they_stand() {
    let good = r#"target = "http://127.0.0.1:9"
sources = ["10.0.0.2-10.0.0.4", "10.0.1.0/30,fd00::7"]
dns = "round-robin"
[load]
executor = "constant-vus"
vus = 1
duration = "1s"
[[users]]
name = "u"
  [[users.steps]]
  request = "GET /"
"#;
    let p = files("sources-good", good, &[]);
    let plan = compile(good, &p, &Overrides::default()).unwrap();
    let names: Vec<String> = plan.sources.iter().map(|a| a.to_string()).collect();
    assert_eq!(names, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.1.1", "10.0.1.2", "fd00::7"]);
    assert_eq!(plan.dns, crate::plan::sources::Dns::RoundRobin);
    let bad_source = good.replace("10.0.1.0/30", "10.0.1.0/99");
    let (line, col, message) = refused("sources-bad", &bad_source, &[]);
    assert_eq!((line, col), (2, 33), "{message}");
    assert!(message.contains("not a CIDR block"), "{message}");
    let bad_dns = good.replace("round-robin", "nearest");
    let (line, col, message) = refused("dns-bad", &bad_dns, &[]);
    assert_eq!((line, col), (3, 7), "{message}");
    assert!(message.contains("use first, round-robin or random"), "{message}");
}

/// Regression (issue 24 item 10): a weighted pick whose only step has `weight = 0` was accepted
/// and ran that step; it is refused at the step's `weight`.
#[test]
fn regression_a_weighted_pick_with_every_weight_zero_is_refused() {
    let file = "target = \"http://127.0.0.1:1\"\n[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n\n[[users]]\nname = \"u\"\npick = \"weighted\"\n\n  [[users.steps]]\n  request = \"GET /\"\n  weight = 0\n";
    let (line, col, message) = refused("weight-zero", file, &[]);
    assert_eq!((line, col), (13, 12), "{message}");
    assert!(message.contains("every one of its steps has weight 0"), "{message}");
}

const ONE_USER: &str = "[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n";
const LOAD: &str = "target = \"http://127.0.0.1:9\"\n[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n";

#[test]
fn a_user_type_named_twice_in_one_file_is_refused_with_both_places() {
    let (line, col, msg) = refused("user-twice", &format!("{LOAD}{ONE_USER}{ONE_USER}"), &[]);
    assert_eq!((line, col), (11, 8), "{msg}");
    assert!(
        msg.starts_with("user type `u` is defined twice: here and at ") && msg.ends_with("scenario.toml:7:8"),
        "{msg}"
    );
}

/// Each included file has its own span range: errors at its very end, after a byte-order mark,
/// or in a file included after a longer one are placed in it, not in a neighbour.
#[test]
fn errors_in_included_files_name_that_file_line_and_column() {
    let long = format!("# {}\n{ONE_USER}", "x".repeat(500));
    let p = files(
        "include-spans",
        &format!("include = [\"long.toml\", \"bom.toml\", \"bad.toml\"]\n{LOAD}"),
        &[
            ("long.toml", &long),
            ("bom.toml", "\u{feff}timeout = \"2s\"\n"),
            ("bad.toml", "\n\nthresholds = [\"p(95) <\""),
        ],
    );
    let in_bad = || match compile(&std::fs::read_to_string(&p).unwrap(), &p, &Overrides::default()) {
        Err(PlanError::At { path, line, col, .. }) if path.ends_with("bad.toml") => (line, col),
        other => panic!("expected a located error in bad.toml: {other:?}"),
    };
    assert_eq!(in_bad(), (3, 24), "the end of bad.toml");
    std::fs::write(p.with_file_name("bad.toml"), "thresholds = [\"p(95) < 1 fortnight\"]\n").unwrap();
    assert_eq!(in_bad(), (1, 26), "at `fortnight`, inside the string");
    std::fs::write(p.with_file_name("bad.toml"), "").unwrap();
    let plan = compile(&std::fs::read_to_string(&p).unwrap(), &p, &Overrides::default()).unwrap();
    assert_eq!(plan.files.len(), 4);
    assert_eq!(plan.steps[0].timeout, Duration::from_secs(2), "the BOM file's timeout");
}

const SPIKE: &str = r#"target = "http://127.0.0.1:9"
thresholds = [
  { expr = "recovery(p(95) < 200ms) < 5s", after = "spike", hold = "3s" },
  "p(95) during 20s..30s < 1.5 * p(95) during 0s..10s",
]

[scenarios.steady]
executor = "constant-vus"
vus = 1
duration = "30s"

[scenarios.spike]
executor = "constant-vus"
vus = 5
start_time = "10s"
duration = "5s"
thresholds = [{ expr = "recovery(errors < 1%) < 2s", after = "2s" }, "rps during 3s..4s > 0.5 * rps during 0s..1s"]

[[users]]
name = "u"
  [[users.steps]]
  request = "GET /"
"#;

#[test]
fn recovery_after_a_scenario_and_drift_windows_land_in_run_time() {
    use crate::plan::{After, RecoveryRule};
    let p = files("recovery", SPIKE, &[]);
    let mut plan = compile(SPIKE, &p, &Overrides::default()).unwrap();
    let rules = &plan.thresholds;
    let secs = |a: u64, b: u64| Some((Duration::from_secs(a), Duration::from_secs(b)));
    let after =
        |r: &crate::plan::ThresholdRule| r.recovery.clone().map(|RecoveryRule { after, hold, .. }| (after, hold));
    assert_eq!(after(&rules[0]), Some((After::End(1), Duration::from_secs(3))), "after the scenario `spike`");
    assert_eq!(rules[0].after_s(&plan), Some(15.0), "spike ends at 10s + 5s");
    assert_eq!((rules[1].during, rules[1].base_during), (secs(20, 30), secs(0, 10)));
    // A scenario's own: counted from its start_time (10s).
    assert_eq!(after(&rules[2]), Some((After::At(Duration::from_secs(12)), Duration::from_secs(5))));
    assert_eq!((rules[3].during, rules[3].base_during), (secs(13, 14), secs(10, 11)));
    // `--scenario spike` starts it at once: its times move 10s back, `after` the spike stays its end.
    plan.select_scenarios(&["spike".to_string()]).unwrap();
    let kept: Vec<&str> = plan.thresholds.iter().map(|r| r.threshold.expr.as_str()).collect();
    assert_eq!(
        kept,
        ["recovery(p(95) < 200ms) < 5s", "recovery(errors < 1%) < 2s", "rps during 3s..4s > 0.5 * rps during 0s..1s"]
    );
    assert_eq!(plan.thresholds[0].after_s(&plan), Some(5.0));
    assert_eq!(after(&plan.thresholds[1]).map(|a| a.0), Some(After::At(Duration::from_secs(2))));
    assert_eq!(plan.thresholds[2].base_during, secs(0, 1));
    let why = &plan.thresholds_not_run[0];
    assert!(why.expr.starts_with("p(95) during 20s..30s") && why.reason.contains("window is outside"), "{why:?}");
}

#[test]
fn drift_and_recovery_keys_that_do_not_fit_are_located() {
    let with = |th: &str| {
        format!(
            "target = \"http://127.0.0.1:9\"\nthresholds = [{th}]\n{}",
            &SPIKE[SPIKE.find("\n[scenarios.steady]").unwrap()..]
        )
    };
    let cases = [
        (r#"{ expr = "p(95) < 1s", after = "spike" }"#, "`after` and `hold` are for recovery(...) thresholds"),
        (r#"{ expr = "recovery(p(95) < 1s) < 5s", after = "nope" }"#, "neither a scenario (scenarios: steady, spike)"),
        (r#"{ expr = "recovery(p(95) < 1s) < 5s", after = "31s" }"#, "the run lasts 30s, so there is nothing to watch"),
        (r#"{ expr = "recovery(p(95) < 1s) < 5s", after = "spike", hold = "1500ms" }"#, "hold whole seconds"),
        (r#"{ expr = "recovery(p(95) < 1s) < 5s", after = "spike", during = "0s..1s" }"#, "leave out `during`"),
        (r#"{ expr = "p(95) during 1s..2s < p(95) during 0s..1s", abort_on_fail = true }"#, "cannot abort_on_fail"),
        (r#""p(95) during 40s..50s < p(95) during 0s..1s""#, "window 40s..50s: the run lasts 30s"),
    ];
    for (th, why) in cases {
        let (line, col, message) = refused("drift-keys", &with(th), &[]);
        assert!(message.contains(why), "{th}: {message}");
        assert_eq!((line, col), (2, 15), "{th}: {message}");
    }
}

#[test]
fn regression_monitor_series_without_a_monitor_header_is_read() {
    // `[monitor.series]` alone makes `[monitor]` implicitly; such a file was refused with a serde
    // message ("invalid type: string \"series\", expected a borrowed string") before its series
    // were even looked at. Now they are: this one lacks its endpoint, and says so where it is.
    let text = format!(
        "{}[monitor.series]\nload1 = {{ scrape = \"node_load1\" }}\n",
        with_step("name = \"a\"\nrequest = \"GET /\"")
    );
    let (line, col, message) = refused("implicit-monitor", &text, &[]);
    assert_eq!((line, col), (12, 9), "{message}");
    assert!(message.contains("series `load1` is a scrape selector, but no `scrape` endpoint is given"), "{message}");
}
