//! The engine: one pinned worker thread per core, each with its own compio runtime (io_uring, or
//! the epoll driver where io_uring is refused), users and stats; this module starts them, collects their one-second snapshots into the timeline and
//! the merged totals, and stops them at the end of the run or on request.

pub mod arrivals;
mod conn;
pub mod control;
mod ctx;
mod follow;
mod h2;
pub mod io;
mod limit;
pub mod pacer;
pub mod timeouts;
mod user;
mod worker;

pub use conn::CONNECTS_IN_FLIGHT;
pub use worker::{build_runtime, ring_sizes};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::error::EngineError;
use crate::plan::{Plan, ThresholdRule};
use crate::stats::{Stats, TimelineRow};

/// Time between spawning the workers and the common start, so each has built its ring.
const START_DELAY: Duration = Duration::from_millis(30);

/// State every worker can see: the common start instant and the stop request.
pub(crate) struct Shared {
    pub start: Instant,
    pub stop: Arc<AtomicBool>,
    /// `--control`: what a controller changed, read once per housekeeping tick.
    pub control: Option<Arc<control::Control>>,
}

/// Messages from workers to the collector.
pub(crate) enum Msg {
    /// What a worker measured in one interval (boxed: sent once a second, and the other kinds
    /// stay small).
    Interval(Box<Interval>),
    /// The worker has stopped; `cpu` is its thread's CPU time, `wait` its run-queue wait.
    Done {
        worker: usize,
        cpu: Duration,
        wait: Duration,
    },
    Failed {
        worker: usize,
        error: String,
    },
}

/// What a worker measured in interval `seq` (second `seq` of the run; `last`: its final,
/// possibly partial, interval). `elapsed`: the end of the interval since the start.
pub(crate) struct Interval {
    pub worker: usize,
    pub seq: u64,
    pub elapsed: Duration,
    pub stats: Stats,
    pub last: bool,
    /// The worker thread's CPU time during the interval.
    pub cpu: Duration,
    /// Time the worker thread was runnable but waiting for a CPU during the interval.
    pub wait: Duration,
}

/// One complete second of the run, as an [`Observer`] sees it.
pub struct Tick<'a> {
    /// Its timeline row.
    pub row: &'a TimelineRow,
    /// What was measured in it (one entry per stats row).
    pub interval: &'a Stats,
    /// The run so far (one entry per stats row).
    pub total: &'a Stats,
    /// With several scenarios: the run so far per scenario and stats row (entry
    /// `scenario * rows + row`); `None` with one scenario, whose rows are the total's.
    pub by_scenario: Option<&'a Stats>,
}

/// Receives each second of the run as it completes (progress display, live outputs).
pub trait Observer {
    /// One second is complete.
    fn second(&mut self, tick: &Tick);
}

impl Observer for () {
    fn second(&mut self, _: &Tick) {}
}

/// How the generator itself fared.
#[derive(Debug, Clone, Default)]
pub struct GeneratorUsage {
    pub workers: usize,
    /// Process CPU time over wall time, in percent of one core.
    pub cpu_percent: f64,
    /// CPU time of each worker thread, in seconds.
    pub worker_cpu_s: Vec<f64>,
    /// Each worker thread's run-queue wait (runnable, no CPU) over its life, seconds.
    pub worker_wait_s: Vec<f64>,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
    /// CPU use of the busiest worker over the run, percent of one core.
    pub busiest_worker_cpu_percent: f64,
    /// Share of the run the most-delayed worker spent runnable but waiting for a CPU (another
    /// thread or process on its core), percent.
    pub busiest_worker_wait_percent: f64,
    /// Open model: p99 of how late the generator itself sent starts (µs).
    pub schedule_lag_p99_us: u64,
    /// The generator may have been the limit: its busiest core was nearly full, or it sent
    /// starts late, or it dropped some.
    pub saturated: bool,
    /// Why the results may show the generator's limits rather than the target's.
    pub warnings: Vec<String>,
    /// The I/O path the workers took.
    pub io: io::IoPath,
}

/// A worker this busy (percent of a core) may be what limits the run.
pub const SATURATED_CPU: f64 = 90.0;
/// A worker that waits this long for its CPU (percent of the time) shares its core with
/// something else, and runs slower than it would alone.
pub const SATURATED_WAIT: f64 = 10.0;
/// An open-model run whose starts go out this late (p99) is not keeping its schedule.
pub const SATURATED_LAG: Duration = Duration::from_millis(2);

