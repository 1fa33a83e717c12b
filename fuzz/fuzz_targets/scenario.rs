//! Fuzz `stampede::scenario::compile` on arbitrary UTF-8 (seeded with the real scenarios/*.toml).
//!
//! Asserts: never panics; every error is a `PlanError::At { line, col, .. }` with line >= 1, col >= 1,
//! line <= number of lines + 1 and col <= (characters on that line) + 1; the error displays. When
//! the plan compiles, it is exercised the way the engine would: every templated request renders
//! (with variable values taken from the input, some missing) without panicking and a missing value
//! is reported by a slot the template reads; `expect` checks and `extract` rules run on a
//! response; the load curve is evaluated; indices between users, steps, targets and variable slots
//! are in range.
//!
//! The scenario is compiled as `<repo>/scenarios/fuzz.toml`, so `data = "data/users.csv"` finds
//! the real CSV. Inputs whose `data` or `include` paths are absolute or contain `..` are skipped, so
//! a mutation cannot make the target read /dev/zero or /dev/stdin (an `include` of a real scenario
//! is fine: an error located in it is checked against that file's text). Host names resolve to 127.0.0.1 through the
//! fake resolver in common/mod.rs: no input sends a DNS query.
#![no_main]

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stampede::error::PlanError;
use stampede::http::Response;
use stampede::plan::{Load, Plan, Request};
use stampede::scenario::{Overrides, compile};
use stampede::rules::template::{RenderCx, Rng};

/// Whether every `users[*].data` path and every `include` stays inside the scenarios directory.
fn data_paths_are_safe(text: &str) -> bool {
    let Ok(doc) = toml::from_str::<toml::Value>(text) else {
        // Not TOML: compile refuses it before it looks at any data file.
        return true;
    };
    let safe = |v: &toml::Value| match v {
        toml::Value::String(p) => !p.starts_with('/') && !p.contains("..") && !p.contains('\0'),
        _ => true, // not a string: refused by the serde types
    };
    let included = doc.get("include").and_then(toml::Value::as_array).is_none_or(|list| list.iter().all(safe));
    let Some(users) = doc.get("users") else { return included };
    let Some(users) = users.as_array() else { return included };
    included && users.iter().all(|u| u.get("data").is_none_or(safe))
}

/// Whether `m` is one of the template errors of src/template.rs, which point at the `{{` of their
/// hole. (Other messages may quote text that starts with `{{`, such as a URL that is not one.)
fn is_template_error(m: &str) -> bool {
    const STARTS: [&str; 7] = [
        "`{{` without a closing `}}`",
        "`{{env.}}` needs a variable name",
        "`rand` bound",
        "empty placeholder",
        "unknown placeholder",
        "unknown variable",
        "environment variable",
    ];
    STARTS.iter().any(|s| m.starts_with(s)) || (m.starts_with("`{{") && m.contains("}}`: `rand` takes two integers"))
}

fn check_error(text: &str, e: &PlanError) {
    let shown = e.to_string();
    assert!(!shown.is_empty());
    // Every refusal of a file names a place in it.
    let PlanError::At { line, col, message, path } = e else { panic!("error without a location: {shown}") };
    // An error in an included file is placed in that file's text.
    let included = (!path.ends_with("fuzz.toml")).then(|| std::fs::read_to_string(path).unwrap_or_default());
    let text = included.as_deref().unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    let count = text.lines().count();
    assert!(*line >= 1 && *col >= 1, "line {line} col {col} must count from 1: {shown}");
    assert!(*line <= count + 1, "line {line} past the end ({count} lines): {shown}");
    let width = lines.get(line - 1).map_or(0, |l| l.trim_end_matches('\r').chars().count());
    let width_cr = lines.get(line - 1).map_or(0, |l| l.chars().count());
    assert!(*col <= width.max(width_cr) + 1, "col {col} past the end of line {line} ({width} chars): {shown}");
    // A template error names the place of its `{{`: the file must have `{{` there, or an escape
    // (`\u007B`) or a line-ending backslash standing for a brace.
    if is_template_error(message) {
        let at: String = lines.get(line - 1).map_or(String::new(), |l| l.chars().skip(col - 1).take(2).collect());
        let ok = at == "{{" || at == "{\r" || at.starts_with('\\') || at == "{\\" || (at == "{" && lines.len() > *line);
        assert!(ok, "template error at {line}:{col} does not point at its `{{{{` (found {at:?}): {shown}");
    }
}

