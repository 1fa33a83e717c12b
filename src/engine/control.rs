//! Steering a run while it goes (`--control`): the state a controller (the dashboard's API)
//! changes — each scenario's users or rate curve, pause, stop — and what the workers read of it
//! once per housekeeping tick (an epoch to compare, the new curves under a lock only when it
//! moved), so nothing is shared per request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::plan::curve::Curve;
use crate::plan::{Load, Plan};

/// Most starts per second a scenario can be set to.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Longest ramp a change may ask for.
pub const MAX_OVER: Duration = Duration::from_secs(24 * 3600);

/// An accepted change, as the result (`control[]`) and the reports show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlEvent {
    /// Seconds from the start of the run.
    pub t: f64,
    /// `users`, `rate`, `pause`, `resume` or `stop`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// Users or starts per second before and after (users and rate changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<f64>,
    /// The ramp's length in seconds (users and rate changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<f64>,
}

#[cfg(test)]
impl ControlEvent {
    /// An action with no scenario and no values (pause, resume, stop), for tests of the reports.
    pub(crate) fn bare(t: f64, action: &str) -> ControlEvent {
        ControlEvent { t, action: action.into(), scenario: None, from: None, to: None, over: None }
    }
}

/// A change asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Users { scenario: Option<String>, users: f64, over: Duration },
    Rate { scenario: Option<String>, rate: f64, over: Duration },
    Pause,
    Resume,
    Stop,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// Bad input: nothing changed (400).
    #[error("{0}")]
    Invalid(String),
    /// The run is not going (409).
    #[error("{0}")]
    NotRunning(String),
}

/// How a scenario's load can be steered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Users (closed model).
    Closed,
    /// Starts per second (open model).
    Open,
    /// Fixed iterations: pause, resume and stop only.
    Iterations,
}

/// One scenario's state as the API reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioStatus {
    pub name: String,
    pub model: Model,
    /// Users now (closed model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<f64>,
    /// Starts per second now (open model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Changed by hand: its own stages no longer apply.
    pub changed: bool,
    /// Most users a change may ask for (closed model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_users: Option<u64>,
}

/// The state of the run the API reports after each request.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// `waiting`, `running`, `paused`, `stopping` or `ended`.
    pub state: &'static str,
    /// Seconds since the start of the run.
    pub t: f64,
    pub scenarios: Vec<ScenarioStatus>,
    /// Changes accepted so far.
    pub events: usize,
    /// Requests refused for a wrong or missing token.
    pub refused: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What the workers apply: each scenario's curve (`None`: the plan's) and the pause.
#[derive(Debug, Clone, Default)]
pub(crate) struct Steer {
    pub curves: Vec<Option<Arc<Curve>>>,
    /// Paused since this instant.
    pub paused: Option<Instant>,
}

struct Lane {
    name: String,
    model: Model,
    /// Seconds from the start of the run to the scenario's start, and its length.
    start: f64,
    length: f64,
    /// The schedule without pauses: the plan's, or as changed by hand.
    intended: Arc<Curve>,
    /// What the workers follow: `intended` with the pauses cut out.
    effective: Arc<Curve>,
    changed: bool,
    max_users: u64,
}

enum Phase {
    Waiting,
    Running(Instant),
    Ended,
}

struct Inner {
    phase: Phase,
    lanes: Vec<Lane>,
    /// Paused since (seconds from the start), and the pauses that ended.
    paused_since: Option<f64>,
    pauses: Vec<(f64, f64)>,
    events: Vec<ControlEvent>,
    steer: Steer,
}

/// The run's steering, shared by the controller and the workers.
pub struct Control {
    /// Moves on every accepted change; workers compare it once per housekeeping tick.
    epoch: AtomicU64,
    inner: Mutex<Inner>,
    stop: Arc<AtomicBool>,
    /// Requests refused for a wrong or missing token.
    refused: AtomicU64,
}

