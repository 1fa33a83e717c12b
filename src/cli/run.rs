//! `stampede run FILE`: compile a scenario into a plan and run it.

use crate::cli::{Outcome, RunArgs, runner};
use crate::error::PlanError;
use std::sync::Arc;

use crate::plan::{Finish, Plan, Shard};
use crate::scenario::{self, Overrides};

/// Compile the scenario with the command line's overrides and finish the plan. Nothing is sent.
pub fn plan(args: &RunArgs) -> Result<Arc<Plan>, PlanError> {
    let mut plan = scenario::load(&args.file, &Overrides { target: args.target.clone() })?;
    if let Some(s) = &args.boxes.shard {
        plan.shard = Shard::parse(s).map_err(|e| PlanError::Invalid(format!("--shard {e}")))?;
    }
    plan.finish(&Finish { workers: args.workers, tls: args.tls.options() })
}

pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let plan = plan(&args)?;
    if args.dry_run {
        print!("{}", describe(&plan));
        return Ok(Outcome::Ok);
    }
    runner::run_plan(plan, &runner::Output { files: args.out, quiet: args.quiet, start_at: args.boxes.start_at })
}

/// What the plan will do, for `--dry-run`.
pub fn describe(plan: &Plan) -> String {
    use crate::plan::{Load, Pick, Request, Think};
    use crate::units::duration;
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "scenario `{}` against {} — valid, nothing sent", plan.name, plan.target().url);
    let stages = |c: &crate::plan::curve::Curve| {
        c.stages().iter().map(|s| format!("{} → {}", duration(s.duration), s.target)).collect::<Vec<_>>().join(", ")
    };
    match &plan.load {
        Load::Closed { users } => {
            let _ = writeln!(
                o,
                "  load        closed model, {} users at the start: {}",
                users.start_value(),
                stages(users)
            );
        }
        Load::Open { rate, pre_allocated, max_users, .. } => {
            let _ = writeln!(
                o,
                "  load        open model, {}/s at the start: {} ({pre_allocated} users ready, at most {max_users})",
                rate.start_value(),
                stages(rate)
            );
        }
    }
    let _ = writeln!(
        o,
        "  duration    {} (+ up to {} for requests in flight at the end)",
        duration(plan.duration()),
        duration(plan.graceful_stop)
    );
    for u in &plan.users {
        let think = match u.think {
            Think::None => "no think time".to_string(),
            Think::Fixed(d) => format!("think {}", duration(d)),
            Think::Range(a, b) => format!("think {}..{}", duration(a), duration(b)),
        };
        let pick = if u.pick == Pick::Weighted { ", one weighted step per iteration" } else { "" };
        let data = u.data.as_ref().map(|d| format!(", {} data rows", d.rows.len())).unwrap_or_default();
        let _ = writeln!(o, "  user        {} (weight {}, {think}{pick}{data})", u.name, u.weight);
        for &s in &u.steps {
            let st = &plan.steps[s];
            let kind = if matches!(st.request, Request::Static(_)) { "prebuilt" } else { "templated" };
            let extract = if st.extract.is_empty() {
                String::new()
            } else {
                format!(
                    ", extracts {}",
                    st.extract.iter().map(|(v, _)| plan.vars[*v].as_str()).collect::<Vec<_>>().join(", ")
                )
            };
            let _ = writeln!(
                o,
                "    step      {} ({kind}{}{extract})",
                st.name,
                if st.expect.is_some() { ", checked" } else { "" }
            );
        }
    }
    for t in &plan.thresholds {
        let on = t.step.map(|i| format!(" [{}]", plan.steps[i].name)).unwrap_or_default();
        let abort = if t.threshold.abort_on_fail { " (aborts the run)" } else { "" };
        let _ = writeln!(o, "  threshold   {}{on}{abort}", t.threshold.expr);
    }
    o
}
