//! Judging one step of the search: its window after the warm-up, the SLOs on it, and whose limit
//! a failure shows — the service's (an SLO broke, or it fell behind), the users' (too few to
//! offer the rate), or the generator's (its core full or shared, starts sent late or short).

use crate::engine::SATURATED_CPU;
use crate::rules::threshold::{Ask, Data, Measure, Observed, Reading, Scope, Source, Threshold, measure_on};
use crate::stats::{Stats, StepStats, TimelineRow};

/// A backlog growing by this share of the rate each second fails a step whose SLOs still held
/// (half the default precision: a rate this far above the knee is not one the service takes).
const FALLING_BEHIND: f64 = 0.025;
/// A worker this busy (running or waiting for its core, percent) may be why starts went out short.
const STRAINED_CPU: f64 = 50.0;

/// What a step showed.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    /// An SLO failed; the text names it.
    Fail(String),
    /// The generator could not drive this rate faithfully (CPU saturated, its core shared,
    /// sending late or short): it sent about `sent` starts per second, and `why` says what.
    Generator {
        sent: f64,
        why: String,
    },
    /// Every connection was busy while the service answered within its SLO: raise -c.
    Connections,
}

/// The measurements of one step after its warm-up.
#[derive(Debug, Clone)]
pub struct Window {
    pub stats: Stats,
    pub seconds: f64,
    /// Busiest worker's CPU per second (percent).
    pub cpu: Vec<f64>,
    /// Users busy in an iteration (a request, or thinking between two) at each second's end.
    pub busy_users: Vec<f64>,
    /// Users the step had.
    pub users: usize,
    /// Iterations finished in the window.
    pub iterations: u64,
    /// Users busy at the end of the warm-up (the window's start), and the warm-up's length (s).
    pub busy_before: Option<f64>,
    pub warmup_s: f64,
    /// Median latency (µs) of the warm-up's last second, and of each second of the window.
    pub p50_before: u64,
    pub p50: Vec<u64>,
    /// Most-delayed worker's wait for its CPU per second (percent).
    pub wait: Vec<f64>,
    /// The watched series (`[monitor]`, `--monitor`) sampled in the window, when watched.
    pub series: Option<crate::monitor::MonitorResult>,
}

impl Window {
    pub fn new(steps: usize) -> Window {
        Window {
            stats: Stats::new(steps),
            seconds: 0.0,
            cpu: Vec::new(),
            busy_users: Vec::new(),
            users: 0,
            iterations: 0,
            busy_before: None,
            warmup_s: 0.0,
            p50_before: 0,
            p50: Vec::new(),
            wait: Vec::new(),
            series: None,
        }
    }

    /// Add one second of the run (only call for seconds after the warm-up).
    pub fn add(&mut self, row: &TimelineRow, interval: &Stats, users: usize) {
        self.stats.merge(interval);
        self.seconds += row.interval_s;
        self.cpu.push(row.worker_cpu_max);
        self.wait.push(row.worker_wait_max);
        self.users = users;
        self.busy_users.push(interval.gauges.busy_users() as f64);
        self.p50.push(row.p50_us);
        self.iterations += interval.iterations();
    }

    /// Note a second of the warm-up (before the window): its busy users are the window's start.
    pub fn warming(&mut self, row: &TimelineRow, interval: &Stats, seconds: f64) {
        self.p50_before = row.p50_us;
        self.busy_before = Some(interval.gauges.busy_users() as f64);
        self.warmup_s = seconds;
    }

    /// How fast the users busy in an iteration piled up over the window (per second): a
    /// service answering slower than the starts come holds more of them each second. `None`
    /// when it cannot be told: no warm-up second to start from, or iterations (think time
    /// included) so long that the users were still filling up when the window began.
    pub fn backlog_growth(&self) -> Option<f64> {
        let (before, after) = (self.busy_before?, *self.busy_users.last()?);
        let iteration = self.iteration_time()?.as_secs_f64();
        if iteration * 2.0 > self.warmup_s || self.seconds <= 0.0 {
            return None;
        }
        // A queue makes every request wait longer; a pause of the service at the last second's
        // end leaves the median where it was (and is not a backlog that keeps growing).
        let rising = *self.p50.last()? as f64 > self.p50_before as f64 * 1.2 + 1000.0;
        Some(if rising { (after - before) / self.seconds } else { 0.0 })
    }

