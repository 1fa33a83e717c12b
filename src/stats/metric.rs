//! What workers count for each metric of your own: a rate's hits and total, a counter's count, a
//! trend's values in an HdrHistogram (three decimals kept) and its missing responses. Updating
//! never allocates (but for a trend's histogram growing); merges are exact.

use hdrhistogram::Histogram;

use crate::http::Response;
use crate::rules::extract::JsonBody;
use crate::rules::metric::{Kind, Metric, Rule};

/// The largest trend value kept; larger ones are recorded as this.
pub const MAX_TREND_VALUE: f64 = 1e12;

/// Trend values are stored ×1000 in their histograms: three decimals kept.
pub const TREND_SCALE: f64 = 1000.0;

/// Significant digits of a trend's histogram (as latency's).
const SIGFIGS: u8 = 3;

/// An empty trend histogram: values ×1000, 3 significant digits, sized as values arrive.
pub(crate) fn trend_histogram() -> Histogram<u64> {
    // Constant, valid bounds: this cannot fail.
    Histogram::new(SIGFIGS).expect("valid histogram bounds")
}

/// What one worker (or a merge) has seen of one metric. Updating it never allocates, except a
/// trend's histogram growing to a larger value than it has held. Equal when they have seen the
/// same (whatever size their histograms grew to).
#[derive(Debug, Clone)]
pub enum MetricStats {
    /// `hits` of `total` responses met the condition.
    Rate { hits: u64, total: u64 },
    /// Responses that met the condition.
    Counter { count: u64 },
    /// The values ×1000 (see [`MetricStats::trend_value`]), and the responses without one.
    Trend { hist: Histogram<u64>, missing: u64 },
}

/// Record one trend value (finite and non-negative, as [`TrendSource::value`] gives).
fn record_into(hist: &mut Histogram<u64>, v: f64) {
    // Cannot fail: the histogram resizes, and the value is within what it can hold.
    let _ = hist.record((v.min(MAX_TREND_VALUE) * TREND_SCALE).round() as u64);
}

/// The values recorded and their counts, in order.
fn recorded(h: &Histogram<u64>) -> impl Iterator<Item = (u64, u64)> + '_ {
    h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value()))
}

impl PartialEq for MetricStats {
    fn eq(&self, other: &MetricStats) -> bool {
        match (self, other) {
            (MetricStats::Trend { hist: a, missing: m }, MetricStats::Trend { hist: b, missing: n }) => {
                m == n && a.len() == b.len() && recorded(a).eq(recorded(b))
            }
            (MetricStats::Rate { hits: a, total: b }, MetricStats::Rate { hits: c, total: d }) => (a, b) == (c, d),
            (MetricStats::Counter { count: a }, MetricStats::Counter { count: b }) => a == b,
            _ => false,
        }
    }
}

impl MetricStats {
    /// Nothing seen yet of `metric`.
    pub fn for_metric(metric: &Metric) -> MetricStats {
        MetricStats::new(metric.kind())
    }

    /// Nothing seen yet.
    pub fn new(kind: Kind) -> MetricStats {
        match kind {
            Kind::Rate => MetricStats::Rate { hits: 0, total: 0 },
            Kind::Counter => MetricStats::Counter { count: 0 },
            Kind::Trend => MetricStats::Trend { hist: trend_histogram(), missing: 0 },
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            MetricStats::Rate { .. } => Kind::Rate,
            MetricStats::Counter { .. } => Kind::Counter,
            MetricStats::Trend { .. } => Kind::Trend,
        }
    }

    /// A value as stored in a trend's histogram, back in the trend's unit.
    pub fn trend_value(stored: u64) -> f64 {
        stored as f64 / TREND_SCALE
    }

    /// Record one value of a trend (e.g. a built-in one such as an iteration's duration): kept to
    /// three decimals (clamped at [`MAX_TREND_VALUE`]) when finite and non-negative, else counted
    /// as missing. Nothing happens to a rate or a counter.
    /// One number for a timeline row: a rate's percent, a counter's count, a trend's p95 (in its
    /// own unit; 0 when nothing was recorded).
    pub fn headline(&self) -> f64 {
        match self {
            MetricStats::Rate { hits, total } => {
                if *total == 0 {
                    0.0
                } else {
                    (100_000.0 * *hits as f64 / *total as f64).round() / 1000.0
                }
            }
            MetricStats::Counter { count } => *count as f64,
            MetricStats::Trend { hist, .. } if hist.is_empty() => 0.0,
            MetricStats::Trend { hist, .. } => Self::trend_value(hist.value_at_quantile(0.95)),
        }
    }

    pub fn record(&mut self, v: f64) {
        if let MetricStats::Trend { hist, missing } = self {
            if v.is_finite() && v >= 0.0 {
                record_into(hist, v);
            } else {
                *missing += 1;
            }
        }
    }

