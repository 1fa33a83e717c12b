//! `stampede bench URL`: turn the flags into a one-request plan and run it.

use crate::cli::{BenchArgs, Outcome, execute};
use crate::error::PlanError;
use crate::http::request::{RequestSpec, build_request, parse_header, validate_method};
use crate::plan::curve::Curve;
use crate::plan::{Finish, Load, Overflow, Plan, Shard, Step, Target};

/// Validate the flags and build the plan. Nothing is sent.
pub fn plan(args: &BenchArgs) -> Result<Plan, PlanError> {
    let bad = |m: String| PlanError::Invalid(m);
    let target = Target::parse(&args.url)?;
    if args.connections == 0 {
        return Err(bad("--connections must be at least 1".into()));
    }
    if args.streams == 0 || args.streams > 10_000 {
        return Err(bad(format!("--streams must be between 1 and 10000, not {}", args.streams)));
    }
    if args.duration.is_zero() {
        return Err(bad("--duration must be longer than 0s".into()));
    }
    if args.request.timeout.is_zero() || args.request.connect_timeout.is_zero() {
        return Err(bad("--timeout and --connect-timeout must be longer than 0s".into()));
    }
    if let Some(r) = args.rate {
        if !r.is_finite() || r <= 0.0 {
            return Err(bad(format!("--rate must be a positive number of requests per second, not {r}")));
        }
    }
    if args.request.max_header_bytes < 256 {
        return Err(bad("--max-header-bytes must be at least 256".into()));
    }
    let method = args.request.method.to_ascii_uppercase();
    validate_method(&method).map_err(bad)?;
    let mut headers = args
        .request
        .headers
        .iter()
        .map(|h| parse_header(h).map_err(|e| bad(format!("-H: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if args.request.no_keepalive && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("connection")) {
        headers.push(("Connection".into(), "close".into()));
    }
    let body = match &args.request.body {
        None => Vec::new(),
        Some(b) => match b.strip_prefix('@') {
            Some(path) => std::fs::read(path).map_err(|source| PlanError::File { path: path.to_string(), source })?,
            None => b.clone().into_bytes(),
        },
    };
    let shard = match &args.boxes.shard {
        Some(s) => Shard::parse(s).map_err(|e| bad(format!("--shard {e}")))?,
        None => Shard::default(),
    };
    if shard.share(args.connections) == 0 {
        return Err(bad(format!(
            "--shard {}: {} connections leave none for this shard",
            args.boxes.shard.as_deref().unwrap_or(""),
            args.connections
        )));
    }
    let spec = RequestSpec {
        method: method.clone(),
        target: target.path.clone(),
        host: target.authority.clone(),
        headers,
        body,
    };
    let step =
        Step::fixed(format!("{method} {}", target.path), build_request(&spec), spec.is_head(), args.request.timeout);
    // With --streams N, N users share each connection: one request in flight each.
    let users = args.connections * args.streams;
    let load = match args.rate {
        Some(rate) => Load::Open {
            rate: Curve::constant(rate, args.duration),
            pre_allocated: users,
            max_users: users,
            overflow: Overflow::Queue,
        },
        None => Load::Closed { users: Curve::constant(users as f64, args.duration) },
    };
    let mut plan = Plan::single("bench", target, step, load);
    plan.connect_timeout = args.request.connect_timeout;
    plan.max_head = args.request.max_header_bytes;
    plan.shard = shard;
    plan.no_keepalive = args.request.no_keepalive;
    plan.http = args.http.http.unwrap_or_default();
    plan.streams = args.streams;
    plan.monitor = args.monitor.plan()?.map(std::sync::Arc::new);
    Ok(plan)
}

pub fn run(args: BenchArgs) -> anyhow::Result<Outcome> {
    let live = args.live.settings()?;
    let plan = plan(&args)?;
    let io = execute::io_path(args.io.io)?;
    let plan =
        plan.finish(&Finish { workers: args.workers, tls: args.request.tls.options(), io, ..args.io.route.finish()? })?;
    execute::run_plan(
        plan,
        &execute::Output { files: args.out, quiet: args.quiet, start_at: args.boxes.start_at, live },
    )
}
