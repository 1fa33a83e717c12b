//! `expect` checks on a response: the serde spec used in scenario files, its validation into a
//! compiled [`Expect`], and the per-response check (status, body substring, header values).
//!
//! ```toml
//! expect = { status = 200 }                 # also "2xx", "200..299", [200, 201]
//! expect = { status = [200, 201], body_contains = "ok", header = { "X-Cache" = "HIT" }, header_present = ["ETag"] }
//! ```

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

/// A validated `expect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    status: Option<StatusMatch>,
    body_contains: Option<String>,
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

impl ExpectSpec {
    /// Validate the spec: status forms and codes in 100..=999, non-empty header names.
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
        Ok(Expect { status, body_contains: self.body_contains.clone(), header, header_present })
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
        self.body_contains.is_some()
    }

    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.body_contains.is_none()
            && self.header.is_empty()
            && self.header_present.is_empty()
    }

    /// Check `r`: one pass or fail per condition (status, body, each header, each present header).
    pub fn check(&self, r: &Response<'_>) -> CheckResult {
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
