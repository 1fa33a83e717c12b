//! The monitoring thread: every interval, scrape each endpoint once and query each PromQL series,
//! with timeouts; a failure leaves a gap, is counted and warned about once per series; the run
//! never waits for it; a series with no data is a gap. And the check before any load: every source
//! answers, every expression is accepted and every scraped metric exists.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::fetch::{self, Page};
use super::{MonitorPlan, Point, Samples, Source};
use crate::http::client::Endpoint;

/// Longest wait for one source during the run (shorter with a shorter interval).
const MAX_TIMEOUT: Duration = Duration::from_secs(2);
/// Wait for one source in the check before the run.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The sources, ready to read.
struct Sources {
    prometheus: Option<Endpoint>,
    scrape: Vec<Endpoint>,
}

impl Sources {
    fn new(plan: &MonitorPlan) -> Sources {
        Sources {
            prometheus: plan.prometheus.clone().map(Endpoint::new),
            scrape: plan.scrape.iter().cloned().map(Endpoint::new).collect(),
        }
    }

    /// All scrape endpoints' pages as one (`Err` naming the first that failed).
    fn pages(&self, timeout: Duration) -> Result<Page, String> {
        let mut all = Page::default();
        for e in &self.scrape {
            all.extend(fetch::scrape(e, timeout).map_err(|err| format!("scrape {}: {err}", e.shown))?);
        }
        Ok(all)
    }
}

/// Check every source and series once, before any load. The error names the series and why: a
/// source that fails, an expression Prometheus rejects, a metric a scrape page lacks. A series
/// with no data yet (a counter the service creates on its first request) is warned about and
/// watched: a threshold on it says "no data" if it never has any.
pub fn check(plan: &MonitorPlan) -> Result<(), String> {
    let sources = Sources::new(plan);
    let pages = if plan.scrape.is_empty() { Ok(Page::default()) } else { sources.pages(CHECK_TIMEOUT) };
    let urls: Vec<&str> = sources.scrape.iter().map(|e| e.shown.as_str()).collect();
    for s in &plan.series {
        let empty = match &s.source {
            Source::Promql(expr) => {
                let server = sources.prometheus.as_ref().expect("a PromQL series has a server");
                let value = fetch::promql(server, expr, CHECK_TIMEOUT)
                    .map_err(|e| format!("monitor series `{}` (`{expr}` at {}): {e}", s.name, server.shown))?;
                value.is_none().then(|| format!("`{expr}` at {} matches no series", server.shown))
            }
            Source::Scrape(sel) => {
                let page = pages.as_ref().map_err(|e| format!("monitor series `{}`: {e}", s.name))?;
                if !page.has(&sel.name) {
                    return Err(format!(
                        "monitor series `{}` (`{}` from {}): no metric `{}` in the scraped text",
                        s.name,
                        s.text,
                        urls.join(", "),
                        sel.name
                    ));
                }
                page.select(sel)
                    .is_none()
                    .then(|| format!("no series of `{}` from {} matches the labels", s.text, urls.join(", ")))
            }
        };
        if let Some(why) = empty {
            eprintln!(
                "warning: monitor series `{}` has no data yet ({why}); watching it: a series the service \
                 creates on its first request appears once the load starts",
                s.name
            );
        }
    }
    Ok(())
}

/// A running monitor.
pub struct Monitor {
    samples: Arc<Mutex<Samples>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Start sampling now (t = 0 at `origin`, the run's start).
    pub fn start(plan: Arc<MonitorPlan>, origin: Instant) -> Monitor {
        let samples = Arc::new(Mutex::new(Samples::new(&plan)));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (samples.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("stampede-monitor".into())
            .spawn(move || sample_loop(&plan, origin, &s, &st))
            .expect("spawn the monitoring thread");
        Monitor { samples, stop, handle: Some(handle) }
    }

    /// What was sampled so far.
    pub fn samples(&self) -> Samples {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stop (after the reading under way, bounded by its timeouts) and give everything sampled.
    pub fn finish(mut self) -> Samples {
        self.stop_thread();
        self.samples()
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

fn sample_loop(plan: &MonitorPlan, origin: Instant, samples: &Mutex<Samples>, stop: &AtomicBool) {
    let sources = Sources::new(plan);
    let timeout = plan.interval.mul_f64(0.9).min(MAX_TIMEOUT);
    // A counter's previous reading (time, value), for its rate.
    let mut previous: Vec<Option<(f64, f64)>> = vec![None; plan.series.len()];
    let mut warned = vec![false; plan.series.len()];
    let mut k: u32 = 0;
    loop {
        let due = origin + plan.interval * k;
        while Instant::now() < due {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(due.saturating_duration_since(Instant::now()).min(Duration::from_millis(20)));
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let t = origin.elapsed().as_secs_f64();
        let pages = if plan.scrape.is_empty() { Ok(Page::default()) } else { sources.pages(timeout) };
        let mut values = Vec::with_capacity(plan.series.len());
        let mut failed = Vec::new();
        for (i, s) in plan.series.iter().enumerate() {
            // `Ok(None)`: the source answered and nothing matches (yet): a gap, not a failure.
            let reading = match &s.source {
                Source::Promql(expr) => {
                    let server = sources.prometheus.as_ref().expect("a PromQL series has a server");
                    fetch::promql(server, expr, timeout).map(|v| v.map(|v| (v, false)))
                }
                Source::Scrape(sel) => match &pages {
                    Ok(p) => Ok(p.select(sel)),
                    Err(e) => Err(e.clone()),
                },
            };
            values.push(match reading {
                Ok(None) => None,
                Ok(Some((v, false))) => Some(v),
                Ok(Some((v, true))) => {
                    // A counter: its rate since the last reading (a reset counts from zero).
                    let rate = previous[i].and_then(|(pt, pv)| {
                        let dt = t - pt;
                        (dt > 1e-3).then(|| if v >= pv { (v - pv) / dt } else { v / dt })
                    });
                    previous[i] = Some((t, v));
                    rate
                }
                Err(e) => {
                    failed.push(i);
                    if !warned[i] {
                        warned[i] = true;
                        eprintln!(
                            "warning: monitor series `{}` failed: {e}; the run goes on, with gaps in the series",
                            s.name
                        );
                    }
                    None
                }
            });
        }
        {
            let mut all = samples.lock().unwrap_or_else(|e| e.into_inner());
            for i in failed {
                all.failures[i] += 1;
            }
            all.points.push(Point { t, values });
        }
        // Next tick: the next due time after now (a slow reading skips ticks, it does not bunch them).
        k += 1;
        let since = origin.elapsed();
        while plan.interval * k < since {
            k += 1;
        }
    }
}
