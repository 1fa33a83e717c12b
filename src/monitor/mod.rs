//! Watching the service during a run: series read from Prometheus (a PromQL expression each) or
//! scraped from Prometheus text endpoints (a metric selector each), sampled on a thread of their
//! own ([`sampler`]); what a run keeps of them ([`Samples`]) and reports ([`MonitorResult`]).

pub mod fetch;
pub mod sampler;
pub mod selector;

use std::collections::BTreeMap;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use selector::Selector;

/// Where one series' values come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A PromQL expression, evaluated by the Prometheus server at each sample (`/api/v1/query`),
    /// its result summed.
    Promql(String),
    /// A selector over the scraped endpoints' samples, summed; a counter becomes a per-second rate.
    Scrape(Selector),
}

/// One series to watch.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub source: Source,
    /// The expression or selector as written.
    pub text: String,
}

impl Series {
    /// `promql: EXPR` or `scrape: SELECTOR`, for reports.
    pub fn describe(&self) -> String {
        match self.source {
            Source::Promql(_) => format!("promql: {}", self.text),
            Source::Scrape(_) => format!("scrape: {}", self.text),
        }
    }
}

/// A series as written, before its source is known.
#[derive(Debug, Clone)]
pub enum Written {
    /// PromQL when a Prometheus server is given, else a scrape selector.
    Plain(String),
    Promql(String),
    Scrape(String),
}

/// What to watch, and where.
#[derive(Debug, Clone)]
pub struct MonitorPlan {
    pub interval: Duration,
    pub prometheus: Option<url::Url>,
    pub scrape: Vec<url::Url>,
    pub series: Vec<Series>,
}

/// The default time between two samples.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

impl MonitorPlan {
    /// Check the sources and resolve each series' kind. Errors name the series (or the URL).
    pub fn build(
        interval: Duration,
        prometheus: Option<&str>,
        scrape: &[String],
        series: Vec<(String, Written)>,
    ) -> Result<MonitorPlan, String> {
        if interval < Duration::from_millis(100) {
            return Err(format!("interval {}: use 100ms or more", crate::units::duration(interval)));
        }
        let url = |u: &str, what: &str| -> Result<url::Url, String> {
            let url = url::Url::parse(u.trim()).map_err(|e| format!("{what} `{u}`: not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
                return Err(format!("{what} `{u}`: use http://host[:port]/..."));
            }
            Ok(url)
        };
        let prometheus = prometheus.map(|p| url(p, "prometheus")).transpose()?;
        let scrape = scrape.iter().map(|s| url(s, "scrape")).collect::<Result<Vec<_>, _>>()?;
        if series.is_empty() {
            return Err("no series to watch: name at least one (NAME = \"EXPR\")".into());
        }
        let mut out: Vec<Series> = Vec::new();
        for (name, written) in series {
            crate::rules::threshold::words::check_name(&name).map_err(|e| format!("series `{name}`: {e}"))?;
            if out.iter().any(|s| s.name == name) {
                return Err(format!("series `{name}` is named twice"));
            }
            let (text, promql) = match written {
                Written::Promql(t) => (t, true),
                Written::Scrape(t) => (t, false),
                Written::Plain(t) if prometheus.is_some() => (t, true),
                Written::Plain(t) if !scrape.is_empty() => (t, false),
                Written::Plain(_) => {
                    return Err(format!("series `{name}`: no source to read it from: set `prometheus` or `scrape`"));
                }
            };
            if text.trim().is_empty() {
                return Err(format!("series `{name}`: the expression is empty"));
            }
            let source = if promql {
                if prometheus.is_none() {
                    return Err(format!("series `{name}` is PromQL, but no `prometheus` server is given"));
                }
                Source::Promql(text.trim().to_string())
            } else {
                if scrape.is_empty() {
                    return Err(format!("series `{name}` is a scrape selector, but no `scrape` endpoint is given"));
                }
                Source::Scrape(Selector::parse(&text).map_err(|e| format!("series `{name}`: {e}"))?)
            };
            out.push(Series { name, source, text: text.trim().to_string() });
        }
        Ok(MonitorPlan { interval, prometheus, scrape, series: out })
    }

    pub fn names(&self) -> Vec<&str> {
        self.series.iter().map(|s| s.name.as_str()).collect()
    }
}

/// One sample of every series (`None`: no value — a failure, or a counter's first reading).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Seconds since the run's start.
    pub t: f64,
    pub values: Vec<Option<f64>>,
}

