//! The pacer: which starts of an open-model schedule (a [`Curve`]) belong to which worker and
//! shard, and when each is due — a pure function of elapsed time.

use std::sync::Arc;

use crate::plan::curve::Curve;

/// The starts of one worker: every `stride`-th start of the run beginning at `offset`. With
/// `shards` instances of `workers` workers, worker `w` of shard `s` takes `offset = w·shards + s`
/// and `stride = workers·shards`, so together they start exactly the run's schedule.
#[derive(Debug, Clone)]
pub struct Pacer {
    curve: Arc<Curve>,
    offset: u64,
    stride: u64,
    k: u64,
    end_ns: u64,
}

impl Pacer {
    pub fn new(curve: Arc<Curve>, worker: usize, workers: usize, shard: usize, shards: usize) -> Pacer {
        let end_ns = curve.duration().as_nanos() as u64;
        Pacer { curve, offset: (worker * shards + shard) as u64, stride: (workers * shards) as u64, k: 0, end_ns }
    }

    /// When this worker's next start is due (ns from the start of the run); `None` at the end.
    #[inline]
    pub fn next_due(&mut self) -> Option<u64> {
        let t = self.curve.nth_start_ns(self.k * self.stride + self.offset)?;
        if t >= self.end_ns {
            return None;
        }
        self.k += 1;
        Some(t)
    }

    /// The same worker's share of another schedule, with its first `taken` starts already taken
    /// (a change by hand: the new curve keeps the old one's past).
    pub fn with_curve(&self, curve: Arc<Curve>, taken: u64) -> Pacer {
        let end_ns = curve.duration().as_nanos() as u64;
        Pacer { curve, offset: self.offset, stride: self.stride, k: taken, end_ns }
    }

    /// Run-wide number of the start `next_due` returned last.
    pub fn last_index(&self) -> u64 {
        self.k.saturating_sub(1) * self.stride + self.offset
    }

    /// This worker's starts due strictly before `t_ns` (taken or not).
    pub fn due_before(&self, t_ns: u64) -> u64 {
        let t = t_ns.min(self.end_ns) as f64 / 1e9;
        // Start n is due before t iff n < integral(t).
        let all = self.curve.integral(t).ceil() as u64;
        all.saturating_sub(self.offset).div_ceil(self.stride)
    }

    /// Where the schedule ends, ns from its start.
    pub fn end_ns(&self) -> u64 {
        self.end_ns
    }

    /// Starts taken from the schedule so far.
    pub fn taken(&self) -> u64 {
        self.k
    }

    /// Starts per second this worker runs at its busiest.
    pub fn peak_rate(&self) -> f64 {
        self.curve.max() / self.stride as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::curve::Stage;
    use std::time::Duration;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn constant_rate_spacing() {
        let c = Curve::constant(1000.0, secs(10.0));
        assert_eq!(c.nth_start_ns(0), Some(0));
        assert_eq!(c.nth_start_ns(1), Some(1_000_000));
        assert_eq!(c.nth_start_ns(9_999), Some(9_999_000_000));
        assert_eq!(c.nth_start_ns(10_001), None);
        assert_eq!(c.integral(2.5), 2500.0);
    }

    #[test]
    fn ramp_follows_the_integral() {
        // 0 → 100/s over 10 s: 500 starts, the n-th at t = sqrt(2n/10).
        let c = Curve::new(0.0, vec![Stage { duration: secs(10.0), target: 100.0 }]);
        assert_eq!(c.integral(10.0), 500.0);
        for n in [1u64, 10, 100, 499] {
            let t = c.nth_start_ns(n).unwrap() as f64 / 1e9;
            assert!((t - (2.0 * n as f64 / 10.0).sqrt()).abs() < 1e-6, "n {n} t {t}");
            assert!((c.integral(t) - n as f64).abs() < 1e-6);
        }
        assert!(c.nth_start_ns(501).is_none());
    }

    #[test]
    fn starts_are_increasing_over_ramps_up_and_down() {
        let c = Curve::new(
            50.0,
            vec![
                Stage { duration: secs(2.0), target: 200.0 },
                Stage { duration: secs(1.0), target: 200.0 },
                Stage { duration: secs(2.0), target: 10.0 },
                Stage { duration: secs(1.0), target: 0.0 },
            ],
        );
        let total = c.integral(6.0);
        let mut last = 0;
        let mut n = 0;
        while let Some(t) = c.nth_start_ns(n) {
            assert!(n == 0 || t >= last, "monotonic at {n}");
            last = t;
            n += 1;
        }
        assert_eq!(n as f64, total.floor() + 1.0);
        assert_eq!(c.max(), 200.0);
    }

    #[test]
    fn values_interpolate() {
        let c = Curve::new(
            0.0,
            vec![Stage { duration: secs(10.0), target: 100.0 }, Stage { duration: secs(10.0), target: 0.0 }],
        );
        assert_eq!(c.at(0.0), 0.0);
        assert_eq!(c.at(5.0), 50.0);
        assert_eq!(c.at(10.0), 100.0);
        assert_eq!(c.at(15.0), 50.0);
        assert_eq!(c.at(99.0), 0.0);
        assert_eq!(c.duration(), secs(20.0));
    }

    #[test]
    fn workers_and_shards_partition_the_schedule() {
        let curve = Arc::new(Curve::new(100.0, vec![Stage { duration: secs(1.0), target: 1900.0 }]));
        let (workers, shards) = (3, 2);
        let mut all = Vec::new();
        for s in 0..shards {
            for w in 0..workers {
                let mut p = Pacer::new(curve.clone(), w, workers, s, shards);
                let mut last = None;
                while let Some(t) = p.next_due() {
                    assert!(last.is_none_or(|l| t > l), "each worker's starts increase");
                    last = Some(t);
                    all.push(t);
                }
            }
        }
        all.sort_unstable();
        let expected: Vec<u64> = (0..).map_while(|n| curve.nth_start_ns(n).filter(|&t| t < 1_000_000_000)).collect();
        assert_eq!(all, expected, "together the workers start exactly the run's schedule");
        assert_eq!(all.len(), 1000);
    }

    #[test]
    fn due_before_counts_each_workers_starts() {
        let curve = Arc::new(Curve::new(100.0, vec![Stage { duration: secs(1.0), target: 1900.0 }]));
        for t in [0u64, 1, 123_456_789, 600_000_000, 999_999_999, 1_000_000_000, 2_000_000_000] {
            let horizon = t.min(1_000_000_000);
            let expected = (0..).take_while(|&n| curve.nth_start_ns(n).is_some_and(|s| s < horizon)).count() as u64;
            let sum: u64 = (0..6).map(|i| Pacer::new(curve.clone(), i / 2, 3, i % 2, 2).due_before(t)).sum();
            assert_eq!(sum, expected, "all workers at t {t}");
            let mut p = Pacer::new(curve.clone(), 1, 3, 0, 2);
            let due = p.due_before(t);
            let yielded = std::iter::from_fn(|| p.next_due()).take_while(|&s| s < horizon).count() as u64;
            assert_eq!(due, yielded, "one worker at t {t}");
        }
    }
}
