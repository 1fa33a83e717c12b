//! `include = [...]` (issue 20): a suite of one journey file and one file per test type runs the
//! included journeys (the built-in target's counts prove it), includes nest with paths relative
//! to the including file (data files too), and a name defined twice, a cycle, a missing file or
//! an error inside an included file is refused with exit 2 before any load, naming the places.

use std::path::{Path, PathBuf};

use crate::util::{self, Outcome, Response, Server, TempDir, TestTarget};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/suite").join(name)
}

/// A u64 field of the result's step `name`.
fn of(out: &Outcome, name: &str, field: &str) -> u64 {
    let steps = out.at("/steps").as_array().expect("steps");
    let s = steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step `{name}`: {steps:?}"));
    s[field].as_u64().unwrap_or_else(|| panic!("step `{name}`: `{field}`: {s}"))
}

#[test]
fn the_example_suite_runs_the_journeys_its_test_files_include() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    // smoke.toml: one agent and one browser from journeys.toml, 5 iterations each.
    let out = util::scenario(&example("smoke.toml"), &["--target", &target.url(), "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.at("/name"), "suite smoke", "{}", out.describe());
    assert_eq!(target.counters().logins(), 5, "the included agent journey logged in each iteration");
    assert_eq!(target.counters().records(), 5, "and created a record each iteration");
    assert_eq!(target.route("GET /escrows/:id"), 5);
    assert_eq!(target.route("GET /api/:name"), 10, "the included browser read two pages an iteration");
    assert_eq!(of(&out, "escrow detail", "requests"), 5);
    assert_eq!(out.u64("/totals/errors"), 0, "{}", out.describe());

    // load.toml: the same journeys in two named scenarios of its own.
    let target = TestTarget::start();
    let out = util::scenario(&example("load.toml"), &["--target", &target.url(), "-t", "1"]);
    out.assert_code(0);
    let logins = target.counters().logins();
    assert!(logins > 10, "agents ramped to 4 for 6 s logged in {logins} times\n{}", out.describe());
    assert_eq!(of(&out, "login", "requests"), logins, "{}", out.describe());
    assert_eq!(of(&out, "create escrow", "requests"), target.counters().records());
    let pages = target.route("GET /api/:name");
    assert!((200..=250).contains(&pages), "20 browser iterations/s for 6 s, 2 pages each: {pages}");
}

#[test]
fn dry_run_names_every_file_read() {
    let out = util::stampede(&["run", example("load.toml").to_str().unwrap(), "--dry-run"]);
    out.assert_code(0);
    let line = out.stdout.lines().find(|l| l.trim_start().starts_with("files")).unwrap_or_else(|| {
        panic!("no files line:\n{}", out.stdout);
    });
    assert!(line.contains("load.toml, including ") && line.ends_with("journeys.toml"), "{line}");
    assert!(out.stdout.contains("scenario    agents"), "{}", out.stdout);
}

/// Includes nest, each path relative to the file that names it, and so is a user type's `data`.
#[test]
fn nested_includes_and_their_data_files_are_found_next_to_the_file_that_names_them() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("include-nested");
    std::fs::create_dir_all(dir.path().join("journeys/data")).unwrap();
    dir.write("journeys/data/accounts.csv", "email,password\nnested@example.test,pw\n");
    dir.write(
        "journeys/login.toml",
        r#"
[[users]]
name = "agent"
data = "data/accounts.csv"
  [[users.steps]]
  name = "login"
  request = "POST /auth/login"
  body = '{"email":"{{email}}","password":"{{password}}"}'
  expect = { status = 200 }
"#,
    );
    dir.write("journeys/all.toml", "include = [\"login.toml\"]\nthresholds = [\"errors == 0\"]\n");
    let file = dir.write(
        "smoke.toml",
        "include = [\"journeys/all.toml\"]\n[load]\nexecutor = \"per-vu-iterations\"\nvus = 1\niterations = 7\n",
    );
    let out = util::scenario(&file, &["--target", &target.url(), "-t", "1"]);
    out.assert_code(0);
    assert_eq!(target.counters().logins(), 7, "{}", out.describe());
    assert_eq!(out.at("/thresholds/0/expr"), "errors == 0", "the nested file's threshold is judged");
}

/// What each case writes into `journeys.toml` and `extra.toml` (both included by `suite.toml`,
/// which adds `top` to its own text), and what the refusal must say.
struct Case {
    what: &'static str,
    top: &'static str,
    journeys: &'static str,
    extra: &'static str,
    says: &'static [&'static str],
}

const USER: &str = "[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n";

