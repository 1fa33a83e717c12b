//! `stampede capacity`: run the capacity search, one engine run per step, each watched second
//! by second (window after warm-up, early stop, Ctrl-C); print the curve and the answer.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{
    CapacityResult, MIN_USERS, Next, Phase, Search, SearchAnswer, SearchConfig, Spread, StepReport, Unit, Verdict,
    Window, clearly_lost, judge, users_for,
};
use crate::cli::{BenchArgs, CapacityArgs, Outcome, bench, execute, signals};
use crate::engine::{Observer, RunOutput, SATURATED_LAG, Tick};
use crate::error::PlanError;
use crate::monitor::sampler::Monitor;
use crate::plan::Finish;
use crate::plan::curve::Curve;
use crate::plan::{Load, Overflow, Plan};
use crate::report::{self, RunResult};
use crate::rules::threshold::{self, Measure, Threshold};
use crate::scenario::{self, Overrides};
use crate::units::{group, micros};

/// Longest wait for the service to recover after a failed step.
const MAX_RECOVERY: Duration = Duration::from_secs(15);

/// The plan every step starts from: the URL's request or the scenario's journeys.
fn base_plan(args: &CapacityArgs, io: crate::plan::io::IoDecision) -> Result<Arc<Plan>, PlanError> {
    let mut plan = if args.target.contains("://") {
        let bench_args = BenchArgs {
            url: args.target.clone(),
            connections: args.connections.unwrap_or(MIN_USERS),
            duration: args.step_duration,
            workers: args.workers,
            rate: Some(args.start),
            streams: 1,
            http: args.http.clone(),
            request: args.request.clone(),
            out: Default::default(),
            live: Default::default(),
            io: Default::default(),
            monitor: Default::default(),
            boxes: Default::default(),
            quiet: true,
        };
        bench::plan(&bench_args)?
    } else {
        scenario::load(Path::new(&args.target), &Overrides { target: args.base_url.clone(), ..Overrides::default() })?
    };
    plan.command = "capacity".into();
    plan.thresholds.clear();
    if let Some(h) = args.http.http {
        plan.http = h;
    }
    // --monitor replaces the file's [monitor].
    if let Some(m) = args.monitor.plan()? {
        plan.monitor = Some(Arc::new(m));
    }
    // A step stopped early is over: what is still in flight is not waited for.
    plan.stop_grace = Duration::ZERO;
    // Room for every connection, whatever the scenario said about users; one load shape over
    // every user type, whatever scenarios the file had.
    plan.set_load(step_load(args.start, args.step_duration, args.connections.unwrap_or(MIN_USERS)));
    plan.scenarios[0].graceful_stop = Duration::ZERO;
    plan.finish(&Finish { workers: args.workers, tls: args.request.tls.options(), io, ..args.io.route.finish()? })
}

/// An open model at `rate` for `duration`: starts wait for a free connection rather than being
/// dropped, so queueing shows in the latency.
fn step_load(rate: f64, duration: Duration, users: usize) -> Load {
    Load::Open {
        rate: Curve::constant(rate, duration),
        pre_allocated: users,
        max_users: users,
        overflow: Overflow::Queue,
    }
}

fn parse_precision(text: &str) -> Result<f64, PlanError> {
    let t = text.trim();
    let v: f64 = t
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| PlanError::Invalid(format!("--precision `{text}`: use a percentage such as 5%")))?;
    let frac = if t.ends_with('%') { v / 100.0 } else { v };
    if !(0.001..=0.5).contains(&frac) {
        return Err(PlanError::Invalid(format!("--precision `{text}`: use between 0.1% and 50%")));
    }
    Ok(frac)
}

