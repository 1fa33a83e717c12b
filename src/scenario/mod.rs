//! Scenario files: TOML parsed into raw types ([`raw`]), validated and compiled into a
//! [`Plan`] before any load. Every refusal names the file, line and column.

mod data;
mod include;
mod load;
pub(crate) mod metrics;
pub(crate) mod raw;
mod smoke;
mod span;
mod steps;
mod thresholds;

use span::Source;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use crate::error::PlanError;
use crate::plan::{Curve, Load, Plan, Scenario, Target, ThresholdRule};
use crate::rules::template::Names;

/// Per-request timeout when neither the step nor the file sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed when neither the step nor the file says (k6's `maxRedirects`).
pub const DEFAULT_REDIRECTS: u32 = 10;
/// Grace for requests in flight at the end, unless `graceful_stop` says otherwise.
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(10);

/// What the command line may change in a scenario.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Replaces the file's `target`.
    pub target: Option<String>,
    /// `-e NAME=VALUE`: values of `{{env.NAME}}`, before the process environment.
    pub env: Vec<(String, String)>,
    /// `--vus N --duration D`: constant users replacing the file's `[load]`.
    pub constant: Option<(u64, Duration)>,
}

impl Overrides {
    /// Parse `-e NAME=VALUE` arguments.
    pub fn parse_env(args: &[String]) -> Result<Vec<(String, String)>, PlanError> {
        args.iter()
            .map(|a| match a.split_once('=') {
                Some((n, v)) if !n.trim().is_empty() => Ok((n.trim().to_string(), v.to_string())),
                _ => Err(PlanError::Invalid(format!("-e `{a}`: write NAME=VALUE"))),
            })
            .collect()
    }
}

/// Read, validate and compile the scenario at `path`.
pub fn load(path: &Path, over: &Overrides) -> Result<Plan, PlanError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| PlanError::File { path: path.display().to_string(), source })?;
    compile(&text, path, over)
}

/// Compile scenario `text` read from `path` (relative data files are found next to it).
pub fn compile(text: &str, path: &Path, over: &Overrides) -> Result<Plan, PlanError> {
    let (src, file) = include::read(text, path)?;
    let extracted =
        file.users.iter().flat_map(|u| &u.get_ref().steps).flat_map(|s| s.get_ref().extract.keys().cloned()).collect();
    let mut rows = Vec::new();
    let mut row_of = HashMap::new();
    for s in file.users.iter().flat_map(|u| &u.get_ref().steps) {
        let name = steps::step_name(s.get_ref());
        if !row_of.contains_key(&name) {
            row_of.insert(name.clone(), rows.len());
            rows.push(name);
        }
    }
    Compiler {
        src: &src,
        vars: Vec::new(),
        slots: HashMap::new(),
        extracted,
        rows,
        row_of,
        redirects: DEFAULT_REDIRECTS,
        on_fail: crate::plan::OnFail::Continue,
        env: over.env.clone(),
        reads_status: false,
        run_length: None,
        metric_kinds: Vec::new(),
        series: Vec::new(),
        scenario_names: file.scenarios.as_ref().map(|s| s.keys().cloned().collect()).unwrap_or_default(),
    }
    .plan(file, over)
}

struct Compiler<'a> {
    src: &'a Source,
    /// Variable slot names, by index.
    vars: Vec<String>,
    slots: HashMap<String, usize>,
    /// Every name some step extracts (for hints).
    extracted: HashSet<String>,
    /// Stats rows: one per distinct step name, in file order.
    rows: Vec<String>,
    row_of: HashMap<String, usize>,
    /// Redirects followed by steps that do not say (the file's `redirects`, else 10).
    redirects: u32,
    /// What a failed step does, for steps that do not say (the file's `on_fail`).
    on_fail: crate::plan::OnFail,
    /// `-e NAME=VALUE` values, before the process environment.
    env: Vec<(String, String)>,
    /// Some condition reads a step's status: users keep the last status of each row.
    reads_status: bool,
    /// How long the run lasts, once its scenarios are known (thresholds' windows must start
    /// within it).
    run_length: Option<Duration>,
    /// The `[metrics]` names and kinds thresholds may name (once compiled).
    metric_kinds: Vec<(String, crate::rules::metric::Kind)>,
    /// The watched series' names (`[monitor.series]`), which thresholds may name too.
    series: Vec<String>,
    /// The file's named scenarios, in file order (a recovery's `after` may name one).
    scenario_names: Vec<String>,
}