impl GeneratorUsage {
    /// Judge the generator's health from what it measured.
    fn assess(&mut self, stats: &Stats, open: bool) {
        self.schedule_lag_p99_us = if stats.lag.is_empty() { 0 } else { stats.lag.value_at_quantile(0.99) };
        let busiest = self.worker_cpu_s.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((w, _)) = busiest.filter(|_| self.busiest_worker_cpu_percent >= SATURATED_CPU) {
            self.warnings.push(format!(
                "worker {w} was busy {:.0}% of the time: the figures may show the generator's limit rather than the target's (add cores with -t or boxes with --shard)",
                self.busiest_worker_cpu_percent
            ));
        }
        let most_waiting = self.worker_wait_s.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((w, _)) = most_waiting.filter(|_| self.busiest_worker_wait_percent >= SATURATED_WAIT) {
            self.warnings.push(format!(
                "worker {w} waited for its CPU {:.0}% of the time: another thread or process shares its core, so the generator ran slower than it could (give it cores of its own)",
                self.busiest_worker_wait_percent
            ));
        }
        if open && self.schedule_lag_p99_us > SATURATED_LAG.as_micros() as u64 {
            self.warnings.push(format!(
                "the generator sent starts late (p99 {}): latency includes its own delay",
                crate::units::micros(self.schedule_lag_p99_us as f64)
            ));
        }
        if stats.dropped() > 0 {
            self.warnings.push(format!(
                "{} scheduled starts were not sent (no free user)",
                crate::units::group(stats.dropped())
            ));
        }
        self.saturated = !self.warnings.is_empty();
    }
}

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Merged over all workers and the whole run, one entry per stats row (`Plan::rows`).
    pub stats: Stats,
    /// For each threshold of the plan with a `during` window: the seconds inside it, merged.
    pub windows: Vec<Option<Stats>>,
    /// For each drift threshold of the plan: the seconds inside the window it is compared with.
    pub base_windows: Vec<Option<Stats>>,
    /// When steps share rows: the whole run's stats per step (`Plan::steps`), for the breakdown
    /// of a shared row by user type.
    pub by_step: Option<Stats>,
    pub timeline: Vec<TimelineRow>,
    /// From the common start to the end of the last interval.
    pub elapsed: Duration,
    /// Requests sent and still unanswered when the run stopped (not counted as requests).
    pub unfinished: u64,
    /// The run was stopped before its planned end.
    pub interrupted: bool,
    /// `--control`: the changes accepted while it ran.
    pub control: Vec<control::ControlEvent>,
    /// Time the run spent paused by hand (`--control`).
    pub paused: Duration,
    pub generator: GeneratorUsage,
    /// Wall-clock start, for reports and for aligning shards.
    pub started_at: std::time::SystemTime,
}

/// Run `plan` to its end (or until `stop` is set), reporting each second to `observer`.
pub fn run(plan: Arc<Plan>, stop: Arc<AtomicBool>, observer: &mut dyn Observer) -> Result<RunOutput, EngineError> {
    run_steered(plan, stop, None, observer)
}

