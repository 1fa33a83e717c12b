//! Load curves: piecewise-linear users or starts per second over time, as pure functions of elapsed
//! time (the value at t, its integral, when the n-th start is due).

use std::time::Duration;

/// One stage: move linearly to `target` over `duration`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: f64,
}

/// A piecewise-linear curve starting at `start` and passing through each stage's target at the
/// end of the stage. Used for users over time (closed model) and starts per second (open model).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    start: f64,
    stages: Vec<Stage>,
    /// Start of each stage, in seconds.
    t0: Vec<f64>,
    /// Integral of the curve from 0 to the start of each stage (starts due, for a rate).
    n0: Vec<f64>,
}

impl Curve {
    /// The same value for `duration`.
    pub fn constant(value: f64, duration: Duration) -> Curve {
        Curve::new(value, vec![Stage { duration, target: value }])
    }

    pub fn new(start: f64, stages: Vec<Stage>) -> Curve {
        let (mut t0, mut n0) = (Vec::with_capacity(stages.len()), Vec::with_capacity(stages.len()));
        let (mut t, mut n, mut v) = (0.0, 0.0, start);
        for s in &stages {
            t0.push(t);
            n0.push(n);
            let d = s.duration.as_secs_f64();
            n += (v + s.target) / 2.0 * d;
            t += d;
            v = s.target;
        }
        Curve { start, stages, t0, n0 }
    }

    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    pub fn start_value(&self) -> f64 {
        self.start
    }

    /// Largest value the curve reaches.
    pub fn max(&self) -> f64 {
        self.stages.iter().map(|s| s.target).fold(self.start, f64::max)
    }

    /// The stages that cover `[0, at)` seconds, the last one cut at `at`.
    fn head(&self, at: f64) -> Vec<Stage> {
        let mut out = Vec::new();
        for (i, s) in self.stages.iter().enumerate() {
            let (t0, d) = (self.t0[i], s.duration.as_secs_f64());
            if t0 >= at {
                break;
            }
            if t0 + d <= at {
                out.push(s.clone());
            } else {
                out.push(Stage { duration: Duration::from_secs_f64(at - t0), target: self.at(at) });
                break;
            }
        }
        out
    }

    /// The stages that cover `[at, end)` seconds, the first one cut at `at` (it starts from the
    /// value there).
    fn tail(&self, at: f64) -> Vec<Stage> {
        let mut out = Vec::new();
        for (i, s) in self.stages.iter().enumerate() {
            let (t0, d) = (self.t0[i], s.duration.as_secs_f64());
            if t0 + d <= at {
                continue;
            }
            let cut = (at - t0).max(0.0);
            out.push(Stage { duration: Duration::from_secs_f64(d - cut), target: s.target });
        }
        out
    }

    /// This curve before `at` seconds and `then` from `at` on (a step to `then`'s value there),
    /// as long as this curve.
    pub fn splice(&self, at: f64, then: &Curve) -> Curve {
        let end = self.duration().as_secs_f64();
        let at = at.clamp(0.0, end);
        let mut stages = self.head(at);
        stages.push(Stage { duration: Duration::ZERO, target: then.at(at) });
        stages.extend(then.tail(at));
        let whole = Curve::new(self.start, stages);
        Curve::new(whole.start, whole.head(end))
    }

    /// From `at` seconds, a move from the value there to `to` over `over` seconds, then `to`
    /// held to the end.
    pub fn ramp_from(&self, at: f64, to: f64, over: f64) -> Curve {
        let end = self.duration().as_secs_f64();
        let from = self.at(at);
        let ramp = Curve::new(
            from,
            vec![
                Stage { duration: Duration::from_secs_f64(at.max(0.0)), target: from },
                Stage { duration: Duration::from_secs_f64(over.max(0.0)), target: to },
                Stage { duration: Duration::from_secs_f64((end - at - over).max(0.0)), target: to },
            ],
        );
        self.splice(at, &ramp)
    }

    /// This curve with nothing (0) from `from` to `to` seconds, its own values after.
    pub fn gap(&self, from: f64, to: f64) -> Curve {
        let zero = Curve::constant(0.0, self.duration());
        self.splice(from, &zero).splice(to, self)
    }