/// The names a template may use at one place in a journey.
struct Scope<'a> {
    slots: &'a HashMap<String, usize>,
    visible: &'a [String],
    env: &'a [(String, String)],
}

impl Names for Scope<'_> {
    fn var(&self, name: &str) -> Option<usize> {
        if self.visible.iter().any(|v| v == name) { self.slots.get(name).copied() } else { None }
    }
    fn env(&self, name: &str) -> Option<String> {
        match self.env.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Some(v.clone()),
            None => std::env::var(name).ok(),
        }
    }
    fn known(&self) -> Vec<String> {
        self.visible.to_vec()
    }
}

impl<'a> Compiler<'a> {
    fn err<T>(&self, span: Range<usize>, message: impl Into<String>) -> Result<T, PlanError> {
        Err(self.src.at(span, message))
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.slots.get(name) {
            return i;
        }
        self.vars.push(name.to_string());
        self.slots.insert(name.to_string(), self.vars.len() - 1);
        self.vars.len() - 1
    }

    fn duration(&self, s: &Spanned<String>, what: &str) -> Result<Duration, PlanError> {
        crate::units::parse_duration(s.get_ref()).or_else(|e| self.err(s.span(), format!("{what}: {e}")))
    }

    fn plan(mut self, file: raw::File, over: &Overrides) -> Result<Plan, PlanError> {
        let target = self.target(&file, over)?;
        if let Some(r) = &file.redirects {
            self.redirects = self.redirects(r)?;
        }
        if let Some(f) = &file.on_fail {
            self.on_fail = self.on_fail(f)?;
        }
        let timeout = match &file.timeout {
            Some(t) => self.positive(t, "timeout")?,
            None => DEFAULT_TIMEOUT,
        };
        let http = match &file.http {
            Some(h) => {
                crate::http::version::Http::parse(h.get_ref()).or_else(|e| self.err(h.span(), format!("http = {e}")))?
            }
            None => crate::http::version::Http::default(),
        };
        let route = self.route(&file)?;
        let (mut scenarios, named, scenario_thresholds) = self.scenarios(&file)?;
        // Windows are checked against the file's own length; a smoke lists those it cannot hold.
        self.run_length = scenarios.iter().map(Scenario::end).max();
        let smoke = over.constant.map(|(vus, duration)| smoke::Smoke { vus, duration });
        let mut overrides = Vec::new();
        let mut not_run = Vec::new();
        if let Some((vus, duration)) = over.constant {
            if vus == 0 || duration.is_zero() {
                return Err(PlanError::Invalid("--vus must be at least 1 and --duration longer than 0s".into()));
            }
            let names: Vec<String> =
                if named { scenarios.iter().map(|s| s.name.clone()).collect() } else { Vec::new() };
            let s = smoke.expect("a smoke with --vus");
            overrides.push(s.describe(&names, &scenarios[0].executor));
            for rule in &scenario_thresholds {
                not_run.push(s.scenario_left_out(rule, &names[rule.scenario.unwrap_or(0)]));
            }
            let load = Load::Closed { users: Curve::constant(vus as f64, duration) };
            scenarios = vec![Scenario {
                graceful_stop: scenarios[0].graceful_stop,
                connections: scenarios[0].connections,
                ..Scenario::of_all(load, file.users.len())
            }];
        }
        let named = named && over.constant.is_none();
        if file.users.is_empty() {
            let span = file.load.as_ref().map(|l| l.span()).or(file
                .scenarios
                .as_ref()
                .and_then(|s| s.values().next())
                .map(|s| s.span()));
            return self.err(span.unwrap_or(0..0), "no users: add at least one [[users]] table with [[users.steps]]");
        }
        let mut targets = vec![target.clone()];
        let mut steps = Vec::new();
        let mut users = Vec::new();
        for u in &file.users {
            let ty = self.user(u, &mut targets, &mut steps, timeout)?;
            users.push(ty);
        }
        if users.iter().all(|u| u.weight == 0) {
            return self.err(file.users[0].span(), "every user type has weight 0");
        }
        let mut metrics = self.metrics(&file, &mut steps)?;
        let (all, per_type) = self.iteration_metrics(&file, &mut metrics);
        let monitor = self.monitor(&file)?;
        let thresholds = self.thresholds(&file, named, scenario_thresholds, smoke.as_ref(), &mut not_run)?;
        let root = &self.src.files[0].path;
        let name = file.name.as_ref().map(|n| n.get_ref().clone()).unwrap_or_else(|| {
            Path::new(root).file_stem().map_or_else(|| root.clone(), |s| s.to_string_lossy().into_owned())
        });
        let mut plan = Plan::single("run", target, steps.remove(0), scenarios[0].load.clone());
        plan.steps.extend(steps);
        plan.name = name;
        plan.targets = targets;
        plan.users = users;
        plan.vars = self.vars;
        plan.thresholds = thresholds;
        plan.thresholds_not_run = not_run;
        plan.overrides = overrides;
        plan.files = self.src.files.iter().map(|f| f.path.clone()).collect();
        plan.scenarios = scenarios;
        plan.named_scenarios = named;
        plan.metrics = metrics;
        plan.iteration_metrics = Some((all, per_type));
        plan.rows = self.rows;
        plan.status_slots = if self.reads_status { plan.rows.len() } else { 0 };
        plan.monitor = monitor.map(std::sync::Arc::new);
        plan.http = http;
        (plan.sources, plan.dns) = route;
        Ok(plan)
    }

