//! What a run observed, as its thresholds measure it: the [`Source`] of a run (at its end, and
//! live each second), and every threshold of a plan judged through it.

use crate::engine::RunOutput;
use crate::monitor::{MonitorResult, Samples, SeriesSummary};
use crate::plan::{Plan, ThresholdRule};
use crate::rules::threshold::recovery::Watch;
use crate::rules::threshold::{
    Ask, Data, Measure, NoData, Observed, On, Reading, Scope, Source, Span, ThresholdResult, measure_on,
};
use crate::stats::{Stats, StepStats, TimelineRow};

use super::result::{scenario_seconds, step_seconds};

/// A run as its thresholds measure it: its stats, its `during` windows' own seconds, and its
/// watched series.
pub struct RunSource<'a> {
    plan: &'a Plan,
    stats: &'a Stats,
    total: StepStats,
    /// Each window's seconds added up (as the engine gathers them, drifts' other windows too);
    /// `None` while the run goes on.
    windows: Option<Vec<(Span, &'a Stats, StepStats)>>,
    /// Each second of the run, once it ended (what a recovery watches).
    timeline: &'a [TimelineRow],
    elapsed_s: f64,
    series: Option<&'a MonitorResult>,
    samples: Option<&'a Samples>,
}

impl<'a> RunSource<'a> {
    /// The run of `plan` after `elapsed_s` seconds of load. `ended`: the run's output once it
    /// ended (its windows' seconds, for thresholds with `during` and drifts, and its timeline), or
    /// `None` for a run still going (a window or a recovery is judged at the end). `series`: the watched series' summary over the run so far,
    /// `samples` their samples (to measure a window's).
    pub fn new(
        plan: &'a Plan,
        stats: &'a Stats,
        ended: Option<&'a RunOutput>,
        elapsed_s: f64,
        (series, samples): (Option<&'a MonitorResult>, Option<&'a Samples>),
    ) -> RunSource<'a> {
        let windows = ended.map(|out| {
            let during = plan.thresholds.iter().zip(&out.windows).map(|(rule, s)| (rule.during, s));
            let base = plan.thresholds.iter().zip(&out.base_windows).map(|(rule, s)| (rule.base_during, s));
            during
                .chain(base)
                .filter_map(|(w, s)| Some((Span::of(w?), s.as_ref()?)))
                .map(|(span, s)| (span, s, s.total()))
                .collect()
        });
        let timeline = ended.map_or(&[][..], |out| &out.timeline);
        RunSource { plan, stats, total: stats.total(), windows, elapsed_s, series, samples, timeline }
    }

    /// A threshold of the plan: where it is judged.
    pub fn scope(plan: &Plan, rule: &ThresholdRule) -> Scope {
        let on = match (rule.scenario, rule.step) {
            (Some(i), _) => On::Scenario(i),
            (None, Some(row)) => On::Step(row),
            (None, None) => On::Run,
        };
        let watch = rule.recovery.as_ref().zip(rule.after_s(plan));
        Scope {
            on,
            window: rule.during.map(Span::of),
            warn: rule.warn,
            base: rule.base_during.map(Span::of),
            watch: watch.map(|(r, after_s)| Watch { after_s, hold_s: r.hold.as_secs_f64() }),
        }
    }

    /// A metric of the user's own or a watched series, by name, over `window` (its stats: the
    /// window's, or the run's).
    fn named(&self, m: &Measure, name: &str, stats: &Stats, window: Option<Span>) -> Reading {
        let watched = self.plan.monitor.as_ref().is_some_and(|m| m.series.iter().any(|s| s.name == name));
        if watched {
            // A window's threshold on a series is measured on the samples taken in it.
            let in_window = window.zip(self.samples).map(|(w, s)| s.summary_between(w.from, w.to));
            let summary = match &in_window {
                Some(m) => m.series.get(name),
                None => self.series.and_then(|m| m.series.get(name)),
            };
            let none = SeriesSummary::default();
            return Reading { value: measure_on(m, &Data::Series(summary.unwrap_or(&none))), window };
        }
        let metric = self.plan.metrics.iter().position(|m| m.name == name).and_then(|i| stats.metrics.get(i));
        let data = metric.map_or(Data::Nothing(NoData::NOT_HERE), Data::Metric);
        Reading { value: measure_on(m, &data), window }
    }
}

impl Source for RunSource<'_> {
    fn timeline(&self) -> &[TimelineRow] {
        self.timeline
    }

    fn is_rate(&self, name: &str) -> bool {
        self.plan.metrics.iter().any(|m| m.name == name && m.kind() == crate::rules::metric::Kind::Rate)
    }

    fn measure(&self, ask: &Ask) -> Reading {
        let (stats, total, secs, window) = match ask.window {
            None => (self.stats, &self.total, self.elapsed_s, None),
            Some(w) => {
                let Some(windows) = &self.windows else {
                    return Reading { value: Err(NoData::LATER), window: Some(w) };
                };
                let Some((_, stats, total)) = windows.iter().find(|(span, ..)| *span == w) else {
                    return Reading { value: Err(NoData::NOT_HERE), window: Some(w) };
                };
                let to = w.to.min(self.elapsed_s);
                (*stats, total, (to - w.from).max(0.0), Some(Span { from: w.from, to }))
            }
        };
        if let Measure::Custom { name, .. } = ask.measure {
            return self.named(ask.measure, name, stats, window);
        }
        let (s, secs, window) = match ask.on {
            On::Run => (total, secs, window),
            On::Step(row) => {
                let s = stats.steps.get(row).unwrap_or(total);
                // A step's rate is over the time its scenarios ran, not the whole run.
                (s, if window.is_none() { step_seconds(self.plan, row, secs) } else { secs }, window)
            }
            On::Scenario(i) => {
                let s = stats.scenarios.get(i).unwrap_or(total);
                // Its seconds within the window (or within the run), up to its own end.
                let end = self.plan.scenarios[i].end().as_secs_f64();
                match window {
                    Some(w) => {
                        let w = Span { from: w.from, to: w.to.min(end) };
                        (s, w.seconds(), Some(w))
                    }
                    None => (s, scenario_seconds(self.plan, i, secs), None),
                }
            }
        };
        Reading { value: measure_on(ask.measure, &Data::Requests(Observed::of(s, secs))), window }
    }
}

/// Judge every threshold of `plan` on `src`, as the result document's rows.
pub fn judge_all(plan: &Plan, src: &RunSource) -> Vec<ThresholdResult> {
    plan.thresholds
        .iter()
        .map(|rule| {
            let scope = RunSource::scope(plan, rule);
            let verdict = rule.threshold.judge(src, &scope);
            // A scenario's window counts from its start_time: shown as written.
            let shift = rule.scenario.map_or(std::time::Duration::ZERO, |i| plan.scenarios[i].start);
            ThresholdResult {
                step: rule.step.map(|i| plan.rows[i].clone()),
                scenario: rule.scenario.map(|i| plan.scenarios[i].name.clone()),
                during: rule.during.map(|(a, b)| crate::rules::threshold::window_text((a - shift, b - shift))),
                baseline_during: rule
                    .base_during
                    .map(|(a, b)| crate::rules::threshold::window_text((a - shift, b - shift))),
                after: rule.recovery.as_ref().map(|r| r.after_text.clone()),
                ..ThresholdResult::of(&rule.threshold, &verdict, &scope)
            }
        })
        .collect()
}
