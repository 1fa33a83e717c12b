//! Measurements of a run: per-step HdrHistograms (µs) and counters by status and error kind.
//! Workers fill one `Stats` per second; the collector merges them exactly (`Histogram::add`).

pub(crate) mod metric;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::error::{ErrorKind, Failure};

/// Largest latency recorded (one hour, in µs); longer ones are clamped to it.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Significant digits kept by every histogram.
pub const SIGFIGS: u8 = 3;
/// Distinct error reasons remembered per step (counts are exact whatever the number).
const MAX_REASONS: usize = 32;

/// An empty latency histogram: 1 µs to 1 h at 3 significant digits, sized as values arrive.
pub fn histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2, SIGFIGS).expect("valid histogram bounds");
    h.auto(true);
    h
}

/// Record one value, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, us: u64) {
    // Cannot fail: the histogram resizes and the value is within its bounds.
    let _ = h.record(us.clamp(1, MAX_LATENCY_US));
}

/// Counters and histograms of one step (or of the whole run).
#[derive(Debug, Clone)]
pub struct StepStats {
    /// Completed requests: responses and failures together.
    pub requests: u64,
    /// Requests that failed, whatever the kind.
    pub errors: u64,
    pub errors_by_kind: [u64; ErrorKind::COUNT],
    /// Response count per status code, in first-seen order (few distinct codes in practice).
    pub status: Vec<(u16, u64)>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// `expect` conditions evaluated, and how many of them failed.
    pub checks: u64,
    pub checks_failed: u64,
    /// Latency in µs: from the intended start (open model) or from sending (closed model).
    pub latency: Histogram<u64>,
    /// Service time in µs, from sending to the complete response (recorded in the open model,
    /// where it differs from latency).
    pub service: Histogram<u64>,
    /// A few distinct failure reasons with their counts, for the report.
    pub reasons: BTreeMap<String, u64>,
    /// Steps not sent: their condition did not hold, or a variable they need had no value.
    pub skipped: u64,
    /// Redirects followed (hops), over all requests.
    pub redirects: u64,
    /// Requests by the protocol that carried them (`Proto as usize`): responses, and failures
    /// that reached a connection.
    pub protocols: [u64; crate::http::version::Proto::COUNT],
}

impl Default for StepStats {
    fn default() -> Self {
        StepStats {
            requests: 0,
            errors: 0,
            errors_by_kind: [0; ErrorKind::COUNT],
            status: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
            checks: 0,
            checks_failed: 0,
            latency: histogram(),
            service: histogram(),
            reasons: BTreeMap::new(),
            skipped: 0,
            redirects: 0,
            protocols: [0; crate::http::version::Proto::COUNT],
        }
    }
}

impl StepStats {
    /// A complete response. `service_us` is given in the open model only.
    #[inline]
    pub fn response(&mut self, status: u16, latency_us: u64, service_us: Option<u64>, bytes_in: u64, bytes_out: u64) {
        self.requests += 1;
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        record(&mut self.latency, latency_us);
        if let Some(s) = service_us {
            record(&mut self.service, s);
        }
        match self.status.iter_mut().find(|(c, _)| *c == status) {
            Some((_, n)) => *n += 1,
            None => self.status.push((status, 1)),
        }
    }

    /// A failed request (no usable response, or a response that failed a check).
    pub fn failure(&mut self, f: &Failure, bytes_out: u64) {
        self.requests += 1;
        self.bytes_out += bytes_out;
        self.error(f);
    }

    /// Count an error against a request already counted (a status or check failure).
    pub fn error(&mut self, f: &Failure) {
        self.errors += 1;
        self.errors_by_kind[f.kind as usize] += 1;
        let key = format!("{}: {}", f.kind, f.reason);
        if let Some(n) = self.reasons.get_mut(&key) {
            *n += 1;
        } else if self.reasons.len() < MAX_REASONS {
            self.reasons.insert(key, 1);
        } else {
            *self.reasons.entry(format!("{}: (other reasons)", f.kind)).or_insert(0) += 1;
        }
    }

    /// Count a response whose status is an error (the status counts already say which).
    #[inline]
    pub fn status_error(&mut self) {
        self.errors += 1;
        self.errors_by_kind[ErrorKind::Status as usize] += 1;
    }