    /// Users busy at each second's end, as a share of all users (0..1).
    pub fn busy(&self) -> impl Iterator<Item = f64> + '_ {
        self.busy_users.iter().map(|b| b / self.users.max(1) as f64)
    }

    /// How long an iteration took on average, by Little's law (users busy over iterations per
    /// second); `None` before any finished.
    pub fn iteration_time(&self) -> Option<std::time::Duration> {
        if self.iterations == 0 || self.busy_users.is_empty() {
            return None;
        }
        let busy = self.busy_users.iter().sum::<f64>() / self.busy_users.len() as f64;
        let per_s = self.iterations as f64 / self.seconds.max(1e-9);
        Some(std::time::Duration::from_secs_f64((busy / per_s).clamp(0.0, 3600.0)))
    }

    pub fn total(&self) -> StepStats {
        self.stats.total()
    }

    /// Median service time (µs), without queueing for a connection.
    pub fn service_p50_us(&self) -> u64 {
        let t = self.total();
        if t.service.is_empty() { 0 } else { t.service.value_at_quantile(0.5) }
    }

    /// What the service finished per second in the window, in the search's unit.
    pub fn achieved(&self, unit: super::Unit) -> f64 {
        let done = match unit {
            super::Unit::Requests => self.total().requests,
            super::Unit::Iterations => self.iterations,
        };
        done as f64 / self.seconds.max(1e-9)
    }

    /// Starts the generator sent per second (whether or not they were answered yet).
    pub fn sent_rps(&self) -> f64 {
        self.stats.lag.len() as f64 / self.seconds.max(1e-9)
    }
}

/// Judge a step's window against the SLOs. `lag_limit_us`: send lag beyond which the generator
/// did not keep the schedule. `baseline_service_us`: the service time (p50) of the last passing
/// step, to tell a slowing service from too few connections.
pub fn judge(
    slos: &[Threshold],
    w: &Window,
    rate: f64,
    lag_limit_us: u64,
    baseline_service_us: Option<u64>,
) -> Verdict {
    let total = w.total();
    if total.requests == 0 {
        return Verdict::Fail("no request completed in the step".into());
    }
    let g = Generator::of(w);
    // A generator that sent fewer starts than the rate although users were free to send did not
    // offer the service this rate: whatever the SLOs say, the step says nothing about it. (Sent,
    // not answered: a saturated service answers fewer than the rate while every start went out.)
    // Short with users free, but only the generator's fault when it shows it (a busy or delayed
    // worker, late sends): with its CPU idle, users that were never free (thinking, waiting for
    // answers) held the starts back, and the SLOs judge the wait.
    let strained = g.demand >= STRAINED_CPU || g.lag_p99 > lag_limit_us;
    let short = w.sent_rps() < 0.95 * rate;
    if short && g.busy < 0.9 && strained {
        let why = format!("it sent {:.0} of {rate:.0} starts per second with users free", w.sent_rps());
        return Verdict::Generator { sent: w.sent_rps(), why };
    }
    let src = StepSource { w, requests: &total };
    let failed = slos.iter().find(|t| !t.judge(&src, &Scope::RUN).held());
    match failed {
        None => held(w, rate, short),
        Some(t) => broke(t, w, &g, lag_limit_us, baseline_service_us),
    }
}

/// How the generator fared over a window: means per second of the busiest worker's CPU, of its
/// CPU plus its wait for a core (its demand), of that wait, of the users busy, and the send lag.
struct Generator {
    lag_p99: u64,
    cpu: f64,
    /// Busy is running or waiting to run (a core shared with something else): a worker runnable
    /// all the time is saturated whether it got its core or not. (Per second the busiest worker's
    /// CPU plus the most-delayed worker's wait: the same worker with -t 1, an upper bound
    /// otherwise.)
    demand: f64,
    wait: f64,
    busy: f64,
}

impl Generator {
    fn of(w: &Window) -> Generator {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        Generator {
            lag_p99: if w.stats.lag.is_empty() { 0 } else { w.stats.lag.value_at_quantile(0.99) },
            cpu: mean(&w.cpu),
            demand: w.cpu.iter().zip(&w.wait).map(|(c, q)| c + q).sum::<f64>() / w.cpu.len().max(1) as f64,
            wait: mean(&w.wait),
            busy: w.busy().sum::<f64>() / w.busy_users.len().max(1) as f64,
        }
    }
}

/// A step's window as its SLOs measure it: its requests over its seconds (latency from each
/// start's intended time, or the service's own time), and the watched series' samples in it.
struct StepSource<'a> {
    w: &'a Window,
    requests: &'a StepStats,
}

