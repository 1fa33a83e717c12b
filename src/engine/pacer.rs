//! The open-model schedule as pure functions of time: when the n-th request of the run should
//! start, and which requests belong to which worker and shard.

/// Intended start of request `n` (0-based, counted over the whole run) at `rate` per second,
/// in nanoseconds after the start of the run.
#[inline]
pub fn nth_start_ns(n: u64, rate: f64) -> u64 {
    (n as f64 * 1e9 / rate) as u64
}

/// How many requests are due strictly before `t_ns` at `rate` per second.
pub fn due_before(t_ns: u64, rate: f64) -> u64 {
    let exact = t_ns as f64 * rate / 1e9;
    let n = exact.ceil() as u64;
    // Guard the float edge: request n is due before t iff its start is < t.
    if n > 0 && nth_start_ns(n - 1, rate) >= t_ns { n - 1 } else { n }
}

/// The requests of one worker: every `stride`-th request of the run starting at `offset`.
/// With `shards` instances of `workers` workers each, worker `w` of shard `s` takes
/// `offset = w * shards + s` and `stride = workers * shards`, so all of them together start
/// exactly the run's schedule, interleaved.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: f64,
    offset: u64,
    stride: u64,
    /// Index of this worker's next request among its own.
    k: u64,
    /// No request starts at or after this many ns.
    end_ns: u64,
}

impl Pacer {
    pub fn new(rate: f64, worker: usize, workers: usize, shard: usize, shards: usize, end_ns: u64) -> Pacer {
        Pacer { rate, offset: (worker * shards + shard) as u64, stride: (workers * shards) as u64, k: 0, end_ns }
    }

    /// Intended start (ns after the run's start) of this worker's next request, or `None` once
    /// the schedule has reached the end of the run.
    #[inline]
    pub fn next(&mut self) -> Option<u64> {
        let n = self.k * self.stride + self.offset;
        let t = nth_start_ns(n, self.rate);
        if t >= self.end_ns {
            return None;
        }
        self.k += 1;
        Some(t)
    }

    /// Requests taken from the schedule so far.
    pub fn taken(&self) -> u64 {
        self.k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_spacing() {
        assert_eq!(nth_start_ns(0, 1000.0), 0);
        assert_eq!(nth_start_ns(1, 1000.0), 1_000_000);
        assert_eq!(nth_start_ns(30000, 30000.0), 1_000_000_000);
    }

    #[test]
    fn due_before_matches_the_schedule() {
        for rate in [1.0, 3.0, 7.5, 1000.0, 33333.0] {
            for t in [0u64, 1, 999_999, 1_000_000, 123_456_789, 1_000_000_000, 5_000_000_001] {
                let n = due_before(t, rate);
                if n > 0 {
                    assert!(nth_start_ns(n - 1, rate) < t, "rate {rate} t {t}");
                }
                assert!(nth_start_ns(n, rate) >= t, "rate {rate} t {t}");
            }
        }
    }

    #[test]
    fn workers_and_shards_partition_the_schedule() {
        let (rate, end) = (1000.0, 1_000_000_000);
        let (workers, shards) = (3, 2);
        let mut all = Vec::new();
        for s in 0..shards {
            for w in 0..workers {
                let mut p = Pacer::new(rate, w, workers, s, shards, end);
                let mut last = None;
                while let Some(t) = p.next() {
                    assert!(last.is_none_or(|l| t > l), "each worker's starts increase");
                    last = Some(t);
                    all.push(t);
                }
            }
        }
        all.sort_unstable();
        let expected: Vec<u64> = (0..due_before(end, rate)).map(|n| nth_start_ns(n, rate)).collect();
        assert_eq!(all, expected, "together the workers start exactly the run's schedule");
        assert_eq!(all.len(), 1000);
    }

    #[test]
    fn schedule_ends_at_the_end() {
        let mut p = Pacer::new(10.0, 0, 1, 0, 1, 1_000_000_000);
        let n = std::iter::from_fn(|| p.next()).count();
        assert_eq!(n, 10);
        assert_eq!(p.taken(), 10);
        assert_eq!(p.next(), None);
    }
}
