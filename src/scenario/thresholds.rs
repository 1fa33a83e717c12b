//! Thresholds in a scenario: the run's and each step's, with `abort_on_fail` and `delay`.

use std::time::Duration;

use toml::Spanned;

use super::{Compiler, raw};
use crate::error::PlanError;
use crate::plan::ThresholdRule;
use crate::threshold;

impl Compiler<'_> {
    pub(super) fn threshold(
        &self,
        t: &Spanned<raw::ThresholdSpec>,
        step: Option<usize>,
    ) -> Result<ThresholdRule, PlanError> {
        let (expr, abort, delay) = match t.get_ref() {
            raw::ThresholdSpec::Expr(e) => (e.as_str(), false, None),
            raw::ThresholdSpec::Table(tt) => (tt.expr.as_str(), tt.abort_on_fail, tt.delay.as_deref()),
        };
        let mut th = threshold::parse(expr).or_else(|e| {
            let at = if matches!(t.get_ref(), raw::ThresholdSpec::Expr(_)) {
                // The threshold parser counts characters; `inside` wants a byte offset.
                let byte = expr.char_indices().nth(e.offset).map_or(expr.len(), |(i, _)| i);
                self.src.inside(&t.span(), byte)
            } else {
                t.span()
            };
            self.err(at, format!("threshold `{expr}`: {}", e.message))
        })?;
        th.abort_on_fail = abort;
        let delay = match delay {
            Some(d) => {
                crate::units::parse_duration(d).or_else(|e| self.err(t.span(), format!("threshold delay: {e}")))?
            }
            None => Duration::ZERO,
        };
        Ok(ThresholdRule { threshold: th, step, delay, scenario: None })
    }
}
