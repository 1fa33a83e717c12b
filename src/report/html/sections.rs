//! The report's page sections other than the big tables: heading, warnings, key numbers, charts
//! over time, latency distribution, responses and errors, generator health.

use std::fmt::Write;

use super::charts::{self, AMBER, BLUE_, Chart, GREEN_, Line, PURPLE, RED_};
use super::marks::Marks;
use super::timeline::{MAX_POINTS, Point};
use super::{RunResult, bar, esc, fmt_pct, lat, lat_of, pct, rate};
use crate::report::result::{Latency, ThresholdResult};
use crate::units::{bytes, group};

/// Name, verdict badges and what was run against what, when.
pub fn header(o: &mut String, r: &RunResult) {
    let mut badges = String::new();
    if !r.thresholds.is_empty() {
        badges.push_str(&threshold_badges(&r.thresholds));
    }
    // A capacity search's last step may stop early once clearly lost: the document then says
    // interrupted, though nobody interrupted the search.
    let stopped_early = r.capacity.as_ref().and_then(|c| c.steps.last()).is_some_and(|s| s.stopped_early);
    if r.interrupted && !stopped_early {
        badges.push_str("<span class=\"badge warn\">INTERRUPTED</span>");
    }
    if r.generator.saturated {
        badges.push_str("<span class=\"badge warn\">GENERATOR SATURATED</span>");
    }
    let _ = writeln!(o, "<header>\n<h1>{}{badges}</h1>\n<div class=\"meta\">", esc(&r.name));
    let mut meta = |k: &str, v: &str| {
        let _ = writeln!(o, "<span>{k} <b>{}</b></span>", esc(v));
    };
    meta("command", &format!("stampede {}", r.command));
    meta("target", &r.target);
    meta("started", &r.started_at.replace('T', " "));
    meta("duration", &duration(r.duration_s));
    meta("load", &load(r));
    if let Some(s) = &r.load.shard {
        meta("shard", s);
    }
    o.push_str("</div>\n</header>\n");
}

/// `THRESHOLDS PASSED`, or how many failed, and how many warnings did not hold (they do not fail
/// the run).
pub(super) fn threshold_badges(thresholds: &[ThresholdResult]) -> String {
    let failed = thresholds.iter().filter(|t| t.fails_run()).count();
    let warned = thresholds.iter().filter(|t| t.verdict() == "WARN").count();
    let mut badges = String::new();
    if failed == 0 {
        badges.push_str("<span class=\"badge ok\">THRESHOLDS PASSED</span>");
    } else {
        let _ = write!(badges, "<span class=\"badge bad\">{failed} THRESHOLD{} FAILED</span>", plural_caps(failed));
    }
    if warned > 0 {
        let _ = write!(badges, "<span class=\"badge warn\">{warned} WARNING{}</span>", plural_caps(warned));
    }
    badges
}

fn load(r: &RunResult) -> String {
    let l = &r.load;
    let workers = format!("{} worker{}", l.workers, plural(l.workers as usize));
    if !r.scenarios.is_empty() {
        let n = r.scenarios.len();
        format!("{n} scenario{} ({} model), {} users at most, {workers}", plural(n), l.model, l.users)
    } else if l.model == "open" {
        format!("open model, {} req/s over {} connections, {workers}", rate(l.rate.unwrap_or(0.0)), l.users)
    } else {
        let who = if r.command == "bench" { "connections" } else { "users" };
        format!("closed model, {} {who}, {workers}", l.users)
    }
}

pub(super) fn duration(secs: f64) -> String {
    if secs.is_finite() && secs >= 0.0 {
        crate::units::duration(std::time::Duration::from_secs_f64(secs.min(1e9)))
    } else {
        "–".into()
    }
}

/// What must not be missed: a generator that may have been the limit, an aborted run, no data.
pub fn banners(o: &mut String, r: &RunResult) {
    let g = &r.generator;
    if g.saturated || !g.warnings.is_empty() {
        let (class, title) = if g.saturated {
            ("warn", "The generator may have been the limit: these numbers may describe the load box, not the service")
        } else {
            ("warn", "Generator warnings")
        };
        let _ = write!(o, "<div class=\"banner {class}\" role=\"alert\"><strong>{title}</strong>");
        if !g.warnings.is_empty() {
            o.push_str("<ul>");
            for w in &g.warnings {
                let _ = write!(o, "<li>{}</li>", esc(w));
            }
            o.push_str("</ul>");
        }
        o.push_str("</div>\n");
    }
    if let Some(expr) = &r.aborted_by {
        let _ = writeln!(
            o,
            "<div class=\"banner bad\" role=\"alert\"><strong>Run aborted</strong>threshold <code>{}</code> \
             failed during the run (abort_on_fail)</div>",
            esc(expr)
        );
    }
    if r.totals.summary.requests == 0 {
        o.push_str(
            "<div class=\"banner bad\"><strong>No requests completed</strong>the run has no data to chart</div>\n",
        );
    }
}

