//! Metrics of your own (`[metrics]`) as a language: what kind a metric is (`rate`, `counter`,
//! `trend`), the trend sources (`header NAME`, `header NAME dur` for Server-Timing, `json $.path`)
//! and how each reads a response, and a compiled metric's definition: its rule and the steps it
//! observes. The file's `[metrics]` table is compiled by [`crate::scenario`]; workers count
//! responses into [`crate::stats::metric::MetricStats`]; the result summarises them
//! ([`crate::report::metric`]).
//!
//! - `rate` and `counter` take a condition in the text form of [`crate::rules::check::parse_cond`]
//!   (`status == 201`, `status in 2xx`, `header X-Cache == HIT`, `header ETag`, `body contains ok`,
//!   `json $.ok == true`). A response that does not meet it is not an error, only not counted.
//! - `trend` takes a source: `header NAME` (the header's value as a number), `header NAME dur`
//!   (the `dur` parameter of the first metric that has one in a Server-Timing value such as
//!   `cache;desc=hit, db;dur=53.2`) or `json $.path` (a JSON number). A response without a
//!   value (absent, not a number, negative, NaN or infinite) is counted as `missing`, not as an
//!   error.
//! - Only responses are observed (a request without a response has nothing to read).

use serde::{Deserialize, Serialize};

use crate::http::Response;
use crate::rules::ParseError;
use crate::rules::check::{self, ResponseCond};
use crate::rules::extract::{JsonBody, PathSeg};

/// Metric names the run defines itself (a user's metric may not take them).
pub const BUILT_IN: &[&str] = &["iteration_duration", "iterations", "dropped_iterations"];

/// What kind of metric a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Rate,
    Counter,
    Trend,
}

impl Kind {
    /// `rate`, `counter` or `trend`, as written in the file and the result.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rate => "rate",
            Kind::Counter => "counter",
            Kind::Trend => "trend",
        }
    }
}

/// Where a trend's number comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TrendSource {
    /// `header NAME`: the header's (first) value as a number.
    Header(String),
    /// `header NAME dur`: the `dur` of the first Server-Timing metric that has one, over the
    /// header's values in order.
    ServerTiming(String),
    /// `json $.path`: a JSON number.
    Json(Vec<PathSeg>),
    /// Built in: a whole iteration's time in ms, recorded by the engine at each iteration's end
    /// (no response carries it).
    Iteration,
}

/// What a metric measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Rate(ResponseCond),
    Counter(ResponseCond),
    Trend(TrendSource),
}

/// A compiled metric: its name, its rule, and the steps it observes.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub rule: Rule,
    /// The condition or source as written, trimmed.
    pub source: String,
    /// The step rows observed, sorted and without repeats; `None`: every step.
    steps: Option<Vec<usize>>,
}

impl Metric {
    /// A metric observing `steps` (step rows, sorted, without repeats; `None`: every step).
    pub fn new(name: String, rule: Rule, source: String, steps: Option<Vec<usize>>) -> Metric {
        Metric { name, rule, source, steps }
    }

    pub fn kind(&self) -> Kind {
        match self.rule {
            Rule::Rate(_) => Kind::Rate,
            Rule::Counter(_) => Kind::Counter,
            Rule::Trend(_) => Kind::Trend,
        }
    }

    /// The step rows observed (sorted, without repeats); `None`: every step.
    pub fn steps(&self) -> Option<&[usize]> {
        self.steps.as_deref()
    }

    /// Whether responses of the step at `row` are observed.
    pub fn applies_to(&self, row: usize) -> bool {
        self.steps.as_ref().is_none_or(|s| s.binary_search(&row).is_ok())
    }

    /// Whether observing needs the response's headers captured.
    pub fn needs_head(&self) -> bool {
        match &self.rule {
            Rule::Rate(c) | Rule::Counter(c) => c.needs_head(),
            Rule::Trend(t) => t.needs_head(),
        }
    }

    /// Whether observing needs the response's body captured.
    pub fn needs_body(&self) -> bool {
        match &self.rule {
            Rule::Rate(c) | Rule::Counter(c) => c.needs_body(),
            Rule::Trend(t) => t.needs_body(),
        }
    }
}

/// The built-in `iteration_duration` trend (k6's name): a whole journey's time in ms, of every
/// user type (`name` = `iteration_duration`) or of one (`iteration_duration:TYPE`).
pub fn iteration_duration(name: String) -> Metric {
    Metric {
        name,
        rule: Rule::Trend(TrendSource::Iteration),
        source: "iteration time (ms)".into(),
        steps: Some(Vec::new()),
    }
}

const TREND_FORMS: &str = "use `header NAME`, `header Server-Timing dur` or `json $.path`";

