//! Each second's value of a threshold's measure, read from the run's timeline: what
//! `recovery(...)` watches, and what `merge` measures a drift's windows on (its documents keep
//! each second, not each window).

use super::{Measure, Measured, NoData, On, Stat, Window};
use crate::stats::{StepSecond, TimelineRow};

/// A metric of your own in the timeline: a rate's seconds are in percent, which a threshold
/// written as a fraction (`cache_hit > 0.95`) reads divided by 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsRate(pub bool);

/// The second's requests on `on` (a plan with one step or one scenario keeps no breakdown:
/// the run's second is theirs).
fn part(row: &TimelineRow, on: On) -> StepSecond {
    let pick = |v: &[StepSecond], i: usize| v.get(i).cloned();
    let of = match on {
        On::Run => None,
        On::Step(i) => pick(&row.steps, i),
        On::Scenario(i) => pick(&row.scenarios, i),
    };
    of.unwrap_or(StepSecond {
        requests: row.requests,
        errors: row.errors,
        p50_us: row.p50_us,
        p95_us: row.p95_us,
        p99_us: row.p99_us,
    })
}

/// Seconds of `row` the run was not paused.
fn ran_s(row: &TimelineRow) -> f64 {
    (row.interval_s - row.paused).max(0.0)
}

/// The value of `m` in one second of the timeline, in the threshold's reporting unit: a latency
/// percentile or max in ms, errors in percent, rps, requests; a metric of your own as the
/// timeline keeps it (a rate in percent, or as a fraction when `stat` is `Value`; a counter's
/// count; a trend's p95); a watched series' sample. No data when nothing was measured in it.
pub fn value(m: &Measure, row: &TimelineRow, on: On, rate: IsRate) -> Measured {
    let s = part(row, on);
    let ms = |us: u64| us as f64 / 1000.0;
    // A second whose every request failed before a response has no latency.
    let answered = s.requests > s.errors || (s.requests > 0 && s.p50_us > 0);
    Ok(match m {
        Measure::Percentile(_) | Measure::Med | Measure::Max if !answered => return Err(NoData::LATENCY),
        Measure::Percentile(p) if *p == 50.0 => ms(s.p50_us),
        Measure::Med => ms(s.p50_us),
        Measure::Percentile(p) if *p == 95.0 => ms(s.p95_us),
        Measure::Percentile(p) if *p == 99.0 => ms(s.p99_us),
        Measure::Max if on == On::Run || (row.steps.is_empty() && row.scenarios.is_empty()) => ms(row.max_us),
        Measure::Errors if s.requests == 0 => return Err(NoData::REQUESTS),
        Measure::Errors => 100.0 * s.errors as f64 / s.requests as f64,
        Measure::Rps if ran_s(row) <= 1e-3 => return Err(NoData::TIME),
        Measure::Rps => s.requests as f64 / ran_s(row),
        Measure::Requests => s.requests as f64,
        Measure::Custom { name, stat } => {
            if let Some(v) = row.monitor.get(name) {
                return Ok(*v);
            }
            let Some(v) = row.metrics.get(name) else {
                return Err(if rate.0 { NoData::RATE } else { NoData::TREND });
            };
            match stat {
                Stat::Value if rate.0 => v / 100.0,
                _ => *v,
            }
        }
        _ => return Err(NoData::NOT_HERE),
    })
}

/// The seconds of `rows` that start inside `window` (as the run's windows take them).
pub fn in_window(rows: &[TimelineRow], (from, to): Window) -> impl Iterator<Item = &TimelineRow> {
    let (from, to) = (from.as_secs_f64(), to.as_secs_f64());
    rows.iter().filter(move |r| {
        let start = (r.t - r.interval_s).max(0.0);
        start + 1e-3 >= from && start + 1e-3 < to
    })
}

/// `m` over the seconds of `window`, from each second's values: exact for errors, rps, requests
/// and max (sums and the highest); a latency percentile, a trend's p95 and a rate are the
/// seconds' values weighted by their requests (a rate: the mean of its seconds), which is what a
/// document without each window's histogram allows; a counter is its seconds' sum.
pub fn over_window(m: &Measure, rows: &[TimelineRow], on: On, window: Window, rate: IsRate) -> Measured {
    let seconds: Vec<&TimelineRow> = in_window(rows, window).collect();
    let requests: u64 = seconds.iter().map(|r| part(r, on).requests).sum();
    let ran: f64 = seconds.iter().map(|r| ran_s(r)).sum();
    let values = || seconds.iter().map(|r| (part(r, on).requests, value(m, r, on, rate)));
    Ok(match m {
        Measure::Errors if requests == 0 => return Err(NoData::REQUESTS),
        Measure::Errors => 100.0 * seconds.iter().map(|r| part(r, on).errors).sum::<u64>() as f64 / requests as f64,
        Measure::Rps if ran <= 1e-3 => return Err(NoData::TIME),
        Measure::Rps => requests as f64 / ran,
        Measure::Requests => requests as f64,
        Measure::Max => values().filter_map(|(_, v)| v.ok()).reduce(f64::max).ok_or(NoData::LATENCY)?,
        Measure::Custom { stat: Stat::Value, .. } if !rate.0 => {
            let (mut sum, mut any) = (0.0, false);
            for (_, v) in values() {
                if let Ok(v) = v {
                    (sum, any) = (sum + v, true);
                }
            }
            if !any {
                return Err(NoData::TREND);
            }
            sum
        }
        _ => {
            let weighted = |custom: bool| {
                let (mut sum, mut weight) = (0.0, 0.0);
                for (n, v) in values() {
                    if let Ok(v) = v {
                        let w = if custom { 1.0 } else { n as f64 };
                        (sum, weight) = (sum + v * w, weight + w);
                    }
                }
                (weight > 0.0).then(|| sum / weight)
            };
            let custom = matches!(m, Measure::Custom { .. });
            match (weighted(custom), values().find_map(|(_, v)| v.err())) {
                (Some(v), _) => v,
                (None, e) => return Err(e.unwrap_or(NoData::LATENCY)),
            }
        }
    })
}
