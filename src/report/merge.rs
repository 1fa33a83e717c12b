//! Merging the results of several shards (`--shard i/N` on N boxes) into one document, exactly
//! where the documents allow it.
//!
//! Exact: latency histograms (total and per step, matched by name) are added, so every merged
//! percentile, min, max and mean is the one a single generator would have reported for all the
//! requests; counters (requests, errors, bytes, status codes, error kinds and reasons, checks,
//! unfinished, dropped) are summed; thresholds are judged again on the merged data as a single run
//! judges its own ([`Merged`]): a step's rate over the seconds its scenarios ran, a window on the
//! shards' windows added together ([`super::window`]), a watched series on every shard's samples.
//!
//! Not exact, because the documents do not carry what it would take (and said so here):
//! - the timeline's per-second percentiles: a row keeps p50/p95/p99 but not its histogram, so
//!   a merged second takes the highest of the shards' values (an upper bound: a quantile of the
//!   union lies between the parts' lowest and highest). Its `max_us` and every count are exact.
//! - the open model's service times: a summary keeps their percentiles but no histogram, so the
//!   merged document leaves them out (and says so in `generator.warnings`).
//! - the generator's send lag p99 and busiest worker's CPU: the highest of the shards'.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::RunResult;
use super::result::{
    GeneratorInfo, LoadInfo, SCHEMA, ScenarioResult, StepResult, Summary, ThresholdResult, Totals, decode_histogram,
    encode_histogram, round2, round3,
};
use std::time::Duration;

use crate::rules::threshold::recovery::Watch;
use crate::rules::threshold::{
    self, Ask, Data, Measure, NoData, Observed, On, Reading, Scope, Source, Span, measure_on, seconds,
};
use crate::stats::{StepSecond, TimelineRow};

/// Combine shard results exactly: histograms added, counters summed, timelines aligned by
/// wall-clock second, thresholds re-evaluated on the merged data.
///
/// Refused (with the reason): no input; a document of another schema; a capacity result; inputs
/// of different commands, load models or steps; the same document twice; a threshold or
/// histogram that does not decode. Whether the documents are the shards of one run, each once, is
/// checked before, by [`super::identity::not_one_run`].
///
/// The merged run spans from the earliest start to the latest end, and its rates are the merged
/// counts over that span. Users, rate, workers, CPU and memory are summed over the shards.
///
/// Timeline: merged second `k` covers `[k, k+1)` seconds after the earliest start. A shard that
/// started `d` ms after the earliest puts its second `s` at `k = s + round(d / 1000)`: aligned by
/// wall clock to within half a second, which is as close as one-second rows allow, and never
/// folding two seconds of one shard into one row (as rounding each row's own end time could,
/// with the few ms of jitter in when a second's snapshot is taken). A merged row sums the
/// shards' requests, errors, rates, bytes, users, in-flight requests and drops; its percentiles
/// are the highest of the shards' (see the module documentation).
pub fn merge(results: &[RunResult]) -> Result<RunResult, String> {
    let first = results.first().ok_or_else(|| "nothing to merge: give at least one result".to_string())?;
    let mut warnings = check(results)?;
    let who = |i: usize| label(i, &results[i]);

    let start_ms = results.iter().map(|r| r.started_at_unix_ms).min().unwrap_or(0);
    let end_ms = results.iter().map(end_ms).max().unwrap_or(start_ms);
    let duration_s = (end_ms.saturating_sub(start_ms) as f64 / 1000.0).max(1e-3);
    // Rates (and `rps` thresholds) are over the time the load ran, as in each shard's document.
    let paused_s = results.iter().map(|r| r.paused_s).fold(0.0, f64::max);
    let ran_s = (duration_s - paused_s).max(1e-3);
    let earliest = results.iter().min_by_key(|r| r.started_at_unix_ms).unwrap_or(first);

    let total_h = add_histograms(results.iter().enumerate().map(|(i, r)| (who(i), r.histogram.as_str())))?;
    let mut service_dropped = false;
    let summary = merge_summaries(results.iter().map(|r| &r.totals.summary), &total_h, ran_s, &mut service_dropped);
    let (steps, step_histograms) = merged_steps(results, ran_s, &mut service_dropped)?;
    if service_dropped {
        warnings.push(
            "merged: service-time percentiles (open model) are left out: result documents carry no service-time histogram to merge them exactly"
                .to_string(),
        );
    }

    let (mut scenarios, scenario_histograms) = scenarios(results)?;
    let metrics = metrics(results)?;
    // Rates (and `rps` thresholds) over the time the load ran.
    let total = Part { summary: &summary, latency: &total_h, seconds: ran_s };
    let timeline = timeline(results, start_ms);
    let (by_step, by_scenario) = ((&steps[..], &step_histograms[..]), (&scenarios[..], &scenario_histograms[..]));
    let mut thresholds = thresholds(results, total, by_step, by_scenario, &timeline)?;
    for sc in &mut scenarios {
        sc.thresholds = thresholds.iter().filter(|t| t.scenario.as_deref() == Some(&sc.name)).cloned().collect();
    }
    thresholds.sort_by_key(|t| t.scenario.is_some());
    let generator = generator(results, warnings);
    Ok(RunResult {
        schema: SCHEMA.to_string(),
        tool: first.tool.clone(),
        command: first.command.clone(),
        name: first.name.clone(),
        target: first.target.clone(),
        started_at: earliest.started_at.clone(),
        started_at_unix_ms: start_ms,
        duration_s: round3(duration_s),
        interrupted: results.iter().any(|r| r.interrupted),
        aborted_by: results.iter().find_map(|r| r.aborted_by.clone()),
        load: LoadInfo {
            model: first.load.model.clone(),
            users: results.iter().map(|r| r.load.users).sum(),
            rate: results
                .iter()
                .any(|r| r.load.rate.is_some())
                .then(|| results.iter().filter_map(|r| r.load.rate).sum()),
            workers: results.iter().map(|r| r.load.workers).sum(),
            timeout_s: results.iter().map(|r| r.load.timeout_s).fold(0.0, f64::max),
            shard: None,
            streams: first.load.streams,
        },
        totals: Totals {
            summary,
            unfinished: results.iter().map(|r| r.totals.unfinished).sum(),
            dropped_iterations: results.iter().map(|r| r.totals.dropped_iterations).sum(),
            iterations: results.iter().map(|r| r.totals.iterations).sum(),
            data_exhausted: results.iter().map(|r| r.totals.data_exhausted).sum(),
        },
        steps,
        scenarios,
        metrics,
        timeline,
        thresholds,
        thresholds_not_run: first.thresholds_not_run.clone(),
        overrides: first.overrides.clone(),
        generator,
        histogram: encode_histogram(&total_h),
        capacity: None,
        // Shards of one run pushed under one id; shards of several keep none.
        run_id: match results.first().map(|r| &r.run_id) {
            Some(id) if results.iter().all(|r| &r.run_id == id) => id.clone(),
            _ => String::new(),
        },
        outputs: results.iter().flat_map(|r| r.outputs.iter().cloned()).collect(),
        // The merged document is the whole run.
        run: first.run.clone().map(|id| super::identity::RunIdentity { shard: 1, shards: 1, ..id }),
        monitor: merged_monitor(results),
        paused_s,
        control: merged_control(results, start_ms),
    })
}

