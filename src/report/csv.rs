//! CSV of the per-second timeline (`--csv FILE`): a row per second for the whole run, and one per
//! step and second when the plan has several steps, quoted per RFC 4180.
//!
//! Columns: `t` (seconds from the start to the end of the interval), `wall_time` (the end of the
//! interval, RFC 3339 UTC with milliseconds), `step` (`total` or the step's name), then the
//! interval's measurements. Latencies are in milliseconds. A step row leaves empty the columns
//! only the whole run has (bytes, max, users, in flight, dropped, lag, CPU).

use std::time::{Duration, UNIX_EPOCH};

use super::RunResult;
use crate::stats::TimelineRow;

/// The header, in column order.
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

/// The timeline as CSV: a header, then for each second a `total` row followed by one row per
/// step (in the order of `r.steps`) when the second carries per-step measurements.
pub fn timeline(r: &RunResult) -> String {
    let mut out = String::new();
    line(&mut out, COLUMNS.iter().map(|c| c.to_string()));
    for row in &r.timeline {
        let t = format!("{:.3}", row.t);
        let wall = wall_time(r.started_at_unix_ms, row.t);
        line(&mut out, total_row(row, &t, &wall));
        for (i, s) in row.steps.iter().enumerate() {
            let name = r.steps.get(i).map_or_else(|| format!("step {}", i + 1), |s| s.name.clone());
            let rps = s.requests as f64 / row.interval_s.max(1e-9);
            let fields = [
                t.clone(),
                wall.clone(),
                name,
                format!("{:.3}", row.interval_s),
                s.requests.to_string(),
                format!("{rps:.2}"),
                s.errors.to_string(),
                String::new(),
                ms(s.p50_us),
                ms(s.p95_us),
                ms(s.p99_us),
            ];
            line(&mut out, fields.into_iter().chain(std::iter::repeat_n(String::new(), COLUMNS.len() - 11)));
        }
    }
    out
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
            steps: Vec::new(),
            scenarios: Vec::new(),
            metrics: Default::default(),
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
