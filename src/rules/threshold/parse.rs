//! The threshold text (`p(95) < 200ms`, `errors < 1%`, `cache_hit > 95%`, `p(95)(server_ms) < 50`,
//! `avg(server_cpu) < 0.8`): parsed into a [`Threshold`], with byte-located errors; named metrics
//! checked against the file's `[metrics]` and watched series.

use super::words::near_miss;
use super::{Form, Measure, Op, Stat, Threshold, Window};
use crate::rules::ParseError;
use crate::rules::metric::Kind;

fn err(offset: usize, message: impl Into<String>) -> ParseError {
    ParseError { offset, message: message.into() }
}

const METRICS: &str = "p(N), avg, mean, min, max, med, errors, error_rate, checks, rps, requests";

/// Parses `metric op value`, e.g. `p(95) < 200ms`, `errors < 1%`, `rps >= 100`, `cache_hit > 95%`,
/// `p(95)(server_ms) < 50`. A name that is not a built-in metric is taken as a metric of your own,
/// whether it exists or not: [`parse_checked`] checks.
pub fn parse(expr: &str) -> Result<Threshold, ParseError> {
    parse_located(expr).map(|(t, _)| t).map_err(|e| in_bytes(expr, e))
}

/// The parser works on characters; callers get byte offsets, as from every other rule language.
fn in_bytes(expr: &str, e: ParseError) -> ParseError {
    let offset = expr.char_indices().nth(e.offset).map_or(expr.len(), |(i, _)| i);
    ParseError { offset, ..e }
}

/// Where the parts of a threshold on a named metric are (character offsets).
struct Spans {
    /// The metric, as written (`p(95)(server_ms)` starts at `p`).
    metric: usize,
    /// The name inside it.
    name: usize,
    /// The value after the operator (for a drift, the factor or the right side).
    value: usize,
    /// A drift's right side: its metric and the name inside it.
    base: Option<(usize, usize)>,
}

/// A k6 threshold line (`http_req_duration: p(95)<200`): what stampede writes instead.
fn k6_form(expr: &str) -> Option<ParseError> {
    let (name, cond) = expr.trim().split_once(':')?;
    let cond: String = cond.chars().filter(|c| !c.is_whitespace()).collect();
    let ours = match name.trim() {
        "http_req_duration" | "iteration_duration" => {
            let prefix = if name.trim() == "iteration_duration" { "(iteration_duration)" } else { "" };
            let (stat, rest) = cond.split_at(cond.find(['<', '>', '=', '!'])?);
            let (op, bound) = rest.split_at(rest.find(|c: char| c.is_ascii_digit() || c == '.')?);
            let unit = if prefix.is_empty() { "ms" } else { "" };
            format!("{stat}{prefix} {op} {bound}{unit}")
        }
        "http_req_failed" | "checks" => {
            let ours = if name.trim() == "checks" { "checks" } else { "errors" };
            let rest = cond.strip_prefix("rate")?;
            let (op, bound) = rest.split_at(rest.find(|c: char| c.is_ascii_digit() || c == '.')?);
            let pct = bound.parse::<f64>().ok()? * 100.0;
            format!("{ours} {op} {}%", crate::units::round3(pct))
        }
        "http_reqs" => format!("requests {}", cond.strip_prefix("count")?),
        _ => return None,
    };
    let at = expr.chars().take_while(|c| c.is_whitespace()).count();
    Some(err(at, format!("`{}` is k6's form: stampede writes `{ours}`", expr.trim())))
}

fn parse_located(expr: &str) -> Result<(Threshold, Spans), ParseError> {
    if let Some(e) = k6_form(expr) {
        return Err(e);
    }
    let mut p = Parser { cs: expr.chars().collect(), i: 0, name_at: 0 };
    p.ws();
    if p.eof() {
        return Err(err(p.i, "empty threshold (expected e.g. `p(95) < 200ms` or `errors < 1%`)"));
    }
    let (t, spans) = if p.at_call("recovery") { p.recovery()? } else { p.comparison()? };
    p.ws();
    if !p.eof() {
        return Err(err(p.i, format!("unexpected `{}` after the value", p.text(p.i, p.cs.len()))));
    }
    Ok((Threshold { expr: expr.trim().to_string(), ..t }, spans))
}

