//! Thresholds (`p(95) < 200ms`, `errors < 1%`, `rps > 100`, `cache_hit > 95%`): parsing with located errors, and
//! evaluation.
//!
//! Used run-wide and per step; a failed threshold makes the run exit 1. Bounds are held in the metric's
//! reporting unit: milliseconds for latency, percent for rates, req/s for rps, a count for requests.
//! Error offsets are bytes into the text as given (a [`ParseError`], as for every rule language).
//!
//! Metrics of your own ([`crate::rules::metric`]) are named: `cache_hit > 95%` or `cache_hit > 0.95` (a rate, in percent or
//! as a fraction, measured in the form written), `created > 1000` (a counter), and for trends `p(95)(server_ms) < 50`,
//! `avg(server_ms) < 20`, `min(…)`, `max(…)`, `med(…)` (`mean(…)` too), in the trend's own unit (an `ms` suffix is
//! allowed and ignored). Any identifier that is not a built-in metric ([`words::is_reserved`]) names one: [`parse`] does not
//! know which exist, [`parse_checked`] does; [`Threshold::judge`] measures them where a [`Source`] finds them.

pub mod drift;
mod parse;
pub mod recovery;
pub mod seconds;
mod verdict;
pub mod words;

use hdrhistogram::Histogram;

#[cfg(test)]
use crate::stats::metric::MetricStats;

/// What a threshold measures: a latency statistic, the error or check share, the request rate or
/// count, or a statistic of a metric of your own or a watched series.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    Percentile(f64),
    Avg,
    Min,
    Max,
    Med,
    Errors,
    Checks,
    Rps,
    Requests,
    /// A metric of `[metrics]` (or one the run defines, such as `iteration_duration`), by name.
    Custom {
        name: String,
        stat: Stat,
    },
}

/// What a threshold on a named metric measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// `name op N`: a counter's count, or a rate as a fraction (`cache_hit > 0.95`).
    Value,
    /// `name op N%`: a rate in percent.
    Percent,
    /// `p(N)(name)`: a trend's percentile.
    Percentile(f64),
    /// `avg(name)` or `mean(name)`.
    Avg,
    Min,
    Max,
    /// `med(name)`: the 50th percentile.
    Med,
    /// `last(name)`: a watched series' last value.
    Last,
    /// `growth(name)`: a watched series' change from its first value to its last, in percent.
    Growth,
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
    pub metric: Measure,
    pub op: Op,
    /// Bound in the metric's reporting unit: milliseconds for latency metrics, percent for
    /// errors/checks, requests per second for rps, a count for requests; for a named metric, the
    /// number as written (percent with `%`, else a fraction or a count; a trend's own unit).
    pub bound: f64,
    /// Default false; set by the caller.
    pub abort_on_fail: bool,
    /// A bound (`p(95) < 200ms`), one window against another, or a recovery time.
    pub form: Form,
}

/// A window of the run, from its start: whole seconds (`25m..30m`).
pub type Window = (std::time::Duration, std::time::Duration);