/// The key numbers as cards.
pub fn cards(o: &mut String, r: &RunResult) {
    let t = &r.totals.summary;
    let l = t.latency_us.as_ref();
    o.push_str("<div class=\"cards\">\n");
    if let Some(c) = &r.capacity {
        let why = c.limited_by.split(':').next().unwrap_or("");
        let value = format!("{} {}", rate(c.max_rps), c.unit);
        if c.interrupted {
            card(o, "warn", "last pass", &value, "interrupted: not an answer");
        } else {
            card(o, "main", "capacity", &value, &format!("limited by {why}"));
        }
    }
    card(o, "", "requests", &group(t.requests), &format!("in {}", duration(r.duration_s)));
    card(o, "", "throughput", &rate(t.rps), "req/s");
    let err_class = if t.errors == 0 { "ok" } else { "bad" };
    card(o, err_class, "errors", &group(t.errors), &fmt_pct(pct(t.errors, t.requests)));
    let basis = crate::report::text::latency_basis(&r.load.model);
    card(o, "", "p50 latency", &lat_of(l, |l| l.p50), basis);
    card(o, "", "p95 latency", &lat_of(l, |l| l.p95), &format!("p90 {}", lat_of(l, |l| l.p90)));
    card(o, "", "p99 latency", &lat_of(l, |l| l.p99), &format!("p99.9 {}", lat_of(l, |l| l.p999)));
    card(
        o,
        "",
        "max latency",
        &lat_of(l, |l| l.max),
        &format!("mean {}", l.map_or_else(|| "–".into(), |l| crate::units::micros(l.mean))),
    );
    if t.checks > 0 {
        let ok = t.checks.saturating_sub(t.checks_failed);
        let class = if t.checks_failed == 0 { "ok" } else { "bad" };
        card(o, class, "checks", &fmt_pct(pct(ok, t.checks)), &format!("{} of {}", group(ok), group(t.checks)));
    }
    if !r.thresholds.is_empty() {
        let ok = r.thresholds.iter().filter(|t| t.ok).count();
        let warned = r.thresholds.iter().filter(|t| t.verdict() == "WARN").count();
        let class = match (r.thresholds.iter().any(|t| t.fails_run()), warned) {
            (true, _) => "bad",
            (false, 0) => "ok",
            (false, _) => "warn",
        };
        let mut sub = if warned > 0 { format!("passed, {warned} warned") } else { "passed".to_string() };
        if !r.thresholds_not_run.is_empty() {
            sub += &format!(", {} not run", r.thresholds_not_run.len());
        }
        card(o, class, "thresholds", &format!("{ok} / {}", r.thresholds.len()), &sub);
    }
    card(o, "", "data in", &short_bytes(t.bytes_in), &format!("out {}", short_bytes(t.bytes_out)));
    if r.totals.dropped_iterations > 0 {
        card(o, "warn", "dropped", &group(r.totals.dropped_iterations), "starts with no free user");
    }
    if r.totals.unfinished > 0 {
        card(o, "warn", "unfinished", &group(r.totals.unfinished), "in flight at the end");
    }
    o.push_str("</div>\n");
}

pub(super) fn card(o: &mut String, class: &str, label: &str, value: &str, sub: &str) {
    let _ = writeln!(
        o,
        "<div class=\"card {class}\"><div class=\"l\">{}</div><div class=\"v\">{}</div><div class=\"s\">{}</div></div>",
        esc(label),
        esc(value),
        esc(sub)
    );
}

/// A chart with its title and legend.
pub fn figure(o: &mut String, title: &str, chart: &Chart) {
    let _ = writeln!(
        o,
        "<figure><figcaption><h3>{}</h3>{}</figcaption>\n{}</figure>",
        esc(title),
        chart.legend_html(),
        chart.svg
    );
}

