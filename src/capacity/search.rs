//! The search itself, a pure function of the verdicts so far: an exponential probe finds a
//! failing rate, bisection narrows it to the precision, a longer hold confirms the answer (falling
//! back to a lower pass when the hold fails); and how many users a step at a rate needs.

use serde::{Deserialize, Serialize};

use super::judge::Verdict;

/// Lowest rate worth trying (starts per second).
pub const MIN_RATE: f64 = 1.0;
/// Confirming holds tried before giving up on confirmation.
const MAX_CONFIRMS: usize = 2;
/// Fewest users a step gets when they are sized for it (what `-c` always was before).
pub const MIN_USERS: usize = 1000;

/// Users for a step at `rate` starts per second when one iteration (a user's journey, think
/// time included) takes `iteration`: twice what Little's law asks (room for the service to slow
/// down near its knee), at least [`MIN_USERS`], at most `cap` (what the file limit allows).
pub fn users_for(rate: f64, iteration: std::time::Duration, cap: usize) -> usize {
    let need = (rate * iteration.as_secs_f64() * 2.0).ceil();
    let need = if need.is_finite() { need.min(usize::MAX as f64 / 2.0) as usize } else { usize::MAX / 2 };
    need.max(MIN_USERS).min(cap.max(1))
}

/// How the search is set up.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    pub start: f64,
    pub max: f64,
    /// Stop narrowing once the failing and passing rates are this close (fraction).
    pub precision: f64,
    /// What the rates count (named in `limited_by`).
    pub unit: super::Unit,
}

/// Which rate to run next, or the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Run a step at this rate; `confirm`: the longer hold at the answer.
    Step {
        rate: f64,
        phase: Phase,
    },
    Done {
        max_rps: f64,
        limited_by: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Probe,
    Bisect,
    Confirm,
}

/// The search's state: a pure function of the verdicts so far.
#[derive(Debug, Clone)]
pub struct Search {
    cfg: SearchConfig,
    /// Highest rate that passed (and not disproved by a failed confirm).
    lo: Option<f64>,
    /// Lowest rate that failed, and why.
    hi: Option<(f64, String)>,
    /// Every rate that passed, to fall back on when a confirm fails.
    passes: Vec<f64>,
    confirms: usize,
    last: Option<(f64, Phase)>,
    done: Option<Next>,
}

impl Search {
    pub fn new(cfg: SearchConfig) -> Search {
        Search { cfg, lo: None, hi: None, passes: Vec::new(), confirms: 0, last: None, done: None }
    }

    /// The next step, or the answer.
    pub fn next_step(&mut self) -> Next {
        if let Some(d) = &self.done {
            return d.clone();
        }
        match (self.lo, &self.hi) {
            // Nothing failed yet: keep doubling up to the maximum.
            (_, None) => {
                let rate = match self.lo {
                    None => self.cfg.start,
                    Some(lo) if lo >= self.cfg.max => {
                        return self.finish(lo, format!("the maximum rate tried (--max {})", fmt(self.cfg.max)));
                    }
                    Some(lo) => (lo * 2.0).min(self.cfg.max),
                };
                Next::Step { rate, phase: Phase::Probe }
            }
            // Everything failed so far: halve until something passes.
            (None, Some((hi, why))) => {
                let rate = hi / 2.0;
                if rate < MIN_RATE {
                    return self.finish(0.0, why.clone());
                }
                Next::Step { rate, phase: Phase::Probe }
            }
            (Some(lo), Some((hi, why))) => {
                if hi - lo > self.cfg.precision * lo {
                    Next::Step { rate: (lo + hi) / 2.0, phase: Phase::Bisect }
                } else if self.last == Some((lo, Phase::Confirm)) || self.confirms >= MAX_CONFIRMS {
                    self.finish(lo, why.clone())
                } else {
                    Next::Step { rate: lo, phase: Phase::Confirm }
                }
            }
        }
    }

    /// Record what the step at `rate` showed.
    pub fn record(&mut self, rate: f64, phase: Phase, verdict: &Verdict) {
        let unit = self.cfg.unit.name();
        self.last = Some((rate, phase));
        if phase == Phase::Confirm {
            self.confirms += 1;
        }
        match verdict {
            Verdict::Pass => {
                self.passes.push(rate);
                if self.lo.is_none_or(|lo| rate > lo) {
                    self.lo = Some(rate);
                }
                if phase == Phase::Confirm {
                    self.last = Some((rate, Phase::Confirm));
                }
            }
            Verdict::Fail(why) => {
                if self.hi.as_ref().is_none_or(|(hi, _)| rate < *hi) {
                    self.hi = Some((rate, why.clone()));
                }
                // A failed confirm disproves the answer: fall back to the best pass below it.
                self.passes.retain(|&p| p < rate);
                self.lo = self.passes.iter().copied().fold(None, |m, p| Some(m.map_or(p, |m: f64| m.max(p))));
            }
            Verdict::Generator { sent, why } => {
                // The service's capacity is unknown above this: the answer is the best rate that
                // passed, and the report says the generator, not the service, was the limit.
                let limited_by = match self.lo {
                    Some(lo) => format!(
                        "generator: it could not drive more than ~{} {unit} ({why}); the service held its SLOs up to {} {unit} at least — add cores with -t or boxes with --shard",
                        fmt(*sent),
                        fmt(lo)
                    ),
                    None => format!(
                        "generator: its measurements could not be trusted from the first step at {} {unit} ({why}); the service's capacity was not measured",
                        fmt(rate)
                    ),
                };
                self.done = Some(Next::Done { max_rps: self.lo.unwrap_or(0.0), limited_by });
            }
            Verdict::Connections => {
                self.done = Some(Next::Done {
                    max_rps: self.lo.unwrap_or(0.0),
                    limited_by: format!(
                        "connections: every one was busy at {} {unit} while the service met its SLOs (raise -c)",
                        fmt(rate)
                    ),
                });
            }
        }
    }

