//! CSV of the per-second timeline (`--csv FILE`): a row per second for the whole run, one per
//! step and second when the plan has several steps, and one per scenario and second when the file
//! has several scenarios; quoted per RFC 4180, lines ended by CRLF.
//!
//! Columns: `t` (seconds from the start to the end of the interval), `wall_time` (the end of the
//! interval, RFC 3339 UTC with milliseconds), `step` (`total` or the step's name), then the
//! interval's measurements ([`COLUMNS`]). Latencies are in milliseconds. A step row leaves empty
//! the columns only the whole run has (bytes, max, users, in flight, dropped, lag, CPU).
//!
//! Two groups of columns follow, only in a document that has what they carry (a document without
//! scenarios or metrics keeps exactly the columns above):
//! - `scenario`, when the run had named scenarios: empty on the whole run's and the steps' rows;
//!   each second then has a row per scenario (in file order) with its name here, `step` empty, and
//!   the scenario's own counts and latencies in the step rows' columns.
//! - `metric:NAME` per metric of the user's own (in the result's order, then any only the
//!   timeline names), its value in that second on the `total` row, empty on the others: a rate's
//!   percent, a counter's count, a trend's p95 in its own unit (empty when the second lacks it).
//! - `monitor:NAME` per watched series of the service (`[monitor]`), its value sampled in that
//!   second on the `total` row (empty when the second has none: a gap), empty on the others.
//!
//! So each second is: `total`, its steps, its scenarios.

use std::time::{Duration, UNIX_EPOCH};

use super::RunResult;
use crate::stats::{StepSecond, TimelineRow};

/// The header's fixed columns, in order (a document with scenarios or metrics has more after them).
pub const COLUMNS: [&str; 18] = [
    "t",
    "wall_time",
    "step",
    "interval_s",
    "requests",
    "rps",
    "errors",
    "bytes_in",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "active_users",
    "in_flight",
    "dropped",
    "lag_p99_ms",
    "worker_cpu_max",
    "worker_wait_max",
];

/// The step label of the whole run's rows.
pub const TOTAL: &str = "total";

/// The column naming scenario rows, after [`COLUMNS`] when the document has scenarios.
pub const SCENARIO: &str = "scenario";

/// The prefix of a metric's column: `metric:cache_hit`.
pub const METRIC_PREFIX: &str = "metric:";

/// The prefix of a watched series' column: `monitor:server_cpu`.
pub const MONITOR_PREFIX: &str = "monitor:";

/// The timeline as CSV: a header, then for each second a `total` row followed by one row per
/// step (in the order of `r.steps`) when the second carries per-step measurements, and one row per
/// scenario (in the order of `r.scenarios`) when it carries per-scenario ones.
pub fn timeline(r: &RunResult) -> String {
    let with_scenarios = !r.scenarios.is_empty() || r.timeline.iter().any(|row| !row.scenarios.is_empty());
    let mut metrics: Vec<&str> = r.metrics.keys().map(String::as_str).collect();
    for row in &r.timeline {
        for name in row.metrics.keys() {
            if !metrics.contains(&name.as_str()) {
                metrics.push(name);
            }
        }
    }
    let mut series: Vec<&str> =
        r.monitor.as_ref().map(|m| m.series.keys().map(String::as_str).collect()).unwrap_or_default();
    for row in &r.timeline {
        for name in row.monitor.keys() {
            if !series.contains(&name.as_str()) {
                series.push(name);
            }
        }
    }
    let extra = usize::from(with_scenarios) + metrics.len() + series.len();
    let width = COLUMNS.len() + extra;
    let mut out = String::new();
    let header = COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(with_scenarios.then(|| SCENARIO.to_string()))
        .chain(metrics.iter().map(|m| format!("{METRIC_PREFIX}{m}")))
        .chain(series.iter().map(|m| format!("{MONITOR_PREFIX}{m}")));
    line(&mut out, header);
    for row in &r.timeline {
        let t = format!("{:.3}", row.t);
        let wall = wall_time(r.started_at_unix_ms, row.t);
        let metric_values = metrics.iter().map(|m| row.metrics.get(*m).map_or_else(String::new, |v| number(*v)));
        let scenario_blank = with_scenarios.then(String::new);
        let series_values = series.iter().map(|m| row.monitor.get(*m).map_or_else(String::new, |v| number(*v)));
        line(
            &mut out,
            total_row(row, &t, &wall).into_iter().chain(scenario_blank).chain(metric_values).chain(series_values),
        );
        for (i, s) in row.steps.iter().enumerate() {
            let name = r.steps.get(i).map_or_else(|| format!("step {}", i + 1), |s| s.name.clone());
            line(&mut out, padded(part_row(row, s, &t, &wall, name), width));
        }
        for (i, s) in row.scenarios.iter().enumerate() {
            let name = r.scenarios.get(i).map_or_else(|| format!("scenario {}", i + 1), |s| s.name.clone());
            let mut fields = padded(part_row(row, s, &t, &wall, String::new()), width);
            fields[COLUMNS.len()] = name;
            line(&mut out, fields);
        }
    }
    out
}