/// A trend source: `header NAME`, `header NAME dur` or `json $.path`. Offsets are bytes into `src`.
pub fn parse_trend(src: &str) -> Result<TrendSource, ParseError> {
    let err = |offset: usize, message: String| Err(ParseError { offset, message });
    let start = src.len() - src.trim_start().len();
    let text = src.trim_end();
    if start == src.len() {
        return err(start, format!("empty trend source: {TREND_FORMS}"));
    }
    let word_end = text[start..].find(char::is_whitespace).map_or(text.len(), |r| start + r);
    let arg_at = word_end + (text[word_end..].len() - text[word_end..].trim_start().len());
    let arg = &text[arg_at..];
    match text[start..word_end].to_ascii_lowercase().as_str() {
        "header" if arg.is_empty() => err(arg_at, format!("expected a header name after `header`: {TREND_FORMS}")),
        "header" => {
            let name_end = arg.find(char::is_whitespace).unwrap_or(arg.len());
            let name = &arg[..name_end];
            if let Some(colon) = name.find(':') {
                return err(arg_at + colon, format!("bad header name `{name}`: write it without `:`"));
            }
            let rest_at = arg_at + name_end + (arg[name_end..].len() - arg[name_end..].trim_start().len());
            match &text[rest_at..] {
                "" => Ok(TrendSource::Header(name.to_string())),
                w if w.eq_ignore_ascii_case("dur") => Ok(TrendSource::ServerTiming(name.to_string())),
                w => err(
                    rest_at,
                    format!("unexpected `{w}` after the header name: only `dur` may follow (`header {name} dur`)"),
                ),
            }
        }
        "json" if arg.is_empty() => err(arg_at, format!("expected a JSON path after `json`: {TREND_FORMS}")),
        "json" => {
            crate::rules::extract::parse_path(arg).map(TrendSource::Json).or_else(|e| err(arg_at + e.offset, e.message))
        }
        _ => err(start, format!("unknown trend source `{}`: {TREND_FORMS}", &text[start..word_end])),
    }
}

/// `b` as a trend value: a finite, non-negative number, surrounding whitespace allowed.
fn number(b: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(b).ok()?.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// The raw `dur` value (quotes removed) of the first metric that has a `dur` parameter in one
/// Server-Timing value: `metric *( OWS ";" OWS name OWS "=" OWS value )`, metrics separated by
/// commas; a value may be a quoted string (with `\` escapes), in which `,` and `;` do not count.
fn first_dur(v: &[u8]) -> Option<&[u8]> {
    let trim = |b: &'_ [u8]| -> (usize, usize) {
        let s = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
        let e = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(s, |e| e + 1);
        (s, e)
    };
    let (mut quoted, mut escaped) = (false, false);
    let mut piece = 0; // where the current metric name or parameter starts
    let mut is_param = false; // the metric name comes first, then its parameters
    for i in 0..=v.len() {
        let c = v.get(i).copied();
        if quoted {
            match c {
                _ if escaped => escaped = false,
                Some(b'\\') => escaped = true,
                Some(b'"') => quoted = false,
                _ => {}
            }
            if c.is_some() {
                continue;
            }
        }
        match c {
            Some(b'"') => quoted = true,
            Some(b';' | b',') | None => {
                let p = &v[piece..i];
                if is_param && let Some(eq) = p.iter().position(|&b| b == b'=') {
                    let (ns, ne) = trim(&p[..eq]);
                    if p[ns..ne].eq_ignore_ascii_case(b"dur") {
                        let val = &p[eq + 1..];
                        let (vs, ve) = trim(val);
                        let val = &val[vs..ve];
                        return Some(match val {
                            [b'"', inner @ .., b'"'] => inner,
                            _ => val,
                        });
                    }
                }
                is_param = c == Some(b';');
                piece = i + 1;
            }
            _ => {}
        }
    }
    None
}

impl TrendSource {
    /// This response's value, or `None` when it has none (absent, not a number, negative, NaN or
    /// infinite).
    pub fn value(&self, r: &Response<'_>, json: &mut JsonBody<'_>) -> Option<f64> {
        match self {
            TrendSource::Header(name) => {
                let mut got = None;
                check::header_values(r.head, name, |v| {
                    got = Some(v);
                    true
                });
                number(got?)
            }
            TrendSource::ServerTiming(name) => {
                let mut dur = None;
                check::header_values(r.head, name, |v| {
                    dur = first_dur(v);
                    dur.is_some()
                });
                number(dur?)
            }
            TrendSource::Json(path) => {
                let v = crate::rules::extract::lookup(json.get().ok()?, path)?.as_f64()?;
                (v.is_finite() && v >= 0.0).then_some(v)
            }
            TrendSource::Iteration => None,
        }
    }

    /// Whether reading it needs the response's headers.
    pub fn needs_head(&self) -> bool {
        matches!(self, TrendSource::Header(_) | TrendSource::ServerTiming(_))
    }

