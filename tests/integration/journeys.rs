//! Journeys that go on after a failed step (issue 20): a k6-style `create → if (id) detail →
//! list` whose create fails half the time runs `list` every iteration, `on_fail = "end-iteration"`
//! (per step or for the file) ends the iteration there as before, and a step may test what it
//! extracts itself (`if = "!token"`: log in once, then reuse). The in-process [`App`] counts what
//! it receives; its counts are what the results are held to.

use std::path::Path;

use crate::util::app::App;
use crate::util::{self, Outcome, TempDir};

const ITERATIONS: u64 = 40;

/// One user, [`ITERATIONS`] iterations of create (fails every second time) → detail → list;
/// `top` goes at the top of the file, `create` and `detail` into those steps.
fn journey(dir: &TempDir, name: &str, top: &str, create: &str, detail: &str) -> std::path::PathBuf {
    let text = format!(
        r#"{top}
[load]
executor = "per-vu-iterations"
vus = 1
iterations = {ITERATIONS}

[[users]]
name = "k6"
  [[users.steps]]
  name = "create"
  request = "POST /items/flaky"
  body = "{{}}"
  expect = {{ status = 201 }}
  extract = {{ id = "json $.id" }}
{create}
  [[users.steps]]
  name = "detail"
  request = "GET /item/{{{{id}}}}"
{detail}
  [[users.steps]]
  name = "list"
  request = "GET /items"
"#
    );
    dir.write(name, &text)
}

fn run(file: &Path, app: &App) -> Outcome {
    let url = app.url("");
    let out = util::scenario(file, &["--target", url.as_str(), "-t", "1"]);
    out.assert_code(0);
    out
}

/// A u64 field of the result's step `name`.
fn of(out: &Outcome, name: &str, field: &str) -> u64 {
    let steps = out.at("/steps").as_array().expect("steps");
    let s = steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step `{name}`"));
    s[field].as_u64().unwrap_or_else(|| panic!("step `{name}`: `{field}`: {s}"))
}

/// The server's counts of (create, detail, list) requests.
fn served(app: &App) -> (u64, u64, u64) {
    (app.count("POST /items/flaky"), app.count("GET /item/:id"), app.count("GET /items"))
}

#[test]
fn journey_goes_on_after_a_failed_create_and_skips_the_step_that_needs_its_id() {
    let _m = util::shared_machine();
    let dir = TempDir::new("journey-goes-on");
    let half = ITERATIONS / 2;
    for (name, detail) in [("if.toml", "  if = \"id\"\n"), ("no-if.toml", "")] {
        let app = App::http();
        let out = run(&journey(&dir, name, "", "", detail), &app);
        // k6 runs `list` every iteration; so does stampede now.
        assert_eq!(served(&app), (ITERATIONS, half, ITERATIONS), "{name}: {}", app.describe());
        assert_eq!(of(&out, "list", "requests"), ITERATIONS, "{name}: {}", out.describe());
        assert_eq!(of(&out, "create", "requests"), ITERATIONS);
        assert_eq!(of(&out, "create", "errors"), half, "{name}: each failed create is still an error");
        // The id that failed to extract is unset: no detail of an earlier iteration's record.
        assert_eq!((of(&out, "detail", "requests"), of(&out, "detail", "skipped")), (half, half), "{name}");
        let items = app.items();
        assert_eq!(items.len() as u64, half, "{name}: a stale id was sent again: {items:?}");
        assert!(items.values().all(|&n| n == 1), "{name}: {items:?}");
        assert_eq!(out.at("/totals/iterations").as_u64(), Some(ITERATIONS), "{name}");
    }
}

#[test]
fn on_fail_end_iteration_keeps_the_old_journey() {
    let _m = util::shared_machine();
    let dir = TempDir::new("journey-end-iteration");
    let half = ITERATIONS / 2;
    let files =
        [("file-wide.toml", "on_fail = \"end-iteration\"", ""), ("step.toml", "", "  on_fail = \"end-iteration\"\n")];
    for (name, top, create) in files {
        let app = App::http();
        let out = run(&journey(&dir, name, top, create, "  if = \"id\"\n"), &app);
        // A failed create ends its iteration: neither detail nor list follows it.
        assert_eq!(served(&app), (ITERATIONS, half, half), "{name}: {}", app.describe());
        assert_eq!(of(&out, "list", "requests"), half, "{name}: {}", out.describe());
        assert_eq!((of(&out, "detail", "requests"), of(&out, "detail", "skipped")), (half, 0), "{name}");
        assert_eq!(of(&out, "create", "errors"), half, "{name}");
    }
}

#[test]
fn a_step_may_test_the_value_it_extracts_to_log_in_once() {
    let _m = util::shared_machine();
    let dir = TempDir::new("journey-login-once");
    let file = dir.write(
        "once.toml",
        r#"[load]
executor = "per-vu-iterations"
vus = 1
iterations = 10

[[users]]
name = "u"
  [[users.steps]]
  name = "login"
  request = "POST /login"
  if = "!token"
  headers = { "Content-Type" = "application/json" }
  body = '{"email":"a@app.test","password":"p"}'
  extract = { token = "json $.token" }

  [[users.steps]]
  name = "detail"
  request = "GET /item/{{token}}"
"#,
    );
    let app = App::http();
    let out = run(&file, &app);
    assert_eq!(app.logins(), 1, "{}", app.describe());
    assert_eq!((of(&out, "login", "requests"), of(&out, "login", "skipped")), (1, 9));
    assert_eq!(app.item_count("tok-a@app.test"), 10, "{}", app.describe());
}