    /// The stage containing time `t` (seconds): index and the value at its start.
    fn stage_at(&self, t: f64) -> Option<(usize, f64)> {
        let i = self.t0.partition_point(|&s| s <= t).checked_sub(1)?;
        let v0 = if i == 0 { self.start } else { self.stages[i - 1].target };
        Some((i, v0))
    }

    /// Value at `t` seconds; the last target after the end.
    pub fn at(&self, t: f64) -> f64 {
        let Some((i, v0)) = self.stage_at(t.max(0.0)) else { return self.start };
        let s = &self.stages[i];
        let d = s.duration.as_secs_f64();
        let tau = (t - self.t0[i]).min(d);
        if d == 0.0 { s.target } else { v0 + (s.target - v0) * tau / d }
    }

    /// Integral from 0 to `t` seconds (for a rate: how many starts are due by then).
    pub fn integral(&self, t: f64) -> f64 {
        let t = t.clamp(0.0, self.duration().as_secs_f64());
        let Some((i, v0)) = self.stage_at(t) else { return 0.0 };
        let s = &self.stages[i];
        let d = s.duration.as_secs_f64();
        let tau = t - self.t0[i];
        let a = if d == 0.0 { 0.0 } else { (s.target - v0) / d };
        self.n0[i] + v0 * tau + 0.5 * a * tau * tau
    }

    /// When the `n`-th start (0-based) is due, in ns from the start: the first time the integral
    /// reaches `n`. `None` if the curve ends first.
    pub fn nth_start_ns(&self, n: u64) -> Option<u64> {
        let n = n as f64;
        let i = self.n0.partition_point(|&x| x <= n).checked_sub(1)?;
        let s = &self.stages[i];
        let d = s.duration.as_secs_f64();
        let v0 = if i == 0 { self.start } else { self.stages[i - 1].target };
        let a = if d == 0.0 { 0.0 } else { (s.target - v0) / d };
        let need = n - self.n0[i];
        // Solve v0·τ + a·τ²/2 = need in the stable form 2·need / (v0 + √(v0² + 2·a·need)).
        let disc = v0 * v0 + 2.0 * a * need;
        if disc < 0.0 {
            return None;
        }
        let denom = v0 + disc.sqrt();
        let tau = if need == 0.0 {
            0.0
        } else if denom <= 0.0 {
            return None;
        } else {
            2.0 * need / denom
        };
        if tau > d + 1e-9 {
            return None;
        }
        Some(((self.t0[i] + tau) * 1e9) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_change_by_hand_keeps_the_past_and_ramps_from_the_value_at_the_change() {
        let c = Curve::constant(100.0, secs(10.0));
        let r = c.ramp_from(4.0, 300.0, 1.0);
        assert_eq!(r.duration(), secs(10.0));
        assert_eq!(r.at(2.0), 100.0);
        assert!((r.at(4.5) - 200.0).abs() < 1e-6, "{}", r.at(4.5));
        assert_eq!(r.at(7.0), 300.0);
        // Starts before the change are the old schedule's, to the nanosecond.
        for n in [0u64, 1, 250, 399] {
            assert_eq!(r.nth_start_ns(n), c.nth_start_ns(n), "start {n}");
        }
        assert!((r.integral(10.0) - (400.0 + 200.0 + 300.0 * 5.0)).abs() < 1e-6);
        // A step (no ramp) and a change past the end.
        let s = c.ramp_from(2.0, 50.0, 0.0);
        assert_eq!(s.at(2.5), 50.0);
        assert_eq!(c.ramp_from(9.5, 0.0, 5.0).duration(), secs(10.0));
    }

    #[test]
    fn a_gap_has_no_starts_and_the_schedule_goes_on_after_it() {
        let c = Curve::constant(100.0, secs(10.0));
        let g = c.gap(3.0, 5.0);
        assert_eq!(g.at(4.0), 0.0);
        assert_eq!(g.at(6.0), 100.0);
        assert!((g.integral(10.0) - 800.0).abs() < 1e-6);
        let starts: Vec<u64> = (0..).map_while(|n| g.nth_start_ns(n)).collect();
        assert!(starts.iter().all(|&t| !(3_000_000_000..5_000_000_000).contains(&t)), "a start in the gap");
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(starts.iter().filter(|&&t| t < 10_000_000_000).count(), 800);
    }
}
