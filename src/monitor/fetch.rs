//! Reading one value: a PromQL instant query against a Prometheus server (its HTTP API), or a
//! selector over a scraped Prometheus text page (parsed by `openmetrics-parser`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use openmetrics_parser::{PrometheusType, PrometheusValue};
use serde_json::Value;

use super::Selector;
use crate::http::client::Endpoint;

/// A parsed scrape page: each sample's family, name, labels, value, and whether it counts up.
#[derive(Debug, Default, Clone)]
pub struct Page {
    samples: Vec<Reading>,
    /// Every metric family on the page, with or without samples (a labelled counter no request
    /// has touched yet is a family with none), as selectors name them.
    families: HashSet<String>,
}

#[derive(Debug, Clone)]
struct Reading {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
    counter: bool,
}

/// The sum of a PromQL expression's result, now; `None` when it matches no series (yet: a
/// counter the service creates on its first request), an error when Prometheus rejects it.
pub fn promql(server: &Endpoint, expr: &str, timeout: Duration) -> Result<Option<f64>, String> {
    let mut base = server.url().path().to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    let q: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("query", expr).finish();
    let answer = server.get(Some(&format!("{base}api/v1/query?{q}")), timeout)?;
    let status = answer.status;
    let v: Value = serde_json::from_slice(&answer.body).map_err(|_| {
        let text: String = answer.text().chars().take(200).collect();
        format!("HTTP {status}, not a Prometheus API answer: {text}")
    })?;
    if v["status"] != "success" {
        let kind = v["errorType"].as_str().unwrap_or("error");
        let error = v["error"].as_str().unwrap_or("(no message)");
        return Err(format!("Prometheus rejected it ({kind}): {error}"));
    }
    let number = |pair: &Value| -> Option<f64> { pair.get(1)?.as_str()?.parse().ok() };
    match v["data"]["resultType"].as_str() {
        Some("scalar") => number(&v["data"]["result"]).map(Some).ok_or_else(|| "a scalar without a value".to_string()),
        Some("vector") => {
            let rs = v["data"]["result"].as_array().cloned().unwrap_or_default();
            if rs.is_empty() {
                return Ok(None);
            }
            Ok(Some(rs.iter().filter_map(|r| number(&r["value"])).filter(|x| x.is_finite()).sum()))
        }
        Some(other) => Err(format!("a {other} result: use an expression that gives one value or an instant vector")),
        None => Err("an answer without a result".into()),
    }
}

/// Fetch and parse one scrape endpoint.
pub fn scrape(endpoint: &Endpoint, timeout: Duration) -> Result<Page, String> {
    let answer = endpoint.get(None, timeout)?.ok()?;
    parse_page(&answer.text())
}

/// Parse a Prometheus text page.
pub fn parse_page(text: &str) -> Result<Page, String> {
    let parsed =
        openmetrics_parser::prometheus::parse_prometheus(text).map_err(|e| format!("not Prometheus text: {e}"))?;
    let mut samples = Vec::new();
    let mut families = HashSet::new();
    for (family, f) in &parsed.families {
        let counter = matches!(f.family_type, PrometheusType::Counter);
        if matches!(f.family_type, PrometheusType::Histogram | PrometheusType::Summary) {
            families.extend([format!("{family}_sum"), format!("{family}_count")]);
        } else {
            families.insert(family.clone());
        }
        for s in f.iter_samples() {
            let labels: HashMap<String, String> = s
                .get_labelset()
                .map(|set| set.iter().map(|(n, v)| (n.clone(), v.clone())).collect())
                .unwrap_or_default();
            let mut push = |name: String, value: f64, counter: bool, labels: HashMap<String, String>| {
                samples.push(Reading { name, labels, value, counter })
            };
            match &s.value {
                PrometheusValue::Counter(c) => push(family.clone(), c.value.as_f64(), true, labels),
                PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => {
                    push(family.clone(), n.as_f64(), counter, labels)
                }
                PrometheusValue::Histogram(h) => {
                    if let Some(sum) = &h.sum {
                        push(format!("{family}_sum"), sum.as_f64(), true, labels.clone());
                    }
                    if let Some(count) = h.count {
                        push(format!("{family}_count"), count as f64, true, labels);
                    }
                }
                PrometheusValue::Summary(sm) => {
                    if let Some(sum) = &sm.sum {
                        push(format!("{family}_sum"), sum.as_f64(), true, labels.clone());
                    }
                    if let Some(count) = sm.count {
                        push(format!("{family}_count"), count as f64, true, labels);
                    }
                }
            }
        }
    }
    Ok(Page { samples, families })
}

impl Page {
    /// The sum of the samples the selector matches, and whether they count up (a counter, or a
    /// histogram's `_sum`/`_count`); `None` when none matches.
    pub fn select(&self, sel: &Selector) -> Option<(f64, bool)> {
        let mut found = None;
        for r in self.samples.iter().filter(|r| r.name == sel.name) {
            if sel.matches(|l| r.labels.get(l).cloned()) {
                let (sum, counter) = found.get_or_insert((0.0, r.counter));
                *sum += r.value;
                *counter |= r.counter;
            }
        }
        found
    }

    /// Whether the page has this metric family, samples or not (to tell "no such metric", a
    /// typo, from "no series matched yet").
    pub fn has(&self, name: &str) -> bool {
        self.families.contains(name)
    }

    /// Pages of several endpoints as one.
    pub fn extend(&mut self, other: Page) {
        self.samples.extend(other.samples);
        self.families.extend(other.families);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 100
node_cpu_seconds_total{cpu="0",mode="user"} 7.5
node_cpu_seconds_total{cpu="1",mode="idle"} 90
node_cpu_seconds_total{cpu="1",mode="user"} 2.5
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.42
# TYPE rpc_seconds histogram
rpc_seconds_bucket{le="0.1"} 3
rpc_seconds_bucket{le="+Inf"} 4
rpc_seconds_sum 1.5
rpc_seconds_count 4
"#;

    #[test]
    fn selectors_sum_the_series_they_match_and_know_counters() {
        let p = parse_page(PAGE).unwrap();
        let sel = |s: &str| Selector::parse(s).unwrap();
        assert_eq!(p.select(&sel(r#"node_cpu_seconds_total{mode!="idle"}"#)), Some((10.0, true)));
        assert_eq!(p.select(&sel(r#"node_cpu_seconds_total{cpu="1"}"#)), Some((92.5, true)));
        assert_eq!(p.select(&sel("node_load1")), Some((0.42, false)));
        assert_eq!(p.select(&sel("rpc_seconds_count")), Some((4.0, true)));
        assert_eq!(p.select(&sel(r#"node_cpu_seconds_total{mode="steal"}"#)), None);
        assert!(p.has("node_cpu_seconds_total") && !p.has("node_load5"));
        assert!(parse_page("this is { not prometheus").is_err());
    }

    /// A labelled counter no request has touched: its family is on the page, with no sample.
    #[test]
    fn a_family_without_samples_is_known_and_matches_nothing() {
        let p = parse_page(
            "# HELP served_total Served.\n# TYPE served_total counter\n# TYPE node_load1 gauge\nnode_load1 1\n",
        )
        .unwrap();
        assert!(p.has("served_total") && !p.has("servd_total"));
        assert_eq!(p.select(&Selector::parse(r#"served_total{path="/"}"#).unwrap()), None);
        let h = parse_page("# TYPE rpc_seconds histogram\n").unwrap();
        assert!(h.has("rpc_seconds_count") && h.has("rpc_seconds_sum"));
    }
}