/// Every shard's changes by hand (`--control`), on the merged clock, in time order.
fn merged_control(results: &[RunResult], start_ms: u64) -> Vec<crate::engine::control::ControlEvent> {
    let mut all: Vec<_> = results
        .iter()
        .flat_map(|r| {
            let offset = r.started_at_unix_ms.saturating_sub(start_ms) as f64 / 1000.0;
            r.control.iter().map(move |e| crate::engine::control::ControlEvent { t: round3(e.t + offset), ..e.clone() })
        })
        .collect();
    all.sort_by(|a, b| a.t.total_cmp(&b.t));
    all
}

/// Each step of the shards merged: histograms added, counters summed (the breakdown by user type
/// carries no histograms, so it is not merged).
fn merged_steps(
    results: &[RunResult],
    duration_s: f64,
    service_dropped: &mut bool,
) -> Result<(Vec<StepResult>, Vec<Histogram<u64>>), String> {
    let first = &results[0];
    let mut steps = Vec::with_capacity(first.steps.len());
    let mut histograms = Vec::with_capacity(first.steps.len());
    for (j, step) in first.steps.iter().enumerate() {
        let h = add_histograms(
            results
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("{}, step `{}`", label(i, r), step.name), r.steps[j].histogram.as_str())),
        )?;
        let summary = merge_summaries(results.iter().map(|r| &r.steps[j].summary), &h, duration_s, service_dropped);
        steps.push(StepResult {
            name: step.name.clone(),
            summary,
            histogram: encode_histogram(&h),
            // The longest any shard ran it (as scenarios).
            duration_s: results.iter().filter_map(|r| r.steps[j].duration_s).reduce(f64::max),
            by_user: Default::default(),
        });
        histograms.push(h);
    }
    Ok((steps, histograms))
}

/// `result 2 (shard 2/4)`: how errors and warnings name an input.
fn label(i: usize, r: &RunResult) -> String {
    match &r.load.shard {
        Some(s) => format!("result {} (shard {s})", i + 1),
        None => format!("result {}", i + 1),
    }
}

fn end_ms(r: &RunResult) -> u64 {
    r.started_at_unix_ms + (r.duration_s.max(0.0) * 1000.0).round() as u64
}

/// Refuse inputs that are not parts of one run; the warnings for what merges but is odd.
fn check(results: &[RunResult]) -> Result<Vec<String>, String> {
    let first = &results[0];
    let mut warnings = Vec::new();
    let mut shards: Vec<(usize, u64, u64)> = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let who = label(i, r);
        if r.schema != SCHEMA {
            return Err(format!("{who}: schema `{}`, this stampede merges `{SCHEMA}`", r.schema));
        }
        if r.capacity.is_some() {
            return Err(format!("{who} is a capacity result: capacity searches are not sharded, so they do not merge"));
        }
        if r.command != first.command {
            return Err(format!(
                "{who} comes from `stampede {}`, {} from `stampede {}`: only the shards of one run merge",
                r.command,
                label(0, first),
                first.command
            ));
        }
        if r.load.model != first.load.model {
            return Err(format!(
                "{who} ran the {} model, {} the {} model: only the shards of one run merge",
                r.load.model,
                label(0, first),
                first.load.model
            ));
        }
        let names = |r: &RunResult| r.steps.iter().map(|s| format!("`{}`", s.name)).collect::<Vec<_>>().join(", ");
        if r.steps.len() != first.steps.len() || r.steps.iter().zip(&first.steps).any(|(a, b)| a.name != b.name) {
            return Err(format!(
                "{who} has steps [{}] but {} has [{}]: only the shards of one scenario merge",
                names(r),
                label(0, first),
                names(first)
            ));
        }
        if let Some(j) = results[..i].iter().position(|o| o == r) {
            return Err(format!("{} and {who} are the same document given twice", label(j, &results[j])));
        }
        // Whether they are shards of one run, each once, is `identity::not_one_run`'s to say
        // (`merge --force` merges them anyway).
        if let Some(s) = &r.load.shard {
            let (index, count) =
                parse_shard(s).ok_or_else(|| format!("{who}: `load.shard` is `{s}`, expected i/N such as 1/2"))?;
            shards.push((i, index, count));
        }
        if r.target != first.target {
            warnings.push(format!(
                "merged: {who} ran against {}, {} against {}",
                r.target,
                label(0, first),
                first.target
            ));
        } else if r.name != first.name {
            warnings.push(format!("merged: {who} is named `{}`, {} `{}`", r.name, label(0, first), first.name));
        }
    }
    if let Some(&(_, _, count)) = shards.first() {
        if shards.len() as u64 != count || shards.len() != results.len() {
            warnings.push(format!(
                "merged: {} results of which {} are shards of a run split in {count}: the merged run is not the whole run",
                results.len(),
                shards.len()
            ));
        }
    }
    Ok(warnings)
}

/// `2/4` → (2, 4).
fn parse_shard(s: &str) -> Option<(u64, u64)> {
    let (i, n) = s.split_once('/')?;
    let (i, n) = (i.trim().parse().ok()?, n.trim().parse().ok()?);
    (i >= 1 && i <= n).then_some((i, n))
}

