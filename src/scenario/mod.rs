//! Scenario files: TOML parsed into raw types ([`raw`]), validated and compiled into an immutable
//! [`Plan`] before any load. Every refusal names the file, line and column.

mod raw;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use crate::error::PlanError;
use crate::http::request::{finish, method_has_body, validate_header, validate_method, write_head};
use crate::plan::curve::{Curve, Stage};
use crate::plan::{DataSet, Load, Overflow, Pick, Plan, Request, Step, Target, Think, ThresholdRule, UserType};
use crate::template::{self, Names, Template};
use crate::threshold;

/// Per-request timeout when neither the step nor the file sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Grace for requests in flight at the end, unless `graceful_stop` says otherwise.
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(10);

/// What the command line may change in a scenario.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Replaces the file's `target`.
    pub target: Option<String>,
}

/// Read, validate and compile the scenario at `path`.
pub fn load(path: &Path, over: &Overrides) -> Result<Plan, PlanError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| PlanError::File { path: path.display().to_string(), source })?;
    compile(&text, path, over)
}

/// Compile scenario `text` read from `path` (relative data files are found next to it).
pub fn compile(text: &str, path: &Path, over: &Overrides) -> Result<Plan, PlanError> {
    let src = Source {
        text,
        path: path.display().to_string(),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let file: raw::File = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        src.at(span, e.message().trim_end().to_string())
    })?;
    let extracted =
        file.users.iter().flat_map(|u| &u.get_ref().steps).flat_map(|s| s.get_ref().extract.keys().cloned()).collect();
    Compiler { src: &src, vars: Vec::new(), slots: HashMap::new(), extracted }.plan(file, over)
}

/// The file being compiled, to turn byte spans into `path:line:col`.
struct Source<'a> {
    text: &'a str,
    path: String,
    dir: PathBuf,
}

impl Source<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    fn at(&self, span: Range<usize>, message: impl Into<String>) -> PlanError {
        let (line, col) = self.line_col(span.start);
        PlanError::At { path: self.path.clone(), line, col, message: message.into() }
    }

    /// Position in the file of byte `offset` of the string value written at `span`: the escapes,
    /// line-ending backslashes and CRLF line breaks of the TOML string are undone on the way.
    fn inside(&self, span: &Range<usize>, offset: usize) -> Range<usize> {
        let at = span.start + value_to_source(&self.text[span.clone()], offset);
        at..at
    }
}

/// Byte index in `raw`, a TOML string as written (quotes included), where byte `offset` of its
/// value starts. An offset inside what an escape stands for maps to the escape's backslash.
fn value_to_source(raw: &str, offset: usize) -> usize {
    let (delim, literal) = if raw.starts_with("\"\"\"") {
        (3, false)
    } else if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with('"') {
        (1, false)
    } else if raw.starts_with('\'') {
        (1, true)
    } else {
        return 0;
    };
    let multiline = delim == 3;
    let end = raw.len().saturating_sub(delim).max(delim);
    let mut i = delim.min(raw.len());
    // A line break right after the opening quotes of a multi-line string is not part of it.
    if multiline {
        i += [("\r\n", 2), ("\n", 1)].iter().find(|(nl, _)| raw[i..].starts_with(nl)).map_or(0, |(_, n)| *n);
    }
    let mut value = 0;
    while i < end && value < offset {
        let rest = &raw[i..end];
        if multiline && rest.starts_with("\r\n") {
            i += 2;
            value += 1;
            continue;
        }
        if !literal && rest.starts_with('\\') {
            let after = &rest[1..];
            if multiline && after.trim_start_matches([' ', '\t']).starts_with(['\r', '\n']) {
                // Line-ending backslash: it and the whitespace up to the next text stand for nothing.
                i += rest.len() - after.trim_start_matches([' ', '\t', '\r', '\n']).len();
                continue;
            }
            let hex =
                |n: usize| after.get(1..1 + n).and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32);
            let (len, ch) = match after.as_bytes().first() {
                Some(b'u') => (6, hex(4)),
                Some(b'U') => (10, hex(8)),
                _ => (2, None),
            };
            i += len.min(rest.len());
            value += ch.map_or(1, char::len_utf8);
            continue;
        }
        let n = rest.chars().next().map_or(1, char::len_utf8);
        i += n;
        value += n;
    }
    i.min(raw.len())
}

struct Compiler<'a> {
    src: &'a Source<'a>,
    /// Variable slot names, by index.
    vars: Vec<String>,
    slots: HashMap<String, usize>,
    /// Every name some step extracts (for hints).
    extracted: HashSet<String>,
}