/// The three shapes of a threshold.
#[derive(Debug, Clone, PartialEq)]
pub enum Form {
    /// `metric op bound`.
    Bound,
    /// `p(95) during 25m..30m < 1.5 * p(95) during 0m..5m`: `metric` measured in `window` holds
    /// `op` against `bound` (the factor, 1 when not written) times `base` measured in
    /// `base_window` ([`drift`]).
    Drift { window: Window, base: Measure, base_window: Window },
    /// `recovery(p(95) < 200ms) < 5s`: `metric op bound` is what each second must hold; the time
    /// until it holds (from the rule's `after`, for its `hold`) is compared `op` with `within`
    /// ([`recovery`]).
    Recovery { op: Op, within: std::time::Duration },
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

/// What a threshold measured: a value in its reporting unit, or why there was nothing to measure.
pub type Measured = Result<f64, NoData>;

/// Nothing to measure, and why (shown in reports as the threshold's measured value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoData(pub &'static str);

impl NoData {
    pub const LATENCY: NoData = NoData("no data: no responses with a latency");
    pub const REQUESTS: NoData = NoData("no data: no requests completed");
    pub const CHECKS: NoData = NoData("no data: no checks evaluated");
    pub const TIME: NoData = NoData("no data: it did not run");
    pub const RATE: NoData = NoData("no data: nothing recorded");
    pub const TREND: NoData = NoData("no data: no values recorded");
    pub const SERIES: NoData = NoData("no data: no samples of the series");
    pub const NOT_HERE: NoData = NoData("no data: not measured on these stats");
    /// A window's threshold while the run goes on: judged at the end, on the window's seconds.
    /// A recovery that never came: the bound never held for `hold` seconds in a row.
    pub const NEVER_RECOVERED: NoData = NoData("never recovered");
    pub const LATER: NoData = NoData("no data: a window is judged at the end of the run");
}

impl Op {
    /// As written: `<`, `<=`, `>`, `>=`, `==`, `!=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// Whether `a op b`.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// A window of the run as written (`2m..12m`, `0s..5s`): whole seconds, ending after it starts.
pub fn parse_window(text: &str) -> Result<Window, String> {
    let (from, to) =
        text.split_once("..").ok_or_else(|| "write a window of the run as FROM..TO, as in \"2m..12m\"".to_string())?;
    let from = crate::units::parse_duration(from.trim())?;
    let to = crate::units::parse_duration(to.trim())?;
    if to <= from {
        return Err("the window ends before it starts".into());
    }
    if from.subsec_nanos() != 0 || to.subsec_nanos() != 0 {
        return Err("a window is measured in whole seconds of the run: write whole seconds, as in \"1s..3s\"".into());
    }
    Ok((from, to))
}

/// A window as the file writes it (`0s..5s`, `25m..30m`).
pub fn window_text((from, to): Window) -> String {
    let edge = |d: std::time::Duration| if d.is_zero() { "0s".into() } else { crate::units::duration(d) };
    format!("{}..{}", edge(from), edge(to))
}
impl Measure {
    /// Whether it is a latency statistic (`p(N)`, `avg`, `min`, `max`, `med`).
    pub fn is_latency(&self) -> bool {
        matches!(self, Measure::Percentile(_) | Measure::Avg | Measure::Min | Measure::Max | Measure::Med)
    }
}

impl Stat {
    /// Whether it is a statistic of a trend (`p(N)(…)`, `avg(…)`, `min(…)`, `max(…)`, `med(…)`).
    pub fn is_trend(&self) -> bool {
        !matches!(self, Stat::Value | Stat::Percent)
    }
}

impl Threshold {
    /// The name of the metric of your own it is on (`cache_hit` in `cache_hit > 95%`, `server_ms` in
    /// `p(95)(server_ms) < 50`), or `None` for a built-in metric.
    pub fn metric_name(&self) -> Option<&str> {
        match &self.metric {
            Measure::Custom { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Whether `measured` is within the bound.
    pub fn holds(&self, measured: f64) -> bool {
        self.op.holds(measured, self.bound)
    }

    /// Human unit for reports: "ms", "%", "req/s", "" (a named metric: "%" when written so, else
    /// ""); a recovery time is in "s".
    pub fn unit(&self) -> &'static str {
        if matches!(self.form, Form::Recovery { .. }) {
            return "s";
        }
        self.measure_unit()
    }

    /// The unit of what `metric` measures (for a recovery, each second's value).
    pub fn measure_unit(&self) -> &'static str {
        match self.metric {
            Measure::Errors | Measure::Checks => "%",
            Measure::Rps => "req/s",
            Measure::Requests => "",
            Measure::Custom { stat: Stat::Percent | Stat::Growth, .. } => "%",
            Measure::Custom { .. } => "",
            _ => "ms",
        }
    }
}

pub use parse::{parse, parse_checked};
pub use verdict::{Ask, Data, Extra, Fixed, On, Outcome, Reading, Scope, Source, Span, Verdict, measure_on};

#[cfg(test)]
mod tests {
    // Rows of the result document, to show what reports get from a verdict.
    use super::words::is_reserved;
    use super::*;
    use crate::report::result::ThresholdResult;
    use crate::rules::ParseError;
    use crate::rules::metric::Kind;

