//! The one way to judge a threshold: a [`Source`] of measures (a run, a merged result, a live run,
//! a capacity step) answers "measure this [`Measure`] on this part of the run over this window",
//! and [`Threshold::judge`] turns the answer into a named [`Verdict`].
//!
//! A source only finds what to measure ([`Data`]: request stats, a metric's stats, a watched
//! series' summary, or why there is nothing) and the window it really covers; [`measure_on`] is
//! the only code that computes a measure. Every caller — the result, the live abort, `merge`,
//! `capacity` — goes through [`Threshold::judge`].

use std::time::Duration;

use super::{Measure, Measured, NoData, Observed, Stat, Threshold};
use crate::monitor::SeriesSummary;
use crate::stats::metric::MetricStats;

/// Which part of the run a threshold is on: all of it, one scenario's requests, or one step's
/// (indexes into the plan's scenarios and stats rows, which are a result's `scenarios` and
/// `steps` in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Run,
    Scenario(usize),
    Step(usize),
}

/// A span of the run in seconds from its start (a scenario's window: from the run's start, too).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub from: f64,
    pub to: f64,
}

impl Span {
    /// A `during` window as the plan holds it.
    pub fn of((from, to): (Duration, Duration)) -> Span {
        Span { from: from.as_secs_f64(), to: to.as_secs_f64() }
    }

    /// Its length in seconds (never negative).
    pub fn seconds(&self) -> f64 {
        (self.to - self.from).max(0.0)
    }
}

/// One question to a [`Source`]: measure `measure` on `on` over `window` (the whole run when
/// `None`).
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub measure: &'a Measure,
    pub on: On,
    pub window: Option<Span>,
}

/// A source's answer: the measured value (or why there is none), and the window it really
/// covers (a window past the run's end, or its scenario's, is cut there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub value: Measured,
    pub window: Option<Span>,
}

/// What a run observed, as thresholds measure it. Implementations find the [`Data`] for the
/// question and hand it to [`measure_on`].
pub trait Source {
    fn measure(&self, ask: &Ask) -> Reading;

    /// Each second of the run, in order, for what is judged second by second (a recovery);
    /// `None` while the run goes on (a recovery is judged at the end) or for a source without
    /// seconds.
    fn timeline(&self) -> Option<&[crate::stats::TimelineRow]> {
        None
    }

    /// Whether the metric of your own `name` is a rate (the timeline keeps a rate's seconds in
    /// percent).
    fn is_rate(&self, _name: &str) -> bool {
        false
    }
}