/// Watches one step: collects the window after warm-up, stops the step once clearly lost, or
/// when the user presses Ctrl-C.
struct StepWatch<'a> {
    slos: &'a [threshold::Threshold],
    warmup: f64,
    users: usize,
    window: Window,
    stop: Arc<AtomicBool>,
    interrupt: Arc<AtomicBool>,
    stopped_early: bool,
    live: bool,
    rate: f64,
    unit: Unit,
    plan: &'a Plan,
    /// Live outputs and the watched series, over the whole search.
    side: &'a mut Side,
}

/// What runs beside the search from its first step to its last: `--out`/`--dashboard`, and the
/// watched series (sampled from the search's start).
struct Side {
    outputs: crate::live::Live,
    monitor: Option<(Monitor, Instant)>,
}

impl Side {
    /// Seconds since the monitor started (0 without one).
    fn now(&self) -> f64 {
        self.monitor.as_ref().map_or(0.0, |(_, origin)| origin.elapsed().as_secs_f64())
    }

    fn samples(&self) -> Option<crate::monitor::Samples> {
        self.monitor.as_ref().map(|(m, _)| m.samples())
    }
}

impl Observer for StepWatch<'_> {
    fn second(&mut self, tick: &Tick) {
        let samples = self.side.samples();
        let watched = samples.as_ref().map(crate::monitor::Samples::summary);
        self.side.outputs.second(self.plan, tick, samples.as_ref().zip(watched.as_ref()));
        let (row, interval) = (tick.row, tick.interval);
        if row.t - row.interval_s >= self.warmup - 1e-6 {
            self.window.add(row, interval, self.users);
        } else {
            self.window.warming(row, interval, row.t);
        }
        if self.interrupt.load(Ordering::Relaxed) {
            self.stop.store(true, Ordering::Relaxed);
        }
        if !self.stopped_early && clearly_lost(self.slos, &self.window) {
            self.stopped_early = true;
            self.stop.store(true, Ordering::Relaxed);
        }
        if self.live {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = write!(
                out,
                "\r\x1b[2K  trying {:>9} {}  [{:>4.0}s] {:>9.0} req/s  p99 {:>8}  errors {}",
                group(self.rate.round() as u64),
                self.unit.name(),
                row.t,
                row.rps,
                micros(row.p99_us as f64),
                row.errors
            );
            let _ = out.flush();
        }
    }
}

/// Run one step at `rate` with `users` and judge it.
fn step(
    set: &Setup,
    rate: f64,
    users: usize,
    duration: Duration,
    baseline: Option<u64>,
    side: &mut Side,
) -> anyhow::Result<StepRun> {
    let (args, slos, live) = (set.args, set.slos, set.live);
    let mut plan = set.base.clone();
    plan.set_load(step_load(rate, duration, users));
    let plan = Arc::new(plan);
    let stop = Arc::new(AtomicBool::new(false));
    side.outputs.begin(&plan, true);
    let from = side.now();
    let mut watch = StepWatch {
        plan: &plan,
        side,
        slos,
        warmup: args.warmup.as_secs_f64(),
        users: plan.local_users(),
        window: Window::new(plan.rows.len()),
        stop: stop.clone(),
        interrupt: signals::stop_flag(),
        stopped_early: false,
        live,
        rate,
        unit: set.unit,
    };
    let out = crate::engine::run(plan.clone(), stop, &mut watch).context("a step of the search failed")?;
    watch.side.outputs.end_run(&out.stats);
    let to = watch.side.now();
    // The window's samples: after the warm-up, to the step's end.
    watch.window.series = watch.side.samples().map(|s| s.summary_between(from + args.warmup.as_secs_f64(), to));
    if live {
        print!("\r\x1b[2K");
    }
    let verdict = if watch.window.seconds <= 0.0 {
        Verdict::Fail("the step ended before its warm-up did".into())
    } else {
        judge(slos, &watch.window, rate, set.lag_limit.as_micros() as u64, baseline)
    };
    let phase = Phase::Probe; // replaced by the caller
    let mut report =
        StepReport::new(rate, phase, &watch.window, &verdict, out.elapsed.as_secs_f64(), watch.stopped_early, set.unit);
    report.users = users;
    let service = watch.window.service_p50_us();
    let iteration = watch.window.iteration_time();
    Ok(StepRun { verdict, report, out, plan, service, iteration, window: (from, to) })
}

