//! `expect` checks on a response: the serde spec used in scenario files, its validation into a
//! compiled [`Expect`], and the per-response check (status, body substring, JSON values, header
//! values).
//!
//! ```toml
//! expect = { status = 200 }                 # also "2xx", "200..299", [200, 201]
//! expect = { status = [200, 201], body_contains = "ok", header = { "X-Cache" = "HIT" }, header_present = ["ETag"] }
//! expect = { json = { "$.status" = "active", "$.items[0].id" = 7, "$.ok" = true } }
//! ```
//!
//! A `json` key is a JSON path as `extract` reads it; its value (a string, integer, float or
//! boolean) must equal the JSON value there. Numbers compare numerically (7 equals 7.0); a string
//! never equals a number.

use crate::extract::{JsonBody, PathSeg};
use crate::http::Response;
use std::collections::BTreeMap;

/// `expect = { ... }` as written in a scenario file.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    pub status: Option<StatusSpec>,
    pub body_contains: Option<String>,
    #[serde(default)]
    pub header: BTreeMap<String, String>,
    #[serde(default)]
    pub header_present: Vec<String>,
    /// JSON path → expected value (string, integer, float or boolean; other TOML values are
    /// refused by [`ExpectSpec::compile`]).
    #[serde(default)]
    pub json: BTreeMap<String, toml::Value>,
}

/// `status = 200`, `status = "2xx"`, `status = "200..299"` (inclusive), `status = [200, 201]`.
/// The text form also takes a comma-separated mix: `"200, 3xx"`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum StatusSpec {
    Code(u16),
    Text(String),
    List(Vec<u16>),
}

/// Accepted status codes: inclusive ranges, and how the spec read (for messages).
#[derive(Debug, Clone, PartialEq)]
struct StatusMatch {
    ranges: Vec<(u16, u16)>,
    text: String,
}

/// The value a `json` check expects.
#[derive(Debug, Clone, PartialEq)]
enum JsonWant {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// One `json` check: the path (as written, and parsed), the expected value and its JSON text.
#[derive(Debug, Clone, PartialEq)]
struct JsonCheck {
    text: String,
    path: Vec<PathSeg>,
    want: JsonWant,
    want_text: String,
}

/// A validated `expect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    status: Option<StatusMatch>,
    body_contains: Option<String>,
    json: Vec<JsonCheck>,
    header: Vec<(String, String)>,
    header_present: Vec<String>,
}

/// The outcome of the checks on one response: one count per condition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckResult {
    pub passed: u32,
    pub failed: u32,
    /// Why the first failed condition failed, e.g. "status 404, expected 200".
    pub first_failure: Option<String>,
}

impl CheckResult {
    fn record(&mut self, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.passed += 1,
            Err(why) => {
                self.failed += 1;
                self.first_failure.get_or_insert(why);
            }
        }
    }
}

const STATUS_FORMS: &str = "use a code (200), a class (\"2xx\"), a range (\"200..299\") or a list ([200, 201])";

fn code(c: u16) -> Result<u16, String> {
    if (100..=999).contains(&c) { Ok(c) } else { Err(format!("status code {c} is outside 100..=999")) }
}

fn parse_code(s: &str, whole: &str) -> Result<u16, String> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad status `{whole}`: {STATUS_FORMS}"));
    }
    code(s.parse().map_err(|_| format!("status code {s} is outside 100..=999"))?)
}

/// One item of the text form: `200`, `2xx`, `200..299`, `200..=299`.
fn parse_status_item(item: &str, whole: &str) -> Result<((u16, u16), String), String> {
    let b = item.as_bytes();
    if b.len() == 3 && (b'1'..=b'9').contains(&b[0]) && b[1..].eq_ignore_ascii_case(b"xx") {
        let lo = (b[0] - b'0') as u16 * 100;
        return Ok(((lo, lo + 99), format!("{}xx", b[0] as char)));
    }
    if let Some((a, b)) = item.split_once("..") {
        let b = b.strip_prefix('=').unwrap_or(b);
        let (a, b) = (parse_code(a, whole)?, parse_code(b, whole)?);
        if a > b {
            return Err(format!("bad status `{whole}`: range {a}..{b} is reversed"));
        }
        return Ok(((a, b), format!("{a}..{b}")));
    }
    let c = parse_code(item, whole)?;
    Ok(((c, c), c.to_string()))
}

