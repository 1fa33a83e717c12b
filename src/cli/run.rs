//! `stampede run FILE`: compile a scenario into a plan and run it.

use crate::cli::{Outcome, RunArgs, execute};
use crate::error::PlanError;
use crate::plan::{Finish, Plan, Shard};
use crate::scenario::{self, Overrides};

/// What the command line changes in the file.
fn overrides(args: &RunArgs) -> Result<Overrides, PlanError> {
    Ok(Overrides {
        target: args.target.clone(),
        env: Overrides::parse_env(&args.env)?,
        constant: args.vus.zip(args.duration),
    })
}

/// Compile the scenario with the command line's overrides. Nothing is looked up or sent.
pub fn compile(args: &RunArgs) -> Result<Plan, PlanError> {
    let mut plan = scenario::load(&args.file, &overrides(args)?)?;
    plan.select_scenarios(&args.scenarios)?;
    if let Some(s) = &args.boxes.shard {
        plan.shard = Shard::parse(s).map_err(|e| PlanError::Invalid(format!("--shard {e}")))?;
    }
    if let Some(h) = args.http.http {
        plan.http = h;
    }
    if let Some(n) = args.connections {
        if n == 0 || n > 100_000 {
            return Err(PlanError::Invalid(format!("--connections must be between 1 and 100000, not {n}")));
        }
        plan.scenarios.iter_mut().for_each(|s| s.connections = Some(n));
    }
    Ok(plan)
}

pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let live = args.live.settings()?;
    let plan = compile(&args)?;
    if args.dry_run {
        // No DNS, no connections: a file with a placeholder host checks as well as a real one.
        print!("{}", describe(&plan));
        return Ok(Outcome::Ok);
    }
    let io = execute::io_path(args.io.io)?;
    let plan =
        plan.finish(&Finish { workers: args.workers, tls: args.tls.options(), io, ..args.io.route.finish()? })?;
    execute::run_plan(
        plan,
        &execute::Output { files: args.out, quiet: args.quiet, start_at: args.boxes.start_at, live },
    )
}

/// What the plan will do, for `--dry-run`.
pub fn describe(plan: &Plan) -> String {
    use crate::units::duration;
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "scenario `{}` against {} — valid, nothing sent", plan.name, plan.target().url);
    if let [file, included @ ..] = plan.files.as_slice()
        && !included.is_empty()
    {
        let _ = writeln!(o, "  files       {file}, including {}", included.join(", "));
    }
    for sc in &plan.scenarios {
        describe_load(&mut o, plan, sc);
    }
    // Fixed-iteration executors end when their iterations are done: their length is a bound.
    let bound = if plan.scenarios.iter().all(|s| matches!(s.load, crate::plan::Load::Iterations { .. })) {
        "at most "
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "  duration    {bound}{} (+ up to {} for requests in flight at the end)",
        duration(plan.duration()),
        duration(plan.graceful_stop())
    );
    describe_users(&mut o, plan);
    describe_checks(&mut o, plan);
    o
}

/// A scenario's load, in a line (and its name, window and user types when the file names them).
fn describe_load(o: &mut String, plan: &Plan, sc: &crate::plan::Scenario) {
    use crate::plan::Load;
    use crate::units::duration;
    use std::fmt::Write;
    let stages = |c: &crate::plan::curve::Curve| {
        c.stages().iter().map(|s| format!("{} → {}", duration(s.duration), s.target)).collect::<Vec<_>>().join(", ")
    };
    // A curve that never leaves its start value is a constant load, not a ramp.
    let flat = |c: &crate::plan::curve::Curve| c.stages().iter().all(|s| s.target == c.start_value());
    let label = if plan.named_scenarios {
        let users: Vec<&str> = sc.users.iter().map(|&u| plan.users[u].name.as_str()).collect();
        let _ = writeln!(
            o,
            "  scenario    {} ({}, from {} to {}, users {})",
            sc.name,
            sc.executor,
            if sc.start.is_zero() { "0s".to_string() } else { duration(sc.start) },
            duration(sc.end()),
            users.join(", ")
        );
        "    load     "
    } else {
        "  load        "
    };
    match &sc.load {
        Load::Closed { users } if flat(users) => {
            let _ = writeln!(
                o,
                "{label}closed model, {} for {}",
                count(users.start_value(), "user", "users"),
                duration(users.duration())
            );
        }
        Load::Closed { users } => {
            let _ = writeln!(
                o,
                "{label}closed model, {} at the start: {}",
                count(users.start_value(), "user", "users"),
                stages(users)
            );
        }
        Load::Iterations { users, iterations, shared, max_duration } => {
            let each = if *shared { "shared by all" } else { "each" };
            let _ = writeln!(
                o,
                "{label}{}, {} {each} (at most {})",
                count(*users as f64, "user", "users"),
                count(*iterations as f64, "iteration", "iterations"),
                duration(*max_duration)
            );
        }
        Load::Open { rate, pre_allocated, max_users, .. } => {
            let ready = count(*pre_allocated as f64, "user", "users");
            let shape = if flat(rate) {
                format!("{}/s for {}", rate.start_value(), duration(rate.duration()))
            } else {
                format!("{}/s at the start: {}", rate.start_value(), stages(rate))
            };
            let _ = writeln!(o, "{label}open model, {shape} ({ready} ready, at most {max_users})");
        }
    }
}