    fn p(s: &str) -> Threshold {
        parse(s).unwrap_or_else(|e| panic!("{s:?}: {e} at {}", e.offset))
    }

    fn e(s: &str) -> ParseError {
        parse(s).expect_err(s)
    }

    /// 1..=1000 ms, recorded in µs.
    fn ms_1_to_1000() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new(3).unwrap();
        (1..=1000u64).for_each(|ms| h.record(ms * 1000).unwrap());
        h
    }

    /// (measured, held) on the data, through the one path.
    fn eval(t: &Threshold, d: Data) -> (Measured, bool) {
        let v = t.judge(&Fixed(d), &Scope::RUN);
        (v.measured, v.held())
    }

    /// A result row on the data, on `step`.
    fn row(t: &Threshold, d: Data, step: Option<String>) -> ThresholdResult {
        ThresholdResult { step, ..ThresholdResult::of(t, &t.judge(&Fixed(d), &Scope::RUN), &Scope::RUN) }
    }

    fn obs(h: &Histogram<u64>, requests: u64, errors: u64, checks: u64, checks_failed: u64) -> Observed<'_> {
        Observed { latency: h, requests, errors, checks, checks_failed, duration_s: 10.0 }
    }

    #[test]
    fn parses_every_metric_name() {
        use Measure::*;
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
        for (frac, pct) in [("0.01", "1%"), ("0", "0%"), ("0.25", "25%"), ("0.5", "50 %")] {
            let (a, b) = (p(&format!("errors < {frac}")), p(&format!("errors < {pct}")));
            assert_eq!(a.bound, b.bound, "{frac} vs {pct}");
            let h = Histogram::<u64>::new(3).unwrap();
            let o = obs(&h, 200, 1, 0, 0); // 0.5%
            assert_eq!(eval(&a, Data::Requests(o)), eval(&b, Data::Requests(o)), "{frac} vs {pct}");
        }
        assert_eq!(p("errors < 0.01").bound, 1.0);
        assert_eq!(p("checks >= 0.99").bound, 99.0);
    }

    #[test]
    fn errors_below_one_is_read_as_100_percent() {
        // A bare number >= 1 on a percentage measure is ambiguous: refused, naming both forms.
        for (s, at) in [("errors < 1", 9), ("checks > 1", 9), ("error_rate <= 5", 14)] {
            let got = e(s);
            assert_eq!(got.offset, at, "{s}: {}", got.message);
            assert!(got.message.contains("ambiguous") && got.message.contains('%'), "{s}: {}", got.message);
        }
        let got = e("errors < 1");
        assert!(got.message.contains("`1%`") && got.message.contains("`0.01`"), "{}", got.message);
        assert_eq!(p("errors < 0.99").bound, 99.0);
        assert_eq!(p("errors < 1%").bound, 1.0);
        assert_eq!(p("errors == 0").bound, 0.0);
        let rate = parse_checked("cache_hit > 1", MINE, &[]).unwrap_err();
        assert!(rate.message.contains("did you mean 1%?"), "{}", rate.message);
    }

