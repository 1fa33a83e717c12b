//! Metrics of your own in the result document: a rate's percent, a counter's count, a trend's
//! percentiles in its own unit and its histogram (base64 HdrHistogram V2) for exact merges.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

use crate::rules::metric::Kind;
use crate::stats::metric::{MetricStats, TREND_SCALE, trend_histogram};

/// A trend in the result document: its own unit, three decimals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendSummary {
    /// Values recorded.
    pub count: u64,
    /// Responses observed without a value.
    pub missing: u64,
    pub min: f64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    /// The values ×1000 as a base64 HdrHistogram V2, for exact merges.
    pub histogram: String,
}

/// A metric in the result document: `{"kind": "rate", "rate": 97.5, "hits": 975, "total": 1000}`,
/// `{"kind": "counter", "count": 12}`, `{"kind": "trend", "count": …, "p95": …, "histogram": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MetricSummary {
    /// `rate`: percent of `total` (0 when nothing was observed), three decimals.
    Rate {
        rate: f64,
        hits: u64,
        total: u64,
    },
    Counter {
        count: u64,
    },
    Trend(TrendSummary),
}

fn round3(v: f64) -> f64 {
    crate::units::round3(v)
}

/// Base64 of the V2 encoding of `h`, sized to what it holds, so that equal contents encode the same.
fn encode(h: &Histogram<u64>) -> String {
    let mut sized = trend_histogram();
    let _ = sized.add(h); // cannot fail: it resizes to fit
    let mut buf = Vec::new();
    if V2Serializer::new().serialize(&sized, &mut buf).is_err() {
        buf.clear(); // cannot happen for a u64 histogram written into memory
    }
    base64::engine::general_purpose::STANDARD.encode(buf)
}

fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("trend histogram is not base64: {e}"))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("trend histogram does not decode: {e:?}"))?;
    // Into a resizing histogram, so that later merges of larger values fit.
    let mut out = trend_histogram();
    out.add(&h).map_err(|e| format!("trend histogram does not add: {e:?}"))?;
    Ok(out)
}

impl MetricSummary {
    /// The summary of `s`.
    pub fn of(s: &MetricStats) -> MetricSummary {
        match s {
            &MetricStats::Rate { hits, total } => {
                let rate = if total == 0 { 0.0 } else { round3(100.0 * hits as f64 / total as f64) };
                MetricSummary::Rate { rate, hits, total }
            }
            &MetricStats::Counter { count } => MetricSummary::Counter { count },
            MetricStats::Trend { hist: h, missing } => {
                let v = |stored: u64| round3(MetricStats::trend_value(stored));
                let mut t = TrendSummary { missing: *missing, histogram: encode(h), ..TrendSummary::default() };
                if !h.is_empty() {
                    let q = |p| v(h.value_at_quantile(p));
                    t.count = h.len();
                    t.min = v(h.min());
                    t.mean = round3(h.mean() / TREND_SCALE);
                    t.stdev = round3(h.stdev() / TREND_SCALE);
                    (t.p50, t.p75, t.p90, t.p95, t.p99, t.p999) = (q(0.5), q(0.75), q(0.9), q(0.95), q(0.99), q(0.999));
                    t.max = v(h.max());
                }
                MetricSummary::Trend(t)
            }
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            MetricSummary::Rate { .. } => Kind::Rate,
            MetricSummary::Counter { .. } => Kind::Counter,
            MetricSummary::Trend(_) => Kind::Trend,
        }
    }

    /// The stats it summarises, exactly (a trend's histogram decoded), e.g. to measure thresholds
    /// on a saved or merged result. `Err` when the histogram does not decode.
    pub fn to_stats(&self) -> Result<MetricStats, String> {
        Ok(match self {
            &MetricSummary::Rate { hits, total, .. } => MetricStats::Rate { hits, total },
            &MetricSummary::Counter { count } => MetricStats::Counter { count },
            MetricSummary::Trend(t) => MetricStats::Trend { hist: decode(&t.histogram)?, missing: t.missing },
        })
    }