    /// Add `other` into `self`, exactly: counts summed, histograms added. `Err` when they are
    /// not of the same kind (nothing is changed).
    pub fn merge(&mut self, other: &MetricStats) -> Result<(), String> {
        match (self, other) {
            (MetricStats::Rate { hits, total }, MetricStats::Rate { hits: h, total: t }) => {
                *hits += h;
                *total += t;
            }
            (MetricStats::Counter { count }, MetricStats::Counter { count: c }) => *count += c,
            (MetricStats::Trend { hist, missing }, MetricStats::Trend { hist: h, missing: m }) => {
                hist.add(h).map_err(|e| format!("trend histograms do not add: {e:?}"))?;
                *missing += m;
            }
            (me, _) => return Err(format!("cannot merge a {} into a {}", other.kind().name(), me.kind().name())),
        }
        Ok(())
    }

    /// Back to nothing seen, keeping a trend's histogram's memory (for per-second snapshots).
    pub fn clear(&mut self) {
        match self {
            MetricStats::Rate { hits, total } => (*hits, *total) = (0, 0),
            MetricStats::Counter { count } => *count = 0,
            MetricStats::Trend { hist, missing } => {
                hist.reset();
                *missing = 0;
            }
        }
    }

    /// Observe one response of the step at `step_row` (ignored when the metric does not apply to
    /// it) into these stats (made by [`MetricStats::for_metric`]). Reads the JSON body through `json`
    /// (built from the same `r`), so checks, extraction and metrics share one parse. Does not
    /// allocate (but for that parse).
    pub fn observe(&mut self, metric: &Metric, step_row: usize, r: &Response<'_>, json: &mut JsonBody<'_>) {
        if !metric.applies_to(step_row) {
            return;
        }
        match (&metric.rule, self) {
            (Rule::Rate(c), MetricStats::Rate { hits, total }) => {
                *total += 1;
                *hits += u64::from(c.is_met(r, json));
            }
            (Rule::Counter(c), MetricStats::Counter { count }) => *count += u64::from(c.is_met(r, json)),
            (Rule::Trend(src), MetricStats::Trend { hist, missing }) => match src.value(r, json) {
                Some(v) => record_into(hist, v),
                None => *missing += 1,
            },
            (_, stats) => debug_assert!(false, "metric `{}` observed into {:?} stats", metric.name, stats.kind()),
        }
    }
}