/// [`parse`], then check a named metric against the metrics there are (`metrics`: each name and
/// its kind): it must exist, and the form must fit its kind (`name > 95%` or `name > 0.95` for a
/// rate, `name > 1000` for a counter, `p(95)(name) < 50` and the other statistics for a trend).
/// `series` names the watched series (`[monitor]`): thresholds on them are `avg(NAME)`, `min(NAME)`, `max(NAME)`, `last(NAME)` or `growth(NAME)`.
pub fn parse_checked(expr: &str, metrics: &[(&str, Kind)], series: &[&str]) -> Result<Threshold, ParseError> {
    check_named(expr, metrics, series).map_err(|e| in_bytes(expr, e))
}

/// [`parse_checked`], with character offsets.
fn check_named(expr: &str, metrics: &[(&str, Kind)], series: &[&str]) -> Result<Threshold, ParseError> {
    let (t, at) = parse_located(expr)?;
    let chars: Vec<char> = expr.chars().collect();
    let value: String = chars[at.value.min(chars.len())..].iter().collect::<String>().trim().to_string();
    let named = Named { metrics, series, recovery: matches!(t.form, Form::Recovery { .. }) };
    match &t.form {
        Form::Drift { base, .. } => {
            named.check(&t.metric, (at.metric, at.name), None)?;
            named.check(base, at.base.unwrap_or_default(), None)?;
        }
        _ => named.check(&t.metric, (at.metric, at.name), Some((at.value, &value, t.bound)))?,
    }
    Ok(t)
}

/// The named metrics and series a threshold may use.
struct Named<'a> {
    metrics: &'a [(&'a str, Kind)],
    series: &'a [&'a str],
    /// Inside `recovery(...)`: measured on each second of the timeline.
    recovery: bool,
}

impl Named<'_> {
    /// A named metric exists and the form fits its kind. `at`: where the measure and its name are;
    /// `bound`: where the value is, as written, and the number (none for a drift's sides).
    fn check(
        &self,
        measure: &Measure,
        at: (usize, usize),
        bound: Option<(usize, &str, f64)>,
    ) -> Result<(), ParseError> {
        let Measure::Custom { name, stat } = measure else { return Ok(()) };
        let (metrics, series) = (self.metrics, self.series);
        if series.contains(&name.as_str()) {
            return match stat {
                Stat::Growth if self.recovery => Err(err(
                    at.0,
                    format!("recovery watches each second's sample of `{name}`: write max({name}) or last({name})"),
                )),
                Stat::Avg | Stat::Min | Stat::Max | Stat::Last | Stat::Growth => Ok(()),
                _ => Err(err(
                    at.0,
                    format!(
                        "`{name}` is a watched series: write avg({name}), min({name}), max({name}), last({name}) or growth({name})"
                    ),
                )),
            };
        }
        let Some(kind) = metrics.iter().find(|(n, _)| n == name).map(|&(_, k)| k) else {
            let mut mine = if metrics.is_empty() {
                ", or a metric defined in [metrics]".to_string()
            } else {
                format!(", or one of [metrics]: {}", metrics.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "))
            };
            if !series.is_empty() {
                mine.push_str(&format!(", or a watched series: {}", series.join(", ")));
            }
            return Err(err(at.1, format!("unknown metric `{name}` (expected one of {METRICS}{mine})")));
        };
        if matches!(stat, Stat::Last | Stat::Growth) {
            return Err(err(
                at.0,
                format!("last() and growth() are for watched series ([monitor]); `{name}` is a metric"),
            ));
        }
        let trend_forms = format!("p(95)({name}), avg({name}), min({name}), max({name}) or med({name})");
        match (kind, stat) {
            (Kind::Rate, Stat::Value) if bound.is_some_and(|(_, _, b)| b >= 1.0) => {
                let (value_at, w, b) = bound.unwrap_or_default();
                Err(err(
                    value_at,
                    format!("`{w}`: a rate without `%` is a fraction between 0 and 1 — did you mean {b}%?"),
                ))
            }
            (Kind::Counter, Stat::Percent) => {
                let (value_at, w, _) = bound.unwrap_or_default();
                Err(err(
                    value_at,
                    format!("`{w}`: `{name}` is a counter: compare it with a plain number, not a percentage"),
                ))
            }
            (Kind::Rate | Kind::Counter, s) if s.is_trend() => Err(err(
                at.0,
                format!("`{name}` is a {}: write `{name} > N` — {trend_forms} are for trends", kind.name()),
            )),
            (Kind::Trend, s) if !s.is_trend() => {
                Err(err(at.0, format!("`{name}` is a trend: write {trend_forms}, e.g. `p(95)({name}) < 50`")))
            }
            (Kind::Trend, s) if self.recovery && *s != Stat::Percentile(95.0) => Err(err(
                at.0,
                format!("recovery watches each second's p95 of a trend of your own: write recovery(p(95)({name}) < …)"),
            )),
            _ => Ok(()),
        }
    }
}

