//! `stampede run FILE`: compile a scenario into a plan and run it.

use crate::cli::{Outcome, RunArgs, runner};
use crate::error::PlanError;
use crate::plan::{Plan, Shard};
use crate::scenario::{self, Overrides};

/// Compile the scenario with the command line's overrides. Nothing is sent.
pub fn plan(args: &RunArgs) -> Result<Plan, PlanError> {
    let mut plan = scenario::load(&args.file, &Overrides { target: args.target.clone() })?;
    if let Some(s) = &args.shard {
        plan.shard = Shard::parse(s).map_err(|e| PlanError::Invalid(format!("--shard {e}")))?;
    }
    runner::place_workers(&mut plan, args.workers)?;
    Ok(plan)
}

pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let plan = plan(&args)?;
    runner::run_plan(plan, &runner::Output { json: args.json, quiet: args.quiet })
}