/// Everything sampled in a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub names: Vec<String>,
    /// Each series' source, as [`Series::describe`] gives it.
    pub sources: Vec<String>,
    pub interval_s: f64,
    pub points: Vec<Point>,
    /// Failed readings per series.
    pub failures: Vec<u64>,
}

impl Samples {
    pub fn new(plan: &MonitorPlan) -> Samples {
        Samples {
            names: plan.series.iter().map(|s| s.name.clone()).collect(),
            sources: plan.series.iter().map(Series::describe).collect(),
            interval_s: plan.interval.as_secs_f64(),
            points: Vec::new(),
            failures: vec![0; plan.series.len()],
        }
    }

    /// Each series' last value sampled in `(from, to]` (seconds since the start).
    pub fn in_window(&self, from: f64, to: f64) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for p in self.points.iter().filter(|p| p.t > from + 1e-9 && p.t <= to + 1e-9) {
            for (name, v) in self.names.iter().zip(&p.values) {
                if let Some(v) = v {
                    out.insert(name.clone(), *v);
                }
            }
        }
        out
    }

    /// The latest value of each series.
    pub fn latest(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (i, name) in self.names.iter().enumerate() {
            if let Some(v) = self.points.iter().rev().find_map(|p| p.values.get(i).copied().flatten()) {
                out.insert(name.clone(), v);
            }
        }
        out
    }

    /// The summary of the samples taken in `[from, to]`.
    pub fn summary_between(&self, from: f64, to: f64) -> MonitorResult {
        let series = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let values: Vec<f64> = self
                    .points
                    .iter()
                    .filter(|p| p.t >= from - 1e-9 && p.t <= to + 1e-9)
                    .filter_map(|p| p.values.get(i).copied().flatten())
                    .collect();
                let mut s = SeriesSummary::of(&values);
                s.failures = self.failures.get(i).copied().unwrap_or(0);
                s.source = self.sources.get(i).cloned().unwrap_or_default();
                (name.clone(), s)
            })
            .collect();
        MonitorResult { interval_s: self.interval_s, series, shards: Vec::new() }
    }

    /// The samples taken in `[from, to]`, on a clock that starts at `from` (a capacity step's).
    pub fn shifted(&self, from: f64, to: f64) -> Samples {
        let points = self
            .points
            .iter()
            .filter(|p| p.t >= from - 1e-9 && p.t <= to + 1e-9)
            .map(|p| Point { t: p.t - from, values: p.values.clone() })
            .collect();
        Samples { points, ..self.clone() }
    }

    /// The summary of the whole run.
    pub fn summary(&self) -> MonitorResult {
        self.summary_between(f64::NEG_INFINITY, f64::INFINITY)
    }
}

/// One series over a run (or a window of it). With no samples every figure is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    pub last: f64,
    /// The first value: with `last`, the growth over the run.
    #[serde(default)]
    pub first: f64,
    /// Values taken.
    pub samples: u64,
    /// Readings that failed (gaps in the series).
    #[serde(default)]
    pub failures: u64,
    /// `promql: EXPR` or `scrape: SELECTOR`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// Growth from 0 to anything else, in percent: a number no bound will take for small.
const GROWTH_FROM_ZERO: f64 = 1e9;

impl SeriesSummary {
    pub fn of(values: &[f64]) -> SeriesSummary {
        let (Some(&first), Some(&last)) = (values.first(), values.last()) else {
            return SeriesSummary::default();
        };
        let r = |v: f64| (v * 1e6).round() / 1e6;
        SeriesSummary {
            min: r(values.iter().copied().fold(f64::INFINITY, f64::min)),
            avg: r(values.iter().sum::<f64>() / values.len() as f64),
            max: r(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            last: r(last),
            first: r(first),
            samples: values.len() as u64,
            failures: 0,
            source: String::new(),
        }
    }

    /// Change from the first value to the last, in percent of the first.
    /// The samples of several summaries of one series taken together (shards that watched it,
    /// in the order they started): min, max and the mean of every sample, the first part's
    /// first value and the last part's last; failures added.
    pub fn pool<'a>(parts: impl IntoIterator<Item = &'a SeriesSummary>) -> SeriesSummary {
        let parts: Vec<&SeriesSummary> = parts.into_iter().filter(|s| s.samples > 0).collect();
        let (Some(first), Some(last)) = (parts.first(), parts.last()) else { return SeriesSummary::default() };
        let samples: u64 = parts.iter().map(|s| s.samples).sum();
        let r = |v: f64| (v * 1e6).round() / 1e6;
        SeriesSummary {
            min: parts.iter().map(|s| s.min).fold(f64::INFINITY, f64::min),
            avg: r(parts.iter().map(|s| s.avg * s.samples as f64).sum::<f64>() / samples as f64),
            max: parts.iter().map(|s| s.max).fold(f64::NEG_INFINITY, f64::max),
            last: last.last,
            first: first.first,
            samples,
            failures: parts.iter().map(|s| s.failures).sum(),
            source: first.source.clone(),
        }
    }