/// Throughput, users, latency percentiles and errors, second by second.
pub fn over_time(o: &mut String, r: &RunResult, points: &[Point]) {
    let note = if r.timeline.len() > MAX_POINTS {
        format!("each point merges {} s; latency is the worst of them", r.timeline.len().div_ceil(MAX_POINTS))
    } else if let Some(last) = r.capacity.as_ref().and_then(|c| c.steps.last()) {
        format!("the last step of the search, at {} req/s", rate(last.rate))
    } else {
        "one point per second".to_string()
    };
    let _ = writeln!(o, "<section id=\"time\">\n<h2>Over time<span class=\"note\">{}</span></h2>", esc(&note));
    o.push_str("<div class=\"grid2\">\n");
    let marks = Marks::of(r);
    let series = |f: fn(&Point) -> f64| points.iter().map(|p| (p.t, f(p))).collect::<Vec<_>>();
    let throughput = Line::new("req/s", BLUE_, series(|p| p.rps)).filled();
    figure(
        o,
        "Throughput (requests per second)",
        &charts::over_time("Throughput over time", "req/s", &[throughput], 0.0, &marks),
    );
    let users = [
        Line::new("active users", GREEN_, series(|p| p.active_users)).filled(),
        Line::new("requests in flight", PURPLE, series(|p| p.in_flight)),
    ];
    figure(o, "Active users", &charts::over_time("Active users over time", "users", &users, 0.0, &marks));
    let latency = [
        Line::new("p50", BLUE_, series(|p| p.p50_ms)),
        Line::new("p95", AMBER, series(|p| p.p95_ms)),
        Line::new("p99", RED_, series(|p| p.p99_ms)),
    ];
    figure(
        o,
        "Latency percentiles",
        &charts::over_time("Latency percentiles over time", "latency (ms)", &latency, 0.0, &marks),
    );
    let errors = Line::new("errors/s", RED_, series(|p| p.errors_per_s)).filled();
    figure(o, "Errors (per second)", &charts::over_time("Errors over time", "errors/s", &[errors], 0.0, &marks));
    o.push_str("</div>\n</section>\n");
}