    /// Add `other` into `self`: counters summed, histograms added (exact).
    pub fn merge(&mut self, other: &StepStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        for (a, b) in self.errors_by_kind.iter_mut().zip(other.errors_by_kind) {
            *a += b;
        }
        for &(code, n) in &other.status {
            match self.status.iter_mut().find(|(c, _)| *c == code) {
                Some((_, m)) => *m += n,
                None => self.status.push((code, n)),
            }
        }
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.checks += other.checks;
        self.checks_failed += other.checks_failed;
        self.skipped += other.skipped;
        self.redirects += other.redirects;
        for (a, b) in self.protocols.iter_mut().zip(other.protocols) {
            *a += b;
        }
        // Cannot fail: auto-resizing histograms accept any value of another one.
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        for (k, n) in &other.reasons {
            if let Some(m) = self.reasons.get_mut(k) {
                *m += n;
            } else if self.reasons.len() < MAX_REASONS {
                self.reasons.insert(k.clone(), *n);
            } else {
                let kind = k.split(':').next().unwrap_or("other");
                *self.reasons.entry(format!("{kind}: (other reasons)")).or_insert(0) += n;
            }
        }
    }

    /// Status counts sorted by code.
    pub fn status_sorted(&self) -> Vec<(u16, u64)> {
        let mut v = self.status.clone();
        v.sort_unstable();
        v
    }
}

/// Gauges a worker reports with each snapshot (not summed over time).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gauges {
    /// Users currently running (connections held, in bench).
    pub active_users: u64,
    /// Open model: running users parked between iterations, waiting for a start (free).
    pub idle_users: u64,
    /// Requests sent and not yet answered.
    pub in_flight: u64,
}

impl Gauges {
    /// Users in an iteration (a request, or thinking between two): running, not parked.
    pub fn busy_users(&self) -> u64 {
        self.active_users.saturating_sub(self.idle_users)
    }
}

/// What one scenario counts beside its requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LaneCounts {
    pub iterations: u64,
    pub dropped: u64,
    pub data_exhausted: u64,
    /// Gauge: users running at the snapshot.
    pub active_users: u64,
}

impl LaneCounts {
    fn merge(&mut self, o: &LaneCounts) {
        self.iterations += o.iterations;
        self.dropped += o.dropped;
        self.data_exhausted += o.data_exhausted;
        self.active_users += o.active_users;
    }
}

/// Everything measured by one worker in one interval, or merged over workers and time.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Workers record one entry per scenario and step (`scenario * steps + step`); the
    /// collector turns them into one per stats row (`Plan::rows`).
    pub steps: Vec<StepStats>,
    /// Each scenario's requests together (filled by the collector when the plan has several).
    pub scenarios: Vec<StepStats>,
    /// Each scenario's iterations, drops and users.
    pub lanes: Vec<LaneCounts>,
    /// Metrics of the user's own, in plan order (empty when the plan has none).
    pub metrics: Vec<crate::stats::metric::MetricStats>,
    pub gauges: Gauges,
    /// Open model: how late the generator itself sent each start (µs), beyond any wait for a
    /// free user — the generator's own lag, not the server's queueing.
    pub lag: Histogram<u64>,
    /// Connections opened from each source address of the plan (one entry without sources).
    pub from_sources: Vec<u64>,
    /// Connections opened to each address of each target (`[target][address]`).
    pub to_addrs: Vec<Vec<u64>>,
}

impl Stats {
    pub fn new(steps: usize) -> Stats {
        Stats {
            steps: (0..steps).map(|_| StepStats::default()).collect(),
            scenarios: Vec::new(),
            lanes: Vec::new(),
            metrics: Vec::new(),
            gauges: Gauges::default(),
            lag: histogram(),
            from_sources: Vec::new(),
            to_addrs: Vec::new(),
        }
    }

    /// Count connections opened: `from` per source, `to` per address of target `target`.
    pub fn opened(&mut self, target: Option<usize>, from: &[u64], to: &[u64]) {
        add_into(&mut self.from_sources, from);
        if let Some(t) = target {
            if self.to_addrs.len() <= t {
                self.to_addrs.resize_with(t + 1, Vec::new);
            }
            add_into(&mut self.to_addrs[t], to);
        }
    }