    pub fn growth_percent(&self) -> f64 {
        if self.first == 0.0 {
            return if self.last == 0.0 { 0.0 } else { GROWTH_FROM_ZERO * self.last.signum() };
        }
        100.0 * (self.last - self.first) / self.first.abs()
    }
}

/// What the run's monitoring measured: the result document's `monitor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorResult {
    /// Seconds between two samples.
    pub interval_s: f64,
    /// Each series, in the order written.
    pub series: IndexMap<String, SeriesSummary>,
    /// A merged result: each shard's own series (monitoring is per box), in shard order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardMonitor>,
}

/// One box's series in a merged result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardMonitor {
    /// `i/N`, or the shard's position when it has none.
    pub shard: String,
    pub series: IndexMap<String, SeriesSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(prom: Option<&str>, scrape: &[&str], series: Vec<(&str, Written)>) -> Result<MonitorPlan, String> {
        let scrape: Vec<String> = scrape.iter().map(|s| s.to_string()).collect();
        MonitorPlan::build(
            DEFAULT_INTERVAL,
            prom,
            &scrape,
            series.into_iter().map(|(n, w)| (n.to_string(), w)).collect(),
        )
    }

    #[test]
    fn a_plain_string_is_promql_with_a_server_and_a_selector_without() {
        let p = plan(Some("http://p:9090"), &[], vec![("cpu", Written::Plain("sum(rate(x[30s]))".into()))]).unwrap();
        assert!(matches!(p.series[0].source, Source::Promql(_)));
        let p = plan(None, &["http://h:9100/metrics"], vec![("load", Written::Plain("node_load1".into()))]).unwrap();
        assert!(matches!(p.series[0].source, Source::Scrape(_)));
        let e = plan(None, &[], vec![("x", Written::Plain("y".into()))]).unwrap_err();
        assert!(e.contains("no source"), "{e}");
        let e = plan(None, &["http://h/m"], vec![("x", Written::Promql("up".into()))]).unwrap_err();
        assert!(e.contains("no `prometheus` server"), "{e}");
        let e = plan(None, &["http://h/m"], vec![("x", Written::Scrape("rate(y[1m])".into()))]).unwrap_err();
        assert!(e.contains("series `x`") && e.contains("not a metric name"), "{e}");
        let e = plan(Some("ftp://p"), &[], vec![("x", Written::Plain("up".into()))]).unwrap_err();
        assert!(e.contains("prometheus `ftp://p`"), "{e}");
    }

    #[test]
    fn summaries_and_growth() {
        let s = SeriesSummary::of(&[100.0, 120.0, 110.0]);
        assert_eq!((s.min, s.avg, s.max, s.first, s.last, s.samples), (100.0, 110.0, 120.0, 100.0, 110.0, 3));
        assert!((s.growth_percent() - 10.0).abs() < 1e-9);
        assert_eq!(SeriesSummary::of(&[]).samples, 0);
        assert_eq!(SeriesSummary::of(&[0.0, 0.0]).growth_percent(), 0.0);
    }

    #[test]
    fn windows_take_the_samples_inside_them() {
        let s = Samples {
            names: vec!["a".into(), "b".into()],
            sources: vec![String::new(); 2],
            interval_s: 1.0,
            points: vec![
                Point { t: 0.0, values: vec![Some(1.0), None] },
                Point { t: 1.0, values: vec![Some(2.0), Some(5.0)] },
                Point { t: 2.0, values: vec![Some(3.0), None] },
            ],
            failures: vec![0, 2],
        };
        assert_eq!(s.in_window(0.0, 1.0), BTreeMap::from([("a".into(), 2.0), ("b".into(), 5.0)]));
        assert_eq!(s.in_window(1.0, 2.0), BTreeMap::from([("a".into(), 3.0)]));
        assert_eq!(s.latest(), BTreeMap::from([("a".into(), 3.0), ("b".into(), 5.0)]));
        let w = s.summary_between(1.0, 2.0);
        assert_eq!(w.series["a"].avg, 2.5);
        assert_eq!(w.series["b"].samples, 1);
        assert_eq!(w.series["b"].failures, 2);
    }
}
