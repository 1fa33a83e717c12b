//! The live view on a terminal: a compact block redrawn each second (elapsed, req/s, users,
//! p50/p99, errors by kind, the busiest steps); nothing at all when stdout is not a terminal.

use std::io::Write;
use std::time::Duration;

use crate::engine::{Observer, Tick};
use crate::error::ErrorKind;
use crate::stats::{Stats, TimelineRow};
use crate::units::{group, micros};

/// Steps shown in the view, busiest first.
const TOP_STEPS: usize = 5;
/// Longest step name shown; longer ones are cut with an ellipsis.
const NAME_WIDTH: usize = 28;

pub struct Progress {
    enabled: bool,
    total: Duration,
    steps: Vec<String>,
    /// The plan's scenario names, when it has several.
    scenarios: Vec<String>,
    /// Lines drawn last time, to move back over them.
    drawn: usize,
    /// The watched series' latest values, shown under the view.
    monitor: std::collections::BTreeMap<String, f64>,
}

impl Progress {
    /// `steps`: the plan's step names, in plan order.
    pub fn new(enabled: bool, total: Duration, steps: Vec<String>) -> Progress {
        Progress { enabled, total, steps, scenarios: Vec::new(), drawn: 0, monitor: Default::default() }
    }

    /// Show a line per scenario too (the names of a plan with several, in file order).
    pub fn with_scenarios(self, scenarios: Vec<String>) -> Progress {
        Progress { scenarios, ..self }
    }

    /// The watched series' latest values, for the next redraw.
    pub fn monitor(&mut self, latest: &std::collections::BTreeMap<String, f64>) {
        self.monitor = latest.clone();
    }

    /// Erase the view before the summary is printed.
    pub fn finish(&mut self) {
        if self.drawn > 0 {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", erase(self.drawn));
            let _ = out.flush();
            self.drawn = 0;
        }
    }
}

/// Move the cursor up over `lines` lines drawn earlier, erasing them.
fn erase(lines: usize) -> String {
    let mut s = String::from("\r\x1b[2K");
    for _ in 1..lines {
        s.push_str("\x1b[1A\x1b[2K");
    }
    s
}

impl Observer for Progress {
    fn second(&mut self, tick: &Tick) {
        if !self.enabled {
            return;
        }
        let (row, interval, total) = (tick.row, tick.interval, tick.total);
        let mut view = render(row, interval, total, &self.steps, self.total);
        view.extend(scenario_lines(row, interval, total, &self.scenarios));
        if !self.monitor.is_empty() {
            let values: Vec<String> =
                self.monitor.iter().map(|(k, v)| format!("{k} {}", crate::units::round3(*v))).collect();
            view.push(format!("  service  {}", values.join("   ")));
        }
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{}{}", erase(self.drawn), view.join("\n"));
        let _ = out.flush();
        self.drawn = view.len();
    }
}

/// The view's lines (no trailing newline, so the cursor stays on the last one).
pub fn render(row: &TimelineRow, interval: &Stats, total: &Stats, names: &[String], length: Duration) -> Vec<String> {
    let all = total.total();
    let q = |h: &hdrhistogram::Histogram<u64>, p: f64| if h.is_empty() { 0.0 } else { h.value_at_quantile(p) as f64 };
    let done = (row.t / length.as_secs_f64().max(1e-9)).clamp(0.0, 1.0);
    let bar_len = 20;
    let filled = (done * bar_len as f64).round() as usize;
    let mut lines = vec![format!(
        "[{}{}] {:>4.0}s / {:.0}s   users {}   in flight {}",
        "#".repeat(filled),
        "·".repeat(bar_len - filled),
        row.t,
        length.as_secs_f64(),
        group(row.active_users),
        group(row.in_flight)
    )];
    lines.push(format!(
        "  req/s {:>9}  (avg {})   total {}",
        group(row.rps.round() as u64),
        group((all.requests as f64 / row.t.max(1e-9)).round() as u64),
        group(all.requests)
    ));
    lines.push(format!(
        "  latency  now p50 {}  p99 {}   run p50 {}  p99 {}",
        micros(row.p50_us as f64),
        micros(row.p99_us as f64),
        micros(q(&all.latency, 0.5)),
        micros(q(&all.latency, 0.99))
    ));
    let kinds: Vec<String> = ErrorKind::ALL
        .iter()
        .filter(|k| all.errors_by_kind[**k as usize] > 0)
        .map(|k| format!("{} {}", k.name(), group(all.errors_by_kind[*k as usize])))
        .collect();
    let share = 100.0 * all.errors as f64 / all.requests.max(1) as f64;
    lines.push(if all.errors == 0 {
        "  errors   0".to_string()
    } else {
        format!("  errors   {} ({share:.2}%): {}", group(all.errors), kinds.join(", "))
    });
    if names.len() > 1 {
        let mut order: Vec<usize> = (0..names.len().min(total.steps.len())).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(total.steps[i].requests));
        lines.push(format!("  {:<NAME_WIDTH$} {:>8} {:>9} {:>9} {:>8}", "step", "req/s", "p50", "p99", "errors"));
        for &i in order.iter().take(TOP_STEPS) {
            let (now, run) = (&interval.steps[i], &total.steps[i]);
            lines.push(format!(
                "  {:<NAME_WIDTH$} {:>8} {:>9} {:>9} {:>8}",
                cut(&names[i], NAME_WIDTH),
                group((now.requests as f64 / row.interval_s.max(1e-3)).round() as u64),
                micros(q(&run.latency, 0.5)),
                micros(q(&run.latency, 0.99)),
                group(run.errors)
            ));
        }
    }
    lines
}

