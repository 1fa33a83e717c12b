//! Thresholds (`p(95) < 200ms`, `errors < 1%`, `rps > 100`): parsing with located errors, and evaluation.
//!
//! Used run-wide and per step; a failed threshold makes the run exit 1. Bounds are held in the metric's
//! reporting unit: milliseconds for latency, percent for rates, req/s for rps, a count for requests.
//! Error offsets count characters (not bytes) into the text as given, so a caller can point a caret at them.

use hdrhistogram::Histogram;

#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    Percentile(f64),
    Avg,
    Min,
    Max,
    Med,
    Errors,
    Checks,
    Rps,
    Requests,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The text as written (trimmed).
    pub expr: String,
    pub metric: Metric,
    pub op: Op,
    /// Bound in the metric's reporting unit: milliseconds for latency metrics, percent for
    /// errors/checks, requests per second for rps, a count for requests.
    pub bound: f64,
    /// Default false; set by the caller.
    pub abort_on_fail: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ThresholdError {
    /// Character offset into the expression as given.
    pub offset: usize,
    pub message: String,
}

/// What a threshold is measured against (a whole run, one step, or a time window).
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Microseconds.
    pub latency: &'a Histogram<u64>,
    pub requests: u64,
    pub errors: u64,
    pub checks: u64,
    pub checks_failed: u64,
    pub duration_s: f64,
}

impl<'a> Observed<'a> {
    /// What thresholds are measured against, from one step's (or the total's) stats.
    pub fn of(s: &'a crate::stats::StepStats, duration_s: f64) -> Observed<'a> {
        Observed {
            latency: &s.latency,
            requests: s.requests,
            errors: s.errors,
            checks: s.checks,
            checks_failed: s.checks_failed,
            duration_s,
        }
    }
}

/// A threshold as measured at the end of a run (or a merge, or a live check): what the result
/// documents and reports carry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    pub ok: bool,
    /// The measured value, in `unit`.
    pub value: f64,
    /// `ms` (latency), `%` (errors, checks), `req/s` (rps) or empty (counts).
    #[serde(default)]
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The scenario it is measured on, for a scenario's threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The window of the run it is measured on (`"2m..12m"`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<String>,
    /// `"warn"`: reported, does not fail the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

impl ThresholdResult {
    /// It failed, and it is not a warning: the run fails.
    pub fn fails_run(&self) -> bool {
        !self.ok && self.level.as_deref() != Some("warn")
    }

    /// How a report labels it: `ok`, `FAIL`, or `WARN` (a failed warning).
    pub fn verdict(&self) -> &'static str {
        match (self.ok, self.level.as_deref()) {
            (true, _) => "ok",
            (false, Some("warn")) => "WARN",
            (false, _) => "FAIL",
        }
    }
}

impl Metric {
    fn is_latency(&self) -> bool {
        matches!(self, Metric::Percentile(_) | Metric::Avg | Metric::Min | Metric::Max | Metric::Med)
    }
}

impl Threshold {
    /// The measured value in the metric's reporting unit (ms / % / req/s / count).
    /// Latency metrics on an empty histogram measure 0; rates with no requests (or no checks) measure 0%.
    pub fn measure(&self, o: &Observed) -> f64 {
        let h = o.latency;
        let ms = |us: u64| us as f64 / 1000.0;
        match self.metric {
            _ if self.metric.is_latency() && h.is_empty() => 0.0,
            Metric::Percentile(p) => ms(h.value_at_quantile(p / 100.0)),
            Metric::Med => ms(h.value_at_quantile(0.5)),
            Metric::Avg => h.mean() / 1000.0,
            Metric::Min => ms(h.min()),
            Metric::Max => ms(h.max()),
            Metric::Errors if o.requests == 0 => 0.0,
            Metric::Errors => 100.0 * o.errors as f64 / o.requests as f64,
            Metric::Checks if o.checks == 0 => 0.0,
            Metric::Checks => 100.0 * o.checks.saturating_sub(o.checks_failed) as f64 / o.checks as f64,
            Metric::Rps if o.duration_s <= 0.0 => 0.0,
            Metric::Rps => o.requests as f64 / o.duration_s,
            Metric::Requests => o.requests as f64,
        }
    }

    pub fn holds(&self, measured: f64) -> bool {
        let b = self.bound;
        match self.op {
            Op::Lt => measured < b,
            Op::Le => measured <= b,
            Op::Gt => measured > b,
            Op::Ge => measured >= b,
            Op::Eq => measured == b,
            Op::Ne => measured != b,
        }
    }

