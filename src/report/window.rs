//! A `during` window's own data in a result document (`thresholds[].window`): what its threshold
//! was measured on, so that `merge` adds the shards' windows together and measures them again
//! exactly, as a single run of them all would have.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::metric::MetricSummary;
use super::result::{decode_histogram, encode_histogram, round3};
use crate::monitor::SeriesSummary;
use crate::rules::threshold::{Ask, Data, Measure, NoData, Observed, Reading, Source, Span, measure_on};
use crate::stats::StepStats;
use crate::stats::metric::MetricStats;

/// What a window held for its threshold: the requests of its part of the run (counts and latency
/// histogram), or a metric of the user's own, or a watched series' samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowData {
    /// The seconds of the run it covers, from the run's start (cut at the end of the run, or of
    /// its scenario): its rates are over `to_s - from_s`.
    pub from_s: f64,
    pub to_s: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requests: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub checks: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub checks_failed: u64,
    /// Latency, base64 HdrHistogram V2 (µs), for a threshold on requests.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub histogram: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<MetricSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesSummary>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a window found to measure, as [`WindowData`] keeps it.
pub enum Held<'a> {
    Requests(&'a StepStats),
    Metric(&'a MetricStats),
    Series(SeriesSummary),
    Nothing(NoData),
}

impl Held<'_> {
    /// As a threshold measures it, its rates over `seconds`.
    pub fn data(&self, seconds: f64) -> Data<'_> {
        match self {
            Held::Requests(s) => Data::Requests(Observed::of(s, seconds)),
            Held::Metric(m) => Data::Metric(m),
            Held::Series(s) => Data::Series(s),
            Held::Nothing(why) => Data::Nothing(*why),
        }
    }
}

impl WindowData {
    /// The data of `span` as `held`.
    pub fn of(span: Span, held: &Held) -> WindowData {
        let mut w = WindowData { from_s: round3(span.from), to_s: round3(span.to), ..WindowData::default() };
        match held {
            Held::Requests(s) => {
                (w.requests, w.errors, w.checks, w.checks_failed) = (s.requests, s.errors, s.checks, s.checks_failed);
                w.histogram = encode_histogram(&s.latency);
            }
            Held::Metric(m) => w.metric = Some(MetricSummary::of(m)),
            Held::Series(s) => w.series = Some(s.clone()),
            Held::Nothing(_) => {}
        }
        w
    }

    /// The shards' data of one window together: counts added, histograms added, a metric merged,
    /// a series' samples pooled (in the order given), over the span of them all.
    pub fn merge<'a>(parts: impl IntoIterator<Item = &'a WindowData>) -> Result<Merged, String> {
        let mut out = Merged {
            span: Span { from: f64::INFINITY, to: f64::NEG_INFINITY },
            requests: StepStats::default(),
            metric: None,
            series: Vec::new(),
        };
        for w in parts {
            out.span = Span { from: out.span.from.min(w.from_s), to: out.span.to.max(w.to_s) };
            let r = &mut out.requests;
            r.requests += w.requests;
            r.errors += w.errors;
            r.checks += w.checks;
            r.checks_failed += w.checks_failed;
            if !w.histogram.is_empty() {
                let h: Histogram<u64> = decode_histogram(&w.histogram)?;
                r.latency.add(&h).map_err(|e| format!("a window's histogram does not add: {e:?}"))?;
            }
            if let Some(m) = &w.metric {
                let m = m.to_stats()?;
                match &mut out.metric {
                    None => out.metric = Some(m),
                    Some(into) => into.merge(&m)?,
                }
            }
            out.series.extend(w.series.clone());
        }
        Ok(out)
    }
}

/// Several shards' data of one window, added together: a [`Source`] for its threshold.
pub struct Merged {
    pub span: Span,
    requests: StepStats,
    metric: Option<MetricStats>,
    series: Vec<SeriesSummary>,
}

impl Merged {
    /// As a result document keeps it (a merged result merges again).
    pub fn data(&self) -> WindowData {
        let held = match (&self.metric, self.series.is_empty()) {
            (Some(m), _) => Held::Metric(m),
            (None, false) => Held::Series(SeriesSummary::pool(&self.series)),
            (None, true) => Held::Requests(&self.requests),
        };
        WindowData::of(self.span, &held)
    }
}

impl Source for Merged {
    fn measure(&self, ask: &Ask) -> Reading {
        let series = (!self.series.is_empty()).then(|| SeriesSummary::pool(&self.series));
        let data = match (ask.measure, &series, &self.metric) {
            (Measure::Custom { .. }, Some(s), _) => Data::Series(s),
            (Measure::Custom { .. }, None, Some(m)) => Data::Metric(m),
            (Measure::Custom { .. }, None, None) => Data::Nothing(NoData::NOT_HERE),
            _ => Data::Requests(Observed::of(&self.requests, self.span.seconds())),
        };
        Reading { value: measure_on(ask.measure, &data), window: Some(self.span) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::threshold::{Scope, parse};
    use crate::stats::record;

    fn requests(latencies_ms: impl Iterator<Item = u64>, errors: u64) -> StepStats {
        let mut s = StepStats::default();
        for ms in latencies_ms {
            record(&mut s.latency, ms * 1000);
            s.requests += 1;
        }
        s.errors = errors;
        s
    }

    #[test]
    fn shards_windows_add_up_to_the_window_of_both() {
        let (a, b) = (requests(1..=100, 0), requests(901..=1000, 10));
        let span = |to: f64| Span { from: 10.0, to };
        let parts = [WindowData::of(span(20.0), &Held::Requests(&a)), WindowData::of(span(19.5), &Held::Requests(&b))];
        let merged = WindowData::merge(&parts).unwrap();
        assert_eq!(merged.span, span(20.0), "over the span of them all");
        let judged = |expr: &str| parse(expr).unwrap().judge(&merged, &Scope::RUN).measured;
        assert_eq!(judged("requests > 0"), Ok(200.0));
        assert_eq!(judged("errors < 1%"), Ok(5.0));
        assert_eq!(judged("rps > 0"), Ok(20.0), "200 requests over 10 s");
        let p95 = judged("p(95) < 1s").unwrap();
        // The 190th of 200 values (1..=100 and 901..=1000): 990; a's own p95 is 95, b's 995.
        assert!((989.0..=991.0).contains(&p95), "the p95 of both, not of either: {p95}");
        let again = WindowData::merge([&merged.data()]).unwrap();
        assert_eq!(parse("p(95) < 1s").unwrap().judge(&again, &Scope::RUN).measured, Ok(p95), "merges again");
        let empty = WindowData::merge([&WindowData::of(span(20.0), &Held::Requests(&StepStats::default()))]).unwrap();
        assert!(parse("p(95) < 1s").unwrap().judge(&empty, &Scope::RUN).measured.is_err(), "no data, never 0 ms");
    }

    #[test]
    fn a_series_window_pools_the_shards_samples() {
        let span = Span { from: 0.0, to: 5.0 };
        let parts = [
            WindowData::of(span, &Held::Series(SeriesSummary::of(&[1.0, 2.0, 3.0]))),
            WindowData::of(span, &Held::Series(SeriesSummary::of(&[10.0]))),
        ];
        let merged = WindowData::merge(&parts).unwrap();
        let judged = |expr: &str| parse(expr).unwrap().judge(&merged, &Scope::RUN).measured;
        assert_eq!((judged("avg(g) < 1"), judged("max(g) < 1"), judged("min(g) < 1")), (Ok(4.0), Ok(10.0), Ok(1.0)));
        assert_eq!(judged("last(g) < 1"), Ok(10.0), "the last shard's last value");
    }
}