/// What a drift's sides are measured in: they must agree.
fn unit_of(m: &Measure) -> String {
    match m {
        Measure::Errors | Measure::Checks => "percent".into(),
        Measure::Rps => "requests per second".into(),
        Measure::Requests => "requests".into(),
        Measure::Custom { name, stat: Stat::Growth } => format!("percent of {name}'s growth"),
        Measure::Custom { name, .. } => format!("{name}'s unit"),
        _ => "milliseconds".into(),
    }
}

/// Whether a second of the timeline keeps `m` (what `recovery(...)` watches), and if not, why.
/// Named metrics are checked with their kinds ([`Named::check`]).
fn per_second(m: &Measure) -> Result<(), String> {
    match m {
        Measure::Percentile(p) if [50.0, 95.0, 99.0].contains(p) => Ok(()),
        Measure::Med | Measure::Max | Measure::Errors | Measure::Rps | Measure::Requests | Measure::Custom { .. } => {
            Ok(())
        }
        _ => Err("recovery watches each second of the timeline, which keeps p(50), p(95), p(99), max, errors, rps \
             and requests (and a trend's p(95), a rate, a counter, a watched series)"
            .into()),
    }
}

struct Parser {
    cs: Vec<char>,
    i: usize,
    /// Where a named metric's name starts.
    name_at: usize,
}