/// A trend that recorded `values` (test help for this module's and the report's tests).
#[cfg(test)]
pub(crate) fn trend_of(values: impl Iterator<Item = f64>) -> MetricStats {
    let mut s = MetricStats::new(Kind::Trend);
    values.for_each(|v| s.record(v));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::metric::MetricSummary;

    fn resp<'a>(status: u16, head: &'a [u8], body: &'a [u8]) -> Response<'a> {
        Response { status, head, body, body_truncated: false }
    }

    fn ok(name: &str, toml_table: &str) -> Metric {
        crate::scenario::metrics::from_toml(name, toml_table)
    }

    fn observe_all(m: &Metric, row: usize, rs: &[Response<'_>]) -> MetricStats {
        let mut s = MetricStats::for_metric(m);
        for r in rs {
            s.observe(m, row, r, &mut JsonBody::new(r));
        }
        s
    }

    #[test]
    fn rate_and_counter_count_responses_meeting_the_condition() {
        let hit = b"HTTP/1.1 200 OK\r\nX-Cache: HIT\r\n\r\n";
        let miss = b"HTTP/1.1 200 OK\r\nX-Cache: MISS\r\n\r\n";
        let none = b"HTTP/1.1 201 Created\r\n\r\n";
        let rs = [resp(200, hit, b""), resp(200, miss, b""), resp(200, hit, b""), resp(201, none, b"")];
        let rate = ok("cache_hit", r#"{ rate = "header X-Cache == HIT", steps = ["authorize"] }"#);
        assert_eq!(observe_all(&rate, 1, &rs), MetricStats::Rate { hits: 2, total: 4 });
        assert_eq!(observe_all(&rate, 0, &rs), MetricStats::Rate { hits: 0, total: 0 }, "another step: not observed");
        let created = ok("created", r#"{ counter = "status == 201" }"#);
        assert_eq!(observe_all(&created, 0, &rs), MetricStats::Counter { count: 1 });
        assert_eq!(observe_all(&created, 7, &rs), MetricStats::Counter { count: 1 });

        let body = ok("active", r#"{ rate = "json $.status == \"active\"" }"#);
        let a = resp(200, hit, br#"{"status":"active"}"#);
        let b = resp(200, hit, br#"{"status":"closed"}"#);
        let c = resp(200, hit, b"not json");
        let mut s = MetricStats::for_metric(&body);
        let mut shared = JsonBody::new(&a);
        s.observe(&body, 0, &a, &mut shared);
        s.observe(&body, 0, &a, &mut shared);
        assert_eq!(shared.parses(), 1, "the response's one parse is shared");
        for r in [b, c] {
            s.observe(&body, 0, &r, &mut JsonBody::new(&r));
        }
        assert_eq!(s, MetricStats::Rate { hits: 2, total: 4 });
    }

    #[test]
    fn trends_record_three_decimals_and_count_missing() {
        let m = ok("server_ms", r#"{ trend = "header Server-Timing dur" }"#);
        let heads: Vec<Vec<u8>> = ["1.5", "0", "0.0004", "2.0006", "abc", "-1", "1e13"]
            .iter()
            .map(|v| format!("HTTP/1.1 200 OK\r\nServer-Timing: app;dur={v}\r\n\r\n").into_bytes())
            .chain([b"HTTP/1.1 200 OK\r\n\r\n".to_vec()])
            .collect();
        let rs: Vec<Response<'_>> = heads.iter().map(|h| resp(200, h, b"")).collect();
        let s = observe_all(&m, 0, &rs);
        let MetricStats::Trend { hist, missing } = &s else { panic!("{s:?}") };
        assert_eq!((hist.len(), *missing), (5, 3), "abc, -1 and no header are missing");
        let stored: Vec<u64> = hist.iter_recorded().map(|v| v.value_iterated_to()).collect();
        assert_eq!(&stored[..3], [0, 1500, 2001], "×1000, rounded; 0.0004 rounds to 0");
        assert_eq!(hist.count_at(0), 2);
        assert!(hist.equivalent(hist.max(), (MAX_TREND_VALUE * TREND_SCALE) as u64), "1e13 is clamped");
        let MetricSummary::Trend(t) = MetricSummary::of(&s) else { panic!() };
        assert_eq!((t.count, t.missing, t.min, t.p50), (5, 3, 0.0, 1.5));
        assert!((t.max - MAX_TREND_VALUE).abs() / MAX_TREND_VALUE < 1e-3, "{}", t.max);

        let big = observe_all(&m, 0, &rs[..1]);
        let MetricSummary::Trend(t) = MetricSummary::of(&big) else { panic!() };
        assert_eq!((t.count, t.min, t.mean, t.p99, t.max, t.stdev), (1, 1.5, 1.5, 1.5, 1.5, 0.0));
    }

    #[test]
    fn recording_a_trend_value_by_hand() {
        let mut s = trend_of([2.5, -1.0, f64::NAN, f64::INFINITY, 0.0].into_iter());
        let MetricStats::Trend { hist, missing } = &s else { panic!() };
        assert_eq!((hist.len(), *missing), (2, 3));
        assert!(hist.equivalent(hist.max(), 2500) && hist.min() == 0);
        let mut r = MetricStats::new(Kind::Rate);
        r.record(1.0);
        assert_eq!(r, MetricStats::new(Kind::Rate), "not a trend: nothing");
        s.clear();
        assert_eq!(s, MetricStats::new(Kind::Trend));
    }

    #[test]
    fn merges_are_exact() {
        let mut a = MetricStats::Rate { hits: 3, total: 4 };
        a.merge(&MetricStats::Rate { hits: 1, total: 6 }).unwrap();
        assert_eq!(a, MetricStats::Rate { hits: 4, total: 10 });
        let mut c = MetricStats::Counter { count: 5 };
        c.merge(&MetricStats::Counter { count: 7 }).unwrap();
        assert_eq!(c, MetricStats::Counter { count: 12 });
        assert_eq!(c.merge(&a).unwrap_err(), "cannot merge a rate into a counter");
        assert_eq!(c, MetricStats::Counter { count: 12 }, "unchanged");

        let whole = trend_of((1..=2000).map(|i| i as f64 * 0.37));
        let mut lo = trend_of((1..=1000).map(|i| i as f64 * 0.37));
        let hi = trend_of((1001..=2000).map(|i| i as f64 * 0.37));
        if let MetricStats::Trend { missing, .. } = &mut lo {
            *missing = 2;
        }
        lo.merge(&hi).unwrap();
        let MetricStats::Trend { hist, missing } = &lo else { panic!() };
        let MetricStats::Trend { hist: want, .. } = &whole else { panic!() };
        assert_eq!((hist, *missing), (want, 2));
        assert!(lo.merge(&MetricStats::Counter { count: 1 }).is_err());

        lo.clear();
        assert_eq!(lo, MetricStats::new(Kind::Trend));
        let mut r = MetricStats::Rate { hits: 1, total: 2 };
        r.clear();
        assert_eq!(r, MetricStats::new(Kind::Rate));
    }
}
