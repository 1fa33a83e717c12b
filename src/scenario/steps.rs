//! User types and their steps: requests (method, URL, headers, body as templates), think times,
//! picks, expectations and extraction.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::{Compiler, Scope, raw};
use crate::error::PlanError;
use crate::http::request::{finish, method_has_body, validate_header, validate_method, write_head};
use crate::plan::{Pick, Request, Step, Target, Think, UserType};
use crate::rules::extract::Extractor;
use crate::rules::template::{self, Template};

impl Compiler<'_> {
    pub(super) fn think(&self, s: &Spanned<String>) -> Result<Think, PlanError> {
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

    pub(super) fn user(
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
        let names: Vec<String> = spec.steps.iter().map(|s| step_name(s.get_ref())).collect();
        let mut indices = Vec::new();
        for s in &spec.steps {
            let step = self.step(s, &visible, &names, targets, timeout, pick)?;
            if pick == Pick::Sequence {
                visible.extend(s.get_ref().extract.keys().cloned());
            }
            steps.push(step);
            indices.push(steps.len() - 1);
        }
        // A weighted pick needs a step to pick: weight 0 on every step would run one anyway.
        if pick == Pick::Weighted && indices.iter().all(|&i| steps[i].weight == 0) {
            let first = spec.steps[0].get_ref().weight.as_ref().map_or(u.span(), |w| w.span());
            return self.err(
                first,
                format!(
                    "user `{name}` picks by weight, and every one of its steps has weight 0: give one a weight above 0"
                ),
            );
        }
        Ok(UserType {
            name,
            weight: spec.weight.as_ref().map_or(1, |w| *w.get_ref()),
            think,
            pick,
            steps: indices,
            data,
            cookies: spec.cookies.as_ref().is_none_or(|c| *c.get_ref()),
        })
    }

    fn step(
        &mut self,
        s: &Spanned<raw::StepSpec>,
        visible: &[String],
        journey: &[String],
        targets: &mut Vec<Target>,
        timeout: Duration,
        pick: Pick,
    ) -> Result<Step, PlanError> {
        let spec = s.get_ref();
        let line = self.request_line(spec, targets)?;
        let scope = Scope { slots: &self.slots, visible, env: &self.env };
        let templates = Templates { compiler: self, scope, pick };
        let request = self.request(&templates, s, &line, &targets[line.target].authority)?;
        // Before `if`, which may test what this step extracts (its slots made here).
        let extract = self.extracts(spec)?;
        let condition = match &spec.condition {
            Some(c) => {
                // `if` may also test what this very step extracts: values live across iterations
                // (`if = "!token"` logs in once, then reuses the token).
                let own: Vec<String> = visible.iter().cloned().chain(spec.extract.keys().cloned()).collect();
                let scope = Scope { slots: &self.slots, visible: &own, env: &self.env };
                let names = CondScope { scope: &scope, journey, rows: &self.row_of };
                let cond = crate::rules::condition::parse(c.get_ref(), &names)
                    .or_else(|e| self.err(self.src.inside(&c.span(), e.offset), format!("if: {}", e.message)))?;
                Some(cond)
            }
            None => None,
        };
        self.reads_status |= condition.as_ref().is_some_and(|c| c.status_steps().next().is_some());
        let expect = match &spec.expect {
            Some(e) => Some(e.get_ref().compile().or_else(|m| self.err(e.span(), format!("expect: {m}")))?),
            None => None,
        };
        let think = match &spec.think {
            Some(t) => Some(self.think(t)?),
            None => None,
        };
        let probability = spec.probability.as_ref().map_or(Ok(1.0), |p| {
            let v = *p.get_ref();
            if (0.0..=1.0).contains(&v) { Ok(v) } else { self.err(p.span(), "probability must be between 0 and 1") }
        })?;
        let weight = spec.weight.as_ref().map_or(1, |w| *w.get_ref());
        if let (Some(w), Pick::Sequence) = (&spec.weight, pick) {
            return self.err(w.span(), "step `weight` only applies with pick = \"weighted\"");
        }
        let timeout = match &spec.timeout {
            Some(t) => self.positive(t, "timeout")?,
            None => timeout,
        };
        let redirects = match &spec.redirects {
            Some(r) => self.redirects(r)?,
            None => self.redirects,
        };
        let on_fail = match &spec.on_fail {
            Some(f) => self.on_fail(f)?,
            None => self.on_fail,
        };
        let name = step_name(spec);
        Ok(Step {
            on_fail,
            row: self.row_of[&name],
            name,
            condition,
            redirects,
            metrics: Vec::new(),
            set_cookies: self.cookies_to_set(spec, &targets[line.target])?,
            clear_cookies: spec.clear_cookies.iter().map(|c| c.get_ref().clone()).collect(),
            target: line.target,
            capture: expect.is_some() || !extract.is_empty(),
            request,
            head: line.method == "HEAD",
            expect,
            extract,
            think,
            weight,
            probability,
            timeout,
        })
    }

    /// Read `request = "METHOD /path"` (to the file's target, under its base path) or
    /// `"METHOD http://host/path"` (another host, added to `targets` once).
    fn request_line(&self, spec: &raw::StepSpec, targets: &mut Vec<Target>) -> Result<RequestLine, PlanError> {
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
        let offset = rest.as_ptr() as usize - written.as_ptr() as usize;
        let line =
            |target, path| RequestLine { method: method.clone(), target, written: rest.to_string(), offset, path };
        if rest.starts_with('/') {
            // A target with a path (`http://host/api`) is the base of relative requests.
            let base = targets[0].path.split('?').next().unwrap_or("").trim_end_matches('/');
            return Ok(line(0, format!("{base}{rest}")));
        }
        if !rest.contains("://") {
            return self.err(
                spec.request.span(),
                format!("request `{req}`: the path must start with `/` or be a full http:// URL"),
            );
        }
        let url_end = rest.find("{{").unwrap_or(rest.len());
        // Holes may stand in the path and query, never in the scheme, host or port: the
        // connection is chosen when the plan is built.
        let after_scheme = rest.find("://").map_or(0, |i| i + 3);
        if url_end < rest.len() && (url_end < after_scheme || !rest[after_scheme..url_end].contains(['/', '?'])) {
            return self.err(
                spec.request.span(),
                format!(
                    "request `{req}`: a hole in the scheme, host or port of a URL is not supported; \
                     holes may stand in the path and the query"
                ),
            );
        }
        let t = Target::parse(&rest[..url_end]).or_else(|e| self.err(spec.request.span(), e.to_string()))?;
        let idx = match targets.iter().position(|x| x.authority == t.authority && x.tls == t.tls) {
            Some(i) => i,
            None => {
                targets.push(t.clone());
                targets.len() - 1
            }
        };
        // The URL's path up to the first hole, as parsed (a `/` before the hole stays: the hole
        // starts a path segment), then the rest as written.
        let path = if url_end < rest.len() { format!("{}{}", t.path, &rest[url_end..]) } else { t.path.clone() };
        Ok(line(idx, path))
    }

    /// The request as the engine sends it: prebuilt bytes when nothing in it changes, else its
    /// head and body as templates.
    fn request(
        &self,
        templates: &Templates,
        s: &Spanned<raw::StepSpec>,
        line: &RequestLine,
        authority: &str,
    ) -> Result<Request, PlanError> {
        let spec = s.get_ref();
        // Check what the user wrote (for error positions), then the path as sent.
        templates.compile(&line.written, spec.request.span(), line.offset)?;
        let path_t = templates.compile(&line.path, spec.request.span(), line.offset)?;
        let mut all_static = path_t.is_static();
        for (k, v) in &spec.headers {
            validate_header(k, "").or_else(|e| self.err(v.span(), e))?;
            let t = templates.compile(v.get_ref(), v.span(), 0)?;
            all_static &= t.is_static();
            if v.get_ref().contains(['\r', '\n']) {
                return self.err(v.span(), format!("header `{k}` has a line break in its value"));
            }
        }
        let framing =
            |k: &String| k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding");
        if let Some((_, v)) = spec.headers.iter().find(|(k, _)| framing(k)) {
            return self.err(
                v.span(),
                "Content-Length and Transfer-Encoding are written by stampede from the body; remove them",
            );
        }
        let body_t = match &spec.body {
            Some(b) => Some(templates.compile(b.get_ref(), b.span(), 0)?),
            None if method_has_body(&line.method) => Some(templates.compile("", s.span(), 0)?),
            None => None,
        };
        all_static &= body_t.as_ref().is_none_or(Template::is_static);
        // The head as text, holes and all; compiled, its environment variables are filled in.
        let mut head = Vec::new();
        let headers = spec.headers.iter().map(|(k, v)| (k.as_str(), v.get_ref().as_str()));
        write_head(&mut head, &line.method, &line.path, authority, headers);
        let head = String::from_utf8(head).expect("written from strings");
        let head_t = templates.compile(&head, spec.request.span(), 0)?;
        Ok(match head_t.literal() {
            Some(literal) if all_static => {
                let head_len = literal.len();
                let mut bytes = literal.to_vec();
                finish(&mut bytes, body_t.as_ref().and_then(Template::literal));
                Request::Static { bytes, head_len }
            }
            _ => Request::Template { head: head_t, body: body_t },
        })
    }

    /// A step's `extract` rules, each into its variable's slot.
    fn extracts(&mut self, spec: &raw::StepSpec) -> Result<Vec<(usize, Extractor)>, PlanError> {
        let mut extract = Vec::new();
        for (name, rule) in &spec.extract {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return self.err(rule.span(), format!("extract name `{name}`: use letters, digits and _"));
            }
            if ["vu", "iter", "uuid", "rand"].contains(&name.as_str()) {
                return self.err(rule.span(), format!("extract name `{name}` is reserved"));
            }
            let x = crate::rules::extract::parse(rule.get_ref()).or_else(|e| {
                self.err(self.src.inside(&rule.span(), e.offset), format!("extract `{name}`: {}", e.message))
            })?;
            extract.push((self.slot(name), x));
        }
        Ok(extract)
    }

    /// A step's `set_cookies`, each checked as the jar would take it from the step's host.
    fn cookies_to_set(&self, spec: &raw::StepSpec, target: &Target) -> Result<Vec<(String, String)>, PlanError> {
        let host = target.bare_host().to_ascii_lowercase();
        let mut set_cookies = Vec::new();
        for (name, value) in &spec.set_cookies {
            crate::cookie::Jar::new()
                .set(name, value.get_ref(), &host, "/")
                .or_else(|e| self.err(value.span(), format!("set_cookies `{name}`: {e}")))?;
            set_cookies.push((name.clone(), value.get_ref().clone()));
        }
        Ok(set_cookies)
    }
}