    fn finish(&mut self, max_rps: f64, limited_by: String) -> Next {
        let d = Next::Done { max_rps, limited_by };
        self.done = Some(d.clone());
        d
    }
}

fn fmt(r: f64) -> String {
    crate::units::group(r.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn users_are_sized_from_the_rate_and_the_iteration_time() {
        let s = std::time::Duration::from_secs;
        assert_eq!(users_for(100.0, s(1), 19_000), MIN_USERS, "never fewer than before");
        assert_eq!(users_for(3000.0, s(1), 19_000), 6000, "twice Little's law");
        assert_eq!(users_for(30_000.0, s(1), 19_000), 19_000, "capped by the file limit");
        assert_eq!(users_for(f64::INFINITY, s(1), 500), 500);
    }

    fn search(start: f64, max: f64) -> Search {
        Search::new(SearchConfig { start, max, precision: 0.05, unit: crate::capacity::Unit::Requests })
    }

    /// Drive a search against a service that passes below `capacity`.
    fn run(mut s: Search, capacity: f64) -> (f64, String, Vec<(f64, Phase)>) {
        let mut steps = Vec::new();
        for _ in 0..100 {
            match s.next_step() {
                Next::Done { max_rps, limited_by } => return (max_rps, limited_by, steps),
                Next::Step { rate, phase } => {
                    steps.push((rate, phase));
                    let v = if rate <= capacity { Verdict::Pass } else { Verdict::Fail("p(99) < 100ms".into()) };
                    s.record(rate, phase, &v);
                }
            }
        }
        panic!("the search did not end: {steps:?}");
    }

    #[test]
    fn finds_the_capacity_within_the_precision() {
        for capacity in [150.0, 1000.0, 3333.0, 25_000.0] {
            let (max, why, steps) = run(search(100.0, 1e6), capacity);
            assert!(max <= capacity && max >= capacity * 0.95, "capacity {capacity}: found {max} via {steps:?}");
            assert!(why.contains("p(99)"));
            assert_eq!(steps.last().unwrap().1, Phase::Confirm, "the answer is confirmed");
            assert!(steps.len() <= 20, "{} steps", steps.len());
        }
    }

    #[test]
    fn probes_down_when_the_start_already_fails() {
        let (max, _, steps) = run(search(1000.0, 1e6), 130.0);
        assert!((123.5..=130.0).contains(&max), "{max} via {steps:?}");
        assert_eq!(steps[1], (500.0, Phase::Probe));
    }

    #[test]
    fn stops_at_the_maximum() {
        let (max, why, _) = run(search(100.0, 800.0), 1e9);
        assert_eq!(max, 800.0);
        assert!(why.contains("maximum"), "{why}");
    }

    #[test]
    fn nothing_passes() {
        let (max, why, _) = run(search(10.0, 100.0), 0.1);
        assert_eq!(max, 0.0);
        assert!(why.contains("p(99)"));
    }

    #[test]
    fn a_failed_confirm_falls_back_to_a_lower_pass() {
        let mut s = search(100.0, 1e6);
        // Passes below 420, but the first confirming hold fails (a noisy second): the answer
        // falls back to the best pass below it, confirmed in turn.
        let mut confirms = Vec::new();
        for _ in 0..40 {
            match s.next_step() {
                Next::Done { max_rps, .. } => {
                    assert_eq!(confirms.len(), 2, "{confirms:?}");
                    assert!(max_rps < confirms[0], "the disproved rate is not the answer");
                    assert_eq!(max_rps, confirms[1]);
                    return;
                }
                Next::Step { rate, phase } => {
                    let pass = if phase == Phase::Confirm {
                        confirms.push(rate);
                        confirms.len() > 1
                    } else {
                        rate < 420.0
                    };
                    s.record(rate, phase, &if pass { Verdict::Pass } else { Verdict::Fail("x".into()) });
                }
            }
        }
        panic!("no answer");
    }

    #[test]
    fn the_generator_limit_ends_the_search() {
        let mut s = search(100.0, 1e6);
        let Next::Step { rate, phase } = s.next_step() else { panic!() };
        s.record(rate, phase, &Verdict::Pass);
        let Next::Step { rate, phase } = s.next_step() else { panic!() };
        s.record(rate, phase, &Verdict::Generator { sent: 187.0, why: "its busiest worker used 97% of a core".into() });
        match s.next_step() {
            Next::Done { max_rps, limited_by } => {
                assert_eq!(max_rps, 100.0, "the best rate that passed");
                assert!(limited_by.starts_with("generator") && limited_by.contains("~187"), "{limited_by}");
            }
            other => panic!("{other:?}"),
        }
    }
}