    #[test]
    fn k6_threshold_lines_show_the_stampede_form() {
        let cases = [
            ("http_req_duration: p(95)<200", "stampede writes `p(95) < 200ms`"),
            ("http_req_duration: avg < 50", "stampede writes `avg < 50ms`"),
            ("http_req_failed: rate<0.01", "stampede writes `errors < 1%`"),
            ("checks: rate>0.99", "stampede writes `checks > 99%`"),
            ("  http_reqs: count>100", "stampede writes `requests >100`"),
        ];
        for (s, want) in cases {
            let got = e(s);
            assert!(got.message.contains("k6's form") && got.message.contains(want), "{s}: {}", got.message);
            assert_eq!(got.offset, s.len() - s.trim_start().len(), "{s}");
        }
        // The forms it shows are stampede's own.
        for ours in ["p(95) < 200ms", "avg < 50ms", "errors < 1%", "checks > 99%", "requests >100"] {
            p(ours);
        }
    }

    #[test]
    fn whitespace_and_case_are_ignored_and_expr_is_trimmed() {
        let t = p("  P ( 99.9 )<=1.5S  ");
        assert_eq!((t.metric, t.op, t.bound), (Measure::Percentile(99.9), Op::Le, 1500.0));
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
            ("p(95) < 200µx", 11, "unknown unit `µx`"),
            ("p(95) < 200µs extra", 15, "unexpected `extra`"), // offsets count bytes (µ is two)
        ];
        for &(s, offset, msg) in cases {
            let got = parse_checked(s, &[], &[]).expect_err(s); // `latency` could name a metric of [metrics]
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
            let got = measure_on(&p(s).metric, &Data::Requests(o)).unwrap();
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
        assert!(eval(&p("p(95) < 960ms"), Data::Requests(o)).1);
        assert!(!eval(&p("p(95) < 940ms"), Data::Requests(o)).1);
        assert!(eval(&p("p(95) < 1s"), Data::Requests(o)).1);
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
        assert_eq!(eval(&p("requests < 1000"), Data::Requests(o)), (Ok(1000.0), false));
        assert_eq!(eval(&p("requests <= 1000"), Data::Requests(o)), (Ok(1000.0), true));
    }

    #[test]
    fn thresholds_pass_on_nothing() {
        // Nothing observed is no data, never 0: every threshold on it fails, whatever its bound.
        let h = Histogram::<u64>::new(3).unwrap();
        let o = Observed { latency: &h, requests: 0, errors: 0, checks: 0, checks_failed: 0, duration_s: 0.0 };
        assert_eq!(eval(&p("errors < 1%"), Data::Requests(o)), (Err(NoData::REQUESTS), false));
        assert_eq!(eval(&p("checks > 99%"), Data::Requests(o)), (Err(NoData::CHECKS), false));
        assert_eq!(eval(&p("rps > 0"), Data::Requests(o)), (Err(NoData::TIME), false));
        assert_eq!(eval(&p("p(95) < 1us"), Data::Requests(o)), (Err(NoData::LATENCY), false));
        assert_eq!(eval(&p("avg > 0"), Data::Requests(o)), (Err(NoData::LATENCY), false));
        assert_eq!(eval(&p("requests == 0"), Data::Requests(o)), (Ok(0.0), true), "a count of nothing is data");
        let r = row(&p("p(95) < 1us"), Data::Requests(o), Some("never".into()));
        assert_eq!((r.ok, r.value, r.reason.as_deref()), (false, None, Some("no data: no responses with a latency")));
        assert!(r.fails_run());
        let warn = ThresholdResult { level: Some("warn".into()), ..r.clone() };
        assert_eq!((warn.fails_run(), warn.verdict()), (false, "WARN"), "a warning stays a warning");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["value"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<ThresholdResult>(json).unwrap(), r);
        let empty = MetricStats::new(Kind::Trend);
        assert_eq!(eval(&p("p(95)(server_ms) < 50"), Data::Metric(&empty)), (Err(NoData::TREND), false));
        let none = crate::monitor::SeriesSummary::default();
        assert_eq!(row(&p("avg(load1) < 5"), Data::Series(&none), None).reason.as_deref(), Some(NoData::SERIES.0));
    }

