//! `stampede demo`: start the built-in target on a loopback port, run the demo scenario against
//! it (a ramp, a journey with extraction, a task mix, thresholds) and print the report.

use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::Context;

use crate::cli::{DemoArgs, Outcome, execute};
use crate::plan::Finish;
use crate::scenario::{self, Overrides};
use crate::testserver::TestServer;

/// The demo scenario, built into the binary (also at scenarios/demo.toml).
pub const SCENARIO: &str = include_str!("../../scenarios/demo.toml");

pub fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let live = args.live.settings()?;
    let io = execute::io_path(args.io.io)?;
    let target = TestServer::start("127.0.0.1:0".parse().expect("literal address"), 1)
        .context("cannot start the built-in target")?;
    println!("built-in target on {}; running scenarios/demo.toml against it\n", target.url());
    let mut plan = scenario::compile(
        SCENARIO,
        Path::new("scenarios/demo.toml"),
        &Overrides { target: Some(target.url()), ..Overrides::default() },
    )?;
    if let Some(h) = args.http.http {
        plan.http = h;
    }
    let plan = plan.finish(&Finish { workers: Some(args.workers), io, ..args.io.route.finish()? })?;
    let outcome =
        execute::run_plan(plan, &execute::Output { files: args.out, quiet: args.quiet, start_at: None, live });
    let c = &target.counters;
    println!(
        "  target      served {} requests: {} logins, {} records created, {} misuse (wrong token, id or owner)",
        crate::units::group(c.requests.load(Ordering::Relaxed)),
        crate::units::group(c.logins()),
        crate::units::group(c.records()),
        c.misuse()
    );
    target.stop();
    outcome
}