/// [`run`], steered while it goes by `control` (`--control`).
pub fn run_steered(
    plan: Arc<Plan>,
    stop: Arc<AtomicBool>,
    control: Option<Arc<control::Control>>,
    observer: &mut dyn Observer,
) -> Result<RunOutput, EngineError> {
    let cpu0 = crate::sys::process_cpu();
    let started_at = std::time::SystemTime::now() + START_DELAY;
    let shared = Arc::new(Shared { start: Instant::now() + START_DELAY, stop: stop.clone(), control: control.clone() });
    if let Some(c) = &control {
        c.begin(shared.start);
    }
    let (tx, rx) = mpsc::channel();
    let mut threads = Vec::with_capacity(plan.workers);
    for w in 0..plan.workers {
        let (shared, tx, plan) = (shared.clone(), tx.clone(), plan.clone());
        let handle = std::thread::Builder::new()
            .name(format!("stampede-w{w}"))
            .spawn(move || worker::run(plan, w, shared, tx))
            .map_err(EngineError::Spawn)?;
        threads.push(handle);
    }
    drop(tx);

    let mut gather = Gather::new(&plan, control.clone());
    let mut cpu = vec![Duration::ZERO; plan.workers];
    let mut wait = vec![Duration::ZERO; plan.workers];
    let mut failure = None;
    let mut done = 0;
    while done < plan.workers {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Msg::Interval(i)) => gather.interval(*i, observer),
            Ok(Msg::Done { worker, cpu: c, wait: w }) => {
                cpu[worker] = c;
                wait[worker] = w;
                done += 1;
            }
            Ok(Msg::Failed { worker, error }) => {
                failure.get_or_insert(EngineError::WorkerDied { worker, reason: error });
                stop.store(true, Ordering::Relaxed);
                gather.collector.finish_worker(worker);
                done += 1;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    for (w, t) in threads.into_iter().enumerate() {
        if t.join().is_err() && failure.is_none() {
            failure = Some(EngineError::WorkerDied { worker: w, reason: "panicked".into() });
        }
    }
    if let Some(f) = failure {
        if let Some(c) = &control {
            c.end(0.0);
        }
        return Err(f);
    }
    gather.flush(observer);
    let events = control.as_ref().map(|c| c.end(gather.collector.elapsed.as_secs_f64())).unwrap_or_default();
    let paused = control.as_ref().map_or(0.0, |c| c.paused_in(0.0, gather.collector.elapsed.as_secs_f64()));
    let Gather { collector, windows, base_windows, by_step, .. } = gather;
    let wall = shared.start.elapsed();
    let mut generator = usage(&plan, wall, crate::sys::process_cpu().saturating_sub(cpu0), &cpu, &wait);
    generator.assess(&collector.total, plan.open_model() != Some(false));
    let elapsed = collector.elapsed;
    // A fixed-iteration run that finished its iterations early was not interrupted.
    let interrupted = if plan.scenarios.iter().all(|s| matches!(s.load, crate::plan::Load::Iterations { .. })) {
        stop.load(Ordering::Relaxed)
    } else {
        elapsed + Duration::from_millis(5) < plan.duration()
    };
    Ok(RunOutput {
        windows,
        base_windows,
        by_step,
        unfinished: collector.last_in_flight(),
        interrupted,
        control: events,
        paused: Duration::from_secs_f64(paused),
        stats: collector.total,
        timeline: collector.timeline,
        elapsed,
        generator,
        started_at,
    })
}

/// What the collector keeps besides the timeline: the `during` windows, each step's own total
/// where steps share a row, and the run per scenario.
struct Gather<'p> {
    plan: &'p Plan,
    collector: Collector,
    /// Thresholds on a window of the run (`during`): the seconds inside it, merged.
    windows: Vec<Option<Stats>>,
    /// Drift thresholds: the seconds inside the window they are compared with.
    base_windows: Vec<Option<Stats>>,
    /// Steps of one name in several user types share a stats row; each one's own total is kept
    /// for the report's breakdown by user type.
    by_step: Option<Stats>,
    /// Several scenarios: the run per scenario and row, for outputs labelled by both.
    by_scenario: Option<Stats>,
    /// Workers count per scenario and step; reports read rows (and scenarios).
    regroup: bool,
    /// `--control`: which seconds were paused.
    control: Option<Arc<control::Control>>,
}

