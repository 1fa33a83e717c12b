//! The live one-line progress shown on a terminal: elapsed, req/s, p99 so far, errors.

use std::io::Write;
use std::time::Duration;

use crate::engine::Observer;
use crate::stats::{Stats, TimelineRow};
use crate::units::{group, micros};

pub struct Progress {
    enabled: bool,
    total: Duration,
    shown: bool,
}

impl Progress {
    pub fn new(enabled: bool, total: Duration) -> Progress {
        Progress { enabled, total, shown: false }
    }

    /// Clear the line before the summary is printed.
    pub fn finish(&mut self) {
        if self.shown {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
        }
    }
}

impl Observer for Progress {
    fn second(&mut self, row: &TimelineRow, _: &Stats, total: &Stats) {
        if !self.enabled {
            return;
        }
        let t = total.total();
        let p99 = if t.latency.is_empty() { 0 } else { t.latency.value_at_quantile(0.99) };
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "\r\x1b[2K[{:>5.0}s/{:.0}s] {:>9} req/s  p99 {:>8}  errors {}  users {}  in flight {}",
            row.t,
            self.total.as_secs_f64(),
            group(row.rps.round() as u64),
            micros(p99 as f64),
            group(t.errors),
            row.active_users,
            row.in_flight
        );
        let _ = out.flush();
        self.shown = true;
    }
}