/// A line per scenario: its users now, req/s this second, p99 and errors so far.
pub fn scenario_lines(row: &TimelineRow, interval: &Stats, total: &Stats, names: &[String]) -> Vec<String> {
    if names.len() < 2 || total.scenarios.len() < names.len() {
        return Vec::new();
    }
    let mut lines =
        vec![format!("  {:<NAME_WIDTH$} {:>8} {:>8} {:>9} {:>8}", "scenario", "users", "req/s", "p99", "errors")];
    for (i, name) in names.iter().enumerate() {
        let run = &total.scenarios[i];
        let now = interval.scenarios.get(i).map_or(0, |s| s.requests);
        let users = interval.lanes.get(i).map_or(0, |l| l.active_users);
        let p99 = if run.latency.is_empty() { 0.0 } else { run.latency.value_at_quantile(0.99) as f64 };
        lines.push(format!(
            "  {:<NAME_WIDTH$} {:>8} {:>8} {:>9} {:>8}",
            cut(name, NAME_WIDTH),
            group(users),
            group((now as f64 / row.interval_s.max(1e-3)).round() as u64),
            micros(p99),
            group(run.errors)
        ));
    }
    lines
}

/// `name` cut to `width` characters, with an ellipsis when cut.
fn cut(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        name.to_string()
    } else {
        name.chars().take(width - 1).chain(std::iter::once('…')).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stats;

    fn row(t: f64, rps: f64) -> TimelineRow {
        let mut stats = Stats::new(1);
        stats.steps[0].response(200, 1500, None, 10, 10);
        let mut r = TimelineRow::from_interval(0, Duration::from_secs_f64(t), &stats, 0.0);
        r.rps = rps;
        r
    }

    #[test]
    fn one_step_plans_show_the_run_without_a_step_table() {
        let mut total = Stats::new(1);
        for _ in 0..100 {
            total.steps[0].response(200, 2000, None, 10, 10);
        }
        let lines = render(&row(5.0, 20.0), &total, &total, &["GET /".into()], Duration::from_secs(10));
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines[0].starts_with("[##########··········]"), "half done: {}", lines[0]);
        assert!(lines[1].contains("req/s        20") && lines[1].contains("total 100"), "{}", lines[1]);
        assert!(lines[3].ends_with("errors   0"), "{}", lines[3]);
    }

    #[test]
    fn each_scenario_has_a_line_with_its_users_and_rate() {
        let mut interval = Stats::new(1);
        let mut total = Stats::new(1);
        for (i, n) in [(0usize, 3u64), (1, 7)] {
            interval.lane(i).active_users = n;
            let mut s = crate::stats::StepStats::default();
            (0..n * 10).for_each(|_| s.response(200, 1000, None, 1, 1));
            interval.scenarios.push(s.clone());
            total.scenarios.push(s);
        }
        let row = TimelineRow::from_interval(0, Duration::from_secs(1), &interval, 0.0);
        let names = vec!["background".to_string(), "spike".to_string()];
        let lines = scenario_lines(&row, &interval, &total, &names);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[1].contains("background") && lines[1].contains(" 3 ") && lines[1].contains("30"), "{lines:?}");
        assert!(lines[2].contains("spike") && lines[2].contains(" 7 ") && lines[2].contains("70"), "{lines:?}");
        assert!(scenario_lines(&row, &interval, &total, &names[..1]).is_empty(), "one scenario: no lines");
    }

    #[test]
    fn the_busiest_five_steps_are_listed_first_with_long_names_cut() {
        let names: Vec<String> = (0..7).map(|i| format!("step {i} with a rather long name indeed")).collect();
        let mut total = Stats::new(7);
        for (i, s) in total.steps.iter_mut().enumerate() {
            for _ in 0..(i + 1) * 10 {
                s.response(200, 1000, None, 1, 1);
            }
        }
        let lines = render(&row(1.0, 280.0), &total, &total, &names, Duration::from_secs(10));
        assert_eq!(lines.len(), 4 + 1 + TOP_STEPS, "{lines:#?}");
        assert!(lines[5].trim_start().starts_with("step 6"), "busiest first: {}", lines[5]);
        assert!(lines[9].trim_start().starts_with("step 2"), "fifth busiest last: {}", lines[9]);
        assert!(lines[5].contains('…'), "long names cut: {}", lines[5]);
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "fits 80 columns: {lines:#?}");
    }

    #[test]
    fn errors_are_shown_by_kind_with_their_share() {
        let mut total = Stats::new(1);
        for _ in 0..98 {
            total.steps[0].response(200, 1000, None, 1, 1);
        }
        for _ in 0..2 {
            total.steps[0].response(500, 1000, None, 1, 1);
        }
        total.steps[0].status_error();
        total.steps[0].status_error();
        let lines = render(&row(1.0, 100.0), &total, &total, &["GET /".into()], Duration::from_secs(10));
        assert!(lines[3].contains("2 (2.00%)") && lines[3].contains("status 2"), "{}", lines[3]);
    }

    #[test]
    fn erasing_moves_up_over_every_line_drawn() {
        assert_eq!(erase(1), "\r\x1b[2K");
        assert_eq!(erase(3).matches("\x1b[1A").count(), 2);
    }
}
