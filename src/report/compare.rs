//! Comparing a result with a baseline (being written).

use super::RunResult;

/// The comparison of `current` with `baseline`.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// One line per regression beyond the bound.
    pub regressions: Vec<String>,
    /// The readable table.
    pub table: String,
}

/// Compare per step and in total: throughput and p50/p95/p99; a change worse than
/// `max_regression` (a fraction, 0.1 = 10%) is a regression.
pub fn compare(baseline: &RunResult, current: &RunResult, max_regression: f64) -> Comparison {
    let _ = (baseline, current, max_regression);
    Comparison::default()
}