impl Parser {
    fn eof(&self) -> bool {
        self.i >= self.cs.len()
    }
    fn peek(&self) -> Option<char> {
        self.cs.get(self.i).copied()
    }
    fn ws(&mut self) {
        self.take_while(char::is_whitespace);
    }
    fn text(&self, a: usize, b: usize) -> String {
        self.cs[a..b].iter().collect()
    }
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let a = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        self.text(a, self.i)
    }
    /// `-`? digits with an optional `.`; on failure the cursor does not move.
    fn number(&mut self) -> Option<f64> {
        let a = self.i;
        self.i += usize::from(self.peek() == Some('-'));
        self.take_while(|c| c.is_ascii_digit() || c == '.');
        let n = self.text(a, self.i).parse::<f64>().ok().filter(|v| v.is_finite());
        if n.is_none() {
            self.i = a;
        }
        n
    }

    /// `MEASURE op VALUE`, or one window against another:
    /// `MEASURE during FROM..TO op [NUMBER *] MEASURE during FROM..TO`.
    fn comparison(&mut self) -> Result<(Threshold, Spans), ParseError> {
        let start = self.i;
        let mut metric = self.metric()?;
        let name: String = self.text(start, self.i).chars().filter(|c| !c.is_whitespace()).collect();
        let name_at = self.name_at;
        let window = self.during()?;
        self.ws();
        let op = self.op(&name)?;
        self.ws();
        let mut spans = Spans { metric: start, name: name_at, value: self.i, base: None };
        let (bound, form) = match window {
            Some(window) => {
                let (factor, base, base_window, at) = self.drift_right(&metric, &name)?;
                spans.base = Some(at);
                (factor, Form::Drift { window, base, base_window })
            }
            None => {
                let two_windows = || {
                    err(
                        start,
                        format!(
                            "the right side is measured on a window, so the left side needs one too: write \
                             `{name} during FROM..TO {} … during …`, e.g. `p(95) during 25m..30m < 1.5 * p(95) during 0m..5m`",
                            op.symbol()
                        ),
                    )
                };
                if self.right_is_window() {
                    return Err(two_windows());
                }
                let bound = self.value(&mut metric, &name)?;
                self.ws();
                if self.peek() == Some('*') {
                    return Err(two_windows());
                }
                (bound, Form::Bound)
            }
        };
        Ok((Threshold { expr: String::new(), metric, op, bound, abort_on_fail: false, form }, spans))
    }

    /// Whether what follows the operator is `[NUMBER *] MEASURE during …`.
    fn right_is_window(&self) -> bool {
        let mut q = Parser { cs: self.cs.clone(), i: self.i, name_at: 0 };
        if q.number().is_some() {
            q.ws();
            if q.peek() != Some('*') {
                return false;
            }
            q.i += 1;
            q.ws();
        }
        q.metric().is_ok() && q.during().is_ok_and(|w| w.is_some())
    }

    /// ` during FROM..TO` after a measure, if it is there.
    fn during(&mut self) -> Result<Option<Window>, ParseError> {
        let back = self.i;
        self.ws();
        let word = self.take_while(|c| c.is_alphabetic());
        if !word.eq_ignore_ascii_case("during") || !self.peek().is_some_and(char::is_whitespace) {
            self.i = back;
            return Ok(None);
        }
        self.ws();
        let a = self.i;
        let text = self.take_while(|c| !c.is_whitespace() && !"<>=!*)".contains(c));
        super::parse_window(&text).map(Some).map_err(|why| err(a, format!("`during {text}`: {why}")))
    }

    /// After a drift's operator: `[NUMBER *] MEASURE during FROM..TO`, in the left side's unit.
    /// Gives the factor, the measure, its window and where the measure and its name start.
    fn drift_right(
        &mut self,
        left: &Measure,
        name: &str,
    ) -> Result<(f64, Measure, Window, (usize, usize)), ParseError> {
        let a = self.i;
        let factor = match self.number() {
            None => 1.0,
            Some(n) => {
                self.ws();
                if self.peek() != Some('*') {
                    return Err(err(
                        a,
                        format!(
                            "`{name} during …` is compared with another window: write `NUMBER * MEASURE during FROM..TO` \
                             or `MEASURE during FROM..TO` after the operator, e.g. `1.5 * {name} during 0m..5m`; for a \
                             fixed bound on one window, use the `during` key: {{ expr = \"{name} < …\", during = \"…\" }}"
                        ),
                    ));
                }
                if n <= 0.0 {
                    return Err(err(a, format!("the factor must be above 0 (got {n})")));
                }
                self.i += 1;
                self.ws();
                n
            }
        };
        let b = self.i;
        if self.eof() {
            return Err(err(b, format!("expected the window to compare with, e.g. `1.5 * {name} during 0m..5m`")));
        }
        let base = self.metric()?;
        let base_name: String = self.text(b, self.i).chars().filter(|c| !c.is_whitespace()).collect();
        let name_at = self.name_at;
        let Some(base_window) = self.during()? else {
            return Err(err(
                self.i,
                format!("expected `during FROM..TO` after `{base_name}`: the other side is measured on a window too"),
            ));
        };
        let (lu, ru) = (unit_of(left), unit_of(&base));
        if lu != ru {
            return Err(err(
                b,
                format!("`{name}` is in {lu} and `{base_name}` in {ru}: compare it with a measure in the same unit"),
            ));
        }
        Ok((factor, base, base_window, (b, name_at)))
    }

    /// At `word(` (any case, whitespace allowed before the parenthesis).
    fn at_call(&self, word: &str) -> bool {
        let n = word.chars().count();
        let here: String = self.cs.iter().skip(self.i).take(n).collect();
        let rest = self.cs.iter().skip(self.i + n).find(|c| !c.is_whitespace());
        here.eq_ignore_ascii_case(word) && rest == Some(&'(')
    }

    /// `recovery(MEASURE op VALUE) op TIME`: the measure is one a second of the timeline keeps.
    fn recovery(&mut self) -> Result<(Threshold, Spans), ParseError> {
        self.take_while(char::is_alphabetic);
        self.ws();
        self.i += 1;
        self.ws();
        let start = self.i;
        if self.eof() {
            return Err(err(start, "expected what must hold each second, e.g. recovery(p(95) < 200ms) < 5s"));
        }
        let mut metric = self.metric()?;
        let name: String = self.text(start, self.i).chars().filter(|c| !c.is_whitespace()).collect();
        let name_at = self.name_at;
        if self.during()?.is_some() {
            return Err(err(
                start,
                "recovery watches every second after `after`: a window does not apply inside recovery(...)",
            ));
        }
        per_second(&metric).map_err(|why| err(start, format!("`{name}`: {why}")))?;
        self.ws();
        let op = self.op(&name)?;
        self.ws();
        let value_at = self.i;
        let bound = self.value(&mut metric, &name)?;
        self.ws();
        if self.peek() != Some(')') {
            return Err(err(self.i, format!("expected `)` to close `recovery({name} {} …`", op.symbol())));
        }
        self.i += 1;
        self.ws();
        let oa = self.i;
        let outer = self.op("recovery(…)")?;
        if !matches!(outer, Op::Lt | Op::Le) {
            return Err(err(oa, "a recovery time is a limit: write `recovery(…) < 5s` or `<= 5s`"));
        }
        self.ws();
        let ta = self.i;
        let text = self.take_while(|c| !c.is_whitespace());
        if text.is_empty() {
            return Err(err(ta, "expected a time after the operator, e.g. `< 5s`"));
        }
        let within = crate::units::parse_duration(&text).map_err(|e| err(ta, format!("recovery time {e}")))?;
        if within.is_zero() {
            return Err(err(ta, "a recovery time below 0s can never hold: give a time such as 5s"));
        }
        let form = Form::Recovery { op: outer, within };
        let spans = Spans { metric: start, name: name_at, value: value_at, base: None };
        Ok((Threshold { expr: String::new(), metric, op, bound, abort_on_fail: false, form }, spans))
    }

    fn metric(&mut self) -> Result<Measure, ParseError> {
        let a = self.i;
        let word = self.take_while(|c| c.is_alphanumeric() || c == '_' || c == '.');
        Ok(match word.to_lowercase().as_str() {
            "p" => {
                let p = self.percentile()?;
                return self.of_trend(Measure::Percentile(p), Stat::Percentile(p));
            }
            "avg" | "mean" => return self.of_trend(Measure::Avg, Stat::Avg),
            "min" => return self.of_trend(Measure::Min, Stat::Min),
            "max" => return self.of_trend(Measure::Max, Stat::Max),
            "med" => return self.of_trend(Measure::Med, Stat::Med),
            "last" => return self.of_series(&word, Stat::Last),
            "growth" => return self.of_series(&word, Stat::Growth),
            "errors" | "error_rate" => Measure::Errors,
            "checks" => Measure::Checks,
            "rps" => Measure::Rps,
            "requests" => Measure::Requests,
            "" => {
                return Err(err(
                    a,
                    format!("expected a metric ({METRICS}), found `{}`", self.text(a, (a + 1).min(self.cs.len()))),
                ));
            }
            lower => {
                if let Some(hint) = near_miss(lower) {
                    return Err(err(a, format!("unknown metric `{word}` — did you mean {hint}?")));
                }
                let ident = word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ident {
                    return Err(err(a, format!("unknown metric `{word}` (expected one of {METRICS})")));
                }
                let after = self.i;
                self.ws();
                if self.peek() == Some('(') {
                    return Err(err(
                        a,
                        format!(
                            "unknown function `{word}(`: use p(N)(name), avg(name), min(name), max(name) or med(name)"
                        ),
                    ));
                }
                self.i = after;
                self.name_at = a;
                Measure::Custom { name: word, stat: Stat::Value }
            }
        })
    }

    /// After a latency metric: `(name)` makes it the statistic of a named trend.
    fn of_trend(&mut self, latency: Measure, stat: Stat) -> Result<Measure, ParseError> {
        let after = self.i;
        self.ws();
        if self.peek() != Some('(') {
            self.i = after;
            return Ok(latency);
        }
        self.i += 1;
        self.ws();
        let a = self.i;
        let mut name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(err(a, "expected a metric name in `(...)`, e.g. p(95)(server_ms)"));
        }
        if name == "iteration_duration" && self.peek() == Some(':') {
            // One user type's: `iteration_duration:TYPE`, as the summary and JSON name it.
            let of_type = self.take_while(|c| c != ')');
            name = format!("{name}:{}", of_type[1..].trim());
        }
        self.ws();
        if self.peek() != Some(')') {
            return Err(err(self.i, format!("expected `)` after the metric name `{name}`")));
        }
        self.i += 1;
        self.name_at = a;
        Ok(Measure::Custom { name, stat })
    }

    /// After `last` or `growth`: `(name)`, a watched series.
    fn of_series(&mut self, word: &str, stat: Stat) -> Result<Measure, ParseError> {
        let a = self.i;
        let after = self.i;
        self.ws();
        if self.peek() != Some('(') {
            return Err(err(a, format!("`{word}` takes a watched series: write {word}(NAME), e.g. {word}(api_rss)")));
        }
        self.i = after;
        match self.of_trend(Measure::Max, stat)? {
            m @ Measure::Custom { .. } => Ok(m),
            _ => Err(err(a, format!("write {word}(NAME)"))),
        }
    }

    /// After `p`: `(` NUMBER `)`, whitespace allowed inside.
    fn percentile(&mut self) -> Result<f64, ParseError> {
        self.ws();
        if self.peek() != Some('(') {
            return Err(err(self.i, "expected `(` after `p` (write percentiles as p(95))"));
        }
        self.i += 1;
        self.ws();
        let a = self.i;
        let n = self.number().ok_or_else(|| err(a, "expected a number in `p(...)`, e.g. p(95)"))?;
        if !(n > 0.0 && n <= 100.0) {
            return Err(err(a, format!("percentile must be between 0 and 100 (got {n}; 0 excluded)")));
        }
        self.ws();
        if self.peek() != Some(')') {
            return Err(err(self.i, format!("expected `)` to close `p({n}`")));
        }
        self.i += 1;
        Ok(n)
    }

    fn op(&mut self, name: &str) -> Result<Op, ParseError> {
        let a = self.i;
        let (op, len) = match (self.peek(), self.cs.get(a + 1).copied()) {
            (Some('<'), Some('=')) => (Op::Le, 2),
            (Some('>'), Some('=')) => (Op::Ge, 2),
            (Some('='), Some('=')) => (Op::Eq, 2),
            (Some('!'), Some('=')) => (Op::Ne, 2),
            (Some('<'), _) => (Op::Lt, 1),
            (Some('>'), _) => (Op::Gt, 1),
            (Some('='), _) => return Err(err(a, "`=` is not an operator — did you mean `==`?")),
            _ => return Err(err(a, format!("expected an operator (<, <=, >, >=, ==, !=) after `{name}`"))),
        };
        self.i += len;
        Ok(op)
    }

    /// NUMBER [unit], converted to the metric's reporting unit (a named metric's `%` makes it
    /// [`Stat::Percent`]).
    fn value(&mut self, metric: &mut Measure, name: &str) -> Result<f64, ParseError> {
        let a = self.i;
        let Some(n) = self.number() else {
            let found = if self.eof() { "nothing".into() } else { format!("`{}`", self.text(a, self.cs.len())) };
            return Err(err(a, format!("expected a number after the operator, found {found}")));
        };
        let number_end = self.i;
        self.ws();
        let ua = self.i;
        let unit = self.take_while(|c| c.is_alphabetic() || c == '%');
        if unit.is_empty() {
            self.i = number_end;
        }
        let w = self.text(a, self.i);
        let unit_err = |what: String| Err(err(ua, format!("`{w}`: {what}")));
        let range_err = |what: String| Err(err(a, format!("`{w}`: {what}")));
        match metric {
            Measure::Custom { stat: stat @ (Stat::Value | Stat::Percent), .. } => match unit.as_str() {
                "" if n < 0.0 => range_err(format!("{name} cannot be negative")),
                "" => Ok(n),
                "%" if (0.0..=100.0).contains(&n) => {
                    *stat = Stat::Percent;
                    Ok(n)
                }
                "%" => range_err(format!("{name} must be between 0% and 100%")),
                _ => unit_err(format!(
                    "unit `{unit}` does not apply to {name}: a rate takes a percentage (95%) or a fraction (0.95), \
                     a counter a plain number"
                )),
            },
            Measure::Custom { stat: Stat::Growth, .. } => match unit.as_str() {
                "%" => Ok(n),
                "" => Ok(n * 100.0),
                _ => unit_err(format!("growth is a percentage (10%) or a fraction (0.1), not `{unit}`")),
            },
            Measure::Custom { .. } => match unit.to_lowercase().as_str() {
                "" | "ms" if n < 0.0 => range_err(format!("{name} cannot be negative")),
                "" | "ms" => Ok(n),
                _ => unit_err(format!(
                    "unknown unit `{unit}` for {name}: a trend is compared in its own unit (`ms` may follow, and is \
                     ignored)"
                )),
            },
            m if m.is_latency() => {
                let scale = match unit.to_lowercase().as_str() {
                    "" | "ms" => 1.0,
                    "us" | "µs" | "μs" => 0.001,
                    "s" => 1000.0,
                    "m" => 60_000.0,
                    _ => return unit_err(format!("unknown unit `{unit}` for {name} (use us, µs, ms, s or m)")),
                };
                if n < 0.0 {
                    range_err(format!("{name} cannot be negative"))
                } else if !(n * scale).is_finite() {
                    // A finite number of minutes can still overflow once in milliseconds.
                    range_err(format!("{name} bound is too large"))
                } else {
                    Ok(n * scale)
                }
            }
            Measure::Errors | Measure::Checks => {
                let pct = match unit.as_str() {
                    "%" => n,
                    "" if n >= 1.0 => {
                        let frac = format!("{}", n / 100.0);
                        return range_err(format!(
                            "a bare number of 1 or more on {name} is ambiguous — did you mean {n}%? (a fraction \
                             is below 1: `{frac}` is {n}%, `0.01` is `1%`)"
                        ));
                    }
                    "" => n * 100.0,
                    _ => return unit_err(format!("unit `{unit}` does not apply to {name}; write 1% or 0.01")),
                };
                if (0.0..=100.0).contains(&pct) {
                    return Ok(pct);
                }
                let hint = if unit.is_empty() && n > 1.0 && n <= 100.0 {
                    format!(" — did you mean {n}%?")
                } else {
                    "".into()
                };
                range_err(format!("{name} must be between 0% and 100% (a bare number is a fraction: 0.01 = 1%){hint}"))
            }
            _ if !unit.is_empty() => unit_err(format!("{name} takes a plain number, without unit `{unit}`")),
            _ if n < 0.0 => range_err(format!("{name} cannot be negative")),
            _ => Ok(n),
        }
    }
}