/// Each user type and its steps.
fn describe_users(o: &mut String, plan: &Plan) {
    use crate::plan::{Pick, Request, Think};
    use crate::units::duration;
    use std::fmt::Write;
    for u in &plan.users {
        let think = match u.think {
            Think::None => "no think time".to_string(),
            Think::Fixed(d) => format!("think {}", duration(d)),
            Think::Range(a, b) => format!("think {}..{}", duration(a), duration(b)),
        };
        let pick = if u.pick == Pick::Weighted { ", one weighted step per iteration" } else { "" };
        let data =
            u.data.as_ref().map(|d| format!(", {} data rows ({})", d.rows.len(), d.order.as_str())).unwrap_or_default();
        let data = if u.cookies { data } else { data + ", no cookies" };
        let _ = writeln!(o, "  user        {} (weight {}, {think}{pick}{data})", u.name, u.weight);
        for &s in &u.steps {
            let st = &plan.steps[s];
            let kind = if matches!(st.request, Request::Static { .. }) { "prebuilt" } else { "templated" };
            let extract = if st.extract.is_empty() {
                String::new()
            } else {
                format!(
                    ", extracts {}",
                    st.extract.iter().map(|(v, _)| plan.vars[*v].as_str()).collect::<Vec<_>>().join(", ")
                )
            };
            let condition = st.condition.as_ref().map(|c| format!(", if {}", c.source())).unwrap_or_default();
            let _ = writeln!(
                o,
                "    step      {} ({kind}{}{extract}{condition})",
                st.name,
                if st.expect.is_some() { ", checked" } else { "" }
            );
        }
    }
}

/// The thresholds and the watched series.
fn describe_checks(o: &mut String, plan: &Plan) {
    use crate::units::duration;
    use std::fmt::Write;
    for t in &plan.thresholds {
        let on = t
            .step
            .map(|i| format!(" [{}]", plan.rows[i]))
            .or(t.scenario.map(|i| format!(" [scenario {}]", plan.scenarios[i].name)))
            .unwrap_or_default();
        // A drift's windows are in its expression already.
        let during = match t.base_during {
            Some(_) => String::new(),
            None => t.during_as_written(&plan.scenarios).map(|w| format!(" during {w}")).unwrap_or_default(),
        };
        let warn = if t.warn { " (warn: reported, never fails the run)" } else { "" };
        let abort = match (t.threshold.abort_on_fail, t.delay.is_zero()) {
            (false, _) => String::new(),
            (true, true) => " (aborts the run)".to_string(),
            (true, false) => format!(" (aborts the run, not before {})", duration(t.delay)),
        };
        let watch = match (&t.recovery, t.after_s(plan)) {
            (Some(r), Some(at)) => format!(
                " (watched after {}, from {} of the run, until it holds {} in a row)",
                r.after_text,
                duration(std::time::Duration::from_secs_f64(at)),
                duration(r.hold)
            ),
            _ => String::new(),
        };
        let _ = writeln!(o, "  threshold   {}{on}{during}{warn}{abort}{watch}", t.threshold.expr);
    }
    if let Some(m) = &plan.monitor {
        let _ = writeln!(o, "  monitor     every {} (sources are contacted when the run starts)", duration(m.interval));
        for s in &m.series {
            let _ = writeln!(o, "    series    {} ({})", s.name, s.describe());
        }
    }
}