/// "200", "200 or 201", "200, 201 or 3xx".
fn either(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl StatusSpec {
    fn compile(&self) -> Result<StatusMatch, String> {
        let (ranges, names): (Vec<(u16, u16)>, Vec<String>) = match self {
            StatusSpec::Code(c) => (vec![(code(*c)?, *c)], vec![c.to_string()]),
            StatusSpec::List(list) => {
                if list.is_empty() {
                    return Err("status list is empty".into());
                }
                let codes = list.iter().map(|&c| code(c)).collect::<Result<Vec<_>, _>>()?;
                (codes.iter().map(|&c| (c, c)).collect(), codes.iter().map(u16::to_string).collect())
            }
            StatusSpec::Text(t) => {
                if t.trim().is_empty() {
                    return Err(format!("bad status `{t}`: {STATUS_FORMS}"));
                }
                t.split(',')
                    .map(|item| parse_status_item(item.trim(), t))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .unzip()
            }
        };
        Ok(StatusMatch { ranges, text: either(&names) })
    }
}

impl JsonCheck {
    fn compile(path: &str, value: &toml::Value) -> Result<JsonCheck, String> {
        let text = path.trim().to_string();
        let segs = crate::extract::parse_path(&text).map_err(|e| format!("json: {e}"))?;
        let want = match value {
            toml::Value::String(s) => JsonWant::Str(s.clone()),
            toml::Value::Integer(i) => JsonWant::Int(*i),
            toml::Value::Float(f) if f.is_finite() => JsonWant::Float(*f),
            toml::Value::Float(f) => return Err(format!("json `{text}`: {f} never equals a JSON value")),
            toml::Value::Boolean(b) => JsonWant::Bool(*b),
            other => {
                return Err(format!(
                    "json `{text}`: expected a string, integer, float or boolean, not {}",
                    match other {
                        toml::Value::Array(_) => "an array",
                        toml::Value::Table(_) => "a table",
                        _ => "a date-time",
                    }
                ));
            }
        };
        let want_text = match &want {
            JsonWant::Str(s) => serde_json::Value::from(s.as_str()).to_string(),
            JsonWant::Int(i) => i.to_string(),
            JsonWant::Float(f) => serde_json::Value::from(*f).to_string(),
            JsonWant::Bool(b) => b.to_string(),
        };
        Ok(JsonCheck { text, path: segs, want, want_text })
    }

    /// Whether `got` equals the expected value: same type, numbers compared numerically.
    fn matches(&self, got: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match (&self.want, got) {
            (JsonWant::Str(w), V::String(g)) => w == g,
            (JsonWant::Bool(w), V::Bool(g)) => w == g,
            (JsonWant::Int(w), V::Number(n)) => {
                if let Some(g) = n.as_i64() {
                    g == *w
                } else if let Some(g) = n.as_u64() {
                    i128::from(g) == i128::from(*w)
                } else {
                    n.as_f64().is_some_and(|g| int_eq_float(*w, g))
                }
            }
            (JsonWant::Float(w), V::Number(n)) => match (n.as_i64(), n.as_u64()) {
                (Some(g), _) => int_eq_float(g, *w),
                // Below 2^64 the cast back is exact; 2^64 itself would saturate to u64::MAX.
                (None, Some(g)) => *w < 18_446_744_073_709_551_616.0 && g as f64 == *w && *w as u64 == g,
                _ => n.as_f64() == Some(*w),
            },
            _ => false,
        }
    }

    fn check(&self, json: &mut JsonBody<'_>) -> Result<(), String> {
        let truncated = json.truncated();
        let body = match json.get() {
            Ok(v) => v,
            Err(_) if truncated => return Err("the body is not JSON (it was cut at the capture limit)".into()),
            Err(_) => return Err("the body is not JSON".into()),
        };
        match crate::extract::lookup(body, &self.path) {
            None => Err(format!("{} not found in the JSON body", self.text)),
            Some(v) if self.matches(v) => Ok(()),
            Some(v) => {
                Err(format!("{} is {}, expected {}", self.text, shown(v.to_string().as_bytes()), self.want_text))
            }
        }
    }
}

/// Whether the integer `i` and the float `f` are the same number, exactly.
fn int_eq_float(i: i64, f: f64) -> bool {
    // i64 → f64 may round; compare back in the integer domain when `f` is integral and in range.
    f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) && f as i64 == i
}

