//! Response conditions, one vocabulary for two forms: the `expect` table of a scenario step and
//! the text form of `[metrics]` ([`parse_cond`]), both compiled into [`ResponseCond`] and judged
//! by its one evaluation; [`Expect`] is a list of them, counted one pass or fail each.
//!
//! ```toml
//! expect = { status = 200 }                 # also "2xx", "200..299", [200, 201]
//! expect = { status = [200, 201], body_contains = "ok", header = { "X-Cache" = "HIT" }, header_present = ["ETag"] }
//! expect = { json = { "$.status" = "active", "$.items[0].id" = 7, "$.ok" = true } }
//! ```
//!
//! The text form (keywords and header names are case-insensitive, whitespace is free between
//! tokens, error offsets are byte offsets into the text as given):
//!
//! ```text
//! status == 201                a code, or a class (status == 2xx)
//! status in 2xx                a class, an inclusive range (200..299, 200..=299) or a list (200, 201, 3xx)
//! header X-Cache == HIT        the header has this value (any of its values when repeated); the value is the
//!                              rest of the text, trimmed; a pair of "quotes" or 'quotes' around it is removed
//! header ETag                  the header is present
//! body contains ok             the body contains the rest of the text, trimmed; a pair of quotes around it is
//!                              removed ("two words", '"id":7'), a quote that only starts it is kept ("id":7)
//! json $.status == "active"    a JSON value: a string in "double" (JSON escapes) or 'single' quotes, a
//! json $.n == 7                number, true or false
//! ```
//!
//! A `json` key is a JSON path as `extract` reads it; its value (a string, integer, float or
//! boolean) must equal the JSON value there. Numbers compare numerically (7 equals 7.0); a string
//! never equals a number. Header values compare exactly, bytes for bytes.

mod parse;

pub use parse::parse_cond;

use crate::http::Response;
use crate::rules::extract::{JsonBody, PathSeg};
use crate::rules::status;
use std::collections::BTreeMap;
use std::mem::MaybeUninit;

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
pub struct StatusMatch {
    ranges: Vec<(u16, u16)>,
    text: String,
}

impl StatusMatch {
    /// The accepted codes, as inclusive ranges.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    /// Whether `status` is accepted.
    pub fn contains(&self, status: u16) -> bool {
        self.ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
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
pub struct JsonCheck {
    text: String,
    path: Vec<PathSeg>,
    want: JsonWant,
    want_text: String,
}

/// One condition on a response. A response meets it or not; what not meeting it means is the
/// caller's business (`expect`: a failed check and an error; a metric: a response not counted).
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseCond {
    /// The status is one of these codes.
    Status(StatusMatch),
    /// The header `.0` (name case-insensitive) has the value `.1`, exactly; when the header is
    /// repeated, any of its values may.
    Header(String, String),
    /// The header is present, whatever its value.
    HeaderPresent(String),
    /// The (captured) body contains these bytes.
    BodyContains(String),
    /// The body is JSON and the value at a path equals the expected one.
    Json(JsonCheck),
}

/// Why a condition did not hold, without allocating: [`ResponseCond::holds`] renders it.
#[derive(Debug, Clone, Copy)]
enum Why<'r> {
    Status(u16),
    HeaderMissing,
    /// The header's first value, when none equals the expected one.
    HeaderIs(&'r [u8]),
    /// `captured`: the body was cut at the capture limit after this many bytes.
    BodyLacks {
        captured: Option<usize>,
    },
    NotJson {
        truncated: bool,
    },
    JsonMissing,
    /// The value is elsewhere in the parsed body (looked up again to render the message).
    JsonDiffers,
}

/// A validated `expect`: its conditions, in the order they are counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    conds: Vec<ResponseCond>,
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
const STATUS_FORMS_TEXT: &str = "use a code (201), a class (2xx), a range (200..299) or a list (200, 201)";

fn code(c: u16) -> Result<u16, String> {
    if status::CODES.contains(&c) { Ok(c) } else { Err(format!("status code {c} is outside 100..=999")) }
}

fn parse_code(s: &str, whole: &str, forms: &str) -> Result<u16, String> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad status `{whole}`: {forms}"));
    }
    code(s.parse().map_err(|_| format!("status code {s} is outside 100..=999"))?)
}

