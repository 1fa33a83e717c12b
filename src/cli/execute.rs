//! Running a finished plan from the command line (`bench`, `run`, `demo`): `--start-at`, Ctrl-C,
//! the live progress and outputs, `abort_on_fail`, the text summary, the report files, and the
//! exit code.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;

use std::time::{Duration, SystemTime};

use crate::cli::{Outcome, OutputArgs, progress::Progress, signals};
use crate::engine::{Observer, Tick};
use crate::error::PlanError;
use crate::monitor::sampler::Monitor;
use crate::plan::Plan;
use crate::report::hdrlog::HdrLog;
use crate::report::result::ThresholdResult;
use crate::report::{self, RunResult};

/// Where a run's results go.
#[derive(Debug, Default)]
pub struct Output {
    pub files: OutputArgs,
    pub quiet: bool,
    /// `--start-at`: wait for this wall-clock time before starting.
    pub start_at: Option<SystemTime>,
    /// `--out`, `--run-id`, `--dashboard`.
    pub live: crate::live::Settings,
}

/// Wait for `--start-at`; false when Ctrl-C came first (nothing was sent).
fn wait_for_start(at: SystemTime, stop: &AtomicBool) -> bool {
    if let Ok(ahead) = at.duration_since(SystemTime::now()) {
        eprintln!("waiting for the start at {} (in {:.1}s)", humantime::format_rfc3339_millis(at), ahead.as_secs_f64());
    }
    while let Ok(left) = at.duration_since(SystemTime::now()) {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    !stop.load(Ordering::Relaxed)
}

/// Watches the run each second: shows progress, and stops the run when a threshold with
/// `abort_on_fail` fails (after its delay).
struct Watch<'a> {
    plan: &'a Plan,
    progress: Progress,
    stop: Arc<AtomicBool>,
    aborted_by: Option<String>,
    /// `--out` and `--dashboard`.
    live: crate::live::Live,
    /// The service's series (`[monitor]`), sampled on their own thread.
    monitor: Option<Monitor>,
    /// `--hdr-log`: each second's latency histogram, and the first error writing it.
    hdr: Option<HdrLog>,
    hdr_error: Option<std::io::Error>,
    /// `--control`: the run's steering, and how many of its changes were shown.
    control: Option<Arc<crate::engine::control::Control>>,
    shown: usize,
}