    #[test]
    fn rates_throughput_and_counts_measure() {
        let h = ms_1_to_1000();
        let o = obs(&h, 1000, 25, 200, 2);
        assert_eq!(eval(&p("errors < 1%"), Data::Requests(o)), (Ok(2.5), false));
        assert_eq!(eval(&p("error_rate < 0.03"), Data::Requests(o)), (Ok(2.5), true));
        assert_eq!(eval(&p("checks >= 99%"), Data::Requests(o)), (Ok(99.0), true));
        assert_eq!(eval(&p("checks > 0.99"), Data::Requests(o)), (Ok(99.0), false));
        assert_eq!(eval(&p("rps >= 100"), Data::Requests(o)), (Ok(100.0), true));
        assert_eq!(eval(&p("requests == 1000"), Data::Requests(o)), (Ok(1000.0), true));
        let units: Vec<_> = ["errors<1%", "checks>0", "rps>1", "requests>1"].iter().map(|s| p(s).unit()).collect();
        assert_eq!(units, ["%", "%", "req/s", ""]);
    }

    fn trend(values: impl Iterator<Item = f64>) -> MetricStats {
        let mut s = MetricStats::new(Kind::Trend);
        values.for_each(|v| s.record(v));
        s
    }

    const MINE: &[(&str, Kind)] = &[("cache_hit", Kind::Rate), ("created", Kind::Counter), ("server_ms", Kind::Trend)];

    fn custom(name: &str, stat: Stat) -> Measure {
        Measure::Custom { name: name.into(), stat }
    }

    #[test]
    fn parses_named_metrics() {
        let cases: &[(&str, Measure, f64)] = &[
            ("cache_hit > 95%", custom("cache_hit", Stat::Percent), 95.0),
            ("cache_hit>=95.5 %", custom("cache_hit", Stat::Percent), 95.5),
            ("cache_hit > 0.95", custom("cache_hit", Stat::Value), 0.95),
            ("created > 1000", custom("created", Stat::Value), 1000.0),
            ("Created_2 == 0", custom("Created_2", Stat::Value), 0.0),
            ("_x < 1", custom("_x", Stat::Value), 1.0),
            ("p(95)(server_ms) < 50", custom("server_ms", Stat::Percentile(95.0)), 50.0),
            ("p(99.9) ( server_ms ) <= 50ms", custom("server_ms", Stat::Percentile(99.9)), 50.0),
            ("avg(server_ms) < 20", custom("server_ms", Stat::Avg), 20.0),
            ("mean(server_ms) < 20MS", custom("server_ms", Stat::Avg), 20.0),
            ("MIN(server_ms) > 1", custom("server_ms", Stat::Min), 1.0),
            ("max(server_ms) < 100", custom("server_ms", Stat::Max), 100.0),
            ("med (server_ms) < 7.5", custom("server_ms", Stat::Med), 7.5),
            ("p(95)(iteration_duration) < 5000", custom("iteration_duration", Stat::Percentile(95.0)), 5000.0),
        ];
        for (src, metric, bound) in cases {
            let t = p(src);
            assert_eq!((&t.metric, t.bound), (metric, *bound), "{src}");
            assert_eq!(t.metric_name(), Some(metric_name_of(metric)), "{src}");
            assert_eq!(parse_checked(src, &[(metric_name_of(metric), kind_for(metric))], &[]), Ok(t.clone()), "{src}");
        }
        assert_eq!(p("cache_hit > 95%").unit(), "%");
        assert_eq!(p("cache_hit > 0.95").unit(), "");
        assert_eq!(p("created > 5").unit(), "");
        assert_eq!(p("p(95)(server_ms) < 50ms").unit(), "", "a trend has no unit of its own");
        assert_eq!(p("p(95)(server_ms) < 50").op, Op::Lt);
        for builtin in ["p(95) < 50", "avg < 5", "max<5", "errors < 1%", "requests > 1", "rps > 1"] {
            assert_eq!(p(builtin).metric_name(), None, "{builtin}");
        }
        assert_eq!(p("p(95) < 50").metric, Measure::Percentile(95.0), "without a name, still latency");
        assert_eq!(p("avg < 50ms").metric, Measure::Avg);
    }