/// The names a template may use at one place in a journey.
struct Scope<'a> {
    slots: &'a HashMap<String, usize>,
    visible: &'a [String],
}

impl Names for Scope<'_> {
    fn var(&self, name: &str) -> Option<usize> {
        if self.visible.iter().any(|v| v == name) { self.slots.get(name).copied() } else { None }
    }
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
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
        let target = match Target::parse(text) {
            Ok(t) => t,
            Err(e) if target_span.is_some() => return refuse_target(e.to_string()),
            Err(e) => return Err(e),
        };
        if target.tls {
            return refuse_target(format!("{}: https is not supported by this build yet; use http://", target.url));
        }
        let timeout = match &file.timeout {
            Some(t) => self.positive(t, "timeout")?,
            None => DEFAULT_TIMEOUT,
        };
        let (load, graceful_stop) = self.load(&file.load)?;
        if file.users.is_empty() {
            return self.err(file.load.span(), "no users: add at least one [[users]] table with [[users.steps]]");
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
        let mut names = BTreeMap::new();
        // Steps were numbered in file order: the same walk finds where each one is written.
        let written = file.users.iter().flat_map(|u| &u.get_ref().steps);
        for ((i, s), spec) in steps.iter().enumerate().zip(written) {
            if names.insert(s.name.clone(), i).is_some() {
                let spec = spec.get_ref();
                let span = spec.name.as_ref().map_or_else(|| spec.request.span(), |n| n.span());
                return self.err(
                    span,
                    format!("two steps are named `{}`; give them distinct `name`s so their stats stay apart", s.name),
                );
            }
        }
        let mut thresholds = Vec::new();
        for t in &file.thresholds {
            thresholds.push(self.threshold(t, None)?);
        }
        // Steps were numbered in file order, so the same walk finds each step's index.
        let file_steps = file.users.iter().flat_map(|u| &u.get_ref().steps);
        for (idx, s) in file_steps.enumerate() {
            for t in &s.get_ref().thresholds {
                thresholds.push(self.threshold(t, Some(idx))?);
            }
        }
        let name = file.name.clone().unwrap_or_else(|| {
            Path::new(&self.src.path)
                .file_stem()
                .map_or_else(|| self.src.path.clone(), |s| s.to_string_lossy().into_owned())
        });
        let mut plan = Plan::single("run", target, steps.remove(0), load);
        plan.steps.extend(steps);
        plan.name = name;
        plan.targets = targets;
        plan.users = users;
        plan.vars = self.vars;
        plan.thresholds = thresholds;
        plan.graceful_stop = graceful_stop;
        Ok(plan)
    }

    fn positive(&self, s: &Spanned<String>, what: &str) -> Result<Duration, PlanError> {
        let d = self.duration(s, what)?;
        if d.is_zero() {
            return self.err(s.span(), format!("{what} must be longer than 0s"));
        }
        Ok(d)
    }

    fn threshold(&self, t: &Spanned<raw::ThresholdSpec>, step: Option<usize>) -> Result<ThresholdRule, PlanError> {
        let (expr, abort, delay) = match t.get_ref() {
            raw::ThresholdSpec::Expr(e) => (e.as_str(), false, None),
            raw::ThresholdSpec::Table(tt) => (tt.expr.as_str(), tt.abort_on_fail, tt.delay.as_deref()),
        };
        let mut th = threshold::parse(expr).or_else(|e| {
            let at = if matches!(t.get_ref(), raw::ThresholdSpec::Expr(_)) {
                // The threshold parser counts characters; `inside` wants a byte offset.
                let byte = expr.char_indices().nth(e.offset).map_or(expr.len(), |(i, _)| i);
                self.src.inside(&t.span(), byte)
            } else {
                t.span()
            };
            self.err(at, format!("threshold `{expr}`: {}", e.message))
        })?;
        th.abort_on_fail = abort;
        let delay = match delay {
            Some(d) => {
                crate::units::parse_duration(d).or_else(|e| self.err(t.span(), format!("threshold delay: {e}")))?
            }
            None => Duration::ZERO,
        };
        Ok(ThresholdRule { threshold: th, step, delay })
    }

    fn load(&self, l: &Spanned<raw::LoadSpec>) -> Result<(Load, Duration), PlanError> {
        let spec = l.get_ref();
        let exec = spec.executor.get_ref().as_str();
        let graceful = match &spec.graceful_stop {
            Some(g) => self.duration(g, "graceful_stop")?,
            None => DEFAULT_GRACEFUL_STOP,
        };
        // Refuse settings the chosen executor does not use, rather than ignore them.
        let used: &[&str] = match exec {
            "constant-vus" => &["vus", "duration"],
            "ramping-vus" => &["start_vus", "stages"],
            "constant-arrival-rate" => &["rate", "duration", "pre_allocated_vus", "max_vus"],
            "ramping-arrival-rate" => &["start_rate", "stages", "pre_allocated_vus", "max_vus"],
            other => {
                return self.err(
                    spec.executor.span(),
                    format!("unknown executor `{other}` (use constant-vus, ramping-vus, constant-arrival-rate or ramping-arrival-rate)"),
                );
            }
        };
        let present: [(&str, Option<Range<usize>>); 8] = [
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
        let need = |what: &str| self.src.at(l.span(), format!("the {exec} executor needs `{what}`"));
        let load = match exec {
            "constant-vus" => {
                let vus = spec.vus.as_ref().ok_or_else(|| need("vus"))?;
                if *vus.get_ref() == 0 {
                    return self.err(vus.span(), "vus must be at least 1");
                }
                let d = self.positive(spec.duration.as_ref().ok_or_else(|| need("duration"))?, "duration")?;
                Load::Closed { users: Curve::constant(*vus.get_ref() as f64, d) }
            }
            "ramping-vus" => {
                let stages = self.stages(spec.stages.as_ref().ok_or_else(|| need("stages"))?, "users")?;
                let start = spec.start_vus.as_ref().map_or(0, |v| *v.get_ref()) as f64;
                let curve = Curve::new(start, stages);
                if curve.max() < 1.0 {
                    return self.err(l.span(), "ramping-vus never reaches 1 user");
                }
                Load::Closed { users: curve }
            }
            _ => {
                let curve = if exec == "constant-arrival-rate" {
                    let rate = spec.rate.as_ref().ok_or_else(|| need("rate"))?;
                    if !(*rate.get_ref() > 0.0 && rate.get_ref().is_finite()) {
                        return self.err(rate.span(), "rate must be a positive number of iterations per second");
                    }
                    let d = self.positive(spec.duration.as_ref().ok_or_else(|| need("duration"))?, "duration")?;
                    Curve::constant(*rate.get_ref(), d)
                } else {
                    let stages =
                        self.stages(spec.stages.as_ref().ok_or_else(|| need("stages"))?, "iterations per second")?;
                    let start = spec.start_rate.as_ref().map_or(0.0, |v| *v.get_ref());
                    if !(start >= 0.0 && start.is_finite()) {
                        return self.err(
                            spec.start_rate.as_ref().map_or(l.span(), |v| v.span()),
                            "start_rate must be 0 or more",
                        );
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
                    return self
                        .err(spec.max_vus.as_ref().map_or(l.span(), |v| v.span()), "max_vus must be at least 1");
                }
                if pre > max {
                    return self.err(
                        spec.pre_allocated_vus.as_ref().map_or(l.span(), |v| v.span()),
                        format!("pre_allocated_vus ({pre}) is more than max_vus ({max})"),
                    );
                }
                Load::Open {
                    rate: curve,
                    pre_allocated: pre as usize,
                    max_users: max as usize,
                    overflow: Overflow::Drop,
                }
            }
        };
        Ok((load, graceful))
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

    fn think(&self, s: &Spanned<String>) -> Result<Think, PlanError> {
        let text = s.get_ref();
        match text.split_once("..") {
            Some((lo, hi)) => {
                let parse =
                    |p: &str| crate::units::parse_duration(p).or_else(|e| self.err(s.span(), format!("think: {e}")));
                let (lo, hi) = (parse(lo)?, parse(hi)?);
                if hi < lo {
                    return self.err(s.span(), format!("think `{text}`: the upper bound is below the lower one"));
                }
                Ok(Think::Range(lo, hi))
            }
            None => {
                let d = self.duration(s, "think")?;
                Ok(if d.is_zero() { Think::None } else { Think::Fixed(d) })
            }
        }
    }

    fn user(
        &mut self,
        u: &Spanned<raw::UserSpec>,
        targets: &mut Vec<Target>,
        steps: &mut Vec<Step>,
        timeout: Duration,
    ) -> Result<UserType, PlanError> {
        let spec = u.get_ref();
        let name = spec.name.get_ref().trim().to_string();
        if name.is_empty() {
            return self.err(spec.name.span(), "user name is empty");
        }
        if spec.steps.is_empty() {
            return self.err(u.span(), format!("user `{name}` has no steps: add [[users.steps]]"));
        }
        let pick = match spec.pick.as_ref().map(|p| p.get_ref().as_str()) {
            None | Some("sequence") => Pick::Sequence,
            Some("weighted") => Pick::Weighted,
            Some(other) => {
                return self.err(
                    spec.pick.as_ref().expect("some").span(),
                    format!("pick `{other}`: use \"sequence\" or \"weighted\""),
                );
            }
        };
        let think = match &spec.think {
            Some(t) => self.think(t)?,
            None => Think::None,
        };
        let data = match &spec.data {
            Some(d) => Some(self.data(d)?),
            None => None,
        };
        // Names a step may use: the CSV columns, then (in a sequence) what earlier steps extract.
        let mut visible: Vec<String> =
            data.as_ref().map(|d| d.vars.iter().map(|&i| self.vars[i].clone()).collect()).unwrap_or_default();
        if pick == Pick::Weighted {
            for s in &spec.steps {
                visible.extend(s.get_ref().extract.keys().cloned());
            }
        }
        let mut indices = Vec::new();
        for s in &spec.steps {
            let step = self.step(s, &visible, targets, timeout, pick)?;
            if pick == Pick::Sequence {
                visible.extend(s.get_ref().extract.keys().cloned());
            }
            steps.push(step);
            indices.push(steps.len() - 1);
        }
        Ok(UserType {
            name,
            weight: spec.weight.as_ref().map_or(1, |w| *w.get_ref()),
            think,
            pick,
            steps: indices,
            data,
        })
    }

    fn data(&mut self, d: &Spanned<String>) -> Result<DataSet, PlanError> {
        let rel = d.get_ref();
        let path = self.src.dir.join(rel);
        let mut reader = match csv::ReaderBuilder::new().flexible(false).from_path(&path) {
            Ok(r) => r,
            Err(e) => return self.err(d.span(), format!("data file `{}`: {}", path.display(), csv_reason(&e))),
        };
        let headers: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|c| c.trim().to_string()).collect(),
            Err(e) => return self.err(d.span(), format!("data file `{}`: {}", path.display(), csv_reason(&e))),
        };
        if headers.is_empty() || headers.iter().any(String::is_empty) {
            return self
                .err(d.span(), format!("data file `{}`: the first line must name every column", path.display()));
        }
        let mut rows = Vec::new();
        for (i, rec) in reader.byte_records().enumerate() {
            match rec {
                Ok(r) => rows.push(r.iter().map(<[u8]>::to_vec).collect()),
                Err(e) => {
                    return self
                        .err(d.span(), format!("data file `{}` row {}: {}", path.display(), i + 2, csv_reason(&e)));
                }
            }
        }
        if rows.is_empty() {
            return self.err(d.span(), format!("data file `{}` has no rows", path.display()));
        }
        let vars = headers.iter().map(|h| self.slot(h)).collect();
        Ok(DataSet { path: path.display().to_string(), vars, rows })
    }

    fn step(
        &mut self,
        s: &Spanned<raw::StepSpec>,
        visible: &[String],
        targets: &mut Vec<Target>,
        timeout: Duration,
        pick: Pick,
    ) -> Result<Step, PlanError> {
        let spec = s.get_ref();
        let written = spec.request.get_ref();
        let req = written.trim();
        let Some((method, rest)) = req.split_once(char::is_whitespace) else {
            return self.err(
                spec.request.span(),
                format!("request `{req}`: write it as \"METHOD /path\", e.g. \"GET /api/items\""),
            );
        };
        let method = method.to_ascii_uppercase();
        validate_method(&method).or_else(|e| self.err(spec.request.span(), e))?;
        let rest = rest.trim();
        // Where the path starts in the value as written (before trimming), for error positions.
        let path_offset = rest.as_ptr() as usize - written.as_ptr() as usize;
        let (target_idx, path) = if rest.starts_with('/') {
            // A target with a path (`http://host/api`) is the base of relative requests.
            (0, format!("{}{rest}", targets[0].path.split('?').next().unwrap_or("").trim_end_matches('/')))
        } else if rest.contains("://") {
            let url_end = rest.find("{{").unwrap_or(rest.len());
            let t = Target::parse(&rest[..url_end]).or_else(|e| self.err(spec.request.span(), e.to_string()))?;
            let idx = match targets.iter().position(|x| x.authority == t.authority && x.tls == t.tls) {
                Some(i) => i,
                None => {
                    targets.push(t.clone());
                    targets.len() - 1
                }
            };
            let path = if url_end < rest.len() {
                format!("{}{}", t.path.trim_end_matches('/'), &rest[url_end..])
            } else {
                t.path.clone()
            };
            (idx, path)
        } else {
            return self.err(
                spec.request.span(),
                format!("request `{req}`: the path must start with `/` or be a full http:// URL"),
            );
        };
        let scope = Scope { slots: &self.slots, visible };
        let check = |text: &str, span: Range<usize>, skip: usize| -> Result<Template, PlanError> {
            template::compile(text, &scope).map_err(|e| {
                let hint = if pick == Pick::Sequence && self.extracted.contains(text_var(text, e.offset)) {
                    " (it is extracted by a later step or another user type; a step can only use values extracted before it)"
                } else {
                    ""
                };
                self.src.at(self.src.inside(&span, skip + e.offset), format!("{}{hint}", e.message))
            })
        };
        // Check what the user wrote (for error positions), then the path as sent.
        check(rest, spec.request.span(), path_offset)?;
        let path_t = check(&path, spec.request.span(), path_offset)?;
        let mut all_static = path_t.is_static();
        for (k, v) in &spec.headers {
            validate_header(k, "").or_else(|e| self.err(v.span(), e))?;
            let t = check(v.get_ref(), v.span(), 0)?;
            all_static &= t.is_static();
            if v.get_ref().contains(['\r', '\n']) {
                return self.err(v.span(), format!("header `{k}` has a line break in its value"));
            }
        }
        let has = |n: &str| spec.headers.keys().any(|k| k.eq_ignore_ascii_case(n));
        if has("content-length") || has("transfer-encoding") {
            let span = spec
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding"))
                .map(|(_, v)| v.span())
                .unwrap_or(s.span());
            return self
                .err(span, "Content-Length and Transfer-Encoding are written by stampede from the body; remove them");
        }
        let body_t = match &spec.body {
            Some(b) => Some(check(b.get_ref(), b.span(), 0)?),
            None if method_has_body(&method) => Some(check("", s.span(), 0)?),
            None => None,
        };
        all_static &= body_t.as_ref().is_none_or(Template::is_static);
        // The head as text, holes and all; compiled, its environment variables are filled in.
        let mut head = Vec::new();
        let headers = spec.headers.iter().map(|(k, v)| (k.as_str(), v.get_ref().as_str()));
        write_head(&mut head, &method, &path, &targets[target_idx].authority, headers);
        let head = String::from_utf8(head).expect("written from strings");
        let head_t = check(&head, spec.request.span(), 0)?;
        let request = match head_t.literal() {
            Some(literal) if all_static => {
                let mut bytes = literal.to_vec();
                finish(&mut bytes, body_t.as_ref().and_then(Template::literal));
                Request::Static(bytes)
            }
            _ => Request::Template { head: head_t, body: body_t },
        };
        let expect = match &spec.expect {
            Some(e) => Some(e.get_ref().compile().or_else(|m| self.err(e.span(), format!("expect: {m}")))?),
            None => None,
        };
        let mut extract = Vec::new();
        for (name, rule) in &spec.extract {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return self.err(rule.span(), format!("extract name `{name}`: use letters, digits and _"));
            }
            if ["vu", "iter", "uuid", "rand"].contains(&name.as_str()) {
                return self.err(rule.span(), format!("extract name `{name}` is reserved"));
            }
            let x = crate::extract::parse(rule.get_ref())
                .or_else(|m| self.err(rule.span(), format!("extract `{name}`: {m}")))?;
            extract.push((self.slot(name), x));
        }
        let think = match &spec.think {
            Some(t) => Some(self.think(t)?),
            None => None,
        };
        let probability = spec.probability.as_ref().map_or(Ok(1.0), |p| {
            let v = *p.get_ref();
            if (0.0..=1.0).contains(&v) { Ok(v) } else { self.err(p.span(), "probability must be between 0 and 1") }
        })?;
        let weight = spec.weight.as_ref().map_or(1, |w| *w.get_ref());
        if spec.weight.is_some() && pick == Pick::Sequence {
            return self.err(
                spec.weight.as_ref().expect("some").span(),
                "step `weight` only applies with pick = \"weighted\"",
            );
        }
        let timeout = match &spec.timeout {
            Some(t) => self.positive(t, "timeout")?,
            None => timeout,
        };
        let step_name = match &spec.name {
            Some(n) => n.get_ref().trim().to_string(),
            None => req.to_string(),
        };
        Ok(Step {
            name: step_name,
            target: target_idx,
            capture: expect.is_some() || !extract.is_empty(),
            request,
            head: method == "HEAD",
            expect,
            extract,
            think,
            weight,
            probability,
            timeout,
        })
    }
}

/// The name inside the hole at `offset` of `text` (for hints).
fn text_var(text: &str, offset: usize) -> &str {
    text.get(offset..).and_then(|t| t.strip_prefix("{{")).and_then(|t| t.split("}}").next()).map_or("", str::trim)
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields where the header has {expected_len}")
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests;
