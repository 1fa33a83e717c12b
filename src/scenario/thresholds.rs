//! Thresholds in a scenario: the run's and each step's, with `abort_on_fail` and `delay`.

use std::time::Duration;

use toml::Spanned;

use super::{Compiler, raw};
use crate::error::PlanError;
use crate::plan::ThresholdRule;
use crate::rules::threshold;

impl Compiler<'_> {
    pub(super) fn threshold(
        &self,
        t: &Spanned<raw::ThresholdSpec>,
        step: Option<usize>,
    ) -> Result<ThresholdRule, PlanError> {
        let (expr, abort, delay, during, level) = match t.get_ref() {
            raw::ThresholdSpec::Expr(e) => (e.as_str(), false, None, None, None),
            raw::ThresholdSpec::Table(tt) => {
                (tt.expr.as_str(), tt.abort_on_fail, tt.delay.as_deref(), tt.during.as_deref(), tt.level.as_deref())
            }
        };
        let kinds: Vec<(&str, crate::rules::metric::Kind)> =
            self.metric_kinds.iter().map(|(n, k)| (n.as_str(), *k)).collect();
        let series: Vec<&str> = self.series.iter().map(String::as_str).collect();
        let mut th = threshold::parse_checked(expr, &kinds, &series).or_else(|e| {
            let at = if matches!(t.get_ref(), raw::ThresholdSpec::Expr(_)) {
                self.src.inside(&t.span(), e.offset)
            } else {
                t.span()
            };
            self.err(at, format!("threshold `{expr}`: {}", e.message))
        })?;
        if step.is_some() && th.metric_name().is_some_and(|n| self.series.iter().any(|s| s == n)) {
            return self.err(t.span(), format!("threshold `{expr}`: a watched series is the service's, not a step's: put it in the file's `thresholds`"));
        }
        th.abort_on_fail = abort;
        let delay = match delay {
            Some(d) => {
                crate::units::parse_duration(d).or_else(|e| self.err(t.span(), format!("threshold delay: {e}")))?
            }
            None => Duration::ZERO,
        };
        let during = match during {
            Some(w) => {
                let bad = |why: String| self.src.at(t.span(), format!("threshold during `{w}`: {why}"));
                let (from, to) = threshold::parse_window(w).map_err(bad)?;
                if let Some(run) = self.run_length.filter(|run| from >= *run) {
                    return Err(bad(format!(
                        "the run lasts {}: the window starts after it",
                        crate::units::duration(run)
                    )));
                }
                Some((from, to))
            }
            None => None,
        };
        let warn = match level {
            None | Some("fail") => false,
            Some("warn") => true,
            Some(other) => {
                return self.err(t.span(), format!("threshold level `{other}`: use \"warn\" or \"fail\""));
            }
        };
        if warn && abort {
            return self.err(t.span(), "a threshold at level \"warn\" cannot abort_on_fail");
        }
        Ok(ThresholdRule { threshold: th, step, delay, scenario: None, during, warn })
    }
}