/// One step run and judged.
struct StepRun {
    verdict: Verdict,
    report: StepReport,
    out: RunOutput,
    plan: Arc<Plan>,
    /// Median service time in the window (µs).
    service: u64,
    /// How long an iteration took in the window, think time included.
    iteration: Option<Duration>,
    /// The window on the monitor's clock: from the step's start to its end (seconds).
    window: (f64, f64),
}

/// A step kept for the result document: its output, plan and window.
type Kept = (RunOutput, Arc<Plan>, (f64, f64));

/// After a failed step, wait until the service answers promptly again (its queues drained),
/// probing with one user pausing 20 ms between requests (at most ~50 req/s, so the probe itself
/// never overloads the service), so the next step does not inherit the last one's backlog.
fn recover(base: &Plan, bound: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + MAX_RECOVERY;
    while Instant::now() < deadline && !signals::stop_flag().load(Ordering::Relaxed) {
        let mut plan = base.clone();
        let probe = Duration::from_millis(300);
        plan.set_load(Load::Closed { users: Curve::constant(1.0, probe) });
        for u in &mut plan.users {
            u.think = crate::plan::Think::Fixed(Duration::from_millis(20));
        }
        plan.workers = 1;
        plan.cores.truncate(1);
        let plan = Arc::new(plan);
        let out = crate::engine::run(plan, Arc::new(AtomicBool::new(false)), &mut ())?;
        let t = out.stats.total();
        let answered: u64 = t.status.iter().map(|(_, n)| n).sum();
        if answered > 0 && t.errors == 0 && t.latency.value_at_quantile(0.5) <= bound.as_micros() as u64 {
            return Ok(());
        }
    }
    Ok(())
}

/// How many users each step gets: the `-c` count, or sized for the step's rate from the
/// iteration time measured at the last passing step (before any, the journey's think time and
/// 100 ms of requests), capped by the file limit.
struct Sizing {
    fixed: Option<usize>,
    cap: usize,
    /// The journey's think time per iteration, a floor for the estimate.
    think: Duration,
    iteration: Duration,
}

/// Reruns of a step whose users were all busy, each with more of them.
const MAX_RESIZES: usize = 2;

impl Sizing {
    fn new(fixed: Option<usize>, plan: &Plan) -> Sizing {
        // What the process may open, less the plan's own other files and the side work's sockets.
        let cap = (crate::sys::raise_nofile_limit().saturating_sub(64 + 100) as usize).max(1);
        let think = think_per_iteration(plan);
        Sizing { fixed, cap, think, iteration: think + Duration::from_millis(100) }
    }

    fn users(&self, rate: f64) -> usize {
        self.fixed.unwrap_or_else(|| users_for(rate, self.iteration, self.cap))
    }

    /// Learn the iteration time from a step that passed (a failing one's includes its queues).
    fn learn(&mut self, iteration: Option<Duration>) {
        if let Some(t) = iteration {
            self.iteration = t.max(self.think);
        }
    }

    /// More users for a step whose users were all busy, or `None` when they are fixed or at the cap.
    fn more(&self, rate: f64, users: usize, iteration: Option<Duration>) -> Option<usize> {
        if self.fixed.is_some() || users >= self.cap {
            return None;
        }
        let measured = iteration.map_or(0, |t| users_for(rate, t, self.cap));
        Some(measured.max(users.saturating_mul(2)).min(self.cap))
    }
}

/// Mean think time in one iteration of the slowest-thinking user type.
fn think_per_iteration(plan: &Plan) -> Duration {
    plan.users
        .iter()
        .map(|u| u.steps.iter().map(|&i| plan.steps[i].think.unwrap_or(u.think).mean()).sum::<Duration>())
        .max()
        .unwrap_or_default()
}

