//! What a run observed, as its thresholds measure it: the [`Source`] of a run (at its end, and
//! live each second), and every threshold of a plan judged through it.

use crate::engine::RunOutput;
use crate::monitor::{MonitorResult, Samples};
use crate::plan::{Plan, ThresholdRule};
use crate::rules::threshold::recovery::Watch;
use crate::rules::threshold::{Ask, Measure, NoData, On, Reading, Scope, Source, Span, measure_on};
use crate::stats::{Stats, StepStats, TimelineRow};

use super::result::{ThresholdResult, scenario_seconds, step_seconds};
use super::window::{Held, WindowData};

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
    timeline: Option<&'a [TimelineRow]>,
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
        let timeline = ended.map(|out| &out.timeline[..]);
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

    /// A metric of the user's own or a watched series, by name (its stats: the window's, or
    /// the run's).
    fn named(&self, name: &str, stats: &'a Stats, window: Option<Span>) -> Held<'a> {
        let watched = self.plan.monitor.as_ref().is_some_and(|m| m.series.iter().any(|s| s.name == name));
        if watched {
            // A window's threshold on a series is measured on the samples taken in it.
            let summary = match window.zip(self.samples) {
                Some((w, s)) => s.summary_between(w.from, w.to).series.get(name).cloned(),
                None => self.series.and_then(|m| m.series.get(name)).cloned(),
            };
            return Held::Series(summary.unwrap_or_default());
        }
        let metric = self.plan.metrics.iter().position(|m| m.name == name).and_then(|i| stats.metrics.get(i));
        metric.map_or(Held::Nothing(NoData::NOT_HERE), Held::Metric)
    }

    /// What `ask` is measured on, the seconds its rates are over, and the window it really covers.
    pub fn find(&self, ask: &Ask) -> (Held<'_>, f64, Option<Span>) {
        let (stats, total, secs, window) = match ask.window {
            None => (self.stats, &self.total, self.elapsed_s, None),
            Some(w) => {
                let Some(windows) = &self.windows else { return (Held::Nothing(NoData::LATER), 0.0, Some(w)) };
                let Some((_, stats, total)) = windows.iter().find(|(span, ..)| *span == w) else {
                    return (Held::Nothing(NoData::NOT_HERE), 0.0, Some(w));
                };
                let to = w.to.min(self.elapsed_s);
                (*stats, total, (to - w.from).max(0.0), Some(Span { from: w.from, to }))
            }
        };
        if let Measure::Custom { name, .. } = ask.measure {
            return (self.named(name, stats, window), secs, window);
        }
        match ask.on {
            On::Run => (Held::Requests(total), secs, window),
            On::Step(row) => {
                let s = stats.steps.get(row).unwrap_or(total);
                // A step's rate is over the time its scenarios ran, not the whole run.
                (Held::Requests(s), if window.is_none() { step_seconds(self.plan, row, secs) } else { secs }, window)
            }
            On::Scenario(i) => {
                let s = stats.scenarios.get(i).unwrap_or(total);
                // Its seconds within the window (or within the run), up to its own end.
                let end = self.plan.scenarios[i].end().as_secs_f64();
                match window {
                    Some(w) => {
                        let w = Span { from: w.from, to: w.to.min(end).max(w.from) };
                        (Held::Requests(s), w.seconds(), Some(w))
                    }
                    None => (Held::Requests(s), scenario_seconds(self.plan, i, secs), None),
                }
            }
        }
    }
}

impl Source for RunSource<'_> {
    fn timeline(&self) -> Option<&[TimelineRow]> {
        self.timeline
    }

    fn is_rate(&self, name: &str) -> bool {
        self.plan.metrics.iter().any(|m| m.name == name && m.kind() == crate::rules::metric::Kind::Rate)
    }

    fn measure(&self, ask: &Ask) -> Reading {
        let (held, secs, window) = self.find(ask);
        Reading { value: measure_on(ask.measure, &held.data(secs)), window }
    }
}

/// Judge every threshold of `plan` on `src`, as the result document's rows.
pub fn judge_all(plan: &Plan, src: &RunSource) -> Vec<ThresholdResult> {
    plan.thresholds
        .iter()
        .map(|rule| {
            let scope = RunSource::scope(plan, rule);
            let verdict = rule.threshold.judge(src, &scope);
            // A window's own data, for merge to measure the shards' windows together again.
            let window = scope.window.map(|w| {
                let (held, _, span) = src.find(&Ask { measure: &rule.threshold.metric, on: scope.on, window: Some(w) });
                WindowData::of(span.unwrap_or(w), &held)
            });
            ThresholdResult {
                step: rule.step.map(|i| plan.rows[i].clone()),
                scenario: rule.scenario.map(|i| plan.scenarios[i].name.clone()),
                // A scenario's window counts from its start_time: shown as written.
                during: rule.during_as_written(&plan.scenarios),
                baseline_during: rule.base_during.map(|w| rule.as_written(w, &plan.scenarios)),
                after: rule.recovery.as_ref().map(|r| r.after_text.clone()),
                window,
                ..ThresholdResult::of(&rule.threshold, &verdict, &scope)
            }
        })
        .collect()
}