    fn metric_name_of(m: &Measure) -> &str {
        match m {
            Measure::Custom { name, .. } => name,
            _ => "",
        }
    }

    fn kind_for(m: &Measure) -> Kind {
        match m {
            Measure::Custom { stat: Stat::Percent, .. } => Kind::Rate,
            Measure::Custom { stat: Stat::Value, name, .. } if name == "cache_hit" => Kind::Rate,
            Measure::Custom { stat: Stat::Value, .. } => Kind::Counter,
            _ => Kind::Trend,
        }
    }

    #[test]
    fn named_metric_errors_say_where() {
        let cases: &[(&str, usize, &str)] = &[
            ("avg() < 1", 4, "expected a metric name in `(...)`"),
            ("p(95)( ) < 1", 7, "expected a metric name"),
            ("avg(9x) < 1", 4, "expected a metric name"),
            ("avg(server_ms < 1", 14, "expected `)` after the metric name `server_ms`"),
            ("avg(server-ms) < 1", 10, "expected `)`"),
            ("foo(x) < 1", 0, "unknown function `foo(`: use p(N)(name), avg(name)"),
            ("foo (x) < 1", 0, "unknown function `foo(`"),
            ("cache_hit > 95ms", 14, "unit `ms` does not apply to cache_hit: a rate takes a percentage"),
            ("cache_hit > 150%", 12, "cache_hit must be between 0% and 100%"),
            ("cache_hit > -1", 12, "cache_hit cannot be negative"),
            ("created > 10k", 12, "unit `k` does not apply to created"),
            ("p(95)(server_ms) < 5%", 20, "unknown unit `%` for p(95)(server_ms): a trend is compared in its own unit"),
            ("p(95)(server_ms) < 5s", 20, "unknown unit `s`"),
            ("avg(server_ms) < -5", 17, "avg(server_ms) cannot be negative"),
            ("cache-hit > 1", 5, "expected an operator (<, <=, >, >=, ==, !=) after `cache`"),
            ("x.y > 1", 0, "unknown metric `x.y`"),
            ("9lives > 1", 0, "unknown metric `9lives`"),
            ("p95 < 200", 0, "did you mean p(95)?"),
            ("median < 200", 0, "did you mean med?"),
            ("cache_hit", 9, "expected an operator"),
            ("p(95)(server_ms)", 16, "expected an operator (<, <=, >, >=, ==, !=) after `p(95)(server_ms)`"),
        ];
        for &(s, offset, msg) in cases {
            let got = e(s);
            assert!(got.message.contains(msg), "{s:?}: message {:?} lacks {msg:?}", got.message);
            assert_eq!(got.offset, offset, "{s:?}: {}", got.message);
        }
    }