/// The shortest step that leaves a whole second after the warm-up (steps are judged on whole
/// seconds after it).
fn shortest_step(warmup: Duration) -> Duration {
    Duration::from_secs(warmup.as_secs_f64().ceil() as u64 + 1)
}

/// What one search found, with the step the document describes.
struct Found {
    max_rps: f64,
    limited_by: String,
    steps: Vec<StepReport>,
    chosen: Option<Kept>,
}

/// Everything a search needs that stays the same from one search to the next.
struct Setup<'a> {
    args: &'a CapacityArgs,
    base: &'a Plan,
    slos: &'a [threshold::Threshold],
    precision: f64,
    bound: Duration,
    lag_limit: Duration,
    live: bool,
    /// What the rates count: requests for a URL, iterations for a scenario file.
    unit: Unit,
}

/// Run one search from its first probe to its answer. `search`: its number (0 without --repeat).
fn search_once(set: &Setup, search_no: usize, side: &mut Side) -> anyhow::Result<Found> {
    let args = set.args;
    let mut sizing = Sizing::new(args.connections, set.base);
    let mut search =
        Search::new(SearchConfig { start: args.start, max: args.max, precision: set.precision, unit: set.unit });
    let mut steps: Vec<StepReport> = Vec::new();
    // The document describes the step at the answer (the best pass, its confirming hold when
    // there was one); only when nothing passed, the last step.
    let mut passes: Vec<(f64, Kept)> = Vec::new();
    let mut last: Option<Kept> = None;
    let mut baseline = None;
    let (max_rps, limited_by) = loop {
        if signals::stop_flag().load(Ordering::Relaxed) {
            let best = steps.iter().filter(|s| s.verdict == "pass").map(|s| s.rate).fold(0.0, f64::max);
            break (best, "interrupted before the search ended".to_string());
        }
        let (rate, phase) = match search.next_step() {
            Next::Done { max_rps, limited_by } => break (max_rps, limited_by),
            Next::Step { rate, phase } => (rate, phase),
        };
        let duration = if phase == Phase::Confirm { args.step_duration * 2 } else { args.step_duration };
        let mut users = sizing.users(rate);
        let mut resizes = 0;
        let (verdict, kept) = loop {
            let StepRun { verdict, mut report, out, plan, service, iteration, window } =
                step(set, rate, users, duration, baseline, side)?;
            report.phase = phase;
            report.search = search_no;
            // A step cut short by Ctrl-C is not judged (its window is not the step's).
            if signals::stop_flag().load(Ordering::Relaxed) {
                report.verdict = "interrupted".into();
                report.reason = Some("Ctrl-C during the step, not judged".into());
                print_step(steps.len() + 1, &report);
                steps.push(report);
                break (Verdict::Fail("interrupted".into()), (out, plan, window));
            }
            // Every user was busy: with users sized by the search, run the step again with more.
            let more = (verdict == Verdict::Connections && resizes < MAX_RESIZES)
                .then(|| sizing.more(rate, users, iteration))
                .flatten();
            if let Some(n) = more {
                report.reason = Some(format!(
                    "every one of {} users was busy: again with {}",
                    group(users as u64),
                    group(n as u64)
                ));
            }
            print_step(steps.len() + 1, &report);
            steps.push(report);
            if verdict == Verdict::Pass {
                baseline = Some(service);
                sizing.learn(iteration);
            }
            match more {
                Some(n) => {
                    users = n;
                    resizes += 1;
                }
                None => break (verdict, (out, plan, window)),
            }
        };
        search.record(rate, phase, &verdict);
        let failed = matches!(verdict, Verdict::Fail(_));
        if verdict == Verdict::Pass {
            passes.push((rate, kept));
        } else {
            last = Some(kept);
        }
        if failed {
            recover(set.base, set.bound)?;
        }
    };
    // The watched series where the search stopped: at the first failing step above the answer.
    let knee =
        steps.iter().filter(|s| s.rate > max_rps && s.verdict != "pass").min_by(|a, b| a.rate.total_cmp(&b.rate));
    let limited_by = match knee.filter(|k| !k.monitor.is_empty()) {
        Some(k) => {
            let values: Vec<String> =
                k.monitor.iter().map(|(n, v)| format!("{n} {}", crate::units::round3(*v))).collect();
            format!("{limited_by}; {} there ({} {})", values.join(", "), group(k.rate.round() as u64), set.unit.name())
        }
        None => limited_by,
    };
    let chosen = match passes.into_iter().rfind(|(rate, ..)| *rate == max_rps) {
        Some((_, kept)) => Some(kept),
        None => last,
    };
    Ok(Found { max_rps, limited_by, steps, chosen })
}