/// A step's name: its `name`, else its request as written.
pub(super) fn step_name(spec: &raw::StepSpec) -> String {
    match &spec.name {
        Some(n) => n.get_ref().trim().to_string(),
        None => spec.request.get_ref().trim().to_string(),
    }
}

/// A step's `request` as read: its method, the target it goes to, and its path.
struct RequestLine {
    method: String,
    /// Index into the plan's targets.
    target: usize,
    /// The path or URL as written (after the method), and where it starts in the value.
    written: String,
    offset: usize,
    /// The path as sent: under the target's base path, or a full URL's path.
    path: String,
}

/// Compiles a step's templates against the names it may use, locating errors in the file.
struct Templates<'a, 'c> {
    compiler: &'a Compiler<'c>,
    scope: Scope<'a>,
    pick: Pick,
}

impl Templates<'_, '_> {
    /// `text` (found at `span`, `skip` bytes into its value) as a template.
    fn compile(&self, text: &str, span: Range<usize>, skip: usize) -> Result<Template, PlanError> {
        let c = self.compiler;
        template::compile(text, &self.scope).map_err(|e| {
            let hint = if self.pick == Pick::Sequence && c.extracted.contains(text_var(text, e.offset)) {
                " (it is extracted by a later step or another user type; a step can only use values extracted before it)"
            } else {
                ""
            };
            c.src.at(c.src.inside(&span, skip + e.offset), format!("{}{hint}", e.message))
        })
    }
}

/// What a step's `if` may name: the variables its templates may use, and the steps of its user
/// type (each step's status is kept in the slot of its stats row).
struct CondScope<'a> {
    scope: &'a Scope<'a>,
    journey: &'a [String],
    rows: &'a std::collections::HashMap<String, usize>,
}

impl crate::rules::condition::CondNames for CondScope<'_> {
    fn var(&self, name: &str) -> Option<usize> {
        crate::rules::template::Names::var(self.scope, name)
    }
    fn known_vars(&self) -> Vec<String> {
        crate::rules::template::Names::known(self.scope)
    }
    fn step(&self, name: &str) -> Option<usize> {
        self.journey.iter().any(|n| n == name).then(|| self.rows.get(name).copied()).flatten()
    }
    fn known_steps(&self) -> Vec<String> {
        self.journey.to_vec()
    }
}

/// The name inside the hole at `offset` of `text` (for hints).
fn text_var(text: &str, offset: usize) -> &str {
    text.get(offset..).and_then(|t| t.strip_prefix("{{")).and_then(|t| t.split("}}").next()).map_or("", str::trim)
}