    /// Add `other` (same plan) into `self`. Gauges are summed: merge snapshots of the same
    /// interval from several workers to get the whole instance's gauges.
    pub fn merge(&mut self, other: &Stats) {
        if self.steps.len() < other.steps.len() {
            self.steps.resize_with(other.steps.len(), StepStats::default);
        }
        for (a, b) in self.steps.iter_mut().zip(&other.steps) {
            a.merge(b);
        }
        if self.scenarios.len() < other.scenarios.len() {
            self.scenarios.resize_with(other.scenarios.len(), StepStats::default);
        }
        for (a, b) in self.scenarios.iter_mut().zip(&other.scenarios) {
            a.merge(b);
        }
        for (i, b) in other.lanes.iter().enumerate() {
            self.lane(i).merge(b);
        }
        if self.metrics.len() < other.metrics.len() {
            self.metrics.extend(other.metrics[self.metrics.len()..].iter().map(|m| {
                let mut fresh = m.clone();
                fresh.clear();
                fresh
            }));
        }
        for (a, b) in self.metrics.iter_mut().zip(&other.metrics) {
            // Same plan, same kinds: cannot fail.
            let _ = a.merge(b);
        }
        // Cannot fail: auto-resizing histograms accept any value of another one.
        let _ = self.lag.add(&other.lag);
        self.opened(None, &other.from_sources, &[]);
        for (t, to) in other.to_addrs.iter().enumerate() {
            self.opened(Some(t), &[], to);
        }
        self.gauges.active_users += other.gauges.active_users;
        self.gauges.idle_users += other.gauges.idle_users;
        self.gauges.in_flight += other.gauges.in_flight;
    }

    /// The same measurements with the steps gathered into rows: step `i` goes into row
    /// `row_of(i)` of `rows` (steps of one name in several user types share a row).
    pub fn into_rows(mut self, rows: usize, row_of: impl Fn(usize) -> usize) -> Stats {
        let steps = std::mem::replace(&mut self.steps, (0..rows).map(|_| StepStats::default()).collect());
        for (i, s) in steps.iter().enumerate() {
            self.steps[row_of(i)].merge(s);
        }
        self
    }

    /// Scenario `i`'s counters.
    pub fn lane(&mut self, i: usize) -> &mut LaneCounts {
        if self.lanes.len() <= i {
            self.lanes.resize(i + 1, LaneCounts::default());
        }
        &mut self.lanes[i]
    }

    /// `n` starts of scenario `lane` were not sent.
    pub fn drop_starts(&mut self, lane: usize, n: u64) {
        self.lane(lane).dropped += n;
    }

    /// An iteration of scenario `lane` completed.
    pub fn iteration(&mut self, lane: usize) {
        self.lane(lane).iterations += 1;
    }

    /// A user of scenario `lane` stopped: its unique data ran out.
    pub fn exhausted(&mut self, lane: usize) {
        self.lane(lane).data_exhausted += 1;
    }

    /// Open model: starts whose time came but found no free user and were not sent, all
    /// scenarios together.
    pub fn dropped(&self) -> u64 {
        self.lanes.iter().map(|l| l.dropped).sum()
    }

    /// Iterations (passes over a journey) completed, all scenarios together.
    pub fn iterations(&self) -> u64 {
        self.lanes.iter().map(|l| l.iterations).sum()
    }

    /// Users stopped because their data (`order = "unique"`) ran out, all scenarios together.
    pub fn data_exhausted(&self) -> u64 {
        self.lanes.iter().map(|l| l.data_exhausted).sum()
    }

    /// Each scenario's requests together, from entries kept per scenario and step (`per` steps
    /// each).
    pub fn scenario_totals(&self, per: usize) -> Vec<StepStats> {
        self.steps
            .chunks(per.max(1))
            .map(|c| {
                let mut t = StepStats::default();
                c.iter().for_each(|s| t.merge(s));
                t
            })
            .collect()
    }

    /// All steps together.
    pub fn total(&self) -> StepStats {
        let mut t = StepStats::default();
        for s in &self.steps {
            t.merge(s);
        }
        t
    }
}