#[test]
fn names_defined_twice_cycles_and_missing_files_are_refused_before_any_load() {
    let server = Server::start(|_| Response::with_length(200, "ok").into());
    let cases = [
        Case {
            what: "a user type in two files",
            top: "",
            journeys: USER,
            extra: "\n[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /other\"\n",
            says: &["extra.toml:3:8: user type `u` is defined twice: here and at ", "journeys.toml:2:8"],
        },
        Case {
            what: "a metric in two files",
            top: "",
            journeys: "[metrics]\nok = { rate = \"status == 200\" }\n",
            extra: "[metrics]\nok = { counter = \"status == 200\" }\n",
            says: &["extra.toml:2:6: metric `ok` is defined twice: here and at ", "journeys.toml:2:6"],
        },
        Case {
            what: "a scenario in the including file and an included one",
            top: "[scenarios.main]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n",
            journeys: "",
            extra: "[scenarios.main]\nexecutor = \"constant-vus\"\nvus = 2\nduration = \"1s\"\n",
            says: &["suite.toml:", "scenario `main` is defined twice: here and at ", "extra.toml:1:1"],
        },
        Case {
            what: "a watched series in two files",
            top: "",
            journeys: "[monitor]\nscrape = [\"http://127.0.0.1:9/metrics\"]\n[monitor.series]\nup = \"up\"\n",
            extra: "[monitor]\n[monitor.series]\nup = \"up\"\n",
            says: &["extra.toml:3:6: series `up` is defined twice: here and at ", "journeys.toml:4:6"],
        },
        Case {
            what: "an include cycle",
            top: "",
            journeys: "include = [\"extra.toml\"]\n",
            extra: "include = [\"suite.toml\"]\n",
            says: &["extra.toml:1:12: include cycle: ", "suite.toml → ", "journeys.toml → ", "extra.toml → "],
        },
        Case {
            what: "a missing file",
            top: "",
            journeys: "\ninclude = [\"gone.toml\"]\n",
            extra: "",
            says: &["journeys.toml:2:12: include `gone.toml`: cannot read ", "No such file"],
        },
        Case {
            what: "a bad threshold in an included file",
            top: "",
            journeys: "\n\nthresholds = [\"p(95) < 2 parsecs\"]\n",
            extra: "",
            says: &["journeys.toml:3:"],
        },
        Case {
            what: "bad TOML in an included file",
            top: "",
            journeys: "\n[[users]\n",
            extra: "",
            says: &["journeys.toml:2:"],
        },
        Case {
            what: "two included files setting one value",
            top: "",
            journeys: "timeout = \"1s\"\n",
            extra: "timeout = \"2s\"\n",
            says: &["extra.toml:1:11: `timeout` is set here and at ", "journeys.toml:1:11", "set it in "],
        },
    ];
    for case in cases {
        let dir = TempDir::new("include-refused");
        dir.write("journeys.toml", case.journeys);
        dir.write("extra.toml", case.extra);
        let users = if case.journeys.contains("[[users]]") || case.extra.contains("[[users]]") { "" } else { USER };
        let load = if case.top.contains("[scenarios") {
            ""
        } else {
            "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n"
        };
        let file = dir.write(
            "suite.toml",
            &format!(
                "include = [\"journeys.toml\", \"extra.toml\"]\ntarget = \"{}\"\n{}{load}{users}",
                server.url("/"),
                case.top
            ),
        );
        let out = util::scenario(&file, &[]);
        util::assert_refused_before_sending(&server, &out, case.what);
        for s in case.says {
            assert!(out.stderr.contains(s), "{}: no `{s}` in: {}", case.what, out.stderr);
        }
    }
}

/// The including file's own value of a one-value setting wins over an included file's, and
/// decides between two included files that disagree.
#[test]
fn the_including_files_own_settings_win() {
    let server = Server::start(|_| Response::with_length(200, "ok").into());
    let dir = TempDir::new("include-settings");
    dir.write("journeys.toml", &format!("name = \"journeys\"\ntarget = \"http://127.0.0.1:9/\"\n{USER}"));
    dir.write("extra.toml", "name = \"extra\"\ntarget = \"http://127.0.0.1:10/\"\n");
    let file = dir.write(
        "suite.toml",
        &format!(
            "include = [\"journeys.toml\", \"extra.toml\"]\nname = \"suite\"\ntarget = \"{}\"\n\
             [load]\nexecutor = \"per-vu-iterations\"\nvus = 1\niterations = 3\n",
            server.url("/")
        ),
    );
    let out = util::scenario(&file, &["-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.at("/name"), "suite");
    assert_eq!(server.requests(), 3, "the including file's target got the load: {}", out.describe());
}
