//! What a `--vus/--duration` smoke keeps of a file: its load becomes one constant-vus scenario
//! of every user type, and each threshold is judged or left out with a reason the reports give.

use std::time::Duration;

use super::{Compiler, raw};
use crate::plan::{NotRun, ThresholdRule};
use crate::rules::metric::Kind;
use crate::rules::threshold::{Measure, Stat};

/// `--vus N --duration D` on a file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Smoke {
    pub vus: u64,
    pub duration: Duration,
}

impl Smoke {
    /// The flags as typed, for messages.
    fn flags(&self) -> String {
        format!("--vus {} --duration {}", self.vus, crate::units::duration(self.duration))
    }

    /// What the smoke does to the file's load, in words: `scenarios` are the file's named
    /// scenarios (empty for a `[load]` file), `executor` its `[load]`'s.
    pub(super) fn describe(&self, scenarios: &[String], executor: &str) -> String {
        let instead = format!("{} for {}", plural(self.vus, "user"), crate::units::duration(self.duration));
        if scenarios.is_empty() {
            format!("{}: the file's [load] ({executor}) replaced by constant-vus, {instead}", self.flags())
        } else {
            let names: Vec<String> = scenarios.iter().map(|n| format!("`{n}`")).collect();
            format!(
                "{}: the file's scenarios {} do not run; every user type runs as one constant-vus scenario, {instead}",
                self.flags(),
                names.join(", ")
            )
        }
    }

    /// A scenario's threshold, left out with its scenario.
    pub(super) fn scenario_left_out(&self, rule: &ThresholdRule, scenario: &str) -> NotRun {
        NotRun {
            expr: rule.threshold.expr.clone(),
            scenario: Some(scenario.to_string()),
            step: None,
            reason: format!("its scenario does not run in a smoke ({})", self.flags()),
        }
    }
}

fn plural(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

impl Compiler<'_> {
    /// Why a smoke leaves this threshold out, or `None` when it judges it. By default a smoke
    /// leaves out counts and throughput (`requests`, `rps`, a counter of your own: they measure
    /// the load, which the smoke replaced) and windows that start after it ends; `smoke = false`
    /// leaves any threshold out, `smoke = true` keeps it.
    pub(super) fn smoke_leaves_out(
        &self,
        spec: &raw::ThresholdSpec,
        rule: &ThresholdRule,
        smoke: &Smoke,
    ) -> Option<String> {
        let marked = match spec {
            raw::ThresholdSpec::Table(t) => t.smoke,
            raw::ThresholdSpec::Expr(_) => None,
        };
        match marked {
            Some(false) => return Some("marked `smoke = false`".into()),
            Some(true) => return None,
            None => {}
        }
        if let Some((from, _)) = rule.during.filter(|(from, _)| *from >= smoke.duration) {
            return Some(format!(
                "its window starts at {}, after the smoke's {} (`smoke = true` keeps it)",
                crate::units::duration(from),
                crate::units::duration(smoke.duration)
            ));
        }
        let count = match &rule.threshold.metric {
            Measure::Requests | Measure::Rps => true,
            Measure::Custom { name, stat: Stat::Value } => {
                self.metric_kinds.iter().any(|(n, k)| n == name && *k == Kind::Counter)
            }
            _ => false,
        };
        count.then(|| {
            format!(
                "a count or throughput measures the load, which {} replaced (`smoke = true` keeps it)",
                smoke.flags()
            )
        })
    }
}