impl<'p> Gather<'p> {
    fn new(plan: &'p Plan, control: Option<Arc<control::Control>>) -> Gather<'p> {
        Gather {
            control,
            plan,
            collector: Collector::new(
                plan.workers,
                plan.rows.len(),
                plan.metrics.iter().map(|m| m.name.clone()).collect(),
            ),
            windows: plan.thresholds.iter().map(|r| r.during.map(|_| Stats::new(plan.rows.len()))).collect(),
            base_windows: plan.thresholds.iter().map(|r| r.base_during.map(|_| Stats::new(plan.rows.len()))).collect(),
            by_step: plan.shares_rows().then(|| Stats::new(plan.steps.len())),
            by_scenario: (plan.scenarios.len() > 1).then(|| Stats::new(plan.scenarios.len() * plan.rows.len())),
            regroup: worker::stat_slots(plan) != plan.rows.len(),
        }
    }

    /// A worker's interval: merged, and each second that is now complete handed to `observer`.
    fn interval(&mut self, i: Interval, observer: &mut dyn Observer) {
        let Interval { worker, seq, elapsed, stats, last, cpu, wait } = i;
        let plan = self.plan;
        if let Some(b) = self.by_scenario.as_mut() {
            b.merge(&scenario_rows(plan, &stats));
        }
        let stats = if self.regroup { into_rows(plan, stats, self.by_step.as_mut()) } else { stats };
        for (row, interval) in self.collector.add(worker, seq, elapsed, stats, last, (cpu, wait)) {
            self.second(&row, &interval, observer);
        }
    }

    /// The seconds still held back (workers that stopped early), once every worker is done.
    fn flush(&mut self, observer: &mut dyn Observer) {
        for (row, interval) in self.collector.flush() {
            self.second(&row, &interval, observer);
        }
    }

    fn second(&mut self, row: &TimelineRow, interval: &Stats, observer: &mut dyn Observer) {
        let paused = self.control.as_ref().map_or(0.0, |c| c.paused_in(row.t - row.interval_s, row.t));
        let marked;
        let row = if paused > 0.0 {
            let mut r = row.clone();
            r.paused = (paused * 1000.0).round() / 1000.0;
            let ran = r.interval_s - paused;
            r.rps = if ran > 1e-3 { (r.requests as f64 / ran * 100.0).round() / 100.0 } else { 0.0 };
            if let Some(last) = self.collector.timeline.last_mut() {
                *last = r.clone();
            }
            marked = r;
            &marked
        } else {
            row
        };
        let (during, base) = (|r: &ThresholdRule| r.during, |r: &ThresholdRule| r.base_during);
        add_to_windows(self.plan, during, &mut self.windows, row, interval);
        add_to_windows(self.plan, base, &mut self.base_windows, row, interval);
        let (total, by_scenario) = (&self.collector.total, self.by_scenario.as_ref());
        observer.second(&Tick { row, interval, total, by_scenario });
    }
}

/// How the generator fared over `wall`: process CPU, each worker's CPU and run-queue wait, memory.
fn usage(plan: &Plan, wall: Duration, process_cpu: Duration, cpu: &[Duration], wait: &[Duration]) -> GeneratorUsage {
    let (rss, peak) = crate::sys::rss_bytes();
    let wall_s = wall.as_secs_f64().max(1e-9);
    let busiest = cpu.iter().map(Duration::as_secs_f64).fold(0.0, f64::max);
    let most_wait = wait.iter().map(Duration::as_secs_f64).fold(0.0, f64::max);
    GeneratorUsage {
        workers: plan.workers,
        cpu_percent: 100.0 * process_cpu.as_secs_f64() / wall_s,
        worker_cpu_s: cpu.iter().map(Duration::as_secs_f64).collect(),
        rss_bytes: rss,
        peak_rss_bytes: peak,
        busiest_worker_cpu_percent: (100.0 * busiest / wall_s).min(100.0),
        worker_wait_s: wait.iter().map(Duration::as_secs_f64).collect(),
        io: plan.io.path,
        busiest_worker_wait_percent: (100.0 * most_wait / wall_s).min(100.0),
        ..GeneratorUsage::default()
    }
}

/// Add one second of the run to the windows (`which` of each threshold) it falls in (by its start).
fn add_to_windows(
    plan: &Plan,
    which: impl Fn(&ThresholdRule) -> Option<(Duration, Duration)>,
    windows: &mut [Option<Stats>],
    row: &TimelineRow,
    interval: &Stats,
) {
    let start = (row.t - row.interval_s).max(0.0);
    for (rule, window) in plan.thresholds.iter().zip(windows.iter_mut()) {
        if let (Some((from, to)), Some(w)) = (which(rule), window.as_mut()) {
            if start + 1e-3 >= from.as_secs_f64() && start + 1e-3 < to.as_secs_f64() {
                w.merge(interval);
            }
        }
    }
}

/// A worker's snapshot (one entry per scenario and step) as reports read it: one entry per stats
/// row, each scenario's total beside them when there are several, and each step's own share
/// added into `by_step` when steps share rows.
fn into_rows(plan: &Plan, stats: Stats, by_step: Option<&mut Stats>) -> Stats {
    let n = plan.steps.len();
    let scenarios = if plan.scenarios.len() > 1 { stats.scenario_totals(n) } else { Vec::new() };
    if let Some(by_step) = by_step {
        for (i, s) in stats.steps.iter().enumerate() {
            by_step.steps[i % n].merge(s);
        }
    }
    let mut rows = stats.into_rows(plan.rows.len(), |i| plan.steps[i % n].row);
    rows.scenarios = scenarios;
    rows
}

/// A worker's snapshot (one entry per scenario and step) with one entry per scenario and stats
/// row: entry `scenario * rows + row`.
fn scenario_rows(plan: &Plan, stats: &Stats) -> Stats {
    let (n, rows) = (plan.steps.len(), plan.rows.len());
    let mut out = Stats::new(plan.scenarios.len() * rows);
    for (i, s) in stats.steps.iter().enumerate() {
        out.steps[(i / n) * rows + plan.steps[i % n].row].merge(s);
    }
    out
}

/// Merges worker snapshots: the running total, and a timeline row per second once every worker
/// has reported that second.
struct Collector {
    workers: usize,
    steps: usize,
    /// Names of the plan's metrics, for the timeline's per-second values.
    metric_names: Vec<String>,
    pending: BTreeMap<u64, Pending>,
    /// Last interval index of each worker that has finished.
    last_seq: Vec<Option<u64>>,
    total: Stats,
    timeline: Vec<TimelineRow>,
    elapsed: Duration,
    /// In-flight gauge of each worker's final snapshot.
    final_in_flight: Vec<u64>,
}

struct Pending {
    stats: Stats,
    reported: usize,
    elapsed: Duration,
    /// CPU time of the busiest worker in this interval.
    cpu_max: Duration,
    /// Run-queue wait of the most-delayed worker in this interval.
    wait_max: Duration,
}

impl Collector {
    fn new(workers: usize, steps: usize, metric_names: Vec<String>) -> Collector {
        Collector {
            workers,
            steps,
            metric_names,
            pending: BTreeMap::new(),
            last_seq: vec![None; workers],
            total: Stats::new(steps),
            timeline: Vec::new(),
            elapsed: Duration::ZERO,
            final_in_flight: vec![0; workers],
        }
    }