/// The sum of base64 histograms, each named for errors.
fn add_histograms<'a>(parts: impl Iterator<Item = (String, &'a str)>) -> Result<Histogram<u64>, String> {
    // Auto-resizing, so it takes any range the parts have.
    let mut sum = crate::stats::histogram();
    for (who, text) in parts {
        let h = decode_histogram(text).map_err(|e| format!("{who}: {e}"))?;
        sum.add(&h).map_err(|e| format!("{who}: histogram does not add: {e:?}"))?;
    }
    Ok(sum)
}

/// Counters summed, latency from the merged histogram, rate over the merged span.
fn merge_summaries<'a>(
    parts: impl Iterator<Item = &'a Summary>,
    h: &Histogram<u64>,
    duration_s: f64,
    service_dropped: &mut bool,
) -> Summary {
    let mut m = Summary { latency_us: super::result::Latency::of(h), ..Summary::default() };
    let add = |into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>| {
        for (k, n) in from {
            *into.entry(k.clone()).or_insert(0) += n;
        }
    };
    for s in parts {
        m.requests += s.requests;
        m.errors += s.errors;
        m.bytes_in += s.bytes_in;
        m.bytes_out += s.bytes_out;
        m.checks += s.checks;
        m.checks_failed += s.checks_failed;
        m.skipped += s.skipped;
        m.redirects += s.redirects;
        add(&mut m.status, &s.status);
        add(&mut m.errors_by_kind, &s.errors_by_kind);
        add(&mut m.error_reasons, &s.error_reasons);
        add(&mut m.protocols, &s.protocols);
        *service_dropped |= s.service_us.is_some();
    }
    m.rps = round2(m.requests as f64 / duration_s);
    m
}

/// Every threshold of any input (once per expression, step, scenario and window), judged on the
/// merged data as a single run judges its own ([`Merged`]).
fn thresholds(
    results: &[RunResult],
    total: Part,
    (steps, step_histograms): (&[StepResult], &[Histogram<u64>]),
    (scenarios, scenario_histograms): (&[ScenarioResult], &[Histogram<u64>]),
    timeline: &[TimelineRow],
) -> Result<Vec<ThresholdResult>, String> {
    let merged = Merged {
        timeline,
        total,
        steps: steps
            .iter()
            .zip(step_histograms)
            .map(|(s, h)| Part { summary: &s.summary, latency: h, seconds: s.duration_s.unwrap_or(total.seconds) })
            .collect(),
        scenarios: scenarios
            .iter()
            .zip(scenario_histograms)
            .map(|(s, h)| Part { summary: &s.totals.summary, latency: h, seconds: s.duration_s })
            .collect(),
        metrics: metrics(results)?
            .iter()
            .map(|(name, m)| Ok((name.clone(), m.to_stats()?)))
            .collect::<Result<_, String>>()?,
        series: merged_series(results),
    };
    let mut out: Vec<ThresholdResult> = Vec::new();
    for (i, r) in results.iter().enumerate() {
        for th in &r.thresholds {
            let same = |o: &ThresholdResult| {
                o.expr == th.expr && o.step == th.step && o.scenario == th.scenario && o.during == th.during
            };
            if out.iter().any(same) {
                continue;
            }
            let whose = |what: &str, name: &str| {
                format!("{}: threshold `{}` {what} `{name}`, which the result does not have", label(i, r), th.expr)
            };
            let rule = threshold::parse(&th.expr)
                .map_err(|e| format!("{}: threshold `{}` does not parse: {e}", label(i, r), th.expr))?;
            if let Some(name) = rule.metric_name() {
                if !merged.metrics.contains_key(name) && !merged.series.contains_key(name) {
                    return Err(whose("names metric", name));
                }
            }
            let on = match (&th.scenario, &th.step) {
                (Some(name), _) => On::Scenario(
                    scenarios.iter().position(|s| &s.name == name).ok_or_else(|| whose("is on scenario", name))?,
                ),
                (None, Some(name)) => {
                    On::Step(steps.iter().position(|s| &s.name == name).ok_or_else(|| whose("is on step", name))?)
                }
                (None, None) => On::Run,
            };
            let shift =
                th.scenario.as_ref().and_then(|n| scenarios.iter().find(|s| &s.name == n)).map_or(0.0, |s| s.start_s);
            let scope = Scope { on, warn: th.level.as_deref() == Some("warn"), ..Scope::RUN };
            let scope = drift_and_recovery(&rule, th, shift).map_or(scope, |(window, base, watch)| Scope {
                window,
                base,
                watch,
                ..scope
            });
            if th.during.is_some() && rule.form == threshold::Form::Bound {
                // A window: the shards' data of it together, measured again.
                let parts = by_start(results).into_iter().flat_map(|r| &r.thresholds).filter(|o| same(o));
                let Some(parts) = parts.map(|o| o.window.as_ref()).collect::<Option<Vec<_>>>() else {
                    return Err(format!(
                        "{}: threshold `{}` (during {}) carries no window data to merge: its result was written by an older stampede",
                        label(i, r),
                        th.expr,
                        th.during.as_deref().unwrap_or_default()
                    ));
                };
                let window = super::window::WindowData::merge(parts.iter().copied())?;
                let scope = Scope { window: Some(window.span), ..scope };
                let verdict = rule.judge(&window, &scope);
                out.push(ThresholdResult {
                    expr: th.expr.clone(),
                    step: th.step.clone(),
                    scenario: th.scenario.clone(),
                    during: th.during.clone(),
                    window: Some(window.data()),
                    ..ThresholdResult::of(&rule, &verdict, &scope)
                });
                continue;
            }
            let verdict = rule.judge(&merged, &scope);
            out.push(ThresholdResult {
                expr: th.expr.clone(),
                step: th.step.clone(),
                scenario: th.scenario.clone(),
                during: th.during.clone(),
                baseline_during: th.baseline_during.clone(),
                after: th.after.clone(),
                ..ThresholdResult::of(&rule, &verdict, &scope)
            });
        }
    }
    Ok(out)
}

