//! Servers of known capacity, for testing capacity searches: `/capacity/queue/{R}` serves one
//! request at a time at R per second and queues the rest (a latency knee at R);
//! `/capacity/refuse/{R}` admits R per second and answers 503 to the rest (an error knee at R).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Token-bucket depth of the refusing server, in seconds of its rate.
const BURST: f64 = 0.02;

#[derive(Debug, Default)]
pub(super) struct Limits {
    /// Per rate: when the queueing server is next free.
    queue: Mutex<HashMap<u64, Instant>>,
    /// Per rate: tokens and when they were last topped up.
    buckets: Mutex<HashMap<u64, (f64, Instant)>>,
}

impl Limits {
    /// The queueing server at `rate`: how long to hold a request arriving at `now` (its wait
    /// behind earlier ones plus its own 1/rate of service).
    pub fn queue(&self, rate: u64, now: Instant) -> Duration {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let free = q.entry(rate).or_insert(now);
        let start = (*free).max(now);
        *free = start + Duration::from_secs_f64(1.0 / rate as f64);
        free.saturating_duration_since(now)
    }

    /// The refusing server at `rate`: whether a request arriving at `now` is admitted.
    pub fn admit(&self, rate: u64, now: Instant) -> bool {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let depth = (rate as f64 * BURST).max(1.0);
        let (tokens, last) = b.entry(rate).or_insert((depth, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * rate as f64).min(depth);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_serves_one_at_a_time() {
        let l = Limits::default();
        let t = Instant::now();
        assert_eq!(l.queue(100, t), Duration::from_millis(10));
        assert_eq!(l.queue(100, t), Duration::from_millis(20), "the second waits behind the first");
        assert_eq!(l.queue(100, t + Duration::from_secs(1)), Duration::from_millis(10), "idle again later");
    }

    #[test]
    fn the_bucket_admits_its_rate() {
        let l = Limits::default();
        let t = Instant::now();
        // 1000/s offered to a 500/s server over one second: about half admitted.
        let admitted = (0..1000).filter(|i| l.admit(500, t + Duration::from_millis(*i))).count();
        assert!((495..=515).contains(&admitted), "{admitted}");
        // 400/s to the same server: all admitted.
        let later = t + Duration::from_secs(5);
        let admitted = (0..400).filter(|i| l.admit(500, later + Duration::from_micros(2500 * i))).count();
        assert_eq!(admitted, 400);
    }
}