/// `1 user`, `2 users`, `0 users`, `1.5 iterations`: a number with the word that agrees with it.
fn count(n: f64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1.0 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const USERS: &str = "[[users]]\nname = \"u\"\n  [[users.steps]]\n  request = \"GET /\"\n";

    /// The `load` lines of the dry run of a file whose `[load]` is `load`.
    fn load_lines(load: &str) -> Vec<String> {
        let text = format!("target = \"http://127.0.0.1:9\"\n[load]\n{load}\n{USERS}");
        let plan = scenario::compile(&text, Path::new("describe.toml"), &Overrides::default()).unwrap();
        describe(&plan).lines().filter(|l| l.trim_start().starts_with("load")).map(|l| l.trim().to_string()).collect()
    }

    #[test]
    fn a_constant_load_is_not_described_as_a_ramp() {
        assert_eq!(
            load_lines("executor = \"constant-vus\"\nvus = 1\nduration = \"1s\""),
            ["load        closed model, 1 user for 1s"]
        );
        assert_eq!(
            load_lines("executor = \"constant-vus\"\nvus = 20\nduration = \"2m\""),
            ["load        closed model, 20 users for 2m"]
        );
        assert_eq!(
            load_lines("executor = \"constant-arrival-rate\"\nrate = 50\nduration = \"30s\"\nmax_vus = 60"),
            ["load        open model, 50/s for 30s (50 users ready, at most 60)"]
        );
    }

    #[test]
    fn a_ramp_keeps_its_stages_and_counts_agree_with_their_words() {
        assert_eq!(
            load_lines(
                "executor = \"ramping-vus\"\nstart_vus = 1\nstages = [{ duration = \"1s\", target = 5 }, { duration = \"2s\", target = 0 }]"
            ),
            ["load        closed model, 1 user at the start: 1s → 5, 2s → 0"]
        );
        assert_eq!(
            load_lines(
                "executor = \"ramping-arrival-rate\"\nstages = [{ duration = \"10s\", target = 1 }]\npre_allocated_vus = 1\nmax_vus = 10"
            ),
            ["load        open model, 0/s at the start: 10s → 1 (1 user ready, at most 10)"]
        );
        assert_eq!(
            load_lines("executor = \"per-vu-iterations\"\nvus = 1\niterations = 1"),
            ["load        1 user, 1 iteration each (at most 10m)"]
        );
        assert_eq!(
            load_lines("executor = \"shared-iterations\"\nvus = 2\niterations = 6"),
            ["load        2 users, 6 iterations shared by all (at most 10m)"]
        );
    }

    /// Regression (issue 20, cosmetics): the dry run left out a threshold's `warn` and `during`
    /// (a scenario's window as written, from its own start).
    #[test]
    fn regression_the_dry_run_shows_a_thresholds_warn_and_during() {
        let text = format!(
            r#"target = "http://127.0.0.1:9"
thresholds = [
  {{ expr = "p(95) < 200ms", level = "warn" }},
  {{ expr = "errors < 1%", during = "1m..2m" }},
  {{ expr = "errors < 5%", abort_on_fail = true, delay = "30s" }},
]
[scenarios.base]
executor = "constant-vus"
vus = 1
duration = "3m"
[scenarios.spike]
executor = "constant-vus"
vus = 1
duration = "1m"
start_time = "1m"
thresholds = [{{ expr = "p(99) < 1s", during = "10s..20s", level = "warn" }}]
{USERS}"#
        );
        let plan = scenario::compile(&text, Path::new("describe.toml"), &Overrides::default()).unwrap();
        let lines: Vec<String> =
            describe(&plan).lines().filter(|l| l.starts_with("  threshold")).map(str::to_string).collect();
        assert_eq!(
            lines,
            [
                "  threshold   p(95) < 200ms (warn: reported, never fails the run)",
                "  threshold   errors < 1% during 1m..2m",
                "  threshold   errors < 5% (aborts the run, not before 30s)",
                "  threshold   p(99) < 1s [scenario spike] during 10s..20s (warn: reported, never fails the run)",
            ]
        );
    }

    /// Regression (issue 24 item 8): the dry run of a fixed-iteration executor said `duration 10m`,
    /// which is its bound, not its length.
    #[test]
    fn regression_a_fixed_iteration_dry_run_says_its_duration_is_a_maximum() {
        let text = format!(
            "target = \"http://127.0.0.1:9\"\n[load]\nexecutor = \"per-vu-iterations\"\nvus = 1\niterations = 1\n{USERS}"
        );
        let plan = scenario::compile(&text, Path::new("describe.toml"), &Overrides::default()).unwrap();
        let text = describe(&plan);
        assert!(text.contains("  duration    at most 10m (+ up to"), "{text}");
        let text = format!(
            "target = \"http://127.0.0.1:9\"\n[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n{USERS}"
        );
        let plan = scenario::compile(&text, Path::new("describe.toml"), &Overrides::default()).unwrap();
        assert!(describe(&plan).contains("  duration    1s (+ up to"));
    }
}
