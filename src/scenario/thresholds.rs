//! Thresholds in a scenario: the run's and each step's, with `abort_on_fail` and `delay`.

use std::time::Duration;

use toml::Spanned;

use super::{Compiler, raw};
use crate::error::PlanError;
use crate::plan::{After, RecoveryRule, ThresholdRule};
use crate::rules::threshold::{self, Form, Window};

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
                let window = threshold::parse_window(w).map_err(bad)?;
                self.starts_in_run(window).map_err(bad)?;
                Some(window)
            }
            None => None,
        };
        let (during, base_during, recovery) = self.forms(t, &th, during)?;
        if abort && !matches!(th.form, Form::Bound) {
            return self.err(
                t.span(),
                format!("threshold `{expr}`: it is judged when the run ends, so it cannot abort_on_fail"),
            );
        }
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
        Ok(ThresholdRule { threshold: th, step, delay, scenario: None, during, base_during, recovery, warn })
    }
}

/// A rule's windows and recovery, as [`Compiler::forms`] reads them.
type Forms = (Option<Window>, Option<Window>, Option<RecoveryRule>);

impl Compiler<'_> {
    /// Refuse a window that starts after the run ends (once the run's length is known).
    fn starts_in_run(&self, (from, _): Window) -> Result<(), String> {
        match self.run_length.filter(|run| from >= *run) {
            Some(run) => Err(format!("the run lasts {}: the window starts after it", crate::units::duration(run))),
            None => Ok(()),
        }
    }

    /// What a drift or a recovery adds to a rule (`during`: the `during` key, read already): a
    /// drift's two windows; a recovery's `after` and `hold`. Keys that do not fit the form are
    /// refused.
    fn forms(
        &self,
        t: &Spanned<raw::ThresholdSpec>,
        th: &threshold::Threshold,
        during: Option<Window>,
    ) -> Result<Forms, PlanError> {
        let (after, hold) = match t.get_ref() {
            raw::ThresholdSpec::Table(tt) => (tt.after.as_deref(), tt.hold.as_deref()),
            raw::ThresholdSpec::Expr(_) => (None, None),
        };
        let expr = &th.expr;
        let bad = |why: String| self.src.at(t.span(), format!("threshold `{expr}`: {why}"));
        match &th.form {
            Form::Bound if after.is_some() || hold.is_some() => {
                Err(bad("`after` and `hold` are for recovery(...) thresholds".into()))
            }
            Form::Bound => Ok((during, None, None)),
            Form::Drift { .. } | Form::Recovery { .. } if during.is_some() => Err(bad(
                "it names its own windows in its text (a recovery: from `after` on): leave out `during`".into(),
            )),
            &Form::Drift { window, base_window, .. } => {
                for w in [window, base_window] {
                    self.starts_in_run(w).map_err(|why| bad(format!("window {}: {why}", threshold::window_text(w))))?;
                }
                Ok((Some(window), Some(base_window), None))
            }
            Form::Recovery { .. } => {
                let Some(after) = after else {
                    return Err(bad(
                        "a recovery is watched from `after`: a scenario's name (its end) or a run time, as in after = \"2m\""
                            .into(),
                    ));
                };
                let at = match self.scenario_names.iter().position(|n| n == after.trim()) {
                    Some(i) => After::End(i),
                    None => After::At(crate::units::parse_duration(after).map_err(|e| {
                        let known = if self.scenario_names.is_empty() {
                            "the file names no scenarios".to_string()
                        } else {
                            format!("scenarios: {}", self.scenario_names.join(", "))
                        };
                        bad(format!("after = \"{after}\" is neither a scenario ({known}) nor a run time ({e})"))
                    })?),
                };
                if let (After::At(at), Some(run)) = (at, self.run_length)
                    && at >= run
                {
                    return Err(bad(format!(
                        "after = \"{after}\": the run lasts {}, so there is nothing to watch after it",
                        crate::units::duration(run)
                    )));
                }
                let hold = match hold {
                    None => Duration::from_secs(5),
                    Some(h) => crate::units::parse_duration(h).map_err(|e| bad(format!("hold: {e}")))?,
                };
                if hold.is_zero() || hold.subsec_nanos() != 0 {
                    return Err(bad(format!(
                        "hold = \"{}\": each second of the run is judged, so hold whole seconds, at least 1s",
                        crate::units::duration(hold)
                    )));
                }
                Ok((None, None, Some(RecoveryRule { after: at, after_text: after.trim().to_string(), hold })))
            }
        }
    }
}
