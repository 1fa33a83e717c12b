//! The `[load]` table: executors, their keys (a key the executor does not use is refused), stages.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::{Compiler, DEFAULT_GRACEFUL_STOP, raw};

/// Fixed-iteration executors end at this time if iterations are left (k6's default).
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);
use crate::error::PlanError;
use crate::plan::{Curve, Load, Overflow, Scenario, Stage, ThresholdRule};

impl Compiler<'_> {
    /// The file's scenarios: its `[load]` as one scenario of every user type, or its
    /// `[scenarios.NAME]` tables in file order (with whether they were named, and their
    /// thresholds).
    pub(super) fn scenarios(&self, file: &raw::File) -> Result<(Vec<Scenario>, bool, Vec<ThresholdRule>), PlanError> {
        let all: Vec<usize> = (0..file.users.len()).collect();
        match (&file.load, &file.scenarios) {
            (Some(_), Some(s)) => self.err(
                s.values().next().map_or(0..0, |v| v.span()),
                "a file has either [load] (one scenario) or [scenarios.NAME] tables (several), not both",
            ),
            (None, None) => self.err(0..0, "no load: add a [load] table, or [scenarios.NAME] tables"),
            (Some(l), None) => {
                let spec = l.get_ref();
                let only_named = [
                    ("start_time", spec.start_time.as_ref().map(|v| v.span())),
                    ("users", spec.users.as_ref().map(|v| v.span())),
                    ("thresholds", spec.thresholds.first().map(|v| v.span())),
                ];
                if let Some((key, Some(span))) = only_named.into_iter().find(|(_, s)| s.is_some()) {
                    return self.err(
                        span,
                        format!("`{key}` belongs to a named scenario ([scenarios.NAME]); in [load] every user type runs from the start"),
                    );
                }
                let (load, graceful_stop) = self.load(l)?;
                let executor = l.get_ref().executor.get_ref().clone();
                let connections = self.connections(spec)?;
                let scenario = Scenario { graceful_stop, executor, connections, ..Scenario::of_all(load, all.len()) };
                Ok((vec![scenario], false, Vec::new()))
            }
            (None, Some(map)) => {
                if map.is_empty() {
                    return self.err(0..0, "[scenarios] is empty: add [scenarios.NAME] tables");
                }
                let names: Vec<&str> = file.users.iter().map(|u| u.get_ref().name.get_ref().trim()).collect();
                let mut scenarios = Vec::new();
                let mut thresholds = Vec::new();
                for (i, (name, spec)) in map.iter().enumerate() {
                    if name.trim().is_empty() {
                        return self.err(spec.span(), "a scenario needs a name: [scenarios.NAME]");
                    }
                    let (load, graceful_stop) = self.load(spec)?;
                    let s = spec.get_ref();
                    let start = match &s.start_time {
                        Some(t) => self.duration(t, "start_time")?,
                        None => Duration::ZERO,
                    };
                    let users = match &s.users {
                        None => all.clone(),
                        Some(list) => {
                            if list.get_ref().is_empty() {
                                return self.err(list.span(), format!("scenario `{name}` runs no user type"));
                            }
                            let mut users = Vec::new();
                            for u in list.get_ref() {
                                match names.iter().position(|n| *n == u.get_ref().trim()) {
                                    Some(t) => users.push(t),
                                    None => {
                                        return self.err(
                                            u.span(),
                                            format!(
                                                "unknown user type `{}` (known: {})",
                                                u.get_ref(),
                                                names.join(", ")
                                            ),
                                        );
                                    }
                                }
                            }
                            users
                        }
                    };
                    for t in &s.thresholds {
                        let expr = match t.get_ref() {
                            raw::ThresholdSpec::Expr(e) => e.as_str(),
                            raw::ThresholdSpec::Table(tt) => tt.expr.as_str(),
                        };
                        let words = expr.split(|c: char| !(c.is_alphanumeric() || c == '_'));
                        let metric = |w: &str| {
                            w == "iteration_duration" || file.metrics.as_ref().is_some_and(|m| m.contains_key(w))
                        };
                        if let Some(name) = words.into_iter().find(|w| metric(w)) {
                            return self.err(
                                t.span(),
                                format!("threshold `{expr}`: metric `{name}` is measured over the whole run; put this threshold in the top-level `thresholds`"),
                            );
                        }
                        let mut rule = self.threshold(t, None)?;
                        for (from, _) in [rule.during, rule.base_during].into_iter().flatten() {
                            if from >= load.duration() {
                                return self.err(
                                    t.span(),
                                    format!(
                                        "threshold `{expr}`: scenario `{name}` runs for {}: the window starts after it \
                                         (a scenario's windows count from its start_time), so it cannot hold any of its requests",
                                        crate::units::duration(load.duration())
                                    ),
                                );
                            }
                        }
                        // Counted from the scenario's start_time; measured in the run's seconds.
                        rule.map_times(|d| start + d);
                        thresholds.push(ThresholdRule { scenario: Some(i), ..rule });
                    }
                    let executor = s.executor.get_ref().clone();
                    let connections = self.connections(s)?;
                    scenarios.push(Scenario {
                        name: name.clone(),
                        executor,
                        load,
                        start,
                        graceful_stop,
                        users,
                        connections,
                    });
                }
                Ok((scenarios, true, thresholds))
            }
        }
    }

    /// `connections = N`: the scenario's users share N connections per worker as HTTP/2 streams.
    fn connections(&self, spec: &raw::LoadSpec) -> Result<Option<usize>, PlanError> {
        match &spec.connections {
            None => Ok(None),
            Some(n) if *n.get_ref() == 0 || *n.get_ref() > 100_000 => {
                self.err(n.span(), "connections must be between 1 and 100000")
            }
            Some(n) => Ok(Some(*n.get_ref() as usize)),
        }
    }

    pub(super) fn load(&self, l: &Spanned<raw::LoadSpec>) -> Result<(Load, Duration), PlanError> {
        let spec = l.get_ref();
        let exec = spec.executor.get_ref().as_str();
        let graceful = match &spec.graceful_stop {
            Some(g) => self.duration(g, "graceful_stop")?,
            None => DEFAULT_GRACEFUL_STOP,
        };
        self.executor_keys(spec)?;
        let load = match exec {
            "per-vu-iterations" | "shared-iterations" => self.iterations_load(l)?,
            "constant-vus" | "ramping-vus" => self.closed_load(l)?,
            _ => self.open_load(l)?,
        };
        Ok((load, graceful))
    }

    /// The executor is known, and no key is set that it does not use (refused rather than ignored).
    fn executor_keys(&self, spec: &raw::LoadSpec) -> Result<(), PlanError> {
        let exec = spec.executor.get_ref().as_str();
        // Refuse settings the chosen executor does not use, rather than ignore them.
        let used: &[&str] = match exec {
            "constant-vus" => &["vus", "duration"],
            "ramping-vus" => &["start_vus", "stages"],
            "constant-arrival-rate" => &["rate", "duration", "pre_allocated_vus", "max_vus"],
            "ramping-arrival-rate" => &["start_rate", "stages", "pre_allocated_vus", "max_vus"],
            "per-vu-iterations" | "shared-iterations" => &["vus", "iterations", "max_duration"],
            other => {
                return self.err(
                spec.executor.span(),
                format!("unknown executor `{other}` (use constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, per-vu-iterations or shared-iterations)"),
            );
            }
        };
        let present: [(&str, Option<Range<usize>>); 10] = [
            ("iterations", spec.iterations.as_ref().map(|v| v.span())),
            ("max_duration", spec.max_duration.as_ref().map(|v| v.span())),
            ("vus", spec.vus.as_ref().map(|v| v.span())),
            ("duration", spec.duration.as_ref().map(|v| v.span())),
            ("start_vus", spec.start_vus.as_ref().map(|v| v.span())),
            ("rate", spec.rate.as_ref().map(|v| v.span())),
            ("start_rate", spec.start_rate.as_ref().map(|v| v.span())),
            ("stages", spec.stages.as_ref().map(|v| v.span())),
            ("pre_allocated_vus", spec.pre_allocated_vus.as_ref().map(|v| v.span())),
            ("max_vus", spec.max_vus.as_ref().map(|v| v.span())),
        ];
        for (key, span) in present {
            if let Some(span) = span {
                if !used.contains(&key) {
                    return self.err(
                        span,
                        format!("`{key}` is not used by the {exec} executor (it uses {})", used.join(", ")),
                    );
                }
            }
        }
        Ok(())
    }

    /// `per-vu-iterations` and `shared-iterations`: a fixed number of iterations.
    fn iterations_load(&self, l: &Spanned<raw::LoadSpec>) -> Result<Load, PlanError> {
        let spec = l.get_ref();
        let exec = spec.executor.get_ref().as_str();
        let vus = spec.vus.as_ref().map_or(1, |v| *v.get_ref());
        if vus == 0 {
            return self.err(spec.vus.as_ref().map_or(l.span(), |v| v.span()), "vus must be at least 1");
        }
        let iterations = spec.iterations.as_ref().map_or(1, |v| *v.get_ref());
        if iterations == 0 {
            let span = spec.iterations.as_ref().map_or(l.span(), |v| v.span());
            return self.err(span, "iterations must be at least 1");
        }
        let max_duration = match &spec.max_duration {
            Some(d) => self.positive(d, "max_duration")?,
            None => DEFAULT_MAX_DURATION,
        };
        let shared = exec == "shared-iterations";
        if shared && iterations < vus {
            // Users beyond the iterations would never run one.
            let span = spec.iterations.as_ref().map_or(l.span(), |v| v.span());
            return self.err(span, format!("shared-iterations: {iterations} iterations for {vus} users leaves some users idle; use at least as many iterations as vus"));
        }
        Ok(Load::Iterations { users: vus, iterations, shared, max_duration })
    }

    /// `constant-vus` and `ramping-vus`: users loop over their journey (closed model).
    fn closed_load(&self, l: &Spanned<raw::LoadSpec>) -> Result<Load, PlanError> {
        let spec = l.get_ref();
        let exec = spec.executor.get_ref().as_str();
        let need = |what: &str| self.src.at(l.span(), format!("the {exec} executor needs `{what}`"));
        Ok(match exec {
            "constant-vus" => {
                let vus = spec.vus.as_ref().ok_or_else(|| need("vus"))?;
                if *vus.get_ref() == 0 {
                    return self.err(vus.span(), "vus must be at least 1");
                }
                let d = self.positive(spec.duration.as_ref().ok_or_else(|| need("duration"))?, "duration")?;
                Load::Closed { users: Curve::constant(*vus.get_ref() as f64, d) }
            }
            _ => {
                // ramping-vus
                let stages = self.stages(spec.stages.as_ref().ok_or_else(|| need("stages"))?, "users")?;
                let start = spec.start_vus.as_ref().map_or(0, |v| *v.get_ref()) as f64;
                let curve = Curve::new(start, stages);
                if curve.max() < 1.0 {
                    return self.err(l.span(), "ramping-vus never reaches 1 user");
                }
                Load::Closed { users: curve }
            }
        })
    }

    /// `constant-arrival-rate` and `ramping-arrival-rate`: iterations start on a schedule (open
    /// model), on users started on demand up to `max_vus`.
    fn open_load(&self, l: &Spanned<raw::LoadSpec>) -> Result<Load, PlanError> {
        let spec = l.get_ref();
        let exec = spec.executor.get_ref().as_str();
        let need = |what: &str| self.src.at(l.span(), format!("the {exec} executor needs `{what}`"));
        let curve = if exec == "constant-arrival-rate" {
            let rate = spec.rate.as_ref().ok_or_else(|| need("rate"))?;
            if !(*rate.get_ref() > 0.0 && rate.get_ref().is_finite()) {
                return self.err(rate.span(), "rate must be a positive number of iterations per second");
            }
            let d = self.positive(spec.duration.as_ref().ok_or_else(|| need("duration"))?, "duration")?;
            Curve::constant(*rate.get_ref(), d)
        } else {
            let stages = self.stages(spec.stages.as_ref().ok_or_else(|| need("stages"))?, "iterations per second")?;
            let start = spec.start_rate.as_ref().map_or(0.0, |v| *v.get_ref());
            if !(start >= 0.0 && start.is_finite()) {
                return self
                    .err(spec.start_rate.as_ref().map_or(l.span(), |v| v.span()), "start_rate must be 0 or more");
            }
            Curve::new(start, stages)
        };
        if curve.max() <= 0.0 {
            return self.err(l.span(), "the rate never rises above 0");
        }
        let peak = curve.max().ceil() as u64;
        let max = spec.max_vus.as_ref().map_or(peak.clamp(10, 10_000), |v| *v.get_ref());
        let pre = spec.pre_allocated_vus.as_ref().map_or(max.min(peak.max(1)), |v| *v.get_ref());
        if max == 0 {
            return self.err(spec.max_vus.as_ref().map_or(l.span(), |v| v.span()), "max_vus must be at least 1");
        }
        if pre > max {
            return self.err(
                spec.pre_allocated_vus.as_ref().map_or(l.span(), |v| v.span()),
                format!("pre_allocated_vus ({pre}) is more than max_vus ({max})"),
            );
        }
        Ok(Load::Open { rate: curve, pre_allocated: pre as usize, max_users: max as usize, overflow: Overflow::Drop })
    }

    fn stages(&self, s: &Spanned<Vec<raw::StageSpec>>, unit: &str) -> Result<Vec<Stage>, PlanError> {
        if s.get_ref().is_empty() {
            return self.err(s.span(), "stages is empty");
        }
        s.get_ref()
            .iter()
            .map(|st| {
                let target = *st.target.get_ref();
                if !(target >= 0.0 && target.is_finite()) {
                    return self.err(st.target.span(), format!("stage target must be 0 or more {unit}"));
                }
                Ok(Stage { duration: self.duration(&st.duration, "stage duration")?, target })
            })
            .collect()
    }
}