impl Observer for Watch<'_> {
    fn second(&mut self, tick: &Tick) {
        // The samples so far and their summary, once a second for the view, the outputs and
        // the thresholds that abort.
        let samples = self.monitor.as_ref().map(Monitor::samples);
        let watched = samples.as_ref().map(crate::monitor::Samples::summary);
        if let Some(s) = &samples {
            self.progress.monitor(&s.latest());
        }
        self.progress.second(tick);
        if let Some(c) = &self.control {
            for e in c.events_after(self.shown) {
                self.shown += 1;
                eprintln!("control: {e}");
            }
        }
        self.live.second(self.plan, tick, samples.as_ref().zip(watched.as_ref()));
        let (row, interval, total) = (tick.row, tick.interval, tick.total);
        if let Some(log) = &mut self.hdr {
            let start = Duration::from_secs_f64((row.t - row.interval_s).max(0.0));
            if let Err(e) = log.add(&interval.total().latency, start, Duration::from_secs_f64(row.interval_s)) {
                self.hdr_error.get_or_insert(e);
            }
        }
        if self.aborted_by.is_some() {
            return;
        }
        // A window's threshold is judged at the end, on the window's own seconds; a metric of the
        // user's own too (a count grows). What is measured and breaks its bound aborts; nothing
        // measured yet (a series without samples) is judged at the end.
        let watched_only = (watched.as_ref(), None);
        let src = crate::report::measure::RunSource::new(self.plan, total, None, row.t, watched_only);
        let series = |n: &str| self.plan.monitor.as_ref().is_some_and(|m| m.series.iter().any(|s| s.name == n));
        let live = |r: &&crate::plan::ThresholdRule| {
            r.threshold.abort_on_fail && r.during.is_none() && r.threshold.metric_name().is_none_or(series)
        };
        for rule in self.plan.thresholds.iter().filter(live) {
            if row.t < rule.delay.as_secs_f64() {
                continue;
            }
            if rule.threshold.judge(&src, &crate::report::measure::RunSource::scope(self.plan, rule)).broken() {
                self.aborted_by = Some(rule.threshold.expr.clone());
                self.stop.store(true, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Decide the I/O path for `--io`: a warning when `auto` falls back to epoll; an error (exit 3)
/// when `uring` cannot be had.
pub fn io_path(choice: crate::plan::io::IoChoice) -> anyhow::Result<crate::plan::io::IoDecision> {
    let d = crate::engine::io::decide(choice).map_err(anyhow::Error::msg)?;
    if let Some(why) = &d.fallback {
        eprintln!("warning: {why}; running on the epoll path instead ({})", crate::engine::io::FIX);
    }
    Ok(d)
}

/// Run the plan, show progress, print the summary, write the JSON; map the result to an outcome.
pub fn run_plan(plan: Arc<Plan>, out: &Output) -> anyhow::Result<Outcome> {
    let stop = signals::stop_flag();
    let hdr = match &out.files.hdr_log {
        Some(path) => {
            Some(HdrLog::create(path, SystemTime::now()).with_context(|| format!("cannot write {}", path.display()))?)
        }
        None => None,
    };
    let control = out.live.control.as_ref().map(|_| crate::engine::control::Control::new(&plan, stop.clone()));
    let live = crate::live::Live::start(&out.live, &plan, control.clone())?;
    if let Some(m) = &plan.monitor {
        crate::monitor::sampler::check(m).map_err(PlanError::Invalid)?;
        eprintln!("monitor: {} series checked, sampled every {}", m.series.len(), crate::units::duration(m.interval));
    }
    let mut watch = Watch {
        plan: &plan,
        live,
        monitor: None,
        progress: Progress::new(!out.quiet && crate::sys::is_tty(1), plan.duration(), plan.rows.clone())
            .with_scenarios(plan.scenarios.iter().map(|s| s.name.clone()).collect()),
        stop: stop.clone(),
        aborted_by: None,
        hdr,
        hdr_error: None,
        control: control.clone(),
        shown: 0,
    };
    if let Some(at) = out.start_at
        && !wait_for_start(at, &stop)
    {
        eprintln!("interrupted before the start: nothing was sent");
        return Ok(Outcome::Interrupted);
    }
    watch.live.begin(&plan, false);
    watch.monitor = plan.monitor.clone().map(|m| Monitor::start(m, std::time::Instant::now()));
    let output =
        crate::engine::run_steered(plan.clone(), stop.clone(), control, &mut watch).context("the run failed")?;
    watch.progress.finish();
    let samples = watch.monitor.take().map(Monitor::finish);
    let mut result = RunResult::build(&plan, &output, samples.as_ref());
    result.aborted_by = watch.aborted_by;
    if let (Some(id), Some(at)) = (&mut result.run, out.start_at) {
        id.planned_start_unix_ms = at.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_millis() as u64);
    }
    result.run_id = out.live.run_id.clone();
    result.outputs = watch.live.finish();
    print!("{}", report::text::summary(&result));
    report::write_files(&result, &out.files.files())?;
    watch.live.linger(&stop);
    if let Some(e) = watch.hdr_error {
        return Err(e).context("cannot write the HdrHistogram log");
    }
    if let Some(log) = watch.hdr {
        log.finish().context("cannot write the HdrHistogram log")?;
    }
    Ok(outcome(&result))
}

/// 3 when nothing reached the target, 1 when a threshold failed, else 0.
pub fn outcome(r: &RunResult) -> Outcome {
    let t = &r.totals.summary;
    let answered: u64 = t.status.values().sum();
    if answered == 0 && (t.requests > 0 || r.totals.unfinished > 0) {
        let reason = t.error_reasons.keys().next().cloned().unwrap_or_else(|| "no response".into());
        eprintln!("error: could not reach {} at all ({reason})", r.target);
        return Outcome::Unreachable;
    }
    if r.aborted_by.is_some() || r.thresholds.iter().any(ThresholdResult::fails_run) {
        return Outcome::ThresholdsFailed;
    }
    Outcome::Ok
}
