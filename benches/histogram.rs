//! Measures the engine's histogram work: recording latencies (`stats::record`,
//! `StepStats::response`), merging per-worker `Stats`/`StepStats`, and the base64 HdrHistogram V2
//! encoding carried in result JSON (`encode_histogram`/`decode_histogram`).
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use stampede::report::result::{decode_histogram, encode_histogram};
use stampede::stats::{self, Stats, StepStats};

/// Values recorded per benchmark iteration.
const BATCH: usize = 10_000;
/// Steps of the plan behind the merged `Stats` (a small journey).
const STEPS: usize = 4;
/// Workers whose snapshots the collector merges each second.
const WORKERS: usize = 8;
/// Requests one worker completes in one second (per snapshot).
const PER_SNAPSHOT: usize = 50_000;

/// Deterministic xorshift64* generator, so every run measures the same values.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A service latency in µs: log-normal around 2 ms (most requests 0.5–8 ms, a long tail),
    /// clamped to 50 µs..50 ms.
    fn latency_us(&mut self) -> u64 {
        let normal = (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos();
        (2_000.0 * (normal * 0.9).exp()).clamp(50.0, 50_000.0) as u64
    }
}

fn latencies(seed: u64, n: usize) -> Vec<u64> {
    let mut rng = Rng(seed | 1);
    (0..n).map(|_| rng.latency_us()).collect()
}

/// One worker's one-second snapshot: `PER_SNAPSHOT` responses spread over the steps.
fn worker_snapshot(seed: u64) -> Stats {
    let mut s = Stats::new(STEPS);
    for (i, us) in latencies(seed, PER_SNAPSHOT).into_iter().enumerate() {
        let status = if i % 100 == 99 { 503 } else { 200 };
        s.steps[i % STEPS].response(status, us, Some(us * 9 / 10), 320, 120);
    }
    s
}

fn recording(c: &mut Criterion) {
    let values = latencies(42, BATCH);
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(BATCH as u64));
    // Steady state: the histogram already spans the values (no resizing).
    let mut warm = stats::histogram();
    values.iter().for_each(|&v| stats::record(&mut warm, v));
    g.bench_function("warm_histogram", |b| {
        b.iter(|| {
            for &v in &values {
                stats::record(&mut warm, black_box(v));
            }
        })
    });
    // Start of each interval: workers begin every second with fresh, empty histograms.
    g.bench_function("fresh_histogram", |b| {
        b.iter(|| {
            let mut h = stats::histogram();
            for &v in &values {
                stats::record(&mut h, black_box(v));
            }
            h
        })
    });
    // What a worker does per response: counters, status count, latency and service time.
    let mut step = StepStats::default();
    g.bench_function("step_response", |b| {
        b.iter(|| {
            for &v in &values {
                step.response(200, black_box(v), Some(v), 320, 120);
            }
        })
    });
    g.finish();
}

fn merging(c: &mut Criterion) {
    let snapshots: Vec<Stats> = (0..WORKERS as u64).map(|w| worker_snapshot(0x9e37_79b9 + w)).collect();
    let mut g = c.benchmark_group("merge");
    // The collector's second: all workers' snapshots into one fresh interval `Stats`.
    g.throughput(Throughput::Elements(WORKERS as u64));
    g.bench_function(format!("stats_{WORKERS}_workers_{STEPS}_steps_fresh"), |b| {
        b.iter_batched(
            || Stats::new(STEPS),
            |mut acc| {
                for s in &snapshots {
                    acc.merge(black_box(s));
                }
                acc
            },
            BatchSize::SmallInput,
        )
    });
    // Into the run's running total, whose histograms already span the values.
    let mut total = Stats::new(STEPS);
    snapshots.iter().for_each(|s| total.merge(s));
    g.bench_function(format!("stats_{WORKERS}_workers_{STEPS}_steps_into_total"), |b| {
        b.iter(|| {
            for s in &snapshots {
                total.merge(black_box(s));
            }
        })
    });
    // One step into another, and all steps into the run's total line (`Stats::total`).
    g.throughput(Throughput::Elements(1));
    let mut step = snapshots[0].steps[0].clone();
    g.bench_function("step_stats", |b| b.iter(|| step.merge(black_box(&snapshots[1].steps[0]))));
    g.throughput(Throughput::Elements(STEPS as u64));
    g.bench_function(format!("stats_total_{STEPS}_steps"), |b| b.iter(|| black_box(&total).total()));
    g.finish();
}

fn encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    for (name, n) in [("1k_values", 1_000), ("1m_values", 1_000_000)] {
        let mut h = stats::histogram();
        latencies(7, n).into_iter().for_each(|v| stats::record(&mut h, v));
        let text = encode_histogram(&h);
        assert_eq!(decode_histogram(&text).expect("round trip"), h);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(format!("encode_{name}"), |b| b.iter(|| encode_histogram(black_box(&h))));
        g.bench_function(format!("decode_{name}"), |b| b.iter(|| decode_histogram(black_box(&text))));
    }
    g.finish();
}

criterion_group!(benches, recording, merging, encoding);
criterion_main!(benches);