impl Source for StepSource<'_> {
    fn measure(&self, ask: &Ask) -> Reading {
        let none = crate::monitor::SeriesSummary::default();
        let data = match ask.measure {
            Measure::Custom { name, .. } => {
                Data::Series(self.w.series.as_ref().and_then(|m| m.series.get(name)).unwrap_or(&none))
            }
            _ => Data::Requests(Observed::of(self.requests, self.w.seconds)),
        };
        Reading { value: measure_on(ask.measure, &data), window: ask.window }
    }
}

/// Every SLO held: a pass, unless the rate was not offered (too few users) or the service fell
/// behind.
fn held(w: &Window, rate: f64, short: bool) -> Verdict {
    // The SLOs held, but the rate was not offered: users were the limit, not the service.
    if short {
        return Verdict::Connections;
    }
    // The SLOs held over a short window, but the service fell behind the starts: its queue grows
    // each second, and the SLO breaks if the rate is held longer. A step just above the knee must
    // not pass only because it was short.
    if let Some(g) = w.backlog_growth() {
        if g > FALLING_BEHIND * rate && g * w.seconds >= 20.0 {
            return Verdict::Fail(format!(
                "the service fell behind: {:.0} more users waiting for it each second ({:.1}% of the rate), so its latency keeps rising",
                g,
                100.0 * g / rate
            ));
        }
    }
    Verdict::Pass
}

/// The SLO `t` broke: the service's limit, unless the generator (its core, its late sends) or too
/// few connections explain it.
fn broke(t: &Threshold, w: &Window, g: &Generator, lag_limit_us: u64, baseline_service_us: Option<u64>) -> Verdict {
    let total = w.total();
    let verdict = t.judge(&StepSource { w, requests: &total }, &Scope::RUN);
    if t.metric_name().is_some() {
        // A watched series: the service's own limit, and the generator's state says nothing about it.
        let measured = verdict.measured.map_or_else(|no| no.0.to_string(), |v| crate::units::round3(v).to_string());
        return Verdict::Fail(format!("{} (measured {measured})", t.expr));
    }
    // The service's own time, from sending: without queueing for a user or the starts' lateness.
    let service_holds = || {
        let service = StepStats { latency: total.service.clone(), ..total.clone() };
        t.judge(&StepSource { w, requests: &service }, &Scope::RUN).held()
    };
    // Latency counts from each start's intended time, so a generator that was slow (busy core,
    // late sends, a core shared with something else) only made it look worse: a pass holds. A
    // failure may be the generator's own, and then the service is not blamed.
    // Late sends add their lateness to latency from the intended start, not to the service's own
    // time (from sending): a latency SLO that the service's time alone breaks is the service's,
    // however late the starts went out. (A busy worker reads answers late, which the service's
    // time includes; its CPU is judged below whatever the service's time says.)
    let service_breaks = t.metric.is_latency() && !total.service.is_empty() && !service_holds();
    let (cpu, wait) = (g.cpu, g.wait);
    let why = if g.demand >= SATURATED_CPU && wait >= 10.0 {
        Some(format!(
            "its worker ran {cpu:.0}% and waited for its CPU {wait:.0}% of the time: something else runs on its core"
        ))
    } else if g.demand >= SATURATED_CPU {
        Some(format!("its busiest worker used {cpu:.0}% of a core"))
    } else if g.lag_p99 > lag_limit_us && !service_breaks {
        Some(format!("it sent starts late, p99 {}", crate::units::micros(g.lag_p99 as f64)))
    } else {
        None
    };
    if let Some(why) = why {
        return Verdict::Generator { sent: w.sent_rps(), why };
    }
    // Latency failed because requests waited for a connection, not because the service was
    // slow: every connection was busy, yet the service answered as fast as at lower rates (a
    // saturated service gets slower instead, and more connections would only queue there).
    let starved = w.busy().filter(|&b| b >= 0.99).count() * 2 >= w.busy_users.len().max(1);
    let service_p50 = if total.service.is_empty() { 0 } else { total.service.value_at_quantile(0.5) };
    let service_steady = baseline_service_us.is_some_and(|b| service_p50 <= (b * 2).max(b + 1000));
    if starved && service_steady && t.metric.is_latency() && service_holds() {
        // Connections held busy by a generator that read answers late (its core shared with
        // something else) say nothing about how many the service needs.
        if wait >= crate::engine::SATURATED_WAIT {
            let why = format!(
                "every connection was busy while its worker waited for its CPU {wait:.0}% of the time: it read answers late (something else runs on its core)"
            );
            return Verdict::Generator { sent: w.sent_rps(), why };
        }
        return Verdict::Connections;
    }
    match verdict.measured {
        Ok(value) => Verdict::Fail(format!("{} (measured {value:.1}{})", t.expr, t.unit())),
        Err(no) => Verdict::Fail(format!("{} ({})", t.expr, no.0)),
    }
}