/// Where a drift or a recovery of a shard's document is judged on the merged run: a drift's two
/// windows (as written, from its scenario's start `shift`), a recovery's `after_s` and `hold_s` as
/// the shard recorded them. `None` for other thresholds.
fn drift_and_recovery(
    rule: &threshold::Threshold,
    th: &ThresholdResult,
    shift: f64,
) -> Option<(Option<Span>, Option<Span>, Option<Watch>)> {
    let at = |(from, to): threshold::Window| Span { from: from.as_secs_f64() + shift, to: to.as_secs_f64() + shift };
    match &rule.form {
        threshold::Form::Bound => None,
        threshold::Form::Drift { window, base_window, .. } => Some((Some(at(*window)), Some(at(*base_window)), None)),
        threshold::Form::Recovery { .. } => {
            let get = |name: &str, or: f64| th.extra.get(name).copied().unwrap_or(or);
            Some((None, None, Some(Watch { after_s: get("after_s", 0.0), hold_s: get("hold_s", 5.0) })))
        }
    }
}

/// A merged total, step or scenario: its counts, its latency, and the seconds it ran.
#[derive(Clone, Copy)]
struct Part<'a> {
    summary: &'a Summary,
    latency: &'a Histogram<u64>,
    seconds: f64,
}

impl<'a> Part<'a> {
    fn observed(&self) -> Observed<'a> {
        let s = self.summary;
        Observed {
            latency: self.latency,
            requests: s.requests,
            errors: s.errors,
            checks: s.checks,
            checks_failed: s.checks_failed,
            duration_s: self.seconds,
        }
    }
}

/// The shards merged, as thresholds measure them: what a single run of them all would have
/// observed.
struct Merged<'a> {
    /// The merged seconds: what a recovery watches, and a drift's windows are measured on.
    timeline: &'a [TimelineRow],
    total: Part<'a>,
    steps: Vec<Part<'a>>,
    scenarios: Vec<Part<'a>>,
    metrics: indexmap::IndexMap<String, crate::stats::metric::MetricStats>,
    series: indexmap::IndexMap<String, crate::monitor::SeriesSummary>,
}

impl Source for Merged<'_> {
    fn timeline(&self) -> Option<&[TimelineRow]> {
        Some(self.timeline)
    }

    fn is_rate(&self, name: &str) -> bool {
        matches!(self.metrics.get(name), Some(crate::stats::metric::MetricStats::Rate { .. }))
    }

    fn measure(&self, ask: &Ask) -> Reading {
        if let Some(w) = ask.window {
            // The documents keep each second, not each window's histogram: measured on the
            // merged seconds ([`seconds::over_window`]).
            let rate = seconds::IsRate(matches!(ask.measure, Measure::Custom { name, .. } if self.is_rate(name)));
            let window = (Duration::from_secs_f64(w.from), Duration::from_secs_f64(w.to));
            return Reading {
                value: seconds::over_window(ask.measure, self.timeline, ask.on, window, rate),
                window: Some(w),
            };
        }
        let data = match ask.measure {
            Measure::Custom { name, .. } => match (self.series.get(name), self.metrics.get(name)) {
                (Some(s), _) => Data::Series(s),
                (None, Some(m)) => Data::Metric(m),
                (None, None) => Data::Nothing(NoData::NOT_HERE),
            },
            _ => {
                let part = match ask.on {
                    On::Run => Some(&self.total),
                    On::Step(j) => self.steps.get(j),
                    On::Scenario(j) => self.scenarios.get(j),
                };
                part.map_or(Data::Nothing(NoData::NOT_HERE), |p| Data::Requests(p.observed()))
            }
        };
        Reading { value: measure_on(ask.measure, &data), window: ask.window }
    }
}

/// The shards in the order they started.
fn by_start(results: &[RunResult]) -> Vec<&RunResult> {
    let mut by_start: Vec<&RunResult> = results.iter().collect();
    by_start.sort_by_key(|r| r.started_at_unix_ms);
    by_start
}

/// Each watched series over the merged run: the samples of every shard that watched it (the same
/// service seen from every box, or each box's own), taken together in the order the shards started.
fn merged_series(results: &[RunResult]) -> indexmap::IndexMap<String, crate::monitor::SeriesSummary> {
    let by_start = by_start(results);
    let mut names: Vec<&String> = Vec::new();
    for r in &by_start {
        for name in r.monitor.iter().flat_map(|m| m.series.keys()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let parts = by_start.iter().filter_map(|r| r.monitor.as_ref()?.series.get(name));
            (name.clone(), crate::monitor::SeriesSummary::pool(parts))
        })
        .collect()
}

/// The named scenarios of the shards together (every shard has the same ones, in the same
/// order): histograms added, counters summed, each over its longest duration.
fn scenarios(results: &[RunResult]) -> Result<(Vec<ScenarioResult>, Vec<Histogram<u64>>), String> {
    let first = &results[0];
    for (i, r) in results.iter().enumerate() {
        let names = |r: &RunResult| r.scenarios.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        if names(r) != names(first) {
            return Err(format!(
                "{} has scenarios {:?} where {} has {:?}: only shards of one run merge",
                label(i, r),
                names(r),
                label(0, first),
                names(first)
            ));
        }
    }
    let mut out = Vec::new();
    let mut histograms = Vec::new();
    for (j, sc) in first.scenarios.iter().enumerate() {
        let h =
            add_histograms(results.iter().enumerate().map(|(i, r)| {
                (format!("{}, scenario `{}`", label(i, r), sc.name), r.scenarios[j].histogram.as_str())
            }))?;
        let secs = results.iter().map(|r| r.scenarios[j].duration_s).fold(0.0, f64::max).max(1e-3);
        let mut service_dropped = false;
        let summary =
            merge_summaries(results.iter().map(|r| &r.scenarios[j].totals.summary), &h, secs, &mut service_dropped);
        let sum = |f: fn(&Totals) -> u64| results.iter().map(|r| f(&r.scenarios[j].totals)).sum();
        out.push(ScenarioResult {
            name: sc.name.clone(),
            executor: sc.executor.clone(),
            start_s: sc.start_s,
            duration_s: round3(secs),
            totals: Totals {
                summary,
                unfinished: sum(|t| t.unfinished),
                dropped_iterations: sum(|t| t.dropped_iterations),
                iterations: sum(|t| t.iterations),
                data_exhausted: sum(|t| t.data_exhausted),
            },
            histogram: encode_histogram(&h),
            thresholds: Vec::new(),
        });
        histograms.push(h);
    }
    Ok((out, histograms))
}