    /// The file's `sources` and `dns`.
    fn route(&self, file: &raw::File) -> Result<(Vec<std::net::IpAddr>, crate::plan::sources::Dns), PlanError> {
        let mut sources = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for item in file.sources.iter().flatten() {
            let more = crate::plan::sources::parse(item.get_ref())
                .or_else(|e| self.err(item.span(), format!("sources: {e}")))?;
            sources.extend(more.into_iter().filter(|a| seen.insert(*a)));
            if sources.len() > crate::plan::sources::MAX_SOURCES {
                return self.err(
                    item.span(),
                    format!("sources: more than {} addresses; name fewer", crate::plan::sources::MAX_SOURCES),
                );
            }
        }
        let dns = match &file.dns {
            Some(d) => {
                crate::plan::sources::Dns::parse(d.get_ref()).or_else(|e| self.err(d.span(), format!("dns = {e}")))?
            }
            None => crate::plan::sources::Dns::First,
        };
        Ok((sources, dns))
    }

    /// The run's main target: `--target`, else the file's `target`.
    fn target(&self, file: &raw::File, over: &Overrides) -> Result<Target, PlanError> {
        let (text, target_span) = match (&over.target, &file.target) {
            (Some(url), _) => (url.as_str(), None),
            (None, Some(t)) => (t.get_ref().as_str(), Some(t.span())),
            (None, None) => return self.err(0..0, "no target: set `target = \"http://host:port\"` or pass --target"),
        };
        // Refusals of the target point at it when it comes from the file.
        let refuse_target = |message: String| match &target_span {
            Some(span) => self.err(span.clone(), message),
            None => Err(PlanError::Invalid(message)),
        };
        // The Host header is written into each request's template, where a brace would open a
        // hole. Refused before the name is looked up.
        if url::Url::parse(text).ok().and_then(|u| u.host_str().map(|h| h.contains(['{', '}']))) == Some(true) {
            return refuse_target(format!("`{text}`: a host name cannot contain `{{` or `}}`"));
        }
        match Target::parse(text) {
            Ok(t) => Ok(t),
            Err(e) if target_span.is_some() => refuse_target(e.to_string()),
            Err(e) => Err(e),
        }
    }