/// The columns a step or a scenario has in a second, labelled `step`; the rest left to pad.
fn part_row(row: &TimelineRow, s: &StepSecond, t: &str, wall: &str, step: String) -> [String; 11] {
    let rps = s.requests as f64 / row.interval_s.max(1e-9);
    [
        t.to_string(),
        wall.to_string(),
        step,
        format!("{:.3}", row.interval_s),
        s.requests.to_string(),
        format!("{rps:.2}"),
        s.errors.to_string(),
        String::new(),
        ms(s.p50_us),
        ms(s.p95_us),
        ms(s.p99_us),
    ]
}

/// `fields` and empty ones after them, `width` in all.
fn padded(fields: [String; 11], width: usize) -> Vec<String> {
    let mut v = fields.to_vec();
    v.resize(width, String::new());
    v
}

/// A metric's value: whole numbers bare, else to three decimals without trailing zeros; empty
/// when not finite.
fn number(v: f64) -> String {
    if !v.is_finite() {
        String::new()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn total_row(row: &TimelineRow, t: &str, wall: &str) -> [String; COLUMNS.len()] {
    [
        t.to_string(),
        wall.to_string(),
        TOTAL.to_string(),
        format!("{:.3}", row.interval_s),
        row.requests.to_string(),
        format!("{:.2}", row.rps),
        row.errors.to_string(),
        row.bytes_in.to_string(),
        ms(row.p50_us),
        ms(row.p95_us),
        ms(row.p99_us),
        ms(row.max_us),
        row.active_users.to_string(),
        row.in_flight.to_string(),
        row.dropped.to_string(),
        ms(row.lag_p99_us),
        format!("{:.1}", row.worker_cpu_max),
        format!("{:.1}", row.worker_wait_max),
    ]
}

/// The end of an interval `t` seconds after a start at `start_ms` (Unix ms), RFC 3339 UTC.
fn wall_time(start_ms: u64, t: f64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(start_ms) + Duration::from_secs_f64(t.max(0.0));
    humantime::format_rfc3339_millis(at).to_string()
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// Append one record, fields quoted where RFC 4180 requires it, ended by CRLF.
fn line(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, &f);
    }
    out.push_str("\r\n");
}

/// A field as is, or quoted (inner quotes doubled) when it holds a comma, quote or line break.
fn field(out: &mut String, f: &str) {
    if f.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&f.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample;
    use crate::stats::StepSecond;

    /// A strict RFC 4180 reader: records of fields, CRLF-terminated; panics on malformed input.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut records = Vec::new();
        let mut record = Vec::new();
        let mut cs = text.chars().peekable();
        loop {
            let mut f = String::new();
            if cs.peek() == Some(&'"') {
                cs.next();
                loop {
                    match cs.next().expect("unterminated quoted field") {
                        '"' if cs.peek() == Some(&'"') => {
                            cs.next();
                            f.push('"');
                        }
                        '"' => break,
                        c => f.push(c),
                    }
                }
            } else {
                while let Some(&c) = cs.peek() {
                    if c == ',' || c == '\r' {
                        break;
                    }
                    assert!(c != '"' && c != '\n', "bare {c:?} in an unquoted field");
                    f.push(c);
                    cs.next();
                }
            }
            record.push(f);
            match cs.next() {
                Some(',') => {}
                Some('\r') => {
                    assert_eq!(cs.next(), Some('\n'), "CR without LF");
                    records.push(std::mem::take(&mut record));
                    if cs.peek().is_none() {
                        return records;
                    }
                }
                other => panic!("unexpected {other:?} after a field"),
            }
        }
    }

    fn step_second(requests: u64) -> StepSecond {
        StepSecond { requests, errors: 1, p50_us: 1500, p95_us: 2500, p99_us: 3000 }
    }

    #[test]
    fn a_total_row_per_second_and_a_row_per_step() {
        let mut r = sample(&[("login, then \"home\"", &[1000, 2000]), ("plain", &[3000])], 3);
        for row in &mut r.timeline {
            row.steps = vec![step_second(7), step_second(9)];
        }
        let text = timeline(&r);
        let rows = parse(&text);
        assert_eq!(rows.len(), 1 + 3 * (1 + 2), "{text}");
        assert_eq!(rows[0], COLUMNS);
        assert!(rows.iter().all(|f| f.len() == COLUMNS.len()), "{text}");
        let steps: Vec<&str> = rows[1..4].iter().map(|f| f[2].as_str()).collect();
        assert_eq!(steps, ["total", "login, then \"home\"", "plain"]);
        assert!(text.contains("\"login, then \"\"home\"\"\""), "{text}");
        // The step row: its own counts and rate, nothing of the whole run's.
        let login = &rows[2];
        assert_eq!((login[4].as_str(), login[5].as_str(), login[6].as_str()), ("7", "7.00", "1"));
        assert_eq!((login[8].as_str(), login[10].as_str()), ("1.500", "3.000"));
        assert!(login[7].is_empty() && login[11..].iter().all(String::is_empty));
        // Seconds and wall time of the first row: the end of the first second.
        assert_eq!(rows[1][0], "1.000");
        assert_eq!(rows[1][1], "2023-11-14T22:13:21.000Z");
    }

    #[test]
    fn total_row_carries_every_column() {
        let mut r = sample(&[("only", &[1000])], 2);
        r.timeline[1] = TimelineRow {
            t: 1.5,
            interval_s: 0.5,
            requests: 10,
            rps: 20.0,
            errors: 2,
            bytes_in: 1234,
            p50_us: 1000,
            p95_us: 2000,
            p99_us: 3000,
            max_us: 4567,
            active_users: 5,
            in_flight: 3,
            dropped: 4,
            lag_p99_us: 250,
            worker_cpu_max: 87.5,
            worker_wait_max: 12.5,
            paused: 0.0,
            steps: Vec::new(),
            scenarios: Vec::new(),
            metrics: Default::default(),
            monitor: Default::default(),
        };
        let rows = parse(&timeline(&r));
        assert_eq!(rows.len(), 1 + 2, "one step: no step rows");
        assert_eq!(
            rows[2],
            [
                "1.500",
                "2023-11-14T22:13:21.500Z",
                "total",
                "0.500",
                "10",
                "20.00",
                "2",
                "1234",
                "1.000",
                "2.000",
                "3.000",
                "4.567",
                "5",
                "3",
                "4",
                "0.250",
                "87.5",
                "12.5"
            ]
        );
    }

    fn scenario(name: &str) -> crate::report::result::ScenarioResult {
        crate::report::result::ScenarioResult {
            name: name.into(),
            executor: "constant-vus".into(),
            start_s: 0.0,
            duration_s: 2.0,
            totals: Default::default(),
            histogram: String::new(),
            thresholds: Vec::new(),
        }
    }

    #[test]
    fn a_row_per_scenario_and_second_after_the_steps() {
        let mut r = sample(&[("login", &[1000]), ("home", &[2000])], 2);
        r.scenarios = vec![scenario("browse"), scenario("spike, \"big\"")];
        for row in &mut r.timeline {
            row.steps = vec![step_second(7), step_second(9)];
            row.scenarios = vec![step_second(12), step_second(4)];
        }
        let text = timeline(&r);
        let rows = parse(&text);
        assert_eq!(rows.len(), 1 + 2 * (1 + 2 + 2), "{text}");
        assert_eq!(rows[0][..COLUMNS.len()], COLUMNS);
        assert_eq!(rows[0][COLUMNS.len()..], [SCENARIO]);
        assert!(rows.iter().all(|f| f.len() == COLUMNS.len() + 1), "{text}");
        let labels: Vec<(&str, &str)> = rows[1..6].iter().map(|f| (f[2].as_str(), f[18].as_str())).collect();
        assert_eq!(labels, [("total", ""), ("login", ""), ("home", ""), ("", "browse"), ("", "spike, \"big\"")]);
        assert!(text.contains(",\"spike, \"\"big\"\"\"\r\n"), "{text}");
        // A scenario row: its own counts, rate and latencies in the step rows' columns.
        let browse = &rows[4];
        assert_eq!(&browse[..2], &rows[1][..2], "the same second");
        assert_eq!((browse[4].as_str(), browse[5].as_str(), browse[6].as_str()), ("12", "12.00", "1"));
        assert_eq!((browse[8].as_str(), browse[9].as_str(), browse[10].as_str()), ("1.500", "2.500", "3.000"));
        assert!(browse[7].is_empty() && browse[11..18].iter().all(String::is_empty));

        // A document with scenarios whose rows carry none (a merged one, say): the column, no rows.
        for row in &mut r.timeline {
            row.scenarios.clear();
        }
        let rows = parse(&timeline(&r));
        assert_eq!(rows.len(), 1 + 2 * 3);
        assert_eq!(rows[0].last().map(String::as_str), Some(SCENARIO));
    }

    #[test]
    fn watched_series_are_columns_of_the_total_rows() {
        let mut r = sample(&[("login", &[1000])], 3);
        r.timeline[0].monitor = [("server_cpu".to_string(), 0.5)].into();
        r.timeline[1].monitor = [("server_cpu".to_string(), 0.75), ("api_rss".to_string(), 1.5e9)].into();
        let text = timeline(&r);
        let rows = parse(&text);
        let n = COLUMNS.len();
        assert_eq!(rows[0][n..], ["monitor:server_cpu", "monitor:api_rss"]);
        let totals: Vec<&Vec<String>> = rows.iter().filter(|r| r[2] == TOTAL).collect();
        assert_eq!(totals[0][n..], ["0.5", ""], "a gap stays empty");
        assert_eq!(totals[1][n..], ["0.75", "1500000000"]);
    }

    #[test]
    fn metrics_are_columns_of_the_total_rows() {
        use crate::report::metric::MetricSummary;
        let mut r = sample(&[("login", &[1000]), ("home", &[2000])], 3);
        r.scenarios = vec![scenario("browse")];
        r.metrics = [
            ("cache_hit".to_string(), MetricSummary::Rate { rate: 50.0, hits: 1, total: 2 }),
            ("orders, paid".to_string(), MetricSummary::Counter { count: 3 }),
        ]
        .into_iter()
        .collect();
        for (i, row) in r.timeline.iter_mut().enumerate() {
            row.steps = vec![step_second(1), step_second(2)];
            row.scenarios = vec![step_second(3)];
            row.metrics = [("cache_hit".to_string(), 97.125 + i as f64), ("orders, paid".to_string(), 4.0)].into();
            if i == 1 {
                // A second only the timeline names, and a second without a value.
                row.metrics.insert("server_ms".into(), 12.5);
                row.metrics.remove("cache_hit");
            }
        }
        let text = timeline(&r);
        let rows = parse(&text);
        let n = COLUMNS.len();
        assert_eq!(rows[0][n..], [SCENARIO, "metric:cache_hit", "metric:orders, paid", "metric:server_ms"]);
        assert!(text.contains(",\"metric:orders, paid\","), "quoted: {text}");
        assert!(rows.iter().all(|f| f.len() == n + 4), "{text}");
        assert_eq!(rows.len(), 1 + 3 * (1 + 2 + 1));
        let totals: Vec<&Vec<String>> = rows.iter().filter(|f| f[2] == TOTAL).collect();
        assert_eq!(totals[0][n..], ["", "97.125", "4", ""]);
        assert_eq!(totals[1][n..], ["", "", "4", "12.5"]);
        assert_eq!(totals[2][n..], ["", "99.125", "4", ""]);
        // Steps and scenarios carry no metric values.
        assert!(rows[1..].iter().filter(|f| f[2] != TOTAL).all(|f| f[n + 1..].iter().all(String::is_empty)));

        // Metrics without scenarios: the metric columns right after the fixed ones.
        r.scenarios.clear();
        for row in &mut r.timeline {
            row.scenarios.clear();
        }
        let rows = parse(&timeline(&r));
        assert_eq!(rows[0][n..], ["metric:cache_hit", "metric:orders, paid", "metric:server_ms"]);
        assert_eq!(rows[1][n..], ["97.125", "4", ""]);
    }

    #[test]
    fn metric_values() {
        assert_eq!(number(4.0), "4");
        assert_eq!(number(97.5), "97.5");
        assert_eq!(number(0.1234), "0.123");
        assert_eq!(number(f64::NAN), "");
        assert_eq!(number(f64::INFINITY), "");
    }

    #[test]
    fn no_timeline_is_just_the_header() {
        let r = sample(&[("s", &[])], 0);
        assert_eq!(parse(&timeline(&r)), vec![COLUMNS.map(String::from).to_vec()]);
    }

    #[test]
    fn quoting() {
        let mut s = String::new();
        for f in ["plain", "a,b", "say \"hi\"", "two\nlines", ""] {
            field(&mut s, f);
            s.push('|');
        }
        assert_eq!(s, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"||");
    }
}