    fn add(
        &mut self,
        worker: usize,
        seq: u64,
        elapsed: Duration,
        stats: Stats,
        last: bool,
        (cpu, wait): (Duration, Duration),
    ) -> Vec<(TimelineRow, Stats)> {
        self.total.merge(&stats);
        self.elapsed = self.elapsed.max(elapsed);
        if last {
            self.last_seq[worker] = Some(seq);
            self.final_in_flight[worker] = stats.gauges.in_flight;
        }
        let p = self.pending.entry(seq).or_insert_with(|| Pending {
            stats: Stats::new(self.steps),
            reported: 0,
            elapsed: Duration::ZERO,
            cpu_max: Duration::ZERO,
            wait_max: Duration::ZERO,
        });
        p.stats.merge(&stats);
        p.reported += 1;
        p.elapsed = p.elapsed.max(elapsed);
        p.cpu_max = p.cpu_max.max(cpu);
        p.wait_max = p.wait_max.max(wait);
        self.ready()
    }

    fn finish_worker(&mut self, worker: usize) {
        self.last_seq[worker].get_or_insert(0);
    }

    /// Rows for the leading seconds every live worker has reported.
    fn ready(&mut self) -> Vec<(TimelineRow, Stats)> {
        let mut rows = Vec::new();
        while let Some((&seq, p)) = self.pending.first_key_value() {
            let expected = (0..self.workers).filter(|&w| self.last_seq[w].is_none_or(|l| l >= seq)).count();
            if p.reported < expected {
                break;
            }
            let p = self.pending.remove(&seq).expect("present");
            rows.push(self.row(seq, p));
        }
        rows
    }

    fn flush(&mut self) -> Vec<(TimelineRow, Stats)> {
        let pending = std::mem::take(&mut self.pending);
        pending.into_iter().map(|(seq, p)| self.row(seq, p)).collect::<Vec<_>>()
    }

    fn row(&mut self, seq: u64, p: Pending) -> (TimelineRow, Stats) {
        let interval_s = (p.elapsed.as_secs_f64() - seq as f64).clamp(1e-3, 1.0);
        let cpu = 100.0 * p.cpu_max.as_secs_f64() / interval_s;
        let mut row = TimelineRow::from_interval(seq, p.elapsed, &p.stats, cpu.min(100.0));
        row.worker_wait_max = (1000.0 * p.wait_max.as_secs_f64() / interval_s).round().min(1000.0) / 10.0;
        row.metrics = self.metric_names.iter().cloned().zip(p.stats.metrics.iter().map(|m| m.headline())).collect();
        self.timeline.push(row.clone());
        (row, p.stats)
    }

    fn last_in_flight(&self) -> u64 {
        self.final_in_flight.iter().sum()
    }
}