    /// The built-in `iteration_duration` trends (k6's name), added to `metrics`: every
    /// iteration's, and each user type's when there are several. Returns the index of the first
    /// and of each type's (`None` with one type).
    fn iteration_metrics(
        &mut self,
        file: &raw::File,
        metrics: &mut Vec<crate::rules::metric::Metric>,
    ) -> (usize, Vec<Option<usize>>) {
        let all = metrics.len();
        metrics.push(crate::rules::metric::iteration_duration("iteration_duration".into()));
        self.metric_kinds.push(("iteration_duration".into(), crate::rules::metric::Kind::Trend));
        let per_type: Vec<Option<usize>> = file
            .users
            .iter()
            .map(|u| {
                (file.users.len() > 1).then(|| {
                    let name = format!("iteration_duration:{}", u.get_ref().name.get_ref().trim());
                    self.metric_kinds.push((name.clone(), crate::rules::metric::Kind::Trend));
                    metrics.push(crate::rules::metric::iteration_duration(name));
                    metrics.len() - 1
                })
            })
            .collect();
        (all, per_type)
    }

    /// The run's thresholds, then the named scenarios' (unless a smoke replaced them), then each
    /// step's, once per stats row.
    fn thresholds(
        &mut self,
        file: &raw::File,
        named: bool,
        scenario_thresholds: Vec<ThresholdRule>,
        smoke: Option<&smoke::Smoke>,
        not_run: &mut Vec<crate::plan::NotRun>,
    ) -> Result<Vec<ThresholdRule>, PlanError> {
        let mut thresholds = Vec::new();
        // A smoke judges what it can and lists the rest with a reason.
        let mut left_out = |rule: &ThresholdRule, spec: &Spanned<raw::ThresholdSpec>, step: Option<&str>| {
            let why = smoke.and_then(|s| self.smoke_leaves_out(spec.get_ref(), rule, s));
            if let Some(reason) = &why {
                let step = step.map(str::to_string);
                let n = crate::plan::NotRun {
                    expr: rule.threshold.expr.clone(),
                    scenario: None,
                    step,
                    reason: reason.clone(),
                };
                if !not_run.contains(&n) {
                    not_run.push(n);
                }
            }
            why.is_some()
        };
        for t in &file.thresholds {
            let rule = self.threshold(t, None)?;
            if !left_out(&rule, t, None) {
                thresholds.push(rule);
            }
        }
        if named {
            thresholds.extend(scenario_thresholds);
        }
        // A step's thresholds are on its stats row, which steps of the same name share: each
        // threshold once, however many user types repeat it.
        for s in file.users.iter().flat_map(|u| &u.get_ref().steps) {
            let row = self.row_of[&steps::step_name(s.get_ref())];
            for t in &s.get_ref().thresholds {
                let rule = self.threshold(t, Some(row))?;
                if left_out(&rule, t, Some(&steps::step_name(s.get_ref()))) {
                    continue;
                }
                if !thresholds
                    .iter()
                    .any(|r: &ThresholdRule| r.step == Some(row) && r.threshold.expr == rule.threshold.expr)
                {
                    thresholds.push(rule);
                }
            }
        }
        Ok(thresholds)
    }

