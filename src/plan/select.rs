//! `run --scenario NAME`: keep only the named scenarios of a plan, starting at once (their start
//! times shifted by the earliest chosen one, run-wide windows with them), and list each
//! threshold that no longer applies as not run.

use std::time::Duration;

use super::{NotRun, Plan};
use crate::error::PlanError;
use crate::units::duration;

impl Plan {
    /// Keep the scenarios named in `names` (in file order). Refuses a file without named
    /// scenarios and a name it does not have (exit 2).
    pub fn select_scenarios(&mut self, names: &[String]) -> Result<(), PlanError> {
        if names.is_empty() {
            return Ok(());
        }
        let known: Vec<String> = self.scenarios.iter().map(|s| s.name.clone()).collect();
        if !self.named_scenarios {
            return Err(PlanError::Invalid(
                "--scenario: this file has no [scenarios.NAME] tables to choose from".into(),
            ));
        }
        if let Some(bad) = names.iter().find(|n| !known.contains(n)) {
            return Err(PlanError::Invalid(format!(
                "--scenario `{bad}`: no such scenario (known: {})",
                known.join(", ")
            )));
        }
        let chosen: Vec<usize> = (0..known.len()).filter(|i| names.contains(&known[*i])).collect();
        let shift = chosen.iter().map(|&i| self.scenarios[i].start).min().unwrap_or_default();
        let flag: Vec<String> = chosen.iter().map(|&i| format!("--scenario {}", known[i])).collect();
        let flag = flag.join(" ");
        let mut scenarios = Vec::new();
        for &i in &chosen {
            let mut s = self.scenarios[i].clone();
            s.start -= shift;
            scenarios.push(s);
        }
        let end = scenarios.iter().map(super::Scenario::end).max().unwrap_or_default();
        let mut kept = Vec::new();
        for mut rule in std::mem::take(&mut self.thresholds) {
            let base = NotRun {
                expr: rule.threshold.expr.clone(),
                scenario: rule.scenario.map(|i| known[i].clone()),
                step: rule.step.map(|r| self.rows[r].clone()),
                reason: String::new(),
            };
            let not_run = |reason: String| NotRun { reason, ..base.clone() };
            if let Some(i) = rule.scenario {
                match chosen.iter().position(|&c| c == i) {
                    Some(new) => rule.scenario = Some(new),
                    None => {
                        self.thresholds_not_run.push(not_run(format!("its scenario does not run ({flag})")));
                        continue;
                    }
                }
            }
            let outside = |w: Option<(Duration, Duration)>| {
                w.is_some_and(|(from, to)| to.saturating_sub(shift).is_zero() || from.saturating_sub(shift) >= end)
            };
            if outside(rule.during) || outside(rule.base_during) {
                let why = format!(
                    "its window is outside the chosen scenarios' run ({flag}: {} of the file's run, shifted to start at 0s)",
                    window(shift, shift + end)
                );
                self.thresholds_not_run.push(not_run(why));
                continue;
            }
            if let Some(super::RecoveryRule { after: super::After::End(i), .. }) = &mut rule.recovery {
                match chosen.iter().position(|c| c == i) {
                    Some(new) => *i = new,
                    None => {
                        let why = format!("it is watched after scenario `{}`, which does not run ({flag})", known[*i]);
                        self.thresholds_not_run.push(not_run(why));
                        continue;
                    }
                }
            }
            rule.map_times(|d| d.saturating_sub(shift));
            kept.push(rule);
        }
        self.thresholds = kept;
        self.scenarios = scenarios;
        let started = if shift.is_zero() {
            String::new()
        } else {
            format!("; start times shifted by {} (run-wide windows with them)", duration(shift))
        };
        let others: Vec<&String> = known.iter().filter(|n| !names.contains(n)).collect();
        let others: Vec<String> = others.iter().map(|n| format!("`{n}`")).collect();
        self.overrides.push(format!("{flag}: scenarios {} do not run{started}", others.join(", ")));
        Ok(())
    }
}

fn window(from: Duration, to: Duration) -> String {
    format!("{}..{}", duration(from), duration(to))
}