/// Add one shard's per-scenario (or per-step) second into the merged one: counts summed,
/// percentiles the highest.
fn add_seconds(into: &mut Vec<StepSecond>, from: &[StepSecond]) {
    if into.len() < from.len() {
        into.resize(from.len(), StepSecond { requests: 0, errors: 0, p50_us: 0, p95_us: 0, p99_us: 0 });
    }
    for (a, b) in into.iter_mut().zip(from) {
        a.requests += b.requests;
        a.errors += b.errors;
        a.p50_us = a.p50_us.max(b.p50_us);
        a.p95_us = a.p95_us.max(b.p95_us);
        a.p99_us = a.p99_us.max(b.p99_us);
    }
}

/// The metrics of the user's own, merged exactly (rates by hits and totals, counters summed,
/// trends by their histograms); every shard has the same ones.
fn metrics(results: &[RunResult]) -> Result<indexmap::IndexMap<String, crate::report::metric::MetricSummary>, String> {
    let mut out = results[0].metrics.clone();
    for (i, r) in results.iter().enumerate().skip(1) {
        if r.metrics.keys().ne(out.keys()) {
            return Err(format!(
                "{} has other metrics than {}: only shards of one run merge",
                label(i, r),
                label(0, &results[0])
            ));
        }
        for (name, m) in &r.metrics {
            out.get_mut(name)
                .expect("same keys")
                .merge(m)
                .map_err(|e| format!("{}: metric `{name}`: {e}", label(i, r)))?;
        }
    }
    Ok(out)
}

/// The generators together: CPU, memory and workers summed, the worst lag and busiest worker,
/// saturated when any was, every warning prefixed with its shard.
fn generator(results: &[RunResult], mut warnings: Vec<String>) -> GeneratorInfo {
    for (i, r) in results.iter().enumerate() {
        let who = label(i, r);
        warnings.extend(r.generator.warnings.iter().map(|w| format!("{who}: {w}")));
    }
    let g = results.iter().map(|r| &r.generator);
    GeneratorInfo {
        // One path when every shard took it, else each shard's.
        io: {
            let mut paths: Vec<&str> = results.iter().map(|r| r.generator.io.as_str()).collect();
            paths.dedup();
            paths.join(",")
        },
        cpu_percent: round2(g.clone().map(|g| g.cpu_percent).sum()),
        rss_bytes: g.clone().map(|g| g.rss_bytes).sum(),
        peak_rss_bytes: g.clone().map(|g| g.peak_rss_bytes).sum(),
        workers: g.clone().map(|g| g.workers).sum(),
        worker_cpu_s: g.clone().flat_map(|g| g.worker_cpu_s.iter().copied()).collect(),
        busiest_worker_cpu_percent: g.clone().map(|g| g.busiest_worker_cpu_percent).fold(0.0, f64::max),
        busiest_worker_wait_percent: g.clone().map(|g| g.busiest_worker_wait_percent).fold(0.0, f64::max),
        schedule_lag_p99_us: g.clone().map(|g| g.schedule_lag_p99_us).max().unwrap_or(0),
        saturated: g.clone().any(|g| g.saturated),
        sources: crate::report::sources::merge_sources(g.clone().map(|g| g.sources.as_slice())),
        targets: crate::report::sources::merge_targets(g.clone().map(|g| g.targets.as_slice())),
        warnings,
    }
}

/// The shards' timelines on one clock (see [`merge`]).
fn timeline(results: &[RunResult], start_ms: u64) -> Vec<TimelineRow> {
    let mut seconds: BTreeMap<u64, TimelineRow> = BTreeMap::new();
    for r in results {
        let offset = ((r.started_at_unix_ms - start_ms) as f64 / 1000.0).round() as u64;
        for row in &r.timeline {
            // The second the row measured: its interval ends at `t` and lasts `interval_s` (a
            // late snapshot's interval is clamped to 1 s; the margin keeps a tiny one in place).
            let second = (row.t - row.interval_s + 0.01).floor().max(0.0) as u64;
            let k = offset + second;
            let end = (row.t - second as f64).max(0.0);
            let m = seconds.entry(k).or_insert_with(|| TimelineRow {
                t: 0.0,
                interval_s: 0.0,
                requests: 0,
                rps: 0.0,
                errors: 0,
                bytes_in: 0,
                p50_us: 0,
                p95_us: 0,
                p99_us: 0,
                max_us: 0,
                active_users: 0,
                in_flight: 0,
                dropped: 0,
                lag_p99_us: 0,
                worker_cpu_max: 0.0,
                worker_wait_max: 0.0,
                paused: 0.0,
                steps: Vec::new(),
                scenarios: Vec::new(),
                metrics: Default::default(),
                monitor: Default::default(),
            });
            m.t = m.t.max(round3(k as f64 + end));
            m.interval_s = m.interval_s.max(row.interval_s);
            m.requests += row.requests;
            m.rps = round2(m.rps + row.rps);
            m.errors += row.errors;
            m.bytes_in += row.bytes_in;
            m.p50_us = m.p50_us.max(row.p50_us);
            m.p95_us = m.p95_us.max(row.p95_us);
            m.p99_us = m.p99_us.max(row.p99_us);
            m.max_us = m.max_us.max(row.max_us);
            m.active_users += row.active_users;
            m.in_flight += row.in_flight;
            m.dropped += row.dropped;
            m.lag_p99_us = m.lag_p99_us.max(row.lag_p99_us);
            m.worker_cpu_max = m.worker_cpu_max.max(row.worker_cpu_max);
            m.worker_wait_max = m.worker_wait_max.max(row.worker_wait_max);
            m.paused = m.paused.max(row.paused);
            add_seconds(&mut m.scenarios, &row.scenarios);
            // Metric seconds carry no kind: the highest of the shards' values, like percentiles.
            for (name, v) in &row.metrics {
                let e = m.metrics.entry(name.clone()).or_insert(0.0);
                *e = e.max(*v);
            }
            add_seconds(&mut m.steps, &row.steps);
        }
    }
    seconds.into_values().collect()
}