    #[test]
    fn checked_parse_knows_which_metrics_exist_and_their_kinds() {
        let cases: &[(&str, usize, &str)] = &[
            ("cache_hits > 95%", 0, "unknown metric `cache_hits` (expected one of p(N), avg"),
            ("  p(95)(server) < 5", 8, "or one of [metrics]: cache_hit, created, server_ms"),
            ("cache_hit > 95", 12, "`95`: a rate without `%` is a fraction between 0 and 1 — did you mean 95%?"),
            ("cache_hit > 1.5 ", 12, "did you mean 1.5%?"),
            ("created > 5%", 10, "`5%`: `created` is a counter: compare it with a plain number, not a percentage"),
            (
                "p(95)(cache_hit) < 5",
                0,
                "`cache_hit` is a rate: write `cache_hit > N` — p(95)(cache_hit), avg(cache_hit)",
            ),
            (" avg(created) < 5", 1, "`created` is a counter"),
            ("server_ms < 50", 0, "`server_ms` is a trend: write p(95)(server_ms), avg(server_ms), min(server_ms)"),
            ("server_ms < 50%", 0, "`server_ms` is a trend"),
            ("server_ms < 5ms", 13, "unit `ms` does not apply to server_ms"),
        ];
        for &(s, offset, msg) in cases {
            let got = parse_checked(s, MINE, &[]).expect_err(s);
            assert!(got.message.contains(msg), "{s:?}: message {:?} lacks {msg:?}", got.message);
            assert_eq!(got.offset, offset, "{s:?}: {}", got.message);
        }
        assert!(parse_checked("x > 1", &[], &[]).unwrap_err().message.ends_with("or a metric defined in [metrics])"));
        for ok in ["cache_hit > 95%", "cache_hit > 0.95", "created > 1000", "created >= 0.5", "max(server_ms) < 9"] {
            assert!(parse_checked(ok, MINE, &[]).is_ok(), "{ok}");
        }
        for builtin in ["p(95) < 200ms", "errors < 1%", "rps > 5", "checks > 99%"] {
            assert_eq!(parse_checked(builtin, &[], &[]), parse(builtin), "{builtin}");
        }
        assert_eq!(parse_checked("p(95 < 1", MINE, &[]).unwrap_err().offset, 5, "parse errors first");
    }

    #[test]
    fn reserved_words_are_what_the_parser_reads_itself() {
        for w in ["p", "P", "avg", "mean", "min", "max", "med", "errors", "Error_Rate", "checks", "rps", "requests"] {
            assert!(is_reserved(w), "{w}");
            assert!(
                p(&format!("{w}{} < 0.5", if w.eq_ignore_ascii_case("p") { "(50)" } else { "" }))
                    .metric_name()
                    .is_none()
            );
        }
        for w in ["p95", "p99.9", "error", "check", "request", "median", "average", "pinf"] {
            assert!(is_reserved(w), "{w}");
            assert!(parse(&format!("{w} < 1")).is_err(), "{w}");
        }
        for w in ["cache_hit", "created", "server_ms", "px", "latency", "iteration_duration"] {
            assert!(!is_reserved(w), "{w}");
            assert_eq!(p(&format!("{w} < 1")).metric_name(), Some(w));
        }
    }