    /// Convenience: (measured, holds).
    pub fn evaluate(&self, o: &Observed) -> (f64, bool) {
        let m = self.measure(o);
        (m, self.holds(m))
    }

    /// Measure on `o` and say whether it holds, as a result row (`step`: the step it is on).
    pub fn judge(&self, o: &Observed, step: Option<String>) -> ThresholdResult {
        let (value, ok) = self.evaluate(o);
        ThresholdResult {
            expr: self.expr.clone(),
            ok,
            value: crate::units::round3(value),
            unit: self.unit().to_string(),
            step,
            scenario: None,
            during: None,
            level: None,
        }
    }

    /// Human unit for reports: "ms", "%", "req/s", "".
    pub fn unit(&self) -> &'static str {
        match self.metric {
            Metric::Errors | Metric::Checks => "%",
            Metric::Rps => "req/s",
            Metric::Requests => "",
            _ => "ms",
        }
    }
}

fn err(offset: usize, message: impl Into<String>) -> ThresholdError {
    ThresholdError { offset, message: message.into() }
}

const METRICS: &str = "p(N), avg, mean, min, max, med, errors, error_rate, checks, rps, requests";

/// Parses `metric op value`, e.g. `p(95) < 200ms`, `errors < 1%`, `rps >= 100`.
pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
    let mut p = Parser { cs: expr.chars().collect(), i: 0 };
    p.ws();
    if p.eof() {
        return Err(err(p.i, "empty threshold (expected e.g. `p(95) < 200ms` or `errors < 1%`)"));
    }
    let start = p.i;
    let metric = p.metric()?;
    let name: String = p.text(start, p.i).chars().filter(|c| !c.is_whitespace()).collect();
    p.ws();
    let op = p.op(&name)?;
    p.ws();
    let bound = p.value(&metric, &name)?;
    p.ws();
    if !p.eof() {
        return Err(err(p.i, format!("unexpected `{}` after the value", p.text(p.i, p.cs.len()))));
    }
    Ok(Threshold { expr: expr.trim().to_string(), metric, op, bound, abort_on_fail: false })
}

struct Parser {
    cs: Vec<char>,
    i: usize,
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

    fn metric(&mut self) -> Result<Metric, ThresholdError> {
        let a = self.i;
        let word = self.take_while(|c| c.is_alphanumeric() || c == '_' || c == '.');
        Ok(match word.to_lowercase().as_str() {
            "p" => return self.percentile(),
            "avg" | "mean" => Metric::Avg,
            "min" => Metric::Min,
            "max" => Metric::Max,
            "med" => Metric::Med,
            "errors" | "error_rate" => Metric::Errors,
            "checks" => Metric::Checks,
            "rps" => Metric::Rps,
            "requests" => Metric::Requests,
            "" => return Err(err(a, format!("expected a metric ({METRICS}), found `{}`", self.text(a, a + 1)))),
            lower => {
                let hint = match lower.strip_prefix('p').and_then(|n| n.parse::<f64>().ok()) {
                    Some(n) => format!("p({n})"),
                    None if ["error", "check", "request"].contains(&lower) => format!("{lower}s"),
                    None if lower == "median" => "med".into(),
                    None if lower == "average" => "avg".into(),
                    None => return Err(err(a, format!("unknown metric `{word}` (expected one of {METRICS})"))),
                };
                return Err(err(a, format!("unknown metric `{word}` — did you mean {hint}?")));
            }
        })
    }

    /// After `p`: `(` NUMBER `)`, whitespace allowed inside.
    fn percentile(&mut self) -> Result<Metric, ThresholdError> {
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
        Ok(Metric::Percentile(n))
    }