fn exercise(plan: &Plan, data: &[u8]) {
    assert!(!plan.steps.is_empty() && !plan.targets.is_empty() && !plan.users.is_empty());
    for u in &plan.users {
        assert!(!u.steps.is_empty());
        for &s in &u.steps {
            assert!(s < plan.steps.len(), "user step index {s} out of range");
        }
        if let Some(d) = &u.data {
            assert!(!d.rows.is_empty());
            for &v in &d.vars {
                assert!(v < plan.vars.len(), "data column slot {v} out of range");
            }
        }
    }
    // Variable values from the input bytes; every third slot left empty.
    let vals: Vec<Option<Vec<u8>>> = (0..plan.vars.len())
        .map(|i| (i % 3 != 2).then(|| data.iter().skip(i).step_by(7).take(40).copied().collect()))
        .collect();
    let full: Vec<Option<Vec<u8>>> = (0..plan.vars.len()).map(|i| Some(format!("v{i}\r\n{{{{").into_bytes())).collect();
    let mut rng = Rng::new(data.len() as u64);
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Cache: HIT\r\nX-Id: 42\r\n\r\n";
    let body: &[u8] =
        if data.len() > 2 && data.len() % 2 == 0 { data } else { br#"{"token":"t","id":7,"items":[{"id":1}]}"# };
    let resp = Response { status: 200, head, body, body_truncated: false };
    for step in &plan.steps {
        assert!(step.target < plan.targets.len(), "step target out of range");
        if let Request::Template { head, body } = &step.request {
            for t in std::iter::once(head).chain(body) {
                for vars in [&vals, &full] {
                    let mut out = b"prefix".to_vec();
                    let mut cx = RenderCx { vu: u64::MAX, iter: 0, vars, rng: &mut rng };
                    match t.render(&mut out, &mut cx) {
                        Ok(()) => assert!(out.starts_with(b"prefix")),
                        Err(i) => {
                            assert_eq!(out, b"prefix", "failed render changed the output");
                            assert!(t.vars().contains(&i), "render failed on slot {i} it does not read");
                            assert!(
                                vars.get(i).is_none_or(Option::is_none),
                                "render failed on a slot that has a value"
                            );
                        }
                    }
                }
            }
        }
        if let Some(e) = &step.expect {
            e.check(&resp);
        }
        for (slot, x) in &step.extract {
            assert!(*slot < plan.vars.len(), "extract slot out of range");
            x.extract(&resp);
        }
    }
    for scenario in &plan.scenarios {
        let curve = match &scenario.load {
            Load::Closed { users } => users,
            Load::Open { rate, pre_allocated, max_users, .. } => {
                assert!(pre_allocated <= max_users);
                rate
            }
            Load::Iterations { users, iterations, .. } => {
                assert!(*users >= 1 && *iterations >= 1);
                continue;
            }
        };
        let d = curve.duration().as_secs_f64();
        for t in [0.0, d / 3.0, d / 2.0, d, d + 1.0] {
            curve.at(t);
            curve.integral(t);
        }
        for n in 0..4 {
            curve.nth_start_ns(n);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(common::assert_fake_resolver);
    let Ok(text) = std::str::from_utf8(data) else { return };
    if !data_paths_are_safe(text) {
        return;
    }
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/fuzz.toml"));
    match compile(text, path, &Overrides::default()) {
        Ok(plan) => exercise(&plan, data),
        Err(e) => check_error(text, &e),
    }
});