fn print_step(n: usize, report: &StepReport) {
    println!(
        "  {:<4} {:<8} {:>10} {:>11} {:>9} {:>9} {:>9} {:>7}  {}{}",
        n,
        format!("{:?}", report.phase).to_lowercase(),
        group(report.rate.round() as u64),
        format!("{:.1}", report.achieved_rps),
        format!("{:.2}ms", report.p50_ms),
        format!("{:.2}ms", report.p95_ms),
        format!("{:.2}ms", report.p99_ms),
        format!("{:.2}%", report.errors),
        report.verdict,
        report.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
            + if report.stopped_early { " (stopped early)" } else { "" }
    );
}

pub fn run(args: CapacityArgs) -> anyhow::Result<Outcome> {
    args.out.refuse_hdr_log("capacity")?;
    let settings = args.live.settings()?;
    if settings.control.is_some() {
        return Err(PlanError::Invalid(
            "--control works with run, bench and demo, not capacity (its search sets the load)".into(),
        )
        .into());
    }
    // The plan first (it says which series are watched), then the SLOs that may name them.
    let base = base_plan(&args, execute::io_path(args.io.io)?)?;
    let series: Vec<&str> = base.monitor.as_ref().map(|m| m.names()).unwrap_or_default();
    let slos = parse_slos(&args.slos, &series)?;
    check_args(&args)?;
    let precision = parse_precision(&args.precision)?;
    let outputs = crate::live::Live::start(&settings, &base, None)?;
    if let Some(m) = &base.monitor {
        crate::monitor::sampler::check(m).map_err(PlanError::Invalid)?;
    }
    let monitor = base.monitor.clone().map(|m| (Monitor::start(m, Instant::now()), Instant::now()));
    let mut side = Side { outputs, monitor };
    // Healthy latency for recovery probes: half the tightest latency SLO (or 100 ms).
    let bound = slos
        .iter()
        .filter(|t| matches!(t.metric, Measure::Percentile(_) | Measure::Avg | Measure::Med | Measure::Max))
        .map(|t| Duration::from_secs_f64(t.bound / 1000.0 / 2.0))
        .min()
        .unwrap_or(Duration::from_millis(100));
    // The generator keeps the schedule if its own lag is small next to what the SLO allows.
    let lag_limit = SATURATED_LAG.max(bound / 5);
    let live = !args.quiet && crate::sys::is_tty(1);
    let slo_text: Vec<String> = slos.iter().map(|t| t.expr.clone()).collect();
    println!("stampede capacity · {} · SLO {}", base.target().url, slo_text.join(", "));
    let unit = if args.target.contains("://") { Unit::Requests } else { Unit::Iterations };
    let setup = Setup { args: &args, base: &base, slos: &slos, precision, bound, lag_limit, live, unit };
    let found = searches(&setup, &mut side)?;
    answer(&setup, found, side, &settings.run_id, slo_text)
}