    /// `[monitor]`: the sources and series, checked (not yet contacted: that happens just before
    /// the run, see [`crate::monitor::sampler::check`]).
    fn monitor(&mut self, file: &raw::File) -> Result<Option<crate::monitor::MonitorPlan>, PlanError> {
        use crate::monitor::{DEFAULT_INTERVAL, MonitorPlan, Written};
        let Some(m) = &file.monitor else { return Ok(None) };
        let interval = match &m.interval {
            Some(i) => self.positive(i, "monitor interval")?,
            None => DEFAULT_INTERVAL,
        };
        let mut series = Vec::new();
        for (name, s) in &m.series {
            let written = match s.get_ref() {
                raw::SeriesSpec::Plain(t) => Written::Plain(t.clone()),
                raw::SeriesSpec::Table(raw::SeriesTable { promql: Some(p), scrape: None }) => {
                    Written::Promql(p.clone())
                }
                raw::SeriesSpec::Table(raw::SeriesTable { promql: None, scrape: Some(x) }) => {
                    Written::Scrape(x.clone())
                }
                raw::SeriesSpec::Table(_) => {
                    return self.err(
                        s.span(),
                        format!("series `{name}`: give one of `promql = \"...\"` or `scrape = \"...\"`"),
                    );
                }
            };
            if self.metric_kinds.iter().any(|(n, _)| n == name) {
                return self.err(s.span(), format!("series `{name}`: a metric of [metrics] has that name"));
            }
            series.push((name.clone(), written));
        }
        let scrape: Vec<String> = m.scrape.iter().map(|s| s.get_ref().clone()).collect();
        let plan = MonitorPlan::build(interval, m.prometheus.as_ref().map(|p| p.get_ref().as_str()), &scrape, series)
            .or_else(|e| {
            // Point at the series the message names, else at the first setting of the table.
            let named = m.series.iter().find(|(n, _)| e.contains(&format!("series `{n}`")));
            let first = m.prometheus.as_ref().map(Spanned::span).or_else(|| m.scrape.first().map(Spanned::span));
            let span = named
                .map(|(_, s)| s.span())
                .or(first)
                .or_else(|| m.series.values().next().map(Spanned::span))
                .unwrap_or(0..0);
            self.err(span, format!("[monitor]: {e}"))
        })?;
        self.series = plan.series.iter().map(|s| s.name.clone()).collect();
        Ok(Some(plan))
    }

    /// `[metrics]`: each compiled against the step names, and each step told which metrics it
    /// feeds (its responses are then captured as far as they need).
    fn metrics(
        &mut self,
        file: &raw::File,
        steps: &mut [crate::plan::Step],
    ) -> Result<Vec<crate::rules::metric::Metric>, PlanError> {
        let Some(specs) = &file.metrics else { return Ok(Vec::new()) };
        let mut metrics = Vec::new();
        for (name, spec) in specs {
            let rows = &self.row_of;
            let m = crate::scenario::metrics::compile(name, spec.get_ref(), &|step| rows.get(step).copied()).or_else(
                |e| {
                    let known: Vec<&str> = self.rows.iter().map(String::as_str).collect();
                    let hint = if matches!(e.which, crate::scenario::metrics::Field::Step(_)) {
                        format!(" (steps: {})", known.join(", "))
                    } else {
                        String::new()
                    };
                    self.err(spec.span(), format!("{}{hint}", e.message))
                },
            )?;
            self.metric_kinds.push((name.clone(), m.kind()));
            metrics.push(m);
        }
        for step in steps.iter_mut() {
            step.metrics = (0..metrics.len()).filter(|&i| metrics[i].applies_to(step.row)).collect();
            step.capture |= step.metrics.iter().any(|&i| metrics[i].needs_head() || metrics[i].needs_body());
        }
        Ok(metrics)
    }

    /// `redirects = N`: 0 (do not follow) to 100.
    fn redirects(&self, r: &Spanned<i64>) -> Result<u32, PlanError> {
        match u32::try_from(*r.get_ref()) {
            Ok(n) if n <= 100 => Ok(n),
            _ => self.err(r.span(), format!("redirects = {}: use 0 (do not follow) to 100", r.get_ref())),
        }
    }

    /// `on_fail = "continue" | "end-iteration"`.
    fn on_fail(&self, f: &Spanned<String>) -> Result<crate::plan::OnFail, PlanError> {
        match f.get_ref().as_str() {
            "continue" => Ok(crate::plan::OnFail::Continue),
            "end-iteration" => Ok(crate::plan::OnFail::EndIteration),
            other => self.err(f.span(), format!("on_fail = \"{other}\": use \"continue\" or \"end-iteration\"")),
        }
    }

    fn positive(&self, s: &Spanned<String>, what: &str) -> Result<Duration, PlanError> {
        let d = self.duration(s, what)?;
        if d.is_zero() {
            return self.err(s.span(), format!("{what} must be longer than 0s"));
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests;