    #[test]
    fn named_metrics_measure_on_their_stats() {
        let hits = MetricStats::Rate { hits: 97, total: 100 };
        assert_eq!(eval(&p("cache_hit > 95%"), Data::Metric(&hits)), (Ok(97.0), true));
        assert_eq!(eval(&p("cache_hit > 0.95"), Data::Metric(&hits)), (Ok(0.97), true));
        assert_eq!(eval(&p("cache_hit > 98%"), Data::Metric(&hits)), (Ok(97.0), false));
        assert_eq!(eval(&p("cache_hit >= 0.97"), Data::Metric(&hits)), (Ok(0.97), true));
        let none = MetricStats::Rate { hits: 0, total: 0 };
        assert_eq!(eval(&p("cache_hit > 95%"), Data::Metric(&none)), (Err(NoData::RATE), false));
        assert_eq!(eval(&p("cache_hit < 0.05"), Data::Metric(&none)), (Err(NoData::RATE), false));
        let created = MetricStats::Counter { count: 1000 };
        assert_eq!(eval(&p("created > 1000"), Data::Metric(&created)), (Ok(1000.0), false));
        assert_eq!(eval(&p("created >= 1000"), Data::Metric(&created)), (Ok(1000.0), true));

        let t = trend((1..=1000).map(f64::from));
        let near = |s: &str, want: f64| {
            let got = measure_on(&p(s).metric, &Data::Metric(&t)).unwrap();
            assert!((got - want).abs() <= want * 0.002 + 0.001, "{s}: measured {got}, expected ~{want}");
        };
        near("p(95)(server_ms) < 1", 950.0);
        near("p(99)(server_ms) < 1", 990.0);
        near("p(100)(server_ms) < 1", 1000.0);
        near("med(server_ms) < 1", 500.0);
        near("avg(server_ms) < 1", 500.5);
        near("min(server_ms) < 1", 1.0);
        near("max(server_ms) < 1", 1000.0);
        assert!(eval(&p("p(95)(server_ms) < 960"), Data::Metric(&t)).1);
        assert!(eval(&p("p(95)(server_ms) < 960ms"), Data::Metric(&t)).1, "`ms` is ignored");
        assert!(!eval(&p("p(95)(server_ms) < 940"), Data::Metric(&t)).1);
        let small = trend([0.25, 0.5, 0.75].into_iter());
        assert_eq!(measure_on(&p("max(server_ms) < 1").metric, &Data::Metric(&small)), Ok(0.75), "three decimals kept");
        assert_eq!(measure_on(&p("min(server_ms) < 1").metric, &Data::Metric(&small)), Ok(0.25));
        assert_eq!(measure_on(&p("avg(server_ms) < 1").metric, &Data::Metric(&small)), Ok(0.5));
        let empty = MetricStats::new(Kind::Trend);
        assert_eq!(eval(&p("p(95)(server_ms) < 50"), Data::Metric(&empty)), (Err(NoData::TREND), false));
        assert_eq!(eval(&p("avg(server_ms) > 0"), Data::Metric(&empty)), (Err(NoData::TREND), false));

        // Forms that do not fit the stats' kind, and built-in metrics, are not measured here.
        assert_eq!(measure_on(&p("p(95)(x) < 1").metric, &Data::Metric(&hits)), Err(NoData::NOT_HERE));
        assert_eq!(measure_on(&p("x > 95%").metric, &Data::Metric(&t)), Err(NoData::NOT_HERE));
        assert_eq!(measure_on(&p("x > 5").metric, &Data::Metric(&t)), Err(NoData::NOT_HERE));
        assert_eq!(measure_on(&p("x > 5%").metric, &Data::Metric(&created)), Err(NoData::NOT_HERE));
        assert_eq!(eval(&p("x > 5%"), Data::Metric(&created)), (Err(NoData::NOT_HERE), false));
        assert_eq!(measure_on(&p("p(95) < 5").metric, &Data::Metric(&t)), Err(NoData::NOT_HERE));
    }

    #[test]
    fn named_metrics_are_judged_by_name() {
        let h = ms_1_to_1000();
        let o = obs(&h, 1000, 10, 0, 0);
        let hits = MetricStats::Rate { hits: 975, total: 1000 };
        let t = trend((1..=100).map(|v| f64::from(v) / 100.0)); // exact: up to 2.048 at three decimals
        let r = row(&p("cache_hit > 95%"), Data::Metric(&hits), Some("authorize".into()));
        assert_eq!(
            r,
            ThresholdResult {
                expr: "cache_hit > 95%".into(),
                ok: true,
                value: Some(97.5),
                unit: "%".into(),
                step: Some("authorize".into()),
                scenario: None,
                during: None,
                level: None,
                reason: None,
                extra: Default::default(),
                baseline_during: None,
                after: None,
                window: None,
            }
        );
        let r = row(&p("avg(server_ms) < 0.5"), Data::Metric(&t), None);
        assert_eq!((r.value, r.ok, r.unit.as_str()), (Some(0.505), false, ""));
        let r = row(&p("errors < 2%"), Data::Requests(o), None);
        assert_eq!((r.value, r.ok, r.unit.as_str()), (Some(1.0), true, "%"), "a built-in metric: measured on `o`");
        assert_eq!(
            eval(&p("cache_hit > 95%"), Data::Requests(o)),
            (Err(NoData::NOT_HERE), false),
            "not on the latency stats"
        );
        assert!(!row(&p("cache_hit > 95%"), Data::Requests(o), None).ok);
        let r = row(&p("p(95)(server_ms) <= 0.95"), Data::Metric(&t), None);
        assert_eq!((r.value, r.ok), (Some(0.95), true));
    }
}