impl Control {
    /// Steering for a run of `plan`; `stop` is the run's stop flag (as Ctrl-C sets it).
    pub fn new(plan: &Plan, stop: Arc<AtomicBool>) -> Arc<Control> {
        let limit = crate::sys::raise_nofile_limit().saturating_sub(crate::sys::FD_HEADROOM);
        let others = |i: usize| plan.local_users() as u64 - plan.shard.share(plan.scenarios[i].load.users()) as u64;
        let lanes = plan
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, sc)| {
                let (model, curve) = match &sc.load {
                    Load::Closed { users } => (Model::Closed, users.clone()),
                    Load::Open { rate, .. } => (Model::Open, rate.clone()),
                    Load::Iterations { max_duration, .. } => (Model::Iterations, Curve::constant(0.0, *max_duration)),
                };
                let curve = Arc::new(curve);
                Lane {
                    name: sc.name.clone(),
                    model,
                    start: sc.start.as_secs_f64(),
                    length: sc.load.duration().as_secs_f64(),
                    intended: curve.clone(),
                    effective: curve,
                    changed: false,
                    max_users: limit.saturating_sub(others(i)) * plan.shard.count as u64,
                }
            })
            .collect();
        let steer = Steer { curves: vec![None; plan.scenarios.len()], paused: None };
        Arc::new(Control {
            epoch: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                phase: Phase::Waiting,
                lanes,
                paused_since: None,
                pauses: Vec::new(),
                events: Vec::new(),
                steer,
            }),
            stop,
            refused: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run started at `start` (the workers' common start).
    pub(crate) fn begin(&self, start: Instant) {
        self.lock().phase = Phase::Running(start);
    }

    /// The run is over: later changes get 409. Returns the accepted changes.
    pub(crate) fn end(&self, at: f64) -> Vec<ControlEvent> {
        let mut inner = self.lock();
        inner.phase = Phase::Ended;
        if let Some(p) = inner.paused_since.take() {
            inner.pauses.push((p, at.max(p)));
        }
        inner.events.clone()
    }

    /// Count a request refused for its token.
    pub fn refuse(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The changes accepted after the first `n`.
    pub fn events_after(&self, n: usize) -> Vec<ControlEvent> {
        self.lock().events.get(n..).map(<[ControlEvent]>::to_vec).unwrap_or_default()
    }

    /// Changes accepted so far.
    pub fn accepted(&self) -> u64 {
        self.lock().events.len() as u64
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// What a worker that last saw epoch `seen` must apply, if anything moved.
    pub(crate) fn steer(&self, seen: &mut u64) -> Option<Steer> {
        let now = self.epoch.load(Ordering::Acquire);
        if now == *seen {
            return None;
        }
        let inner = self.lock();
        *seen = self.epoch.load(Ordering::Acquire);
        Some(inner.steer.clone())
    }

    /// Seconds of `[from, to)` (seconds from the start) the run was paused.
    pub(crate) fn paused_in(&self, from: f64, to: f64) -> f64 {
        let inner = self.lock();
        let open = inner.paused_since.map(|p| (p, f64::INFINITY));
        inner.pauses.iter().copied().chain(open).map(|(a, b)| (b.min(to) - a.max(from)).max(0.0)).sum()
    }

    /// The state now.
    pub fn status(&self) -> Status {
        let inner = self.lock();
        Status { refused: self.refused(), ..status(&inner, self.stop.load(Ordering::Relaxed), None) }
    }

    /// Apply a change; the new state, or why nothing changed.
    pub fn apply(&self, command: Command) -> Result<Status, ControlError> {
        let mut inner = self.lock();
        let now = match inner.phase {
            Phase::Waiting => return Err(ControlError::NotRunning("the run has not started yet".into())),
            Phase::Ended => return Err(ControlError::NotRunning("the run has ended".into())),
            Phase::Running(start) => start.elapsed().as_secs_f64(),
        };
        if self.stop.load(Ordering::Relaxed) {
            return Err(ControlError::NotRunning("the run is stopping".into()));
        }
        let note = match command {
            Command::Stop => {
                self.stop.store(true, Ordering::Relaxed);
                inner.events.push(event(now, "stop", None));
                None
            }
            Command::Pause => pause(&mut inner, now)?,
            Command::Resume => resume(&mut inner, now)?,
            Command::Users { scenario, users, over } => {
                change(&mut inner, now, scenario.as_deref(), Model::Closed, users, over)?
            }
            Command::Rate { scenario, rate, over } => {
                change(&mut inner, now, scenario.as_deref(), Model::Open, rate, over)?
            }
        };
        publish(&mut inner);
        self.epoch.fetch_add(1, Ordering::Release);
        Ok(Status { refused: self.refused(), ..status(&inner, self.stop.load(Ordering::Relaxed), note) })
    }
}

impl std::fmt::Display for ControlEvent {
    /// One line for the live view: `12.3s  rate of api 100 → 300 over 10s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1}s  {}", self.t, self.action)?;
        if let Some(s) = &self.scenario {
            write!(f, " of {s}")?;
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            write!(f, " {from} → {to}")?;
        }
        if let Some(over) = self.over {
            write!(f, " over {over}s")?;
        }
        Ok(())
    }
}

impl ControlEvent {
    /// The marker's label on the time charts: `users 200→500 over 10s`, `rate 100→300/s`,
    /// `paused`, `resumed`, `stopped`; `scenario`: name the scenario (a run of several).
    pub fn label(&self, scenario: bool) -> String {
        let n = |v: f64| crate::units::round2(v).to_string();
        let mut s = match self.action.as_str() {
            "pause" => "paused".to_string(),
            "resume" => "resumed".to_string(),
            "stop" => "stopped".to_string(),
            other => other.to_string(),
        };
        if let (Some(from), Some(to)) = (self.from, self.to) {
            let unit = if self.action == "rate" { "/s" } else { "" };
            s += &format!(" {}→{}{unit}", n(from), n(to));
        }
        if let Some(over) = self.over.filter(|o| *o > 0.0) {
            s += &format!(" over {}", crate::units::duration(Duration::from_secs_f64(over)));
        }
        match (&self.scenario, scenario) {
            (Some(name), true) => format!("{name}: {s}"),
            _ => s,
        }
    }
}

/// The stretches the run was paused, `(from, to)` in seconds from its start, from its changes:
/// a pause not resumed lasts until `end`.
pub fn paused_spans(events: &[ControlEvent], end: f64) -> Vec<(f64, f64)> {
    let mut spans = Vec::new();
    let mut since = None;
    for e in events {
        match e.action.as_str() {
            "pause" => since = since.or(Some(e.t)),
            "resume" | "stop" => {
                if let Some(a) = since.take() {
                    spans.push((a, e.t));
                }
            }
            _ => {}
        }
    }
    if let Some(a) = since {
        spans.push((a, end.max(a)));
    }
    spans
}

fn event(t: f64, action: &str, scenario: Option<String>) -> ControlEvent {
    ControlEvent { t: round3(t), action: action.into(), scenario, from: None, to: None, over: None }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn pause(inner: &mut Inner, now: f64) -> Result<Option<String>, ControlError> {
    if inner.paused_since.is_some() {
        return Err(ControlError::Invalid("the run is already paused".into()));
    }
    inner.paused_since = Some(now);
    inner.events.push(event(now, "pause", None));
    for lane in &mut inner.lanes {
        // Users stop; an open model's starts are held by the workers until the resume (whose
        // time is not known yet).
        if lane.model == Model::Closed {
            let at = now - lane.start;
            lane.effective = Arc::new(lane.effective.splice(at, &Curve::constant(0.0, lane.intended.duration())));
        }
    }
    Ok(None)
}

fn resume(inner: &mut Inner, now: f64) -> Result<Option<String>, ControlError> {
    let Some(since) = inner.paused_since.take() else {
        return Err(ControlError::Invalid("the run is not paused".into()));
    };
    inner.pauses.push((since, now));
    inner.events.push(event(now, "resume", None));
    for lane in &mut inner.lanes {
        let (from, to) = (since - lane.start, now - lane.start);
        lane.effective = Arc::new(lane.effective.splice(to, &lane.intended).gap(from.max(0.0), to.max(0.0)));
    }
    Ok(None)
}

/// Set scenario `name`'s users (closed) or rate (open) to `to` over `over`, from now on.
fn change(
    inner: &mut Inner,
    now: f64,
    name: Option<&str>,
    want: Model,
    to: f64,
    over: Duration,
) -> Result<Option<String>, ControlError> {
    let what = if want == Model::Closed { "users" } else { "rate" };
    let i = match name {
        Some(n) => inner.lanes.iter().position(|l| l.name == n).ok_or_else(|| {
            let known: Vec<&str> = inner.lanes.iter().map(|l| l.name.as_str()).collect();
            ControlError::Invalid(format!("no scenario `{n}` in this run (it has: {})", known.join(", ")))
        })?,
        None if inner.lanes.len() == 1 => 0,
        None => {
            return Err(ControlError::Invalid(format!(
                "this run has {} scenarios: say which one with \"scenario\"",
                inner.lanes.len()
            )));
        }
    };
    let lane = &inner.lanes[i];
    if lane.model != want {
        let can = match lane.model {
            Model::Closed => "its users",
            Model::Open => "its rate",
            Model::Iterations => "pause, resume and stop only (fixed iterations)",
        };
        return Err(ControlError::Invalid(format!(
            "scenario `{}` cannot take a {what} change: it takes {can}",
            lane.name
        )));
    }
    if !to.is_finite() || to < 0.0 {
        return Err(ControlError::Invalid(format!("{what} must be a number of 0 or more, not {to}")));
    }
    if want == Model::Closed && (to.fract() != 0.0 || to > lane.max_users as f64) {
        return Err(ControlError::Invalid(format!(
            "users must be a whole number from 0 to {} (the open-files limit's reach), not {to}",
            lane.max_users
        )));
    }
    if want == Model::Open && to > MAX_RATE {
        return Err(ControlError::Invalid(format!("rate must be at most {MAX_RATE} per second, not {to}")));
    }
    if over > MAX_OVER {
        return Err(ControlError::Invalid("over must be at most 24h".into()));
    }
    let at = now - lane.start;
    if at >= lane.length {
        return Err(ControlError::Invalid(format!("scenario `{}` has ended", lane.name)));
    }
    let at = at.max(0.0);
    let lane = &mut inner.lanes[i];
    let from = lane.intended.at(at);
    lane.intended = Arc::new(lane.intended.ramp_from(at, to, over.as_secs_f64()));
    lane.changed = true;
    let note = match inner.paused_since {
        Some(_) => "the run is paused: the change applies from the resume",
        None => "set by hand: the scenario's own stages no longer apply",
    };
    if inner.paused_since.is_none() || lane.model == Model::Open {
        // While paused, a closed model stays at 0 users until the resume.
        lane.effective = Arc::new(lane.effective.splice(at, &lane.intended));
    }
    let name = Some(lane.name.clone());
    let over = Some(round3(over.as_secs_f64()));
    inner.events.push(ControlEvent { from: Some(round3(from)), to: Some(to), over, ..event(now, what, name) });
    Ok(Some(note.into()))
}

/// Make the lanes' effective curves and the pause what the workers see next.
fn publish(inner: &mut Inner) {
    let Phase::Running(start) = inner.phase else { return };
    inner.steer = Steer {
        curves: inner.lanes.iter().map(|l| (l.model != Model::Iterations).then(|| l.effective.clone())).collect(),
        paused: inner.paused_since.map(|p| start + Duration::from_secs_f64(p)),
    };
}

fn status(inner: &Inner, stopping: bool, note: Option<String>) -> Status {
    let (state, t) = match inner.phase {
        Phase::Waiting => ("waiting", 0.0),
        Phase::Ended => ("ended", 0.0),
        Phase::Running(_) if stopping => ("stopping", 0.0),
        Phase::Running(_) if inner.paused_since.is_some() => ("paused", 0.0),
        Phase::Running(_) => ("running", 0.0),
    };
    let t = match inner.phase {
        Phase::Running(start) => start.elapsed().as_secs_f64(),
        _ => t,
    };
    let scenarios = inner
        .lanes
        .iter()
        .map(|l| {
            let value = (t >= l.start && t < l.start + l.length).then(|| l.intended.at(t - l.start));
            let value = value.map(|v| (v * 100.0).round() / 100.0);
            ScenarioStatus {
                name: l.name.clone(),
                model: l.model,
                users: if l.model == Model::Closed { Some(value.unwrap_or(0.0)) } else { None },
                rate: if l.model == Model::Open { Some(value.unwrap_or(0.0)) } else { None },
                changed: l.changed,
                max_users: (l.model == Model::Closed).then_some(l.max_users),
            }
        })
        .collect();
    Status { state, t: round3(t), scenarios, events: inner.events.len(), refused: 0, note }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(t: f64, action: &str, from: f64, to: f64, over: f64) -> ControlEvent {
        ControlEvent {
            from: Some(from),
            to: Some(to),
            over: Some(over),
            scenario: Some("api".into()),
            ..event(t, action, None)
        }
    }

    #[test]
    fn markers_say_what_changed() {
        assert_eq!(change(3.0, "users", 200.0, 500.0, 10.0).label(false), "users 200→500 over 10s");
        assert_eq!(change(3.0, "rate", 100.0, 300.0, 0.0).label(false), "rate 100→300/s");
        assert_eq!(change(3.0, "rate", 100.0, 133.333, 1.5).label(true), "api: rate 100→133.33/s over 1.5s");
        assert_eq!(ControlEvent::bare(4.0, "pause").label(true), "paused");
        assert_eq!(ControlEvent::bare(4.0, "resume").label(false), "resumed");
        assert_eq!(ControlEvent::bare(4.0, "stop").label(false), "stopped");
    }

    #[test]
    fn paused_spans_run_from_a_pause_to_its_resume_or_the_end() {
        let e = ControlEvent::bare;
        let events = [e(2.0, "pause"), e(4.5, "resume"), e(6.0, "pause"), e(6.5, "pause"), e(8.0, "stop")];
        assert_eq!(paused_spans(&events, 10.0), vec![(2.0, 4.5), (6.0, 8.0)]);
        assert_eq!(paused_spans(&[e(7.0, "pause")], 9.0), vec![(7.0, 9.0)]);
        assert!(paused_spans(&[change(1.0, "users", 1.0, 2.0, 1.0)], 9.0).is_empty());
    }
}
