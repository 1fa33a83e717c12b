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