/// One item of the text form: `200`, `2xx`, `200..299`, `200..=299`.
fn parse_status_item(item: &str, whole: &str, forms: &str) -> Result<((u16, u16), String), String> {
    if let Some(range) = status::class(item) {
        return Ok((range, status::describe(range)));
    }
    if let Some((a, b)) = status::split_range(item) {
        let (a, b) = (parse_code(a, whole, forms)?, parse_code(b, whole, forms)?);
        if a > b {
            return Err(format!("bad status `{whole}`: range {a}..{b} is reversed"));
        }
        return Ok(((a, b), format!("{a}..{b}")));
    }
    let c = parse_code(item, whole, forms)?;
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
                    .map(|item| parse_status_item(item.trim(), t, STATUS_FORMS))
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
        let segs = crate::rules::extract::parse_path(&text).map_err(|e| format!("json: {e}"))?;
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
        Ok(JsonCheck::new(text, segs, want))
    }

    fn new(text: String, path: Vec<PathSeg>, want: JsonWant) -> JsonCheck {
        let want_text = match &want {
            JsonWant::Str(s) => serde_json::Value::from(s.as_str()).to_string(),
            JsonWant::Int(i) => i.to_string(),
            JsonWant::Float(f) => serde_json::Value::from(*f).to_string(),
            JsonWant::Bool(b) => b.to_string(),
        };
        JsonCheck { text, path, want, want_text }
    }

    /// The path as written.
    pub fn path_text(&self) -> &str {
        &self.text
    }

    /// The expected value as JSON text (`"active"`, `7`, `true`).
    pub fn want_text(&self) -> &str {
        &self.want_text
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

    fn eval(&self, json: &mut JsonBody<'_>) -> Result<(), Why<'static>> {
        let truncated = json.truncated();
        let Ok(body) = json.get() else { return Err(Why::NotJson { truncated }) };
        match crate::rules::extract::lookup(body, &self.path) {
            None => Err(Why::JsonMissing),
            Some(v) if self.matches(v) => Ok(()),
            Some(_) => Err(Why::JsonDiffers),
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
        let header_name = |n: &String| {
            if n.trim().is_empty() || n.contains(|c: char| c.is_whitespace() || c == ':') {
                Err(format!("bad header name `{n}` in expect"))
            } else {
                Ok(n.clone())
            }
        };
        // The order in which conditions are counted (and the first failure chosen).
        let mut conds = Vec::new();
        if let Some(s) = &self.status {
            conds.push(ResponseCond::Status(s.compile()?));
        }
        if let Some(b) = &self.body_contains {
            conds.push(ResponseCond::BodyContains(b.clone()));
        }
        for (p, v) in &self.json {
            conds.push(ResponseCond::Json(JsonCheck::compile(p, v)?));
        }
        for (n, v) in &self.header {
            conds.push(ResponseCond::Header(header_name(n)?, v.clone()));
        }
        for n in &self.header_present {
            conds.push(ResponseCond::HeaderPresent(header_name(n)?));
        }
        Ok(Expect { conds })
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

/// Headers a response head may carry (as the response parser allows).
const MAX_HEADERS: usize = 128;

/// Call `f` on each value of the header `name` (case-insensitive) in `head` (a status line and
/// headers, as [`Response::head`] holds them), in order, until it returns true; returns whether
/// it did. Parses on the stack: no allocation. A head that does not parse has no headers.
pub(crate) fn header_values<'r>(head: &'r [u8], name: &str, mut f: impl FnMut(&'r [u8]) -> bool) -> bool {
    // Uninitialized, as in the response parser: zeroing 128 headers costs more than the parse.
    let mut headers = [const { MaybeUninit::<httparse::Header<'r>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    // The response parser's own leniency, so that the same heads parse here.
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true);
    if !matches!(
        cfg.parse_response_with_uninit_headers(&mut resp, head, &mut headers),
        Ok(httparse::Status::Complete(_))
    ) {
        return false;
    }
    resp.headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name)).any(|h| f(h.value))
}

impl ResponseCond {
    /// Whether `r` meets the condition, or why not (e.g. "status 404, expected 200"). Reads the
    /// JSON body through `json` (built from the same `r`), so every reader of one response shares
    /// its single parse; allocates only to write the reason.
    pub fn holds(&self, r: &Response<'_>, json: &mut JsonBody<'_>) -> Result<(), String> {
        self.eval(r, json).map_err(|why| self.explain(why, json))
    }

    /// [`ResponseCond::holds`] without the reason: never allocates (but for the JSON parse).
    pub fn is_met(&self, r: &Response<'_>, json: &mut JsonBody<'_>) -> bool {
        self.eval(r, json).is_ok()
    }

    /// The one evaluation.
    fn eval<'r>(&self, r: &Response<'r>, json: &mut JsonBody<'_>) -> Result<(), Why<'r>> {
        match self {
            ResponseCond::Status(s) if s.contains(r.status) => Ok(()),
            ResponseCond::Status(_) => Err(Why::Status(r.status)),
            ResponseCond::Header(name, want) => {
                let mut first = None;
                if header_values(r.head, name, |v| {
                    first.get_or_insert(v);
                    v == want.as_bytes()
                }) {
                    return Ok(());
                }
                Err(first.map_or(Why::HeaderMissing, Why::HeaderIs))
            }
            ResponseCond::HeaderPresent(name) if header_values(r.head, name, |_| true) => Ok(()),
            ResponseCond::HeaderPresent(_) => Err(Why::HeaderMissing),
            ResponseCond::BodyContains(needle) if contains(r.body, needle.as_bytes()) => Ok(()),
            ResponseCond::BodyContains(_) => Err(Why::BodyLacks { captured: r.body_truncated.then_some(r.body.len()) }),
            ResponseCond::Json(c) => c.eval(json),
        }
    }

    /// The message for `why` (from [`ResponseCond::eval`] on the response `json` was built from).
    fn explain(&self, why: Why<'_>, json: &mut JsonBody<'_>) -> String {
        match (self, why) {
            (ResponseCond::Status(s), Why::Status(got)) => format!("status {got}, expected {}", s.text),
            (ResponseCond::Header(name, want), Why::HeaderMissing) => {
                format!("header {name} missing, expected `{want}`")
            }
            (ResponseCond::Header(name, want), Why::HeaderIs(v)) => {
                format!("header {name} is `{}`, expected `{want}`", shown(v))
            }
            (ResponseCond::HeaderPresent(name), _) => format!("header {name} missing"),
            (ResponseCond::BodyContains(needle), Why::BodyLacks { captured: Some(n) }) => {
                format!("body does not contain `{needle}` (in the first {n} bytes captured)")
            }
            (ResponseCond::BodyContains(needle), _) => format!("body does not contain `{needle}`"),
            (ResponseCond::Json(_), Why::NotJson { truncated: true }) => {
                "the body is not JSON (it was cut at the capture limit)".into()
            }
            (ResponseCond::Json(_), Why::NotJson { truncated: false }) => "the body is not JSON".into(),
            (ResponseCond::Json(c), Why::JsonMissing) => format!("{} not found in the JSON body", c.text),
            (ResponseCond::Json(c), _) => {
                let got = json.get().ok().and_then(|body| crate::rules::extract::lookup(body, &c.path));
                let got = got.map_or_else(|| "missing".to_string(), |v| shown(v.to_string().as_bytes()));
                format!("{} is {got}, expected {}", c.text, c.want_text)
            }
            (_, _) => format!("`{self}` does not hold"),
        }
    }

    /// Whether evaluating it reads the response's headers (so the head must be captured).
    pub fn needs_head(&self) -> bool {
        matches!(self, ResponseCond::Header(..) | ResponseCond::HeaderPresent(_))
    }

    /// Whether evaluating it reads the body (so the body must be captured).
    pub fn needs_body(&self) -> bool {
        matches!(self, ResponseCond::BodyContains(_) | ResponseCond::Json(_))
    }

    /// Whether evaluating it parses the body as JSON.
    pub fn needs_json(&self) -> bool {
        matches!(self, ResponseCond::Json(_))
    }
}

impl Expect {
    /// Whether the status is checked explicitly (otherwise the caller applies its default).
    pub fn has_status(&self) -> bool {
        self.conds.iter().any(|c| matches!(c, ResponseCond::Status(_)))
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
        for c in &self.conds {
            res.record(c.holds(r, json));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ParseError;

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

    fn needs_body(e: &Expect) -> bool {
        e.conds.iter().any(ResponseCond::needs_body)
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
        assert!(e.has_status() && needs_body(&e) && !e.conds.is_empty());
        let r = e.check(&resp(200, b"all ok here"));
        assert_eq!((r.passed, r.failed, r.first_failure), (6, 0, None), "a repeated header matches on any value");

        let r = e.check(&resp(500, b"nope"));
        assert_eq!((r.passed, r.failed), (4, 2));
        assert_eq!(r.first_failure.as_deref(), Some("status 500, expected 200 or 201"), "the first failure is kept");

        let none = expect("expect = {}");
        assert!(!none.has_status() && !needs_body(&none) && none.conds.is_empty());
        assert_eq!(none.check(&resp(500, b"")), CheckResult::default());
        assert!(!needs_body(&expect("expect = { header_present = [\"ETag\"] }")));
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
        assert!(
            needs_body(&e) && e.conds.iter().any(ResponseCond::needs_json) && !e.conds.is_empty() && !e.has_status()
        );
        assert!(!expect("expect = { status = 200 }").conds.iter().any(ResponseCond::needs_json));
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
        let rules = [(0, crate::rules::extract::parse("json $.items[0].id").unwrap())];
        let mut out = vec![None];
        crate::rules::extract::extract_all_with(&rules, &view, &mut json, &mut out).unwrap();
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

    fn cond(src: &str) -> ResponseCond {
        parse_cond(src).unwrap_or_else(|e| panic!("{src:?}: {e} at {}", e.offset))
    }

    fn cond_err(src: &str) -> ParseError {
        parse_cond(src).expect_err(src)
    }

    fn met(c: &str, r: &Response<'_>) -> Result<(), String> {
        cond(c).holds(r, &mut JsonBody::new(r))
    }

    #[test]
    fn text_form_parses_every_kind() {
        let status = |c: &str| match cond(c) {
            ResponseCond::Status(s) => s.ranges,
            other => panic!("{c}: {other:?}"),
        };
        assert_eq!(status("status == 201"), [(201, 201)]);
        assert_eq!(status("status==201"), [(201, 201)]);
        assert_eq!(status("  STATUS  ==  2xx "), [(200, 299)]);
        assert_eq!(status("status in 2xx"), [(200, 299)]);
        assert_eq!(status("status in 200..299"), [(200, 299)]);
        assert_eq!(status("status in 200..=204"), [(200, 204)]);
        assert_eq!(status("status in 200, 201 ,3XX"), [(200, 200), (201, 201), (300, 399)]);
        assert_eq!(cond("header X-Cache == HIT"), ResponseCond::Header("X-Cache".into(), "HIT".into()));
        assert_eq!(cond("header X-Cache==HIT"), ResponseCond::Header("X-Cache".into(), "HIT".into()));
        assert_eq!(cond("header X-Cache == \"HIT\""), ResponseCond::Header("X-Cache".into(), "HIT".into()));
        assert_eq!(cond("header X-Cache == 'HIT'"), ResponseCond::Header("X-Cache".into(), "HIT".into()));
        assert_eq!(cond("header Via ==  1.1 proxy a  "), ResponseCond::Header("Via".into(), "1.1 proxy a".into()));
        assert_eq!(cond("header ETag == '\"v1\"'"), ResponseCond::Header("ETag".into(), "\"v1\"".into()));
        assert_eq!(cond("header X-Empty == \"\""), ResponseCond::Header("X-Empty".into(), "".into()));
        assert_eq!(cond("header X-Q == \"HIT"), ResponseCond::Header("X-Q".into(), "\"HIT".into()), "unpaired: kept");
        assert_eq!(cond("header X-Q == 'HIT\""), ResponseCond::Header("X-Q".into(), "'HIT\"".into()));
        assert_eq!(cond("body contains \"id\":7"), ResponseCond::BodyContains("\"id\":7".into()));
        assert_eq!(cond("body contains '\"id\":7'"), ResponseCond::BodyContains("\"id\":7".into()));
        assert_eq!(cond("body contains \""), ResponseCond::BodyContains("\"".into()));
        assert_eq!(cond("header X-Cache"), ResponseCond::HeaderPresent("X-Cache".into()));
        assert_eq!(cond(" Header  ETag  "), ResponseCond::HeaderPresent("ETag".into()));
        assert_eq!(cond("body contains ok"), ResponseCond::BodyContains("ok".into()));
        assert_eq!(cond("body CONTAINS \"two words\""), ResponseCond::BodyContains("two words".into()));
        assert_eq!(cond("body contains  two words "), ResponseCond::BodyContains("two words".into()));
        assert_eq!(cond("body contains\"x\""), ResponseCond::BodyContains("x".into()));
        let json = |c: &str| match cond(c) {
            ResponseCond::Json(j) => (j.path, j.want, j.text),
            other => panic!("{c}: {other:?}"),
        };
        assert_eq!(json("json $.status == \"active\"").1, JsonWant::Str("active".into()));
        assert_eq!(json("json $.status == 'active'").1, JsonWant::Str("active".into()));
        assert_eq!(json(r#"json $.s == "a\"b\u00e9""#).1, JsonWant::Str("a\"bé".into()));
        assert_eq!(json("json $.n == 7").1, JsonWant::Int(7));
        assert_eq!(json("json $.n == -7").1, JsonWant::Int(-7));
        assert_eq!(json("json $.n==7.5").1, JsonWant::Float(7.5));
        assert_eq!(json("json $.n == 1e3").1, JsonWant::Float(1000.0));
        assert_eq!(json("json $.ok == true").1, JsonWant::Bool(true));
        assert_eq!(json("json $.ok == false").1, JsonWant::Bool(false));
        let (path, want, text) = json("json $['odd key'][0] == 1");
        assert_eq!(
            (path, want, text.as_str()),
            (vec![PathSeg::Key("odd key".into()), PathSeg::Index(0)], JsonWant::Int(1), "$['odd key'][0]")
        );
        assert_eq!(json("json $['a == b'] == 1").0, [PathSeg::Key("a == b".into())], "`==` inside quotes is the key's");
    }

    #[test]
    fn text_form_errors_say_where() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty condition"),
            ("   ", 3, "empty condition"),
            ("stauts == 200", 0, "unknown condition `stauts`: use `status == 200`"),
            ("$.a == 1", 0, "unknown condition `$.a`"),
            ("status 200", 7, "expected `==` or `in` after `status`"),
            ("status = 200", 7, "did you mean `==`?"),
            ("status != 200", 7, "`!=` is not supported"),
            ("status ==", 9, "expected a status after `==`"),
            ("status in", 9, "expected a status after `in`"),
            ("status == 42", 10, "status code 42 is outside 100..=999"),
            ("status == ok", 10, "bad status `ok`: use a code (201), a class (2xx)"),
            ("status in 200, 0xx", 15, "bad status `200, 0xx`"),
            ("status in 299..200", 10, "range 299..200 is reversed"),
            ("status in 200,", 14, "bad status `200,`"),
            ("header", 6, "expected a header name after `header`"),
            ("header X-Cache: HIT", 14, "bad header name `X-Cache:`"),
            ("header X-Cache = HIT", 15, "did you mean `==`?"),
            ("header X-Cache != HIT", 15, "`!=` is not supported"),
            ("header X-Cache HIT", 15, "expected `== VALUE` after the header name"),
            ("header X-Cache ==", 17, "expected a value after `header X-Cache ==`"),
            ("body", 4, "expected `contains` after `body`"),
            ("body has ok", 5, "expected `contains` after `body`"),
            ("body containsok", 5, "expected `contains`"),
            ("body contains", 13, "expected the text to look for"),
            ("body contains \"\"", 14, "expected the text to look for"),
            ("json", 4, "expected a JSON path after `json`"),
            ("json == 1", 5, "expected a JSON path"),
            ("json status == 1", 5, "bad JSON path `status`: must start with `$`"),
            ("json $.a[ == 1", 8, "bad JSON path `$.a[ == 1`"),
            ("json $.a", 8, "expected `==` and a value after `json $.a`"),
            ("json $.a 1", 9, "expected `==`"),
            ("json $.a ==", 11, "expected a value after `==`"),
            ("json $.a == active", 12, "expected a string in quotes (\"active\")"),
            ("json $.a == null", 12, "null cannot be compared"),
            ("json $.a == \"x", 12, "bad string `\"x`"),
            ("json $.a == \"x\" y", 12, "bad string"),
            ("json $.a == 'x", 12, "missing closing `'`"),
            ("json $.a == 1.2.3", 12, "`1.2.3` is not a JSON number"),
            ("json $.a == 1e999", 12, "is not a JSON number"),
            ("json $.a == 9223372036854775808", 12, "is too large"),
            ("json $.a == 7 ms", 12, "`7 ms` is not a JSON number"),
            ("  json   $.a   ==   -", 20, "`-` is not a JSON number"),
            ("é == 1", 0, "unknown condition `é`"),
            ("header é: x", 9, "bad header name `é:`"), // byte offsets: `é` is two bytes
        ];
        for &(src, offset, msg) in cases {
            let e = cond_err(src);
            assert!(e.message.contains(msg), "{src:?}: message {:?} lacks {msg:?}", e.message);
            assert_eq!(e.offset, offset, "{src:?}: {}", e.message);
            assert_eq!(e.to_string(), e.message);
            assert!(src.is_char_boundary(e.offset));
        }
    }

    #[test]
    fn text_form_never_panics_on_odd_input() {
        let odd = [
            "status in ,,,",
            "status in 2xx..",
            "status in ..",
            "header ==",
            "header = =",
            "json $[' == 1",
            "json $[[[[",
            "json $.a == \"\\u12\"",
            "json ]]]] == 1",
            "body contains '",
            "body contains \"",
            "status in é",
            "héader x",
            "json $.é == 'é",
            "status == 2é",
            "\u{0} \u{0}",
            "header \u{a0}x == y",
            "json\t$.a\t==\t1",
        ];
        for src in odd {
            let got = parse_cond(src);
            if let Err(e) = &got {
                assert!(e.offset <= src.len() && src.is_char_boundary(e.offset), "{src:?}: {e:?}");
            }
        }
        assert_eq!(cond("json\t$.a\t==\t1").to_string(), "json $.a == 1");
    }

    #[test]
    fn text_form_displays_back_to_itself() {
        for src in [
            "status == 201",
            "status == 2xx",
            "status in 200..204",
            "status in 200, 201, 3xx",
            "header X-Cache == HIT",
            "header Via == \"1.1 proxy a \"",
            "header ETag == \"\"v1\"\"",
            "header X-Empty == \"\"",
            "header ETag",
            "body contains ok",
            "body contains two words",
            "body contains \" padded \"",
            "json $.status == \"active\"",
            "json $.s == \"a\\\"b\"",
            "json $.n == 7",
            "json $.f == 7.5",
            "json $.ok == true",
            "json $['odd key'].x == false",
        ] {
            let c = cond(src);
            assert_eq!(c.to_string(), src);
            assert_eq!(cond(&c.to_string()), c, "{src}");
        }
        assert_eq!(cond("status in 200..=200").to_string(), "status == 200");
        assert_eq!(cond("status in 200..299").to_string(), "status == 2xx");
    }

    #[test]
    fn text_form_and_table_form_are_the_same_conditions() {
        let table = expect(concat!(
            r#"expect = { status = "2xx", body_contains = "ok", json = { "$.n" = 7 }, "#,
            r#"header = { "X-Cache" = "HIT" }, header_present = ["ETag"] }"#
        ));
        let text: Vec<ResponseCond> =
            ["status in 2xx", "body contains ok", "json $.n == 7", "header X-Cache == HIT", "header ETag"]
                .into_iter()
                .map(cond)
                .collect();
        assert_eq!(table.conds, text);
    }

    #[test]
    fn conditions_evaluate_with_the_expect_messages() {
        let r = resp(201, br#"{"status":"active","n":7,"ok":true}"#);
        assert_eq!(met("status == 201", &r), Ok(()));
        assert_eq!(met("status in 2xx", &r), Ok(()));
        assert_eq!(met("status in 200..200", &r).unwrap_err(), "status 201, expected 200..200");
        assert_eq!(met("status in 200, 204", &r).unwrap_err(), "status 201, expected 200 or 204");
        assert_eq!(met("header X-Cache == HIT", &r), Ok(()), "a repeated header matches on any value");
        assert_eq!(met("header x-cache == MISS", &r), Ok(()));
        assert_eq!(met("header X-Cache == hit", &r).unwrap_err(), "header X-Cache is `MISS`, expected `hit`");
        assert_eq!(met("header X-Nope == a", &r).unwrap_err(), "header X-Nope missing, expected `a`");
        assert_eq!(met("header ETag == '\"v1\"'", &r), Ok(()));
        assert_eq!(met("header etag", &r), Ok(()));
        assert_eq!(met("header Last-Modified", &r).unwrap_err(), "header Last-Modified missing");
        assert_eq!(met("body contains active", &r), Ok(()));
        assert_eq!(met("body contains \"n\":7", &r), Ok(()));
        assert_eq!(met("body contains closed", &r).unwrap_err(), "body does not contain `closed`");
        assert_eq!(met("json $.status == \"active\"", &r), Ok(()));
        assert_eq!(met("json $.n == 7.0", &r), Ok(()));
        assert_eq!(met("json $.ok == true", &r), Ok(()));
        assert_eq!(met("json $.n == 8", &r).unwrap_err(), "$.n is 7, expected 8");
        assert_eq!(met("json $.x == 8", &r).unwrap_err(), "$.x not found in the JSON body");
        assert_eq!(met("json $.n == 8", &resp(200, b"<html>")).unwrap_err(), "the body is not JSON");

        let c = cond("header X-Cache == HIT");
        assert!(c.is_met(&r, &mut JsonBody::new(&r)));
        assert!(!cond("status == 500").is_met(&r, &mut JsonBody::new(&r)));
        let needs = |s: &str| {
            let c = cond(s);
            (c.needs_head(), c.needs_body(), c.needs_json())
        };
        assert_eq!(needs("status == 200"), (false, false, false));
        assert_eq!(needs("header ETag"), (true, false, false));
        assert_eq!(needs("header ETag == x"), (true, false, false));
        assert_eq!(needs("body contains x"), (false, true, false));
        assert_eq!(needs("json $.a == 1"), (false, true, true));
    }

    #[test]
    fn headers_are_read_without_a_head_that_parses() {
        for head in [&b""[..], b"HTTP/1.1 200 OK\r\nX-Cache: HIT\r\n", b"garbage\r\n\r\n", b"\xff\xfe\r\n\r\n"] {
            let r = Response { status: 200, head, body: b"", body_truncated: false };
            assert_eq!(met("header X-Cache", &r).unwrap_err(), "header X-Cache missing", "{head:?}");
            assert!(!header_values(head, "X-Cache", |_| true));
        }
        let head =
            b"HTTP/1.1  200 OK\r\nX-Cache : HIT\r\nX-Fold: a\r\n b\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n";
        let r = Response { status: 200, head, body: b"", body_truncated: false };
        assert_eq!(met("header X-Cache == HIT", &r), Ok(()), "a space before the colon, as the parser allows");
        let mut seen = Vec::new();
        assert!(!header_values(head, "SET-COOKIE", |v| {
            seen.push(v);
            false
        }));
        assert_eq!(seen, [&b"a=1"[..], b"b=2"]);
        assert!(header_values(head, "x-fold", |v| v.starts_with(b"a")));
    }
}