/// Add `b` into `a` element by element, growing `a` as needed.
fn add_into(a: &mut Vec<u64>, b: &[u64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_exact() {
        let mut a = StepStats::default();
        let mut b = StepStats::default();
        let mut all = histogram();
        for i in 1..=1000u64 {
            let v = i * 37 % 5000 + 1;
            if i % 2 == 0 {
                a.response(200, v, None, 10, 5)
            } else {
                b.response(404, v, None, 10, 5)
            }
            record(&mut all, v);
        }
        b.status_error();
        a.failure(&Failure::new(ErrorKind::Connect, "refused"), 0);
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(m.requests, 1001);
        assert_eq!(m.errors, 2);
        assert_eq!(m.errors_by_kind[ErrorKind::Status as usize], 1);
        assert_eq!(m.status_sorted(), vec![(200, 500), (404, 500)]);
        assert_eq!(m.bytes_in, 10000);
        assert_eq!(m.latency, all);
        for q in [0.5, 0.9, 0.99, 0.999] {
            assert_eq!(m.latency.value_at_quantile(q), all.value_at_quantile(q));
        }
    }

    #[test]
    fn values_are_clamped_not_lost() {
        let mut h = histogram();
        record(&mut h, 0);
        record(&mut h, u64::MAX);
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1);
        assert!(h.max() >= MAX_LATENCY_US);
    }

    #[test]
    fn reasons_are_bounded() {
        let mut s = StepStats::default();
        for i in 0..100 {
            s.failure(&Failure::new(ErrorKind::Parse, format!("reason {i}")), 0);
        }
        assert_eq!(s.errors, 100);
        assert!(s.reasons.len() <= MAX_REASONS + 1);
        assert_eq!(s.reasons.values().sum::<u64>(), 100);
    }
}

/// One second of the run, all workers together.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimelineRow {
    /// Seconds from the start to the end of this interval.
    pub t: f64,
    /// Length of the interval in seconds (1 except for a final partial one).
    pub interval_s: f64,
    pub requests: u64,
    pub rps: f64,
    pub errors: u64,
    pub bytes_in: u64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub active_users: u64,
    pub in_flight: u64,
    #[serde(default)]
    pub dropped: u64,
    /// Open model: the generator's own send lag, p99 (µs).
    #[serde(default)]
    pub lag_p99_us: u64,
    /// CPU use of the busiest worker thread in this second, percent of one core.
    #[serde(default)]
    pub worker_cpu_max: f64,
    /// Share of this second the most-delayed worker waited for its CPU (runnable, not running:
    /// another thread or process on its core), percent.
    #[serde(default)]
    pub worker_wait_max: f64,
    /// The same second per step, in plan order (only when the plan has several steps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepSecond>,
    /// The same second per scenario, in file order (only when the plan has several).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<StepSecond>,
    /// The same second's metrics of the user's own: a rate's percent, a counter's count, a
    /// trend's p95.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    /// The service's watched series (`[monitor]`) sampled in this second.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub monitor: BTreeMap<String, f64>,
}

/// One step in one second of the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepSecond {
    pub requests: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
}

impl StepSecond {
    fn of(s: &StepStats) -> StepSecond {
        let q = |p: f64| if s.latency.is_empty() { 0 } else { s.latency.value_at_quantile(p) };
        StepSecond { requests: s.requests, errors: s.errors, p50_us: q(0.50), p95_us: q(0.95), p99_us: q(0.99) }
    }
}

impl TimelineRow {
    /// Summarize interval `seq` that ended `elapsed` after the start; `worker_cpu_max` is the
    /// busiest worker's CPU use in it (percent).
    pub fn from_interval(seq: u64, elapsed: std::time::Duration, stats: &Stats, worker_cpu_max: f64) -> TimelineRow {
        let t = elapsed.as_secs_f64();
        let interval_s = (t - seq as f64).clamp(1e-3, 1.0);
        let total = stats.total();
        let q = |p: f64| if total.latency.is_empty() { 0 } else { total.latency.value_at_quantile(p) };
        TimelineRow {
            t,
            interval_s,
            requests: total.requests,
            rps: total.requests as f64 / interval_s,
            errors: total.errors,
            bytes_in: total.bytes_in,
            p50_us: q(0.50),
            p95_us: q(0.95),
            p99_us: q(0.99),
            max_us: if total.latency.is_empty() { 0 } else { total.latency.max() },
            active_users: stats.gauges.active_users,
            in_flight: stats.gauges.in_flight,
            dropped: stats.dropped(),
            lag_p99_us: if stats.lag.is_empty() { 0 } else { stats.lag.value_at_quantile(0.99) },
            worker_cpu_max: (worker_cpu_max * 10.0).round() / 10.0,
            worker_wait_max: 0.0,
            steps: if stats.steps.len() > 1 { stats.steps.iter().map(StepSecond::of).collect() } else { Vec::new() },
            scenarios: stats.scenarios.iter().map(StepSecond::of).collect(),
            metrics: BTreeMap::new(),
            monitor: BTreeMap::new(),
        }
    }
}