    /// Whether reading it needs the body.
    pub fn needs_body(&self) -> bool {
        matches!(self, TrendSource::Json(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nX-Cache: HIT\r\nX-Time: 12.5\r\n\
        Server-Timing: cache;desc=\"hit, fast\", db;dur=53.2;desc=db, app;dur=47\r\n\r\n";

    fn resp<'a>(status: u16, head: &'a [u8], body: &'a [u8]) -> Response<'a> {
        Response { status, head, body, body_truncated: false }
    }

    #[test]
    fn server_timing_takes_the_first_dur() {
        let dur = |v: &str| first_dur(v.as_bytes()).and_then(number);
        assert_eq!(dur("db;dur=53.2"), Some(53.2));
        assert_eq!(dur("db;dur=53"), Some(53.0));
        assert_eq!(dur("cache;desc=hit, db;dur=53.2, app;dur=47"), Some(53.2), "the first metric with a dur");
        assert_eq!(dur("db;desc=\"a, b; dur=1\";dur=2"), Some(2.0), "`,` `;` and `=` in quotes do not count");
        assert_eq!(dur(r#"db;desc="say \"hi\", dur=1";dur=3"#), Some(3.0), "escaped quotes stay inside");
        assert_eq!(dur("  db ;  dur = 12.5 ; desc=x"), Some(12.5), "whitespace around everything");
        assert_eq!(dur("db;DUR=4"), Some(4.0), "parameter names are case-insensitive");
        assert_eq!(dur("db;dur=\"7.25\""), Some(7.25), "a quoted value");
        assert_eq!(dur("db;dur=1;dur=2"), Some(1.0), "the first dur of a metric");
        assert_eq!(dur("dur;desc=x, b;dur=9"), Some(9.0), "a metric called dur is not a parameter");
        assert_eq!(dur("db,app;dur=0"), Some(0.0));
        assert_eq!(dur("\tdb\t;\tdur=1e2"), Some(100.0));
        assert_eq!(dur("db;dur"), None, "a parameter without a value");
        assert_eq!(dur("db;dur=abc, app;dur=5"), None, "the first dur decides, even when it is not a number");
        assert_eq!(dur("db;dur=-3"), None);
        assert_eq!(dur("db;dur=NaN"), None);
        assert_eq!(dur("db;dur=inf"), None);
        assert_eq!(dur("db;dur="), None);
        assert_eq!(dur("db;desc=\"unterminated, dur=5"), None);
        assert_eq!(dur("db;desc=\"x\\"), None, "an escape at the end");
        assert_eq!(dur(""), None);
        assert_eq!(dur("cache, miss"), None);
        assert_eq!(dur(";;;,,,=;=,\"\""), None);
    }

    #[test]
    fn trend_sources_read_a_response() {
        let r = resp(200, HEAD, br#"{"n": 7.25, "s": "7", "neg": -1, "big": 1e300, "items": [{"n": 3}]}"#);
        let value = |src: &str| parse_trend(src).unwrap().value(&r, &mut JsonBody::new(&r));
        assert_eq!(value("header X-Time"), Some(12.5));
        assert_eq!(value("header x-time"), Some(12.5));
        assert_eq!(value("header X-Cache"), None, "not a number");
        assert_eq!(value("header X-Nope"), None);
        assert_eq!(value("header Server-Timing dur"), Some(53.2));
        assert_eq!(value("header X-Time dur"), None, "no dur parameter");
        assert_eq!(value("json $.n"), Some(7.25));
        assert_eq!(value("json $.items[0].n"), Some(3.0));
        assert_eq!(value("json $.s"), None, "a string is not a number");
        assert_eq!(value("json $.neg"), None);
        assert_eq!(value("json $.big"), Some(1e300), "clamped when recorded, not here");
        assert_eq!(value("json $.nope"), None);
        let html = resp(200, HEAD, b"<html>");
        assert_eq!(parse_trend("json $.n").unwrap().value(&html, &mut JsonBody::new(&html)), None);

        let two = b"HTTP/1.1 200 OK\r\nServer-Timing: cache;desc=miss\r\nServer-Timing: db;dur=8\r\n\r\n";
        let r2 = resp(200, two, b"");
        let st = parse_trend("header Server-Timing dur").unwrap();
        assert_eq!(st.value(&r2, &mut JsonBody::new(&r2)), Some(8.0), "over every value of the header, in order");
    }

    /// Every text parser and the Server-Timing reader on many odd inputs: errors, never a panic,
    /// and error offsets on character boundaries.
    #[test]
    fn parsers_never_panic() {
        const PIECES: &[&str] = &[
            "status", "header", "body", "contains", "json", "in", "dur", "$", ".", "[", "]", "'", "\"", "\\", "=",
            "==", "!=", ",", ";", "..", "2xx", "200", "-", "1e9", " ", "\t", "é", "µ", "p(", ")", "(", "%", "ms", "x",
            "_",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 8) as usize;
            for k in 0..len {
                text.push_str(PIECES[((seed >> (k * 6 + 3)) % PIECES.len() as u64) as usize]);
            }
            if let Err(e) = check::parse_cond(&text) {
                assert!(text.is_char_boundary(e.offset), "{text:?}: {e:?}");
            }
            if let Err(e) = parse_trend(&text) {
                assert!(text.is_char_boundary(e.offset), "{text:?}: {e:?}");
            }
            if let Err(e) = crate::rules::threshold::parse(&text) {
                assert!(text.is_char_boundary(e.offset), "{text:?}: {e:?}");
            }
            let _ = crate::rules::threshold::parse_checked(&text, &[("x", Kind::Rate)], &[]);
            let _ = first_dur(text.as_bytes()).and_then(number);
        }
    }
}