/// What a source found to measure.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// Requests: latency, errors, checks, their count and the seconds they are counted over.
    Requests(Observed<'a>),
    /// A metric of the user's own.
    Metric(&'a MetricStats),
    /// A watched series' samples.
    Series(&'a SeriesSummary),
    /// Nothing, and why.
    Nothing(NoData),
}

/// The measure `m` on `d`, in its reporting unit; no data when there is nothing to measure or
/// `d` is of a kind `m` does not apply to.
pub fn measure_on(m: &Measure, d: &Data) -> Measured {
    match (m, d) {
        (_, Data::Nothing(why)) => Err(*why),
        (Measure::Custom { stat, .. }, Data::Metric(s)) => metric_value(*stat, s),
        (Measure::Custom { stat, .. }, Data::Series(s)) => series_value(*stat, s),
        (Measure::Custom { .. }, Data::Requests(_)) => Err(NoData::NOT_HERE),
        (m, Data::Requests(o)) => requests_value(m, o),
        (_, Data::Metric(_) | Data::Series(_)) => Err(NoData::NOT_HERE),
    }
}

/// A built-in measure on requests: no data for a latency statistic with no response, an error
/// share with no request, a check share with no check, a rate over no time. A count of nothing is
/// 0 requests, which is data.
fn requests_value(m: &Measure, o: &Observed) -> Measured {
    let h = o.latency;
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(match *m {
        _ if m.is_latency() && h.is_empty() => return Err(NoData::LATENCY),
        Measure::Percentile(p) => ms(h.value_at_quantile(p / 100.0)),
        Measure::Med => ms(h.value_at_quantile(0.5)),
        Measure::Avg => h.mean() / 1000.0,
        Measure::Min => ms(h.min()),
        Measure::Max => ms(h.max()),
        Measure::Errors if o.requests == 0 => return Err(NoData::REQUESTS),
        Measure::Errors => 100.0 * o.errors as f64 / o.requests as f64,
        Measure::Checks if o.checks == 0 => return Err(NoData::CHECKS),
        Measure::Checks => 100.0 * o.checks.saturating_sub(o.checks_failed) as f64 / o.checks as f64,
        Measure::Rps if o.duration_s <= 0.0 => return Err(NoData::TIME),
        Measure::Rps => o.requests as f64 / o.duration_s,
        Measure::Requests => o.requests as f64,
        Measure::Custom { .. } => return Err(NoData::NOT_HERE),
    })
}

/// A statistic of a metric of the user's own: a rate in percent or as a fraction (as the bound was
/// written), a counter's count, a trend's statistic in its unit; no data for a rate of nothing,
/// any statistic of an empty trend, or a form that does not fit the metric's kind.
fn metric_value(stat: Stat, s: &MetricStats) -> Measured {
    let v = MetricStats::trend_value;
    Ok(match (stat, s) {
        (Stat::Value | Stat::Percent, &MetricStats::Rate { total: 0, .. }) => return Err(NoData::RATE),
        (Stat::Value, &MetricStats::Rate { hits, total }) => hits as f64 / total as f64,
        (Stat::Percent, &MetricStats::Rate { hits, total }) => 100.0 * hits as f64 / total as f64,
        (Stat::Value, &MetricStats::Counter { count }) => count as f64,
        (_, MetricStats::Trend { hist, .. }) if stat.is_trend() && hist.is_empty() => return Err(NoData::TREND),
        (Stat::Percentile(p), MetricStats::Trend { hist, .. }) => v(hist.value_at_quantile(p / 100.0)),
        (Stat::Med, MetricStats::Trend { hist, .. }) => v(hist.value_at_quantile(0.5)),
        (Stat::Avg, MetricStats::Trend { hist, .. }) => hist.mean() / crate::stats::metric::TREND_SCALE,
        (Stat::Min, MetricStats::Trend { hist, .. }) => v(hist.min()),
        (Stat::Max, MetricStats::Trend { hist, .. }) => v(hist.max()),
        _ => return Err(NoData::NOT_HERE),
    })
}

/// A statistic of a watched series: no data without samples.
fn series_value(stat: Stat, s: &SeriesSummary) -> Measured {
    if s.samples == 0 {
        return Err(NoData::SERIES);
    }
    Ok(match stat {
        Stat::Avg => s.avg,
        Stat::Min => s.min,
        Stat::Max => s.max,
        Stat::Last => s.last,
        Stat::Growth => s.growth_percent(),
        _ => return Err(NoData::NOT_HERE),
    })
}

/// Where a threshold is judged: its part of the run, its window, and whether it only warns; for a
/// drift, the window it is compared with; for a recovery, when it is watched from and how long it
/// must hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scope {
    pub on: On,
    pub window: Option<Span>,
    pub warn: bool,
    /// A drift's other window (`… < 1.5 * p(95) during 0m..5m`), in seconds of the run.
    pub base: Option<Span>,
    /// A recovery's `after` and `hold`.
    pub watch: Option<super::recovery::Watch>,
}

impl Scope {
    /// The whole run, failing when it does not hold.
    pub const RUN: Scope = Scope { on: On::Run, window: None, warn: false, base: None, watch: None };
}

/// How a threshold came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Measured, and within its bound.
    Pass,
    /// Not within its bound, or nothing to measure: the run fails.
    Fail,
    /// Not within its bound, or nothing to measure, on a `warn` threshold: reported only.
    Warn,
}

/// A value a verdict carries beside the measured one (a drift threshold's baseline and ratio, a
/// recovery's time watched), named as reports show it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extra {
    pub name: &'static str,
    pub value: Measured,
}

/// A threshold judged: what was measured (or why nothing was), against which bound, how it came
/// out, and over which window of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub measured: Measured,
    /// The bound it was held to, in the measure's reporting unit ([`Threshold::unit`]).
    pub bound: f64,
    pub outcome: Outcome,
    /// The window really measured, when it had one.
    pub window: Option<Span>,
    /// Further values (see [`Extra`]); empty for a plain threshold.
    pub extra: Vec<Extra>,
}

impl Verdict {
    /// Measured and within the bound.
    pub fn held(&self) -> bool {
        self.outcome == Outcome::Pass
    }

    /// Measured and not within the bound: what a live check aborts on (nothing measured yet is
    /// judged at the end).
    pub fn broken(&self) -> bool {
        self.measured.is_ok() && !self.held()
    }
}

impl Threshold {
    /// Judge this threshold on `src` within `scope`: the one path every caller takes (a drift
    /// and a recovery: [`Threshold::judge_drift`], [`Threshold::judge_recovery`]).
    pub fn judge(&self, src: &dyn Source, scope: &Scope) -> Verdict {
        match &self.form {
            super::Form::Bound => {}
            super::Form::Drift { base, .. } => return self.judge_drift(src, scope, base),
            super::Form::Recovery { .. } => return self.judge_recovery(src, scope),
        }
        let reading = src.measure(&Ask { measure: &self.metric, on: scope.on, window: scope.window });
        let holds = reading.value.is_ok_and(|v| self.holds(v));
        let outcome = outcome(holds, scope);
        Verdict { measured: reading.value, bound: self.bound, outcome, window: reading.window, extra: Vec::new() }
    }
}

/// Pass, or fail (warn, for a `warn` threshold).
pub(super) fn outcome(holds: bool, scope: &Scope) -> Outcome {
    match (holds, scope.warn) {
        (true, _) => Outcome::Pass,
        (false, true) => Outcome::Warn,
        (false, false) => Outcome::Fail,
    }
}

/// A source of one [`Data`] for every question: a capacity step's window, a test's stats.
pub struct Fixed<'a>(pub Data<'a>);

impl Source for Fixed<'_> {
    fn measure(&self, ask: &Ask) -> Reading {
        Reading { value: measure_on(ask.measure, &self.0), window: ask.window }
    }
}