/// `--slo` texts as thresholds; a named one must be a watched series (`series`).
fn parse_slos(texts: &[String], series: &[&str]) -> Result<Vec<Threshold>, PlanError> {
    texts
        .iter()
        .map(|s| {
            threshold::parse(s)
                .and_then(|t| match t.metric_name() {
                    _ if t.form != threshold::Form::Bound => Err(crate::rules::ParseError {
                        offset: 0,
                        message: "an SLO bounds each step of the search: windows compared and recovery times \
                                  are for scenario files' thresholds"
                            .into(),
                    }),
                    Some(n) if series.contains(&n) => threshold::parse_checked(s, &[], series),
                    Some(n) => Err(crate::rules::ParseError {
                        offset: 0,
                        message: format!(
                            "`{n}` is not a watched series{}",
                            if series.is_empty() {
                                " (watch one with --monitor NAME=EXPR)".to_string()
                            } else {
                                format!(" (watched: {})", series.join(", "))
                            }
                        ),
                    }),
                    None => Ok(t),
                })
                .map_err(|e| PlanError::Invalid(format!("--slo `{s}`: {e}")))
        })
        .collect()
}

/// The search's own flags, refused before any load when they cannot work.
fn check_args(args: &CapacityArgs) -> Result<(), PlanError> {
    if !(args.start > 0.0 && args.start.is_finite()) || args.max < args.start || args.max.is_nan() {
        return Err(PlanError::Invalid("need 0 < --start <= --max".into()));
    }
    if let Some(min) = args.expect_min.filter(|m| !(*m > 0.0 && m.is_finite())) {
        return Err(PlanError::Invalid(format!("--expect-min {min}: give a rate above 0 (per second)")));
    }
    let shortest = shortest_step(args.warmup);
    if args.step_duration < shortest {
        return Err(PlanError::Invalid(format!(
            "--step-duration {} leaves no whole second after --warmup {} to judge (a step is judged on the whole seconds after its warm-up): use --step-duration {} or more, or a shorter --warmup",
            crate::units::duration(args.step_duration),
            crate::units::duration(args.warmup),
            crate::units::duration(shortest)
        )));
    }
    if args.repeat == 0 || args.repeat > 100 {
        return Err(PlanError::Invalid(format!("--repeat {}: use between 1 and 100 searches", args.repeat)));
    }
    if args.connections == Some(0) {
        return Err(PlanError::Invalid("-c/--connections must be at least 1".into()));
    }
    Ok(())
}

/// Every search `--repeat` asks for (one without it), each printed as it goes; fewer when
/// interrupted.
fn searches(setup: &Setup, side: &mut Side) -> anyhow::Result<Vec<Found>> {
    let args = setup.args;
    let mut found: Vec<Found> = Vec::new();
    for i in 0..args.repeat {
        if signals::stop_flag().load(Ordering::Relaxed) {
            break;
        }
        if args.repeat > 1 {
            if i > 0 {
                // The next search starts on a service whose queues have drained.
                recover(setup.base, setup.bound)?;
            }
            println!("\n  search {} of {}", i + 1, args.repeat);
        } else {
            println!();
        }
        println!(
            "  {:<4} {:<8} {:>10} {:>11} {:>9} {:>9} {:>9} {:>7}  verdict",
            "step", "phase", "rate/s", "achieved/s", "p50", "p95", "p99", "errors"
        );
        if i == 0 {
            let unit = setup.unit;
            println!("  (in {}: rate/s offered, achieved/s {} after the warm-up)", unit.name(), unit.achieved());
        }
        let f = search_once(setup, if args.repeat > 1 { i + 1 } else { 0 }, side)?;
        if args.repeat > 1 {
            println!("  answer {} {}, limited by {}", group(f.max_rps.round() as u64), setup.unit.name(), f.limited_by);
        }
        found.push(f);
    }
    Ok(found)
}