/// Each shard's watched series, kept apart: monitoring is per box, and one box's CPU does not add
/// to another's.
fn merged_monitor(results: &[RunResult]) -> Option<crate::monitor::MonitorResult> {
    let first = results.iter().find_map(|r| r.monitor.as_ref())?;
    let shards = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let m = r.monitor.as_ref()?;
            let shard = r.load.shard.clone().unwrap_or_else(|| format!("{}", i + 1));
            Some(crate::monitor::ShardMonitor { shard, series: m.series.clone() })
        })
        .collect();
    Some(crate::monitor::MonitorResult { interval_s: first.interval_s, series: Default::default(), shards })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{STARTED_AT_UNIX_MS, sample};
    use crate::stats::record;

    /// Deterministic pseudo-random latencies (µs), spread over several decades.
    fn latencies(seed: u64, n: usize) -> Vec<u64> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let r = (x >> 33) % 1_000_000;
                50 + r * r / 10_000 // 50 µs .. 100 s, skewed low
            })
            .collect()
    }

    fn shard(i: u64, n: u64, steps: &[(&str, &[u64])], seconds: usize, started_ms: u64) -> RunResult {
        let mut r = sample(steps, seconds);
        r.load.shard = Some(format!("{i}/{n}"));
        r.started_at_unix_ms = started_ms;
        r
    }

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = crate::stats::histogram();
        values.into_iter().for_each(|v| record(&mut h, v));
        h
    }

    fn assert_same_histogram(got: &Histogram<u64>, want: &Histogram<u64>) {
        assert_eq!(got.len(), want.len());
        assert_eq!((got.min(), got.max()), (want.min(), want.max()));
        for q in (0..=1000).map(|i| i as f64 / 1000.0).chain([0.9999, 0.99999]) {
            assert_eq!(got.value_at_quantile(q), want.value_at_quantile(q), "quantile {q}");
        }
    }

    #[test]
    fn every_shards_changes_by_hand_are_kept_on_the_merged_clock() {
        let e = crate::engine::control::ControlEvent::bare;
        let mut a = shard(1, 2, &[("s", &[1000])], 4, 1_700_000_000_000);
        let mut b = shard(2, 2, &[("s", &[1000])], 4, 1_700_000_000_500);
        a.control = vec![e(2.0, "pause"), e(3.0, "resume")];
        a.paused_s = 1.0;
        b.control = vec![e(1.0, "stop")];
        let m = merge(&[a, b]).unwrap();
        let got: Vec<(f64, &str)> = m.control.iter().map(|e| (e.t, e.action.as_str())).collect();
        assert_eq!(got, [(1.5, "stop"), (2.0, "pause"), (3.0, "resume")]);
        assert_eq!(m.paused_s, 1.0);
        // The merged rate is over the time the load ran: 4.5 s from first start to last end, less
        // the 1 s paused (it was over the whole 4.5 s before).
        assert_eq!(m.duration_s, 4.5);
        assert_eq!(m.totals.summary.rps, round2(m.totals.summary.requests as f64 / 3.5));
    }

    #[test]
    fn histograms_add_exactly_and_counters_sum() {
        let (a1, a2, b1, b2) = (latencies(1, 3000), latencies(2, 500), latencies(3, 2000), latencies(4, 1500));
        let mut a = shard(1, 2, &[("login", &a1), ("browse, \"all\"", &a2)], 3, STARTED_AT_UNIX_MS);
        let mut b = shard(2, 2, &[("login", &b1), ("browse, \"all\"", &b2)], 3, STARTED_AT_UNIX_MS + 250);
        a.totals.summary.errors = 3;
        a.totals.summary.errors_by_kind.insert("timeout".into(), 3);
        b.totals.summary.errors_by_kind.insert("timeout".into(), 2);
        b.totals.summary.errors_by_kind.insert("connect".into(), 1);
        b.totals.summary.status.insert("503".into(), 7);
        a.totals.summary.error_reasons.insert("timeout: read".into(), 3);
        b.totals.summary.error_reasons.insert("timeout: read".into(), 2);
        a.totals.unfinished = 2;
        b.totals.dropped_iterations = 5;
        a.totals.summary.checks = 10;
        b.totals.summary.checks_failed = 1;
        b.totals.summary.checks = 20;
        a.generator = GeneratorInfo { cpu_percent: 50.0, rss_bytes: 100, warnings: vec!["slow".into()], ..a.generator };
        b.generator = GeneratorInfo { cpu_percent: 70.0, rss_bytes: 200, saturated: true, workers: 2, ..b.generator };
        let m = merge(&[a.clone(), b.clone()]).unwrap();

        let all = hist(a1.iter().chain(&a2).chain(&b1).chain(&b2).copied());
        assert_same_histogram(&m.latency_histogram().unwrap(), &all);
        assert_eq!(m.totals.summary.latency_us, super::super::result::Latency::of(&all));
        let login = decode_histogram(&m.steps[0].histogram).unwrap();
        assert_same_histogram(&login, &hist(a1.iter().chain(&b1).copied()));
        assert_eq!(m.steps[1].name, "browse, \"all\"");
        assert_eq!(m.steps[1].summary.requests, 2000);

        let t = &m.totals.summary;
        assert_eq!(t.requests, a.totals.summary.requests + b.totals.summary.requests);
        assert_eq!(t.requests, 7000);
        assert_eq!((t.errors, t.bytes_in, t.bytes_out), (3, 700_000, 350_000));
        assert_eq!(t.status.get("200"), Some(&7000));
        assert_eq!(t.status.get("503"), Some(&7));
        assert_eq!(t.errors_by_kind.get("timeout"), Some(&5));
        assert_eq!(t.errors_by_kind.get("connect"), Some(&1));
        assert_eq!(t.error_reasons.get("timeout: read"), Some(&5));
        assert_eq!((t.checks, t.checks_failed), (30, 1));
        assert_eq!((m.totals.unfinished, m.totals.dropped_iterations), (2, 5));
        // From the earliest start to the latest end: 3.25 s.
        assert_eq!(m.duration_s, 3.25);
        assert_eq!(t.rps, round2(7000.0 / 3.25));
        assert_eq!(m.started_at_unix_ms, STARTED_AT_UNIX_MS);
        assert_eq!((m.load.users, m.load.workers, m.load.shard.clone()), (4, 2, None));
        let g = &m.generator;
        assert_eq!((g.cpu_percent, g.rss_bytes, g.workers, g.saturated), (120.0, 300, 3, true));
        assert_eq!(g.warnings, ["result 1 (shard 1/2): slow"]);
    }

    #[test]
    fn protocols_add_up_in_totals_and_steps() {
        let v = [1000u64, 2000, 3000];
        let mut a = shard(1, 2, &[("s", &v)], 1, STARTED_AT_UNIX_MS);
        let mut b = shard(2, 2, &[("s", &v)], 1, STARTED_AT_UNIX_MS);
        a.totals.summary.protocols.insert("h2".into(), 3);
        a.steps[0].summary.protocols.insert("h2".into(), 3);
        b.totals.summary.protocols.insert("h2".into(), 1);
        b.totals.summary.protocols.insert("http/1.1".into(), 2);
        b.steps[0].summary.protocols.insert("h2".into(), 1);
        b.steps[0].summary.protocols.insert("http/1.1".into(), 2);
        let m = merge(&[a, b]).unwrap();
        let want: BTreeMap<String, u64> = [("h2".to_string(), 4), ("http/1.1".to_string(), 2)].into();
        assert_eq!(m.totals.summary.protocols, want);
        assert_eq!(m.steps[0].summary.protocols, want);
        // Shards that spoke nothing (old results) leave it out.
        let none = merge(&[
            shard(1, 2, &[("s", &v)], 1, STARTED_AT_UNIX_MS),
            shard(2, 2, &[("s", &v)], 1, STARTED_AT_UNIX_MS),
        ]);
        assert!(none.unwrap().totals.summary.protocols.is_empty());
    }

    #[test]
    fn timelines_align_by_wall_clock() {
        let v: Vec<u64> = (1..=300).map(|i| i * 100).collect();
        let a = shard(1, 2, &[("s", &v)], 3, STARTED_AT_UNIX_MS);
        let mut b = shard(2, 2, &[("s", &v[..30])], 3, STARTED_AT_UNIX_MS + 1000);
        // Real rows end a few ms after each second and the last one is partial.
        b.timeline[0].t = 1.004;
        b.timeline[1].t = 1.999; // an early snapshot: still second 1
        b.timeline[2].t = 2.4;
        b.timeline[2].interval_s = 0.4;
        b.timeline[1].p99_us = 99_999;
        b.timeline[1].lag_p99_us = 7;
        b.duration_s = 2.4;
        let m = merge(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.timeline.len(), 4, "{:#?}", m.timeline);
        let req: Vec<u64> = m.timeline.iter().map(|r| r.requests).collect();
        assert_eq!(req, [100, 100 + 10, 100 + 10, 10]);
        let ts: Vec<f64> = m.timeline.iter().map(|r| r.t).collect();
        assert_eq!(ts, [1.0, 2.004, 3.0, 3.4]);
        assert_eq!(m.timeline[3].interval_s, 0.4);
        let second = &m.timeline[2];
        assert_eq!((second.active_users, second.in_flight, second.rps), (4, 2, 110.0));
        assert_eq!(second.p99_us, 99_999, "the highest of the shards'");
        assert_eq!(second.lag_p99_us, 7);
        assert_eq!(m.timeline.iter().map(|r| r.requests).sum::<u64>(), 330);
        assert_eq!(m.duration_s, 3.4);
    }

    #[test]
    fn per_step_seconds_sum() {
        let v = [1000u64, 2000, 3000];
        let mut a = shard(1, 2, &[("x", &v), ("y", &v)], 1, STARTED_AT_UNIX_MS);
        let mut b = shard(2, 2, &[("x", &v), ("y", &v)], 1, STARTED_AT_UNIX_MS + 100);
        a.timeline[0].steps = vec![StepSecond { requests: 3, errors: 1, p50_us: 10, p95_us: 20, p99_us: 30 }; 2];
        b.timeline[0].steps = vec![StepSecond { requests: 4, errors: 0, p50_us: 5, p95_us: 25, p99_us: 25 }; 2];
        let m = merge(&[a, b]).unwrap();
        assert_eq!(m.timeline.len(), 1);
        assert_eq!(m.timeline[0].steps[1], StepSecond { requests: 7, errors: 1, p50_us: 10, p95_us: 25, p99_us: 30 });
    }

    #[test]
    fn thresholds_are_measured_again_on_the_merged_data() {
        let fast: Vec<u64> = vec![1000; 90];
        let slow: Vec<u64> = vec![50_000; 10];
        let th = |expr: &str, ok: bool, step: Option<&str>| ThresholdResult {
            ok,
            step: step.map(String::from),
            ..ThresholdResult::bare(expr, 0.0, "ms")
        };
        let mut a = shard(1, 2, &[("s", &fast)], 10, STARTED_AT_UNIX_MS);
        let mut b = shard(2, 2, &[("s", &slow)], 10, STARTED_AT_UNIX_MS);
        // Each shard alone passes `p(95) < 10ms` on its own (a) or fails it (b); together 10%
        // are slow, so p(95) is slow.
        a.thresholds = vec![th("p(95) < 10ms", true, None), th("rps > 9", true, Some("s"))];
        b.thresholds = vec![th("p(95) < 10ms", false, None), th("requests >= 100", false, Some("s"))];
        let m = merge(&[a, b]).unwrap();
        let got: Vec<(&str, bool, f64, &str)> =
            m.thresholds.iter().map(|t| (t.expr.as_str(), t.ok, t.value.unwrap(), t.unit.as_str())).collect();
        assert_eq!(
            got,
            [
                ("p(95) < 10ms", false, 50.015, "ms"),
                ("rps > 9", true, 10.0, "req/s"),
                ("requests >= 100", true, 100.0, "")
            ]
        );
        assert_eq!(m.thresholds[2].step.as_deref(), Some("s"));

        // A warning stays a warning once merged (it was judged as a plain threshold: the merged
        // run failed on it).
        let warn = ThresholdResult { level: Some("warn".into()), ..th("p(99) < 10ms", false, None) };
        let mut a = shard(1, 2, &[("s", &fast)], 10, STARTED_AT_UNIX_MS);
        let mut b = shard(2, 2, &[("s", &slow)], 10, STARTED_AT_UNIX_MS);
        (a.thresholds, b.thresholds) = (vec![warn.clone()], vec![warn]);
        let m = merge(&[a, b]).unwrap();
        let t = &m.thresholds[0];
        assert_eq!((t.ok, t.verdict(), t.fails_run()), (false, "WARN", false), "{t:?}");
    }

    #[test]
    fn drift_and_recovery_are_judged_again_on_the_merged_timeline() {
        let fast: Vec<u64> = vec![1000; 100];
        let mut a = shard(1, 2, &[("s", &fast)], 10, STARTED_AT_UNIX_MS);
        let mut b = shard(2, 2, &[("s", &fast)], 10, STARTED_AT_UNIX_MS);
        // Shard b was slow in seconds 3..6 of the run; a merged second takes the higher p50.
        for row in &mut b.timeline[3..6] {
            row.p50_us = 500_000;
        }
        let th = |expr: &str, extra: &[(&str, f64)]| ThresholdResult {
            extra: extra.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..ThresholdResult::bare(expr, 0.0, "ms")
        };
        let drift = "p(50) during 3s..6s < 1.5 * p(50) during 0s..3s";
        let back = "recovery(p(50) < 100ms) < 3s";
        let never = "recovery(p(50) < 0.5ms) < 3s";
        let watch = [("after_s", 6.0), ("hold_s", 2.0)];
        a.thresholds = vec![th(drift, &[]), th(back, &watch), th(never, &watch)];
        b.thresholds = a.thresholds.clone();
        let m = merge(&[a, b]).unwrap();
        let get = |expr: &str| m.thresholds.iter().find(|t| t.expr == expr).unwrap();
        let d = get(drift);
        assert_eq!(
            (d.ok, d.value, d.extra.get("baseline"), d.extra.get("ratio")),
            (false, Some(500.0), Some(&1.0), Some(&500.0))
        );
        let r = get(back);
        assert_eq!((r.ok, r.value, r.unit.as_str()), (true, Some(0.0), "s"), "{r:?}");
        let n = get(never);
        assert_eq!((n.ok, n.value, n.extra.get("watched_s")), (false, None, Some(&4.0)), "{n:?}");
        assert_eq!(n.reason.as_deref(), Some("never recovered: watched for 4s from 6s of the run"));
    }

    #[test]
    fn refuses_what_is_not_one_run() {
        let v = [1000u64];
        let a = shard(1, 2, &[("s", &v)], 1, STARTED_AT_UNIX_MS);
        let b = shard(2, 2, &[("s", &v)], 1, STARTED_AT_UNIX_MS);
        let refused = |rs: &[RunResult], want: &str| {
            let e = merge(rs).expect_err(want);
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        };
        refused(&[], "nothing to merge");
        refused(
            &[a.clone(), shard(2, 2, &[("t", &v)], 1, 0)],
            "result 2 (shard 2/2) has steps [`t`] but result 1 (shard 1/2) has [`s`]",
        );
        refused(&[a.clone(), shard(2, 2, &[("s", &v), ("t", &v)], 1, 0)], "has steps");
        refused(&[a.clone(), RunResult { command: "bench".into(), ..b.clone() }], "from `stampede bench`");
        let open = RunResult { load: LoadInfo { model: "open".into(), ..b.load.clone() }, ..b.clone() };
        refused(&[a.clone(), open], "open model");
        refused(&[a.clone(), RunResult { schema: "other/v9".into(), ..b.clone() }], "schema `other/v9`");
        refused(&[a.clone(), a.clone()], "same document given twice");
        let mut bad = b.clone();
        bad.histogram = "AAAA".into();
        refused(&[a.clone(), bad], "result 2 (shard 2/2): histogram does not decode");
        let mut bad = b.clone();
        bad.thresholds = vec![ThresholdResult {
            extra: Default::default(),
            baseline_during: None,
            after: None,
            window: None,
            expr: "p95 < 1".into(),
            ok: true,
            value: Some(0.0),
            unit: "".into(),
            step: None,
            scenario: None,
            during: None,
            level: None,
            reason: None,
        }];
        refused(&[a.clone(), bad], "threshold `p95 < 1` does not parse");
        let mut cap = b.clone();
        cap.capacity = Some(crate::capacity::CapacityResult {
            max_rps: 100.0,
            unit: "req/s".into(),
            interrupted: false,
            limited_by: "p(99) < 100ms".into(),
            slo: Vec::new(),
            steps: Vec::new(),
            searches: Vec::new(),
            spread: None,
        });
        refused(&[a.clone(), cap], "capacity result");
        assert!(merge(&[a, b]).is_ok());
    }

    #[test]
    fn odd_but_mergeable_inputs_are_warned_about() {
        let v = [1000u64];
        let a = shard(1, 3, &[("s", &v)], 1, STARTED_AT_UNIX_MS);
        let mut b = shard(2, 3, &[("s", &v)], 1, STARTED_AT_UNIX_MS);
        b.target = "http://elsewhere".into();
        b.totals.summary.service_us = Some(Default::default());
        let w = merge(&[a, b]).unwrap().generator.warnings;
        assert!(w.iter().any(|w| w.contains("split in 3: the merged run is not the whole run")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("ran against http://elsewhere")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("service-time percentiles")), "{w:?}");
    }

    #[test]
    fn one_result_merges_into_itself() {
        let v = latencies(9, 100);
        let a = sample(&[("s", &v)], 2);
        let m = merge(std::slice::from_ref(&a)).unwrap();
        assert_eq!(m.totals, a.totals);
        assert_eq!((m.steps[0].name.as_str(), &m.steps[0].summary), ("s", &a.steps[0].summary));
        assert_eq!(m.timeline, a.timeline);
        assert_same_histogram(&m.latency_histogram().unwrap(), &a.latency_histogram().unwrap());
    }
}
