//! What a search reports: each step (rate, phase, what it achieved, its verdict), the answer
//! and what limited it, and with `--repeat` each search's answer and their spread.

use serde::{Deserialize, Serialize};

use super::judge::{Verdict, Window};
use super::search::Phase;
use crate::units::round2;

/// What a search's rates count: requests (a URL) or iterations of a scenario file's journeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Requests,
    Iterations,
}

impl Unit {
    /// As printed after a number: `req/s` or `iterations/s`.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Requests => "req/s",
            Unit::Iterations => "iterations/s",
        }
    }

    /// What a step's "achieved" counts, in words.
    pub fn achieved(self) -> &'static str {
        match self {
            Unit::Requests => "requests completed (errors included) per second",
            Unit::Iterations => "iterations finished per second",
        }
    }

    /// The unit of a document without one (written before it was recorded): `req/s`.
    fn default_name() -> String {
        Unit::Requests.name().to_string()
    }
}

impl CapacityResult {
    /// The unit of its rates.
    pub fn unit(&self) -> Unit {
        if self.unit == Unit::Iterations.name() { Unit::Iterations } else { Unit::Requests }
    }

    /// The headline: `("capacity", "1,950 req/s")`, or for an interrupted search
    /// `("last pass", "1,950 req/s (interrupted: not an answer)")`.
    pub fn headline(&self) -> (&'static str, String) {
        let rate = format!("{} {}", crate::units::group(self.max_rps.round() as u64), self.unit);
        if self.interrupted {
            ("last pass", format!("{rate} (interrupted: not an answer)"))
        } else {
            ("capacity", rate)
        }
    }
}

/// One step of the search, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The rate offered: starts per second (requests for a URL, iterations for a file).
    pub rate: f64,
    pub phase: Phase,
    /// What the service finished per second in the step's window after its warm-up, in the
    /// search's unit: requests (errors included) for a URL, iterations for a scenario file.
    pub achieved_rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Failed requests, percent.
    pub errors: f64,
    /// `pass`, `fail`, `generator`, `connections`, or `interrupted` (Ctrl-C during the step: not judged).
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How long the step ran (it may stop early when clearly lost).
    pub duration_s: f64,
    pub stopped_early: bool,
    /// Each watched series' average over the step's window.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub monitor: std::collections::BTreeMap<String, f64>,
    /// Users the step had (sized for its rate unless `-c` fixed them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub users: usize,
    /// Which search the step belongs to, from 1 (with `--repeat`; 0 otherwise).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub search: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl StepReport {
    pub fn new(
        rate: f64,
        phase: Phase,
        w: &Window,
        verdict: &Verdict,
        duration_s: f64,
        stopped_early: bool,
        unit: Unit,
    ) -> StepReport {
        let t = w.total();
        let q = |p: f64| if t.latency.is_empty() { 0.0 } else { t.latency.value_at_quantile(p) as f64 / 1000.0 };
        let (verdict, reason) = match verdict {
            Verdict::Pass => ("pass", None),
            Verdict::Fail(why) => ("fail", Some(why.clone())),
            Verdict::Generator { why, .. } => ("generator", Some(why.clone())),
            Verdict::Connections => ("connections", Some("every connection was busy".to_string())),
        };
        StepReport {
            rate: round2(rate),
            phase,
            achieved_rps: round2(w.achieved(unit)),
            p50_ms: round2(q(0.50)),
            p95_ms: round2(q(0.95)),
            p99_ms: round2(q(0.99)),
            errors: round2(100.0 * t.errors as f64 / t.requests.max(1) as f64),
            verdict: verdict.into(),
            reason,
            duration_s: round2(duration_s),
            stopped_early,
            monitor: w
                .series
                .as_ref()
                .map(|m| m.series.iter().filter(|(_, s)| s.samples > 0).map(|(k, s)| (k.clone(), s.avg)).collect())
                .unwrap_or_default(),
            users: 0,
            search: 0,
        }
    }
}

/// The answer, in the result document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityResult {
    /// Highest rate (requests or iterations per second, see `unit`) that held every SLO; when
    /// `interrupted`, the last passing step's rate, which is not an answer.
    pub max_rps: f64,
    /// The unit of every rate here: `req/s` for a URL, `iterations/s` for a scenario file.
    #[serde(default = "Unit::default_name")]
    pub unit: String,
    /// Ctrl-C ended the search before its answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// What stopped it: the SLO that failed above it, the generator, connections, or --max.
    pub limited_by: String,
    pub slo: Vec<String>,
    pub steps: Vec<StepReport>,
    /// With `--repeat N`: each search's answer, in order (`max_rps` is the lowest of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub searches: Vec<SearchAnswer>,
    /// With `--repeat N`: how far the answers spread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
}

/// One search's answer, with `--repeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchAnswer {
    pub max_rps: f64,
    pub limited_by: String,
}

/// How far repeated answers spread: `range` is (highest - lowest) / lowest, a fraction;
/// `agree` whether it is within the search's precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub min: f64,
    pub max: f64,
    pub range: f64,
    pub precision: f64,
    pub agree: bool,
}

impl Spread {
    /// The spread of `answers` (at least one) against `precision` (a fraction).
    pub fn of(answers: &[f64], precision: f64) -> Spread {
        let min = answers.iter().copied().fold(f64::INFINITY, f64::min);
        let max = answers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let range = if min > 0.0 {
            (max - min) / min
        } else if max > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        // Serialised as a number: an answer of 0 beside a positive one is a 100% spread and more.
        let range = if range.is_finite() { range } else { 1e9 };
        Spread { min, max, range: (range * 1e4).round() / 1e4, precision, agree: range <= precision + 1e-9 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_of_repeated_answers_is_judged_against_the_precision() {
        let s = Spread::of(&[2000.0, 1950.0, 2025.0], 0.05);
        assert_eq!((s.min, s.max), (1950.0, 2025.0));
        assert!((s.range - 0.0385).abs() < 1e-4, "{}", s.range);
        assert!(s.agree);
        assert!(!Spread::of(&[1600.0, 2000.0], 0.05).agree, "25% apart");
        assert!(Spread::of(&[0.0, 0.0], 0.05).agree);
        assert!(!Spread::of(&[0.0, 10.0], 0.05).agree);
    }
}