/// The percentile spectrum of the whole run, beside the percentile table.
pub fn latency(o: &mut String, r: &RunResult) {
    let t = &r.totals.summary;
    let basis = match r.load.model.as_str() {
        "open" => "from the intended start (coordinated-omission corrected)",
        "mixed" => {
            "from the intended start in open-model scenarios (coordinated-omission corrected), else from sending"
        }
        _ => "from sending the request",
    };
    let _ = writeln!(o, "<section id=\"latency\">\n<h2>Latency distribution<span class=\"note\">{basis}</span></h2>");
    o.push_str("<div class=\"grid2\">\n");
    let chart = match r.latency_histogram() {
        Ok(h) => charts::spectrum("Latency by percentile", &h),
        Err(e) => charts::no_data(&e),
    };
    figure(o, "Latency by percentile", &chart);
    o.push_str("<figure><h3>Percentiles</h3>\n<table>\n<tr><th class=\"t\">percentile</th><th>latency</th>");
    if t.service_us.is_some() {
        o.push_str("<th>service time</th>");
    }
    o.push_str("</tr>\n");
    let rows: [(&str, Percentile); 10] = [
        ("min", |l| l.min as f64),
        ("p50", |l| l.p50 as f64),
        ("p75", |l| l.p75 as f64),
        ("p90", |l| l.p90 as f64),
        ("p95", |l| l.p95 as f64),
        ("p99", |l| l.p99 as f64),
        ("p99.9", |l| l.p999 as f64),
        ("max", |l| l.max as f64),
        ("mean", |l| l.mean),
        ("stdev", |l| l.stdev),
    ];
    for (name, get) in rows {
        let v = t.latency_us.as_ref().map_or_else(|| "–".into(), |l| crate::units::micros(get(l)));
        let _ = write!(o, "<tr><td class=\"t\">{name}</td><td>{v}</td>");
        if let Some(s) = &t.service_us {
            let _ = write!(o, "<td>{}</td>", crate::units::micros(get(s)));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
    if t.service_us.is_some() {
        o.push_str(
            "<p class=\"muted\">Service time runs from sending to the complete response, without queueing.</p>\n",
        );
    }
    o.push_str("</figure>\n</div>\n</section>\n");
}

/// Status codes, errors by kind and the most frequent reasons.
pub fn responses(o: &mut String, r: &RunResult) {
    let t = &r.totals.summary;
    o.push_str("<section id=\"responses\">\n<h2>Responses and errors</h2>\n<div class=\"grid2\">\n");
    o.push_str("<figure><h3>Status codes</h3>\n");
    if t.status.is_empty() {
        o.push_str("<p class=\"muted\">no responses</p>\n");
    } else {
        let answered: u64 = t.status.values().sum();
        o.push_str("<table>\n<tr><th class=\"t\">status</th><th>responses</th><th>share</th><th></th></tr>\n");
        for (code, n) in &t.status {
            let share = pct(*n, answered);
            // 4xx and 5xx in red.
            let class = if code.parse::<u16>().is_ok_and(|c| c >= 400) { " class=\"fail\"" } else { "" };
            let _ = writeln!(
                o,
                "<tr{class}><td class=\"t v\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(code),
                group(*n),
                fmt_pct(share),
                bar(share, 100.0, "")
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("</figure>\n<figure><h3>Errors</h3>\n");
    if t.errors == 0 {
        o.push_str("<p class=\"muted\">none</p>\n");
    } else {
        o.push_str("<table>\n<tr><th class=\"t\">kind</th><th>errors</th><th>of requests</th></tr>\n");
        for (kind, n) in &t.errors_by_kind {
            let _ = writeln!(
                o,
                "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(kind),
                group(*n),
                fmt_pct(pct(*n, t.requests))
            );
        }
        o.push_str("</table>\n");
        if !t.error_reasons.is_empty() {
            let mut reasons: Vec<(&String, &u64)> = t.error_reasons.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            o.push_str("<h3>Most frequent reasons</h3>\n<table>\n<tr><th class=\"t\">reason</th><th>count</th></tr>\n");
            for (reason, n) in reasons.into_iter().take(10) {
                let _ = writeln!(o, "<tr><td class=\"wrap\">{}</td><td>{}</td></tr>", esc(reason), group(*n));
            }
            o.push_str("</table>\n");
        }
    }
    o.push_str("</figure>\n</div>\n</section>\n");
}

/// Whether the load box itself kept up: CPU, memory, send lag, warnings.
pub fn generator(o: &mut String, r: &RunResult, points: &[Point]) {
    let g = &r.generator;
    let state = if g.saturated {
        "<span class=\"badge warn\">MAY HAVE BEEN THE LIMIT</span>"
    } else {
        "<span class=\"badge ok\">KEPT UP</span>"
    };
    let _ = writeln!(o, "<section id=\"generator\">\n<h2>Generator health {state}</h2>\n<div class=\"grid2\">");
    o.push_str("<div>\n<dl class=\"kv\">\n");
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(o, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
    };
    kv(
        "process CPU",
        format!("{:.0}% of one core, over {} worker{}", g.cpu_percent, g.workers, plural(g.workers as usize)),
    );
    kv("busiest worker", format!("{:.0}% of one core", g.busiest_worker_cpu_percent));
    kv("waited for its CPU", format!("{:.0}% of the time (most-delayed worker)", g.busiest_worker_wait_percent));
    if !g.worker_cpu_s.is_empty() {
        let each: Vec<String> = g.worker_cpu_s.iter().map(|s| format!("{s:.2}")).collect();
        kv("CPU seconds per worker", each.join(" · "));
    }
    kv("memory (RSS)", format!("{} (peak {})", bytes(g.rss_bytes as f64), bytes(g.peak_rss_bytes as f64)));
    if let Some(spoke) = crate::report::text::spoken(&r.totals.summary.protocols) {
        kv("spoke", spoke);
    }
    if r.load.model == "open" {
        kv("send lag p99", lat(g.schedule_lag_p99_us));
    }
    o.push_str("</dl>\n");
    if !g.warnings.is_empty() {
        o.push_str("<div class=\"banner warn\"><strong>Warnings</strong><ul>");
        for w in &g.warnings {
            let _ = write!(o, "<li>{}</li>", esc(w));
        }
        o.push_str("</ul></div>\n");
    }
    o.push_str("</div>\n");
    let cpu = Line::new("busiest worker", AMBER, points.iter().map(|p| (p.t, p.worker_cpu_max)).collect()).filled();
    let wait = Line::new("waiting for its CPU", RED_, points.iter().map(|p| (p.t, p.worker_wait_max)).collect());
    figure(
        o,
        "Worker CPU and wait for a CPU (% of one core)",
        &charts::over_time("Busiest worker CPU over time", "%", &[cpu, wait], 100.0, &Marks::of(r)),
    );
    o.push_str("</div>\n</section>\n");
}

/// Bytes in binary units with one decimal, to fit a card: `1.2 MiB`.
fn short_bytes(n: u64) -> String {
    let b = bytes(n as f64);
    match b.split_once('.') {
        Some((int, rest)) => format!("{int}.{}{}", &rest[..1], &rest[2..]),
        None => b,
    }
}

/// One row of the percentile table.
type Percentile = fn(&Latency) -> f64;

fn plural_caps(n: usize) -> &'static str {
    if n == 1 { "" } else { "S" }
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