/// Whether a running step is already clearly lost: a latency SLO above twice its bound, or
/// errors above three times theirs, on enough requests.
pub fn clearly_lost(slos: &[Threshold], w: &Window) -> bool {
    let total = w.total();
    if total.requests < 50 || w.seconds < 0.9 {
        return false;
    }
    let src = StepSource { w, requests: &total };
    slos.iter().any(|t| {
        let Ok(value) = t.judge(&src, &Scope::RUN).measured else { return false };
        match t.metric {
            Measure::Errors => value > (t.bound * 3.0).max(t.bound + 2.0),
            ref m if m.is_latency() => {
                matches!(t.op, crate::rules::threshold::Op::Lt | crate::rules::threshold::Op::Le)
                    && value > t.bound * 2.0
            }
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window of `seconds` at `rate` starts per second: `sent` of them sent (each `lag_us`
    /// late), `answered` answered in `latency_us`, `busy` share of users busy, worker CPU `cpu`.
    fn window(seconds: u64, sent: u64, answered: u64, latency_us: u64, lag_us: u64, busy: f64, cpu: f64) -> Window {
        waiting_window(seconds, sent, answered, latency_us, lag_us, busy, cpu, 0.0)
    }

    #[allow(clippy::too_many_arguments)]
    fn waiting_window(
        seconds: u64,
        sent: u64,
        answered: u64,
        latency_us: u64,
        lag_us: u64,
        busy: f64,
        cpu: f64,
        wait: f64,
    ) -> Window {
        let mut w = Window::new(1);
        for _ in 0..seconds {
            let mut s = Stats::new(1);
            for _ in 0..sent / seconds {
                crate::stats::record(&mut s.lag, lag_us);
            }
            for _ in 0..answered / seconds {
                s.steps[0].response(200, latency_us, Some(latency_us), 10, 10);
            }
            s.gauges.active_users = 1000;
            s.gauges.idle_users = 1000 - (busy * 1000.0) as u64;
            let mut row = TimelineRow::from_interval(0, std::time::Duration::from_secs(1), &s, cpu);
            row.worker_wait_max = wait;
            w.add(&row, &s, 1000);
        }
        w
    }

    fn slos() -> Vec<Threshold> {
        vec![crate::rules::threshold::parse("p(99) < 100ms").unwrap()]
    }

    #[test]
    fn regression_a_saturated_service_answering_less_than_the_rate_is_not_the_generator() {
        // 2,400/s sent on time, the service answers 2,000/s slowly, 80% of users busy.
        let w = window(2, 4800, 4000, 300_000, 50, 0.8, 25.0);
        match judge(&slos(), &w, 2400.0, 2000, None) {
            Verdict::Fail(why) => assert!(why.starts_with("p(99) < 100ms"), "{why}"),
            other => panic!("the service failed its SLO, not the generator: {other:?}"),
        }
    }

    /// Like [`window`], with the service's own time (from sending) apart from the latency.
    fn late_window(seconds: u64, per_s: u64, latency_us: u64, service_us: u64, lag_us: u64) -> Window {
        let mut w = Window::new(1);
        for _ in 0..seconds {
            let mut s = Stats::new(1);
            for _ in 0..per_s {
                crate::stats::record(&mut s.lag, lag_us);
                s.steps[0].response(200, latency_us, Some(service_us), 10, 10);
            }
            s.gauges.active_users = 1000;
            s.gauges.idle_users = 200;
            let row = TimelineRow::from_interval(0, std::time::Duration::from_secs(1), &s, 30.0);
            w.add(&row, &s, 1000);
        }
        w
    }

    #[test]
    fn regression_a_saturated_service_is_not_blamed_on_starts_sent_a_little_late() {
        // 3,200/s offered to a service that queues past 2,000/s: its own time (from sending) is
        // 190 ms, far past p(99) < 100ms; the starts went out 10.5 ms late (limit 10 ms). The
        // search blamed the generator and stopped at 1,600 in one search of three, 2,000 in the
        // others.
        let w = late_window(1, 3200, 372_000, 190_000, 10_500);
        match judge(&slos(), &w, 3200.0, 10_000, None) {
            Verdict::Fail(why) => assert!(why.starts_with("p(99) < 100ms"), "{why}"),
            other => panic!("the service broke its SLO by its own time: {other:?}"),
        }
        // Latency past the SLO only by the starts' lateness: the service's own time holds, so the
        // late generator is the limit.
        let w = late_window(1, 3200, 150_000, 40_000, 30_000);
        match judge(&slos(), &w, 3200.0, 10_000, None) {
            Verdict::Generator { why, .. } => assert!(why.contains("late"), "{why}"),
            other => panic!("the generator's lateness made the latency: {other:?}"),
        }
    }

    #[test]
    fn a_generator_sending_short_of_the_rate_with_users_free_is_the_limit() {
        // 2,400/s asked, 1,800/s sent, users mostly idle: the generator could not keep up.
        let w = window(2, 3600, 3600, 1000, 50, 0.1, 60.0);
        match judge(&slos(), &w, 2400.0, 2000, None) {
            Verdict::Generator { sent, why } => {
                assert!((sent - 1800.0).abs() < 1.0, "{sent}");
                assert!(why.contains("sent 1800 of 2400"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Regression: users thinking 100 ms were counted free (only requests in flight counted as
    /// busy), so a step short of starts because every user was thinking blamed the generator at
    /// 2% CPU. Thinking users are busy, and an idle generator is never blamed for short sends.
    #[test]
    fn regression_short_sends_with_an_idle_generator_are_not_the_generators_fault() {
        // 400/s asked, 259/s sent, users all in an iteration (most of them thinking).
        let thinking = window(2, 518, 518, 150_000, 50, 0.97, 2.0);
        assert!(matches!(judge(&slos(), &thinking, 400.0, 2000, None), Verdict::Fail(_)));
        // The same short sends with users reported free: the generator idles, so not its fault.
        let idle = window(2, 518, 518, 150_000, 50, 0.3, 2.0);
        assert!(matches!(judge(&slos(), &idle, 400.0, 2000, None), Verdict::Fail(_)));
        // Quick answers but the rate never went out: not a pass, too few users.
        let quick = window(2, 518, 518, 1_000, 50, 0.3, 2.0);
        assert_eq!(judge(&slos(), &quick, 400.0, 2000, None), Verdict::Connections);
    }

    #[test]
    fn iteration_time_is_users_busy_over_iterations_per_second() {
        let mut w = Window::new(1);
        for _ in 0..3 {
            let mut s = Stats::new(1);
            // 300 users busy, 1,000 iterations a second: 0.3 s each.
            s.gauges.active_users = 1000;
            s.gauges.idle_users = 700;
            s.lane(0).iterations = 1000;
            let row = TimelineRow::from_interval(0, std::time::Duration::from_secs(1), &s, 10.0);
            w.add(&row, &s, 1000);
        }
        let t = w.iteration_time().unwrap().as_secs_f64();
        assert!((t - 0.3).abs() < 1e-9, "{t}");
        assert_eq!(Window::new(1).iteration_time(), None);
    }

    /// A window after one warm-up second with `before` users busy, then `seconds` seconds of
    /// `per_s` iterations a second ending with `busy` users busy each.
    fn growing(before: u64, busy: &[u64], per_s: u64, latency_us: u64) -> Window {
        let mut w = Window::new(1);
        let mut warm = Stats::new(1);
        warm.gauges.active_users = 1000;
        warm.gauges.idle_users = 1000 - before;
        let mut row = TimelineRow::from_interval(0, std::time::Duration::from_secs(1), &warm, 20.0);
        row.p50_us = latency_us / 2;
        w.warming(&row, &warm, 1.0);
        for &b in busy {
            let mut s = Stats::new(1);
            for _ in 0..per_s {
                crate::stats::record(&mut s.lag, 50);
                s.steps[0].response(200, latency_us, Some(latency_us), 10, 10);
            }
            s.lane(0).iterations = per_s;
            s.gauges.active_users = 1000;
            s.gauges.idle_users = 1000 - b;
            let row = TimelineRow::from_interval(0, std::time::Duration::from_secs(1), &s, 20.0);
            w.add(&row, &s, 1000);
        }
        w
    }

    /// Regression: a step 5% above a queueing server's capacity passed a 1 s window (its queue
    /// had not yet reached the SLO), so the answer depended on how long the steps were.
    #[test]
    fn regression_a_step_whose_queue_grows_fails_though_its_slos_held() {
        // 2,100/s offered, 2,000/s served: 100 more busy each second, latency still under 100 ms.
        let w = growing(60, &[160], 2000, 60_000);
        match judge(&slos(), &w, 2100.0, 2000, None) {
            Verdict::Fail(why) => assert!(why.contains("fell behind"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Below the knee the busy users stay level (noise of a few is not a queue).
        assert_eq!(judge(&slos(), &growing(60, &[64], 2000, 30_000), 2000.0, 2000, None), Verdict::Pass);
        // Iterations as long as the warm-up: users still filling up, nothing to tell.
        let slow = growing(100, &[1000], 1000, 60_000);
        assert_eq!(slow.backlog_growth(), None);
        // Users piling up at the window's end while the median stays (a pause, not a queue).
        let mut paused = growing(60, &[260], 2000, 30_000);
        paused.p50_before = 30_000;
        assert_eq!(judge(&slos(), &paused, 2000.0, 2000, None), Verdict::Pass);
    }

    #[test]
    fn starts_waiting_for_busy_users_are_not_the_generators_fault() {
        // Every user busy: starts wait for one, fewer are sent, and the SLO decides.
        let w = window(2, 3000, 3000, 150_000, 50, 1.0, 30.0);
        assert!(matches!(judge(&slos(), &w, 2400.0, 2000, None), Verdict::Fail(_)));
    }

    /// Every user busy, answers slow from the intended start but quick from sending.
    fn all_connections_busy(wait: f64) -> Window {
        let mut w = Window::new(1);
        for _ in 0..2 {
            let mut s = Stats::new(1);
            for _ in 0..2000 {
                crate::stats::record(&mut s.lag, 50);
                s.steps[0].response(200, 300_000, Some(1_000), 10, 10);
            }
            s.gauges.active_users = 1000;
            let mut row = TimelineRow::from_interval(0, std::time::Duration::from_secs(1), &s, 30.0);
            row.worker_wait_max = wait;
            w.add(&row, &s, 1000);
        }
        w
    }

    #[test]
    fn busy_connections_with_a_quick_service_are_too_few_connections() {
        assert_eq!(judge(&slos(), &all_connections_busy(0.0), 2400.0, 2000, Some(1_000)), Verdict::Connections);
    }

    #[test]
    fn busy_connections_of_a_worker_waiting_for_its_cpu_are_the_generator() {
        match judge(&slos(), &all_connections_busy(40.0), 2400.0, 2000, Some(1_000)) {
            Verdict::Generator { why, .. } => assert!(why.contains("read answers late"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_full_worker_core_or_late_sends_are_the_generator() {
        let busy_core = window(2, 4800, 4800, 200_000, 50, 0.1, 95.0);
        assert!(matches!(judge(&slos(), &busy_core, 2400.0, 2000, None), Verdict::Generator { .. }));
        // Late sends whose lateness, not the service's own time (1 ms), broke the SLO.
        let late = late_window(2, 2400, 200_000, 1_000, 9000);
        assert!(matches!(judge(&slos(), &late, 2400.0, 2000, None), Verdict::Generator { .. }));
        // Latency counts from the intended start: a pass despite a slow generator holds.
        let busy_but_fast = window(2, 4800, 4800, 1000, 9000, 0.1, 95.0);
        assert_eq!(judge(&slos(), &busy_but_fast, 2400.0, 2000, None), Verdict::Pass);
        // Sharing a core with something busy: running or waiting to run all the time.
        let shared_core = waiting_window(2, 4800, 4800, 1000, 50, 0.1, 45.0, 50.0);
        assert_eq!(
            judge(&slos(), &shared_core, 2400.0, 2000, None),
            Verdict::Pass,
            "a pass despite the handicap holds"
        );
        let shared_and_slow = waiting_window(2, 4800, 4800, 200_000, 50, 0.1, 45.0, 50.0);
        match judge(&slos(), &shared_and_slow, 2400.0, 2000, None) {
            Verdict::Generator { why, .. } => assert!(why.contains("waited for its CPU 50%"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Waiting now and then for a core shared with a light thread (the service on a small
        // box) leaves the worker mostly idle: a failure is the service's.
        let shared_lightly = waiting_window(2, 4800, 4800, 200_000, 50, 0.1, 20.0, 37.0);
        assert!(matches!(judge(&slos(), &shared_lightly, 2400.0, 2000, None), Verdict::Fail(_)));
        let fine = window(2, 4800, 4800, 1000, 50, 0.1, 40.0);
        assert_eq!(judge(&slos(), &fine, 2400.0, 2000, None), Verdict::Pass);
    }
}