    fn op(&mut self, name: &str) -> Result<Op, ThresholdError> {
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

    /// NUMBER [unit], converted to the metric's reporting unit.
    fn value(&mut self, metric: &Metric, name: &str) -> Result<f64, ThresholdError> {
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
            Metric::Errors | Metric::Checks => {
                let pct = match unit.as_str() {
                    "%" => n,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Threshold {
        parse(s).unwrap_or_else(|e| panic!("{s:?}: {e} at {}", e.offset))
    }

    fn e(s: &str) -> ThresholdError {
        parse(s).expect_err(s)
    }

    /// 1..=1000 ms, recorded in µs.
    fn ms_1_to_1000() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new(3).unwrap();
        (1..=1000u64).for_each(|ms| h.record(ms * 1000).unwrap());
        h
    }

    fn obs(h: &Histogram<u64>, requests: u64, errors: u64, checks: u64, checks_failed: u64) -> Observed<'_> {
        Observed { latency: h, requests, errors, checks, checks_failed, duration_s: 10.0 }
    }

    #[test]
    fn parses_every_metric_name() {
        use Metric::*;
        let names =
            ["p(95)", "p(99.9)", "P(100)", "avg", "mean", "MIN", "max", "med", "errors", "error_rate", "checks"];
        let want =
            [Percentile(95.0), Percentile(99.9), Percentile(100.0), Avg, Avg, Min, Max, Med, Errors, Errors, Checks];
        for (name, m) in names.iter().chain(&["rps", "requests"]).zip(want.into_iter().chain([Rps, Requests])) {
            assert_eq!(p(&format!("{name} < 0.5")).metric, m, "{name}");
        }
    }

    #[test]
    fn parses_every_op() {
        let cases = [("<", Op::Lt), ("<=", Op::Le), (">", Op::Gt), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne)];
        for (text, op) in cases {
            let t = p(&format!("rps {text} 5"));
            assert_eq!((t.op, t.bound), (op, 5.0), "{text}");
            assert_eq!(p(&format!("rps{text}5")).op, op, "{text} without spaces");
        }
    }

    #[test]
    fn latency_units_convert_to_milliseconds() {
        let values = ["200", "200ms", "200 ms", "1500us", "1500µs", "1500μs", "1.5s", "2S", "1m", "0.25"];
        let ms = [200.0, 200.0, 200.0, 1.5, 1.5, 1.5, 1500.0, 2000.0, 60_000.0, 0.25];
        for (v, ms) in values.into_iter().zip(ms) {
            let b = p(&format!("p(95) < {v}")).bound;
            assert!((b - ms).abs() < 1e-9, "{v}: {b} != {ms}");
        }
    }

    #[test]
    fn rate_fraction_and_percent_forms_are_equivalent() {
        for (frac, pct) in [("0.01", "1%"), ("0", "0%"), ("1", "100%"), ("0.5", "50 %")] {
            let (a, b) = (p(&format!("errors < {frac}")), p(&format!("errors < {pct}")));
            assert_eq!(a.bound, b.bound, "{frac} vs {pct}");
            let h = Histogram::<u64>::new(3).unwrap();
            let o = obs(&h, 200, 1, 0, 0); // 0.5%
            assert_eq!(a.evaluate(&o), b.evaluate(&o), "{frac} vs {pct}");
        }
        assert_eq!(p("errors < 0.01").bound, 1.0);
        assert_eq!(p("checks >= 0.99").bound, 99.0);
    }

    #[test]
    fn whitespace_and_case_are_ignored_and_expr_is_trimmed() {
        let t = p("  P ( 99.9 )<=1.5S  ");
        assert_eq!((t.metric, t.op, t.bound), (Metric::Percentile(99.9), Op::Le, 1500.0));
        assert_eq!(t.expr, "P ( 99.9 )<=1.5S");
        assert!(!t.abort_on_fail);
    }

    #[test]
    fn errors_name_the_problem_and_where() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty threshold"),
            ("p(95) 200ms", 6, "expected an operator (<, <=, >, >=, ==, !=) after `p(95)`"),
            ("p(95)", 5, "expected an operator"),
            ("p95 < 200", 0, "unknown metric `p95` — did you mean p(95)?"),
            ("p99.9 < 200", 0, "did you mean p(99.9)?"),
            ("latency < 200", 0, "unknown metric `latency`"),
            ("error < 1%", 0, "did you mean errors?"),
            ("p(95) < 200xs", 11, "`200xs`: unknown unit `xs`"),
            ("p(0) < 200", 2, "percentile must be between 0 and 100"),
            ("p(101) < 200", 2, "percentile must be between 0 and 100"),
            ("p() < 200", 2, "expected a number in `p(...)`"),
            ("p(95 < 200", 5, "expected `)`"),
            ("p 95 < 200", 2, "expected `(` after `p`"),
            ("p(95) = 200", 6, "did you mean `==`?"),
            ("p(95) < ", 8, "expected a number after the operator, found nothing"),
            ("p(95) < fast", 8, "found `fast`"),
            ("p(95) < 200ms please", 14, "unexpected `please`"),
            ("p(95) < 5%", 9, "unknown unit `%` for p(95)"),
            ("p(95) < -5", 8, "cannot be negative"),
            ("errors < 150%", 9, "errors must be between 0% and 100%"),
            ("errors < 5", 9, "did you mean 5%?"),
            ("checks > 1ms", 10, "unit `ms` does not apply to checks"),
            ("rps > 10k", 8, "rps takes a plain number, without unit `k`"),
            ("requests > -1", 11, "requests cannot be negative"),
            ("< 200", 0, "expected a metric"),
            ("p(95) < 200µx", 11, "unknown unit `µx`"), // offsets count characters, not bytes
        ];
        for &(s, offset, msg) in cases {
            let got = e(s);
            assert!(got.message.contains(msg), "{s:?}: message {:?} lacks {msg:?}", got.message);
            assert_eq!(got.offset, offset, "{s:?}: {}", got.message);
            assert_eq!(got.to_string(), got.message);
        }
    }

    /// Bug: a latency bound written in minutes or seconds was scaled to milliseconds without a
    /// check, so a huge but finite number became an infinite bound (`p(95) < 1e308m` always held).
    #[test]
    fn huge_latency_bound_in_minutes_is_refused_not_infinite() {
        let huge = format!("1{}", "0".repeat(307));
        let e = e(&format!("p(95) < {huge}m"));
        assert!(e.message.contains("too large"), "{}", e.message);
        assert_eq!(e.offset, 8);
        assert!(p(&format!("max < {huge}us")).bound.is_finite());
    }

    #[test]
    fn latency_metrics_measure_known_histogram() {
        let h = ms_1_to_1000();
        let o = obs(&h, 1000, 0, 0, 0);
        let near = |s: &str, want: f64| {
            let got = p(s).measure(&o);
            assert!((got - want).abs() <= want * 0.002 + 0.01, "{s}: measured {got}, expected ~{want}");
        };
        near("p(95) < 1", 950.0);
        near("p(99) < 1", 990.0);
        near("p(99.9) < 1", 999.0);
        near("p(100) < 1", 1000.0);
        near("med < 1", 500.0);
        near("avg < 1", 500.5);
        near("min < 1", 1.0);
        near("max < 1", 1000.0);
        assert!(p("p(95) < 960ms").evaluate(&o).1);
        assert!(!p("p(95) < 940ms").evaluate(&o).1);
        assert!(p("p(95) < 1s").evaluate(&o).1);
        assert_eq!(p("p(95) < 1").unit(), "ms");
    }

    #[test]
    fn each_op_at_the_boundary() {
        // measured exactly equal to the bound, just below, just above → (Lt, Le, Gt, Ge, Eq, Ne)
        let ops = ["<", "<=", ">", ">=", "==", "!="];
        let expect = [
            (100.0, [false, true, false, true, true, false]),
            (99.9, [true, true, false, false, false, true]),
            (100.1, [false, false, true, true, false, true]),
        ];
        for (measured, holds) in expect {
            for (op, want) in ops.iter().zip(holds) {
                assert_eq!(p(&format!("p(95) {op} 100ms")).holds(measured), want, "{measured} {op} 100");
            }
        }
        // and through evaluate: requests == 1000 exactly
        let h = Histogram::<u64>::new(3).unwrap();
        let o = obs(&h, 1000, 0, 0, 0);
        assert_eq!(p("requests < 1000").evaluate(&o), (1000.0, false));
        assert_eq!(p("requests <= 1000").evaluate(&o), (1000.0, true));
    }

    #[test]
    fn rates_with_nothing_observed_measure_zero() {
        let h = Histogram::<u64>::new(3).unwrap();
        let o = Observed { latency: &h, requests: 0, errors: 0, checks: 0, checks_failed: 0, duration_s: 0.0 };
        assert_eq!(p("errors < 1%").evaluate(&o), (0.0, true));
        assert_eq!(p("checks > 99%").evaluate(&o), (0.0, false));
        assert_eq!(p("rps > 0").evaluate(&o), (0.0, false));
        assert_eq!(p("p(95) < 200").evaluate(&o), (0.0, true));
        assert_eq!(p("avg > 0").evaluate(&o), (0.0, false));
    }

    #[test]
    fn rates_throughput_and_counts_measure() {
        let h = ms_1_to_1000();
        let o = obs(&h, 1000, 25, 200, 2);
        assert_eq!(p("errors < 1%").evaluate(&o), (2.5, false));
        assert_eq!(p("error_rate < 0.03").evaluate(&o), (2.5, true));
        assert_eq!(p("checks >= 99%").evaluate(&o), (99.0, true));
        assert_eq!(p("checks > 0.99").evaluate(&o), (99.0, false));
        assert_eq!(p("rps >= 100").evaluate(&o), (100.0, true));
        assert_eq!(p("requests == 1000").evaluate(&o), (1000.0, true));
        let units: Vec<_> = ["errors<1", "checks>0", "rps>1", "requests>1"].iter().map(|s| p(s).unit()).collect();
        assert_eq!(units, ["%", "%", "req/s", ""]);
    }
}
