//! `stampede demo`: start the built-in target on a loopback port, benchmark it, print the report.

use anyhow::Context;

use crate::cli::{BenchArgs, DemoArgs, Outcome, bench, runner};
use crate::target::Target;

pub fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let target = Target::start("127.0.0.1:0".parse().expect("literal address"), 1)
        .context("cannot start the built-in target")?;
    println!("built-in target on {}\n", target.url());
    let bench_args = BenchArgs {
        url: format!("{}/", target.url()),
        connections: 50,
        duration: args.duration,
        workers: Some(1),
        rate: None,
        method: "GET".into(),
        headers: Vec::new(),
        body: None,
        timeout: std::time::Duration::from_secs(10),
        connect_timeout: std::time::Duration::from_secs(5),
        json: None,
        shard: None,
        max_header_bytes: crate::http::response::DEFAULT_MAX_HEAD,
        quiet: false,
    };
    let plan = bench::plan(&bench_args)?;
    let outcome = runner::run_plan(plan, &runner::Output { json: args.json, quiet: false });
    let served = target.counters.requests.load(std::sync::atomic::Ordering::Relaxed);
    target.stop();
    println!("  target      served {served} requests");
    outcome
}