impl ExpectSpec {
    /// Validate the spec: status forms and codes in 100..=999, JSON paths and value types,
    /// non-empty header names.
    pub fn compile(&self) -> Result<Expect, String> {
        let status = self.status.as_ref().map(StatusSpec::compile).transpose()?;
        let header_name = |n: &String| {
            if n.trim().is_empty() || n.contains(|c: char| c.is_whitespace() || c == ':') {
                Err(format!("bad header name `{n}` in expect"))
            } else {
                Ok(n.clone())
            }
        };
        let header =
            self.header.iter().map(|(n, v)| Ok((header_name(n)?, v.clone()))).collect::<Result<Vec<_>, String>>()?;
        let header_present = self.header_present.iter().map(header_name).collect::<Result<Vec<_>, _>>()?;
        let json = self.json.iter().map(|(p, v)| JsonCheck::compile(p, v)).collect::<Result<Vec<_>, _>>()?;
        Ok(Expect { status, body_contains: self.body_contains.clone(), json, header, header_present })
    }
}

/// `b` for a message: lossy UTF-8, shortened when long.
fn shown(b: &[u8]) -> String {
    const MAX: usize = 80;
    let s = String::from_utf8_lossy(b);
    if s.chars().count() <= MAX { s.into_owned() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    let mut i = 0;
    while let Some(p) = hay[i..].iter().position(|&c| c == first) {
        let at = i + p + 1;
        if hay[at..].starts_with(rest) {
            return true;
        }
        i = at;
    }
    false
}

impl Expect {
    /// Whether the status is checked explicitly (otherwise the caller applies its default).
    pub fn has_status(&self) -> bool {
        self.status.is_some()
    }

    /// Whether any condition reads the body (so the body must be captured).
    pub fn needs_body(&self) -> bool {
        self.body_contains.is_some() || !self.json.is_empty()
    }

    /// Whether any condition parses the body as JSON.
    pub fn needs_json(&self) -> bool {
        !self.json.is_empty()
    }

    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.body_contains.is_none()
            && self.json.is_empty()
            && self.header.is_empty()
            && self.header_present.is_empty()
    }

    /// Check `r`: one pass or fail per condition (status, body, each JSON value, each header, each
    /// present header). Parses the body as JSON only when a `json` check needs it.
    pub fn check(&self, r: &Response<'_>) -> CheckResult {
        self.check_with(r, &mut JsonBody::new(r))
    }

    /// [`Expect::check`] reading the JSON body through `json` (built from the same `r`), so that
    /// extraction on the same response shares its single parse.
    pub fn check_with(&self, r: &Response<'_>, json: &mut JsonBody<'_>) -> CheckResult {
        let mut res = CheckResult::default();
        if let Some(s) = &self.status {
            let ok = s.ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&r.status));
            res.record(if ok { Ok(()) } else { Err(format!("status {}, expected {}", r.status, s.text)) });
        }
        if let Some(needle) = &self.body_contains {
            res.record(if contains(r.body, needle.as_bytes()) {
                Ok(())
            } else if r.body_truncated {
                Err(format!("body does not contain `{needle}` (in the first {} bytes captured)", r.body.len()))
            } else {
                Err(format!("body does not contain `{needle}`"))
            });
        }
        for c in &self.json {
            res.record(c.check(json));
        }
        if self.header.is_empty() && self.header_present.is_empty() {
            return res;
        }
        let headers: Vec<(&str, &[u8])> = r.headers().collect();
        let values = |name: &str| {
            headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v).collect::<Vec<_>>()
        };
        for (name, want) in &self.header {
            let got = values(name);
            res.record(match got.first() {
                None => Err(format!("header {name} missing, expected `{want}`")),
                Some(_) if got.contains(&want.as_bytes()) => Ok(()),
                Some(v) => Err(format!("header {name} is `{}`, expected `{want}`", shown(v))),
            });
        }
        for name in &self.header_present {
            res.record(if values(name).is_empty() { Err(format!("header {name} missing")) } else { Ok(()) });
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] =
        b"HTTP/1.1 200 OK\r\nX-Cache: MISS\r\nETag: \"v1\"\r\nx-cache: HIT\r\nContent-Type: text/plain\r\n\r\n";

    fn resp(status: u16, body: &'static [u8]) -> Response<'static> {
        Response { status, head: HEAD, body, body_truncated: false }
    }

    #[derive(serde::Deserialize)]
    struct Step {
        expect: ExpectSpec,
    }

    fn spec(toml_src: &str) -> Result<ExpectSpec, String> {
        toml::from_str::<Step>(toml_src).map(|s| s.expect).map_err(|e| e.to_string())
    }

    fn expect(toml_src: &str) -> Expect {
        spec(toml_src).unwrap().compile().unwrap()
    }

    fn status_ok(toml_src: &str, code: u16) -> bool {
        let r = expect(toml_src).check(&resp(code, b""));
        assert_eq!(r.passed + r.failed, 1);
        r.passed == 1
    }

    #[test]
    fn status_forms_deserialize() {
        assert_eq!(spec("expect = { status = 200 }").unwrap().status, Some(StatusSpec::Code(200)));
        assert_eq!(spec("expect = { status = \"2xx\" }").unwrap().status, Some(StatusSpec::Text("2xx".into())));
        assert_eq!(spec("expect = { status = [200, 201] }").unwrap().status, Some(StatusSpec::List(vec![200, 201])));
        assert!(spec("expect = { stauts = 200 }").unwrap_err().contains("unknown field"));
        let full = spec(
            r#"expect = { status = [200, 201], body_contains = "ok", header = { "X-Cache" = "HIT" }, header_present = ["ETag"] }"#,
        )
        .unwrap();
        assert_eq!(full.body_contains.as_deref(), Some("ok"));
        assert_eq!(full.header.get("X-Cache").map(String::as_str), Some("HIT"));
        assert_eq!(full.header_present, ["ETag"]);
        assert_eq!(spec("expect = {}").unwrap(), ExpectSpec::default());
    }

    #[test]
    fn status_forms_match() {
        assert!(status_ok("expect = { status = 200 }", 200));
        assert!(!status_ok("expect = { status = 200 }", 201));
        assert!(status_ok("expect = { status = \"2xx\" }", 204));
        assert!(status_ok("expect = { status = \"2XX\" }", 299));
        assert!(!status_ok("expect = { status = \"2xx\" }", 300));
        assert!(status_ok("expect = { status = \"200..299\" }", 299));
        assert!(status_ok("expect = { status = \"200..=299\" }", 200));
        assert!(!status_ok("expect = { status = \"200..299\" }", 199));
        assert!(status_ok("expect = { status = [200, 201] }", 201));
        assert!(!status_ok("expect = { status = [200, 201] }", 202));
        assert!(status_ok("expect = { status = \"201\" }", 201));
        assert!(status_ok("expect = { status = \"200, 3xx\" }", 302));
        assert!(!status_ok("expect = { status = \"200, 3xx\" }", 404));
    }

    #[test]
    fn status_validation() {
        let err = |s: StatusSpec| ExpectSpec { status: Some(s), ..Default::default() }.compile().unwrap_err();
        assert_eq!(err(StatusSpec::Code(42)), "status code 42 is outside 100..=999");
        assert_eq!(err(StatusSpec::Code(1000)), "status code 1000 is outside 100..=999");
        assert_eq!(err(StatusSpec::List(vec![])), "status list is empty");
        assert_eq!(err(StatusSpec::List(vec![200, 99])), "status code 99 is outside 100..=999");
        assert!(err(StatusSpec::Text("ok".into())).starts_with("bad status `ok`: use a code"));
        assert!(err(StatusSpec::Text("0xx".into())).starts_with("bad status `0xx`"));
        assert!(err(StatusSpec::Text("".into())).starts_with("bad status ``"));
        assert_eq!(err(StatusSpec::Text("299..200".into())), "bad status `299..200`: range 299..200 is reversed");
        assert_eq!(err(StatusSpec::Text("200..1000".into())), "status code 1000 is outside 100..=999");
        assert!(err(StatusSpec::Text("200..".into())).starts_with("bad status `200..`"));
        assert!(ExpectSpec { header_present: vec!["Bad Name".into()], ..Default::default() }.compile().is_err());
    }

    #[test]
    fn failure_reasons() {
        let why = |toml_src: &str, r: Response<'_>| expect(toml_src).check(&r).first_failure;
        assert_eq!(why("expect = { status = 200 }", resp(404, b"")).as_deref(), Some("status 404, expected 200"));
        assert_eq!(
            why("expect = { status = [200, 201, 204] }", resp(500, b"")).as_deref(),
            Some("status 500, expected 200, 201 or 204")
        );
        assert_eq!(why("expect = { status = \"2xx\" }", resp(503, b"")).as_deref(), Some("status 503, expected 2xx"));
        assert_eq!(
            why("expect = { status = \"200..299\" }", resp(301, b"")).as_deref(),
            Some("status 301, expected 200..299")
        );
        assert_eq!(
            why("expect = { body_contains = \"ok\" }", resp(200, b"error")).as_deref(),
            Some("body does not contain `ok`")
        );
        let cut = Response { status: 200, head: HEAD, body: b"abc", body_truncated: true };
        assert!(why("expect = { body_contains = \"ok\" }", cut).unwrap().contains("first 3 bytes"));
        assert_eq!(
            why("expect = { header = { \"X-Cache\" = \"HITS\" } }", resp(200, b"")).as_deref(),
            Some("header X-Cache is `MISS`, expected `HITS`")
        );
        assert_eq!(
            why("expect = { header = { \"X-Backend\" = \"a\" } }", resp(200, b"")).as_deref(),
            Some("header X-Backend missing, expected `a`")
        );
        assert_eq!(
            why("expect = { header_present = [\"Last-Modified\"] }", resp(200, b"")).as_deref(),
            Some("header Last-Modified missing")
        );
    }

    #[test]
    fn one_count_per_condition() {
        let e = expect(
            r#"expect = { status = [200, 201], body_contains = "ok", header = { "X-Cache" = "HIT", "content-type" = "text/plain" }, header_present = ["ETag", "etag"] }"#,
        );
        assert!(e.has_status() && e.needs_body() && !e.is_empty());
        let r = e.check(&resp(200, b"all ok here"));
        assert_eq!((r.passed, r.failed, r.first_failure), (6, 0, None), "a repeated header matches on any value");

        let r = e.check(&resp(500, b"nope"));
        assert_eq!((r.passed, r.failed), (4, 2));
        assert_eq!(r.first_failure.as_deref(), Some("status 500, expected 200 or 201"), "the first failure is kept");

        let none = expect("expect = {}");
        assert!(!none.has_status() && !none.needs_body() && none.is_empty());
        assert_eq!(none.check(&resp(500, b"")), CheckResult::default());
        assert!(!expect("expect = { header_present = [\"ETag\"] }").needs_body());
    }

    const JSON: &[u8] = br#"{"status":"active","ok":true,"n":7,"f":7.5,"big":18446744073709551615,"neg":-3,
        "p53":9007199254740992,"u63":9223372036854775808,"f7":7.0,
        "s7":"7","nil":null,"items":[{"id":7},{"id":"x"}],"odd key":{"a b":"c d"},"obj":{"k":[1,2]}}"#;

    fn json_check(path: &str, value: &str, body: &'static [u8]) -> CheckResult {
        expect(&format!("expect = {{ json = {{ {path:?} = {value} }} }}")).check(&resp(200, body))
    }

    fn json_ok(path: &str, value: &str) -> bool {
        let r = json_check(path, value, JSON);
        assert_eq!(r.passed + r.failed, 1, "{path} = {value}");
        r.passed == 1
    }

    #[test]
    fn json_values_deserialize() {
        let s =
            spec(r#"expect = { json = { "$.status" = "active", "$.items[0].id" = 7, "$.ok" = true, "$.f" = 1.5 } }"#)
                .unwrap();
        assert_eq!(s.json.get("$.status"), Some(&toml::Value::String("active".into())));
        assert_eq!(s.json.get("$.items[0].id"), Some(&toml::Value::Integer(7)));
        assert_eq!(s.json.get("$.ok"), Some(&toml::Value::Boolean(true)));
        assert_eq!(s.json.get("$.f"), Some(&toml::Value::Float(1.5)));
        let e = s.compile().unwrap();
        assert!(e.needs_body() && e.needs_json() && !e.is_empty() && !e.has_status());
        assert!(!expect("expect = { status = 200 }").needs_json());
    }

    #[test]
    fn json_values_compare() {
        assert!(json_ok("$.status", "\"active\""));
        assert!(!json_ok("$.status", "\"Active\""));
        assert!(json_ok("$.ok", "true"));
        assert!(!json_ok("$.ok", "false"));
        assert!(json_ok("$.items[0].id", "7"));
        assert!(json_ok("$.items[0].id", "7.0"), "7 == 7.0");
        assert!(json_ok("$.n", "7"));
        assert!(!json_ok("$.n", "8"));
        assert!(!json_ok("$.n", "7.5"));
        assert!(json_ok("$.f", "7.5"));
        assert!(!json_ok("$.f", "7"));
        assert!(json_ok("$.neg", "-3"));
        assert!(json_ok("$.neg", "-3.0"));
        assert!(!json_ok("$.big", "18446744073709551615.0"), "that float is 2^64, one more than u64::MAX");
        assert!(json_ok("$.p53", "9007199254740992.0"));
        assert!(json_ok("$.u63", "9223372036854775808.0"), "2^63 as a u64");
        assert!(json_ok("$.f7", "7"), "7.0 in the body equals 7");
        assert!(!json_ok("$.f7", "\"7.0\""));
        assert!(!json_ok("$.big", "9223372036854775807"), "no i64 equals u64::MAX");
        assert!(!json_ok("$.n", "\"7\""), "a string never equals a number");
        assert!(!json_ok("$.s7", "7"), "a number never equals a string");
        assert!(!json_ok("$.ok", "\"true\""));
        assert!(!json_ok("$.ok", "1"));
        assert!(!json_ok("$.nil", "\"null\""));
        assert!(!json_ok("$.obj", "\"{}\""));
        assert!(json_ok("$['odd key']['a b']", "\"c d\""));
        assert!(json_ok("$.items[1].id", "\"x\""));
        assert!(json_ok("  $.n  ", "7"), "the path may carry spaces around it");
    }

    #[test]
    fn int_float_equality_is_exact() {
        assert!(int_eq_float(7, 7.0));
        assert!(int_eq_float(-3, -3.0));
        assert!(!int_eq_float(7, 7.5));
        assert!(!int_eq_float(i64::MAX, 9_223_372_036_854_775_808.0), "2^63 is out of i64 range");
        assert!(int_eq_float(i64::MIN, -9_223_372_036_854_775_808.0));
        assert!(!int_eq_float(9_007_199_254_740_993, 9_007_199_254_740_992.0), "2^53 + 1 is not 2^53");
        assert!(!int_eq_float(0, f64::NAN));
    }

    #[test]
    fn json_failure_reasons() {
        let why = |path: &str, value: &str, body: &'static [u8]| json_check(path, value, body).first_failure;
        assert_eq!(why("$.status", "\"closed\"", JSON).as_deref(), Some(r#"$.status is "active", expected "closed""#));
        assert_eq!(why("$.n", "7.5", JSON).as_deref(), Some("$.n is 7, expected 7.5"));
        assert_eq!(why("$.n", "8.0", JSON).as_deref(), Some("$.n is 7, expected 8.0"));
        assert_eq!(why("$.s7", "7", JSON).as_deref(), Some(r#"$.s7 is "7", expected 7"#));
        assert_eq!(why("$.nil", "true", JSON).as_deref(), Some("$.nil is null, expected true"));
        assert_eq!(why("$.obj", "1", JSON).as_deref(), Some(r#"$.obj is {"k":[1,2]}, expected 1"#));
        assert_eq!(why("$.items[5].id", "7", JSON).as_deref(), Some("$.items[5].id not found in the JSON body"));
        assert_eq!(why("$.status.x", "7", JSON).as_deref(), Some("$.status.x not found in the JSON body"));
        assert_eq!(why("$.n", "7", b"<html>").as_deref(), Some("the body is not JSON"));
        assert_eq!(why("$.n", "7", b"").as_deref(), Some("the body is not JSON"));
        let long = format!("{{\"s\":\"{}\"}}", "x".repeat(200)).into_bytes();
        let long = Response { status: 200, head: HEAD, body: &long, body_truncated: false };
        let msg = expect("expect = { json = { \"$.s\" = \"y\" } }").check(&long).first_failure.unwrap();
        assert!(msg.starts_with("$.s is \"xxx") && msg.ends_with("…, expected \"y\""), "{msg}");
        assert!(msg.chars().count() < 120, "{msg}");
        let cut = Response { status: 200, head: HEAD, body: b"{\"n\":", body_truncated: true };
        let r = expect("expect = { json = { \"$.n\" = 7 } }").check(&cut);
        assert_eq!(r.first_failure.as_deref(), Some("the body is not JSON (it was cut at the capture limit)"));
        let cut_but_whole = Response { status: 200, head: HEAD, body: b"{\"n\":7}", body_truncated: true };
        assert_eq!(expect("expect = { json = { \"$.n\" = 7 } }").check(&cut_but_whole).passed, 1);
    }

    #[test]
    fn json_spec_errors() {
        let err = |toml_src: &str| spec(toml_src).unwrap().compile().unwrap_err();
        assert_eq!(
            err(r#"expect = { json = { "status" = "active" } }"#),
            "json: bad JSON path `status`: must start with `$`"
        );
        assert_eq!(err(r#"expect = { json = { "$.a[" = 1 } }"#), "json: bad JSON path `$.a[`: missing `]`");
        assert!(err(r#"expect = { json = { "$..a" = 1 } }"#).contains("`$..a`"));
        assert_eq!(
            err(r#"expect = { json = { "$.a" = [1] } }"#),
            "json `$.a`: expected a string, integer, float or boolean, not an array"
        );
        assert_eq!(
            err(r#"expect = { json = { "$.a" = { b = 1 } } }"#),
            "json `$.a`: expected a string, integer, float or boolean, not a table"
        );
        assert_eq!(
            err(r#"expect = { json = { "$.a" = 1979-05-27 } }"#),
            "json `$.a`: expected a string, integer, float or boolean, not a date-time"
        );
        assert_eq!(err(r#"expect = { json = { "$.a" = nan } }"#), "json `$.a`: NaN never equals a JSON value");
        assert_eq!(err(r#"expect = { json = { "$.a" = -inf } }"#), "json `$.a`: -inf never equals a JSON value");
    }

    #[test]
    fn json_checks_count_once_each_and_share_one_parse() {
        let e = expect(concat!(
            r#"expect = { status = 200, body_contains = "active", header_present = ["ETag"], "#,
            r#"json = { "$.status" = "active", "$.n" = 7, "$.ok" = false } }"#
        ));
        let r = e.check(&resp(200, JSON));
        assert_eq!((r.passed, r.failed), (5, 1));
        assert_eq!(r.first_failure.as_deref(), Some("$.ok is true, expected false"));

        let view = resp(200, JSON);
        let mut json = JsonBody::new(&view);
        let _ = e.check_with(&view, &mut json);
        assert_eq!(json.parses(), 1);
        let rules = [(0, crate::extract::parse("json $.items[0].id").unwrap())];
        let mut out = vec![None];
        crate::extract::extract_all_with(&rules, &view, &mut json, &mut out).unwrap();
        assert_eq!(out[0].as_deref(), Some(&b"7"[..]));
        assert_eq!(json.parses(), 1, "extraction reuses the checks' parse");

        let mut json = JsonBody::new(&view);
        let r = expect("expect = { status = 200, header_present = [\"ETag\"] }").check_with(&view, &mut json);
        assert_eq!((r.passed, json.parses()), (2, 0), "no json check, no parse");

        let bad = resp(200, b"<html>");
        let mut json = JsonBody::new(&bad);
        let r = expect(r#"expect = { json = { "$.a" = 1, "$.b" = 2 } }"#).check_with(&bad, &mut json);
        assert_eq!((r.failed, json.parses()), (2, 1), "a failed parse is not retried");
    }

    #[test]
    fn substring_search() {
        assert!(contains(b"hello", b""));
        assert!(contains(b"hello", b"hello"));
        assert!(contains(b"aaab", b"aab"));
        assert!(contains(b"xxok", b"ok"));
        assert!(!contains(b"o", b"ok"));
        assert!(!contains(b"", b"a"));
    }
}