/// The answer of the searches: printed with their spread, the document of the step at the
/// answer written, and the exit code.
fn answer(
    setup: &Setup,
    mut found: Vec<Found>,
    mut side: Side,
    run_id: &str,
    slo_text: Vec<String>,
) -> anyhow::Result<Outcome> {
    let (args, precision) = (setup.args, setup.precision);
    let answers: Vec<f64> = found.iter().map(|f| f.max_rps).collect();
    let spread = (args.repeat > 1 && !answers.is_empty()).then(|| Spread::of(&answers, precision));
    let searches: Vec<SearchAnswer> = if args.repeat > 1 {
        found
            .iter()
            .map(|f| SearchAnswer { max_rps: round_rate(f.max_rps), limited_by: f.limited_by.clone() })
            .collect()
    } else {
        Vec::new()
    };
    // The answer: the lowest search's (the rate every search sustained), the first of equals.
    let Some(pick) = (0..found.len()).min_by(|&a, &b| found[a].max_rps.total_cmp(&found[b].max_rps)) else {
        println!("\n  interrupted before the first search ended\n");
        side.outputs.finish();
        return Ok(Outcome::Interrupted);
    };
    let steps: Vec<StepReport> = found.iter_mut().flat_map(|f| std::mem::take(&mut f.steps)).collect();
    let Found { max_rps, limited_by, chosen, .. } = found.swap_remove(pick);
    // An interrupted search has no answer: its last passing step is said as what it is.
    let interrupted = signals::stop_flag().load(Ordering::Relaxed);
    let capacity = CapacityResult {
        max_rps: round_rate(max_rps),
        unit: setup.unit.name().into(),
        interrupted,
        limited_by,
        slo: slo_text,
        steps,
        searches,
        spread,
    };
    let (label, value) = capacity.headline();
    println!("\n  {label:<11} {value}");
    if let Some(s) = &capacity.spread {
        let each: Vec<String> = answers.iter().map(|a| group(a.round() as u64)).collect();
        println!(
            "  searches    {} {}: the lowest is the answer; spread {:.1}% ({} --precision {:.1}%)",
            each.join(" · "),
            capacity.unit,
            s.range.min(1e4) * 100.0,
            if s.agree { "within" } else { "MORE than" },
            precision * 100.0
        );
    }
    let below = args.expect_min.filter(|&min| !interrupted && max_rps < min);
    if interrupted {
        println!("  interrupted before the search ended: no capacity found\n");
    } else {
        println!("  limited by  {}", capacity.limited_by);
        match args.expect_min {
            Some(min) if below.is_some() => {
                println!("  expected    at least {} {}: BELOW IT", group(min.round() as u64), capacity.unit)
            }
            Some(min) => println!("  expected    at least {} {}: met", group(min.round() as u64), capacity.unit),
            None => {}
        }
        println!();
    }
    let pushes = side.outputs.finish();
    let samples = side.monitor.take().map(|(m, _)| m.finish());
    let disagree = capacity.spread.as_ref().is_some_and(|s| !s.agree);
    let code = if interrupted {
        Outcome::Interrupted
    } else if max_rps > 0.0 && !disagree && below.is_none() {
        Outcome::Ok
    } else {
        Outcome::ThresholdsFailed
    };
    let Some((out, plan, (from, to))) = chosen else {
        side.outputs.linger(&signals::stop_flag());
        return Ok(if interrupted {
            Outcome::Interrupted
        } else if below.is_some() {
            Outcome::ThresholdsFailed
        } else {
            Outcome::Ok
        });
    };
    // The document describes the chosen step: its samples, on its own clock.
    let samples = samples.map(|s| s.shifted(from, to));
    let mut result = RunResult::build(&plan, &out, samples.as_ref());
    // A step stopped early once lost is the search at work, not an interruption.
    result.interrupted = interrupted;
    result.capacity = Some(capacity);
    result.run_id = run_id.to_string();
    result.outputs = pushes;
    print!("{}", report::text::summary(&result));
    report::write_files(&result, &args.out.files())?;
    side.outputs.linger(&signals::stop_flag());
    Ok(code)
}

fn round_rate(r: f64) -> f64 {
    (r * 100.0).round() / 100.0
}