    /// Add `other` into `self` exactly: rates by hits and total, counters summed, trends by their
    /// histograms. `Err` (and `self` unchanged) when the kinds differ or a histogram does not decode.
    pub fn merge(&mut self, other: &MetricSummary) -> Result<(), String> {
        let mut s = self.to_stats()?;
        s.merge(&other.to_stats()?)?;
        *self = MetricSummary::of(&s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::metric::trend_of;

    #[test]
    fn summaries_serialize_with_their_kind_and_merge_exactly() {
        let rate = MetricSummary::of(&MetricStats::Rate { hits: 975, total: 1000 });
        assert_eq!(serde_json::to_string(&rate).unwrap(), r#"{"kind":"rate","rate":97.5,"hits":975,"total":1000}"#);
        assert_eq!(
            MetricSummary::of(&MetricStats::Rate { hits: 0, total: 0 }),
            MetricSummary::Rate { rate: 0.0, hits: 0, total: 0 }
        );
        assert_eq!(
            MetricSummary::of(&MetricStats::Rate { hits: 1, total: 3 }),
            MetricSummary::Rate { rate: 33.333, hits: 1, total: 3 }
        );
        let counter = MetricSummary::of(&MetricStats::Counter { count: 12 });
        assert_eq!(serde_json::to_string(&counter).unwrap(), r#"{"kind":"counter","count":12}"#);

        let trend = MetricSummary::of(&trend_of((1..=1000).map(f64::from)));
        let json = serde_json::to_value(&trend).unwrap();
        assert_eq!(json["kind"], "trend");
        assert_eq!((json["count"].as_u64(), json["missing"].as_u64()), (Some(1000), Some(0)));
        let near = |field: &str, want: f64| {
            let got = json[field].as_f64().unwrap();
            assert!((got - want).abs() <= want * 0.001 + 0.001, "{field}: {got}, expected ~{want}");
        };
        near("p50", 500.0);
        near("p95", 950.0);
        near("p99", 990.0);
        near("max", 1000.0);
        near("min", 1.0);
        near("mean", 500.5);
        for s in [&rate, &counter, &trend] {
            let back: MetricSummary = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
            assert_eq!(&back, s);
            assert_eq!(MetricSummary::of(&back.to_stats().unwrap()), *s, "summary → stats → summary");
        }

        let mut r = rate.clone();
        r.merge(&MetricSummary::of(&MetricStats::Rate { hits: 25, total: 1000 })).unwrap();
        assert_eq!(r, MetricSummary::Rate { rate: 50.0, hits: 1000, total: 2000 }, "by hits and total, not by rates");
        let mut c = counter.clone();
        c.merge(&counter).unwrap();
        assert_eq!(c, MetricSummary::Counter { count: 24 });
        assert_eq!(c.merge(&rate).unwrap_err(), "cannot merge a rate into a counter");
        assert_eq!(c, MetricSummary::Counter { count: 24 });

        let mut halves = MetricSummary::of(&trend_of((1..=500).map(|i| i as f64 * 2.5)));
        halves.merge(&MetricSummary::of(&trend_of((501..=1000).map(|i| i as f64 * 2.5)))).unwrap();
        assert_eq!(halves, MetricSummary::of(&trend_of((1..=1000).map(|i| i as f64 * 2.5))));
        let mut big = MetricSummary::of(&trend_of([0.5].into_iter()));
        big.merge(&MetricSummary::of(&trend_of([1e9].into_iter()))).unwrap();
        let MetricSummary::Trend(t) = &big else { panic!() };
        assert_eq!((t.count, t.min), (2, 0.5), "a decoded histogram still grows");

        let mut broken = MetricSummary::Trend(TrendSummary { histogram: "not base64!".into(), ..Default::default() });
        assert!(broken.merge(&trend).unwrap_err().contains("not base64"));
        let garbage = base64::engine::general_purpose::STANDARD.encode(b"garbage bytes");
        let broken = MetricSummary::Trend(TrendSummary { histogram: garbage, ..Default::default() });
        assert!(broken.to_stats().unwrap_err().contains("does not decode"));
    }
}
