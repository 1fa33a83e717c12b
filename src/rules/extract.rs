//! `extract` rules: take a value out of a response (JSON path, header or regex) into a user's
//! variable slot, parsing the body as JSON at most once per response.
//!
//! Spec strings: `json $.token`, `json $.items[0].id`, `json $['odd key'].x`, `header X-Name`
//! (case-insensitive), `regex id=(\d+)` (the first capture group that matched, else the whole
//! match; applied to the body as lossy UTF-8). Values are bytes: JSON strings without quotes,
//! numbers and bools as their JSON text, objects and arrays as compact JSON. A JSON `null`
//! counts as missing.

use crate::http::Response;
use crate::rules::ParseError;
use std::borrow::Cow;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// `.name`, `['name']` or `["name"]`.
    Key(String),
    /// `[N]`.
    Index(usize),
}

/// A compiled extraction rule.
#[derive(Debug, Clone)]
pub enum Extractor {
    Json(Vec<PathSeg>),
    Header(String),
    Regex(regex::Regex),
}

/// Parse a spec string such as `json $.token`. Error offsets are bytes into `spec` as given.
pub fn parse(spec: &str) -> Result<Extractor, ParseError> {
    let start = spec.len() - spec.trim_start().len();
    let text = spec.trim();
    let (kind, arg_at) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], start + i + (text[i..].len() - text[i..].trim_start().len())),
        None => (text, start + text.len()),
    };
    let rest = text[arg_at - start..].trim_end();
    let err = |at: usize, message: String| Err(ParseError { offset: at, message });
    let need = |example: &str| format!("`{kind}` needs an argument, as in `{example}`");
    match kind {
        "json" if rest.is_empty() => err(arg_at, need("json $.token")),
        "json" => parse_path(rest).map(Extractor::Json).map_err(|e| ParseError { offset: arg_at + e.offset, ..e }),
        "header" if rest.is_empty() => err(arg_at, need("header X-Request-Id")),
        "header" if rest.contains(|c: char| c.is_whitespace() || c == ':') => {
            err(arg_at, format!("bad header name `{rest}` in extraction `{text}`"))
        }
        "header" => Ok(Extractor::Header(rest.to_string())),
        "regex" if rest.is_empty() => err(arg_at, need(r"regex id=(\d+)")),
        "regex" => {
            regex::Regex::new(rest).map(Extractor::Regex).or_else(|e| err(arg_at, format!("bad regex `{rest}`: {e}")))
        }
        _ => err(start, format!("unknown extraction `{text}`: use json, header or regex")),
    }
}

/// Parse a JSON path: `$`, then any of `.name`, `['name']`, `["name"]`, `[N]`. Error offsets are
/// bytes into `p`.
pub fn parse_path(p: &str) -> Result<Vec<PathSeg>, ParseError> {
    let bad = |at: usize, why: String| ParseError { offset: at, message: format!("bad JSON path `{p}`: {why}") };
    let b = p.as_bytes();
    if b.first() != Some(&b'$') {
        return Err(bad(0, "must start with `$`".into()));
    }
    let mut segs = Vec::new();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                if b.get(start) == Some(&b'.') {
                    return Err(bad(i, "recursive descent `..` is not supported".into()));
                }
                let end = p[start..].find(['.', '[']).map_or(p.len(), |r| start + r);
                let name = &p[start..end];
                if name.is_empty() {
                    return Err(bad(i, "missing name after `.`".into()));
                }
                if name == "*" {
                    return Err(bad(start, "wildcards are not supported".into()));
                }
                segs.push(PathSeg::Key(name.to_string()));
                i = end;
            }
            b'[' => match b.get(i + 1) {
                Some(&q @ (b'\'' | b'"')) => {
                    let start = i + 2;
                    let end = p[start..]
                        .find(q as char)
                        .map(|r| start + r)
                        .ok_or_else(|| bad(i, format!("missing closing {}", if q == b'"' { "`\"`" } else { "`'`" })))?;
                    if b.get(end + 1) != Some(&b']') {
                        return Err(bad(end + 1, "missing `]`".into()));
                    }
                    segs.push(PathSeg::Key(p[start..end].to_string()));
                    i = end + 2;
                }
                _ => {
                    let start = i + 1;
                    let end = p[start..].find(']').map(|r| start + r).ok_or_else(|| bad(i, "missing `]`".into()))?;
                    let t = p[start..end].trim();
                    let n = t.parse().map_err(|_| bad(start, format!("index `{t}` is not a non-negative integer")))?;
                    segs.push(PathSeg::Index(n));
                    i = end + 1;
                }
            },
            _ => {
                let c = p[i..].chars().next().unwrap_or('?');
                return Err(bad(i, format!("unexpected `{c}` at byte {i}; use `.name`, `['name']` or `[N]`")));
            }
        }
    }
    Ok(segs)
}

/// The path written back in its canonical form, for messages.
pub fn path_text(segs: &[PathSeg]) -> String {
    let mut s = String::from("$");
    for seg in segs {
        match seg {
            PathSeg::Key(k) if !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') => {
                s.push('.');
                s.push_str(k);
            }
            PathSeg::Key(k) if k.contains('\'') => s.push_str(&format!("[\"{k}\"]")),
            PathSeg::Key(k) => s.push_str(&format!("['{k}']")),
            PathSeg::Index(n) => s.push_str(&format!("[{n}]")),
        }
    }
    s
}

/// A response body parsed as JSON on first use, then reused: build one per response and hand it
/// to every reader ([`crate::rules::check::Expect::check_with`], [`extract_all_with`]) so the body is
/// parsed at most once.
#[derive(Debug)]
pub struct JsonBody<'a> {
    body: &'a [u8],
    truncated: bool,
    parsed: Option<Result<serde_json::Value, String>>,
    parses: u32,
}

impl<'a> JsonBody<'a> {
    /// Nothing is parsed yet.
    pub fn new(r: &Response<'a>) -> Self {
        JsonBody { body: r.body, truncated: r.body_truncated, parsed: None, parses: 0 }
    }

    /// The parsed body, or why it is not JSON (`body is not JSON (...)`). Parses on the first call
    /// only, whether it succeeds or not.
    pub fn get(&mut self) -> Result<&serde_json::Value, &str> {
        let truncated = self.truncated;
        let body = self.body;
        let parses = &mut self.parses;
        let parsed = self.parsed.get_or_insert_with(|| {
            *parses += 1;
            serde_json::from_slice(body).map_err(|e| {
                if truncated {
                    format!("body is not JSON ({e}); it was cut at the capture limit")
                } else {
                    format!("body is not JSON ({e})")
                }
            })
        });
        parsed.as_ref().map_err(String::as_str)
    }

    /// Whether the body was cut at the capture limit.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// How many times the body was parsed so far: 0 or 1.
    pub fn parses(&self) -> u32 {
        self.parses
    }
}

/// The value at `path` in `v`, or `None` when some step of the path is missing (a key of a
/// non-object, an index of a non-array, an absent key, an index past the end).
pub fn lookup<'v>(mut v: &'v serde_json::Value, path: &[PathSeg]) -> Option<&'v serde_json::Value> {
    for seg in path {
        v = match seg {
            PathSeg::Key(k) => v.as_object()?.get(k)?,
            PathSeg::Index(n) => v.as_array()?.get(*n)?,
        };
    }
    Some(v)
}

fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    match v {
        serde_json::Value::String(s) => s.as_bytes().to_vec(),
        other => serde_json::to_vec(other).unwrap_or_default(),
    }
}

impl Extractor {
    /// The value this rule takes from `r`, or `None` when it is missing.
    pub fn extract(&self, r: &Response<'_>) -> Option<Vec<u8>> {
        self.run(r, &mut JsonBody::new(r)).ok()
    }

    /// Whether the rule reads the body (so the body must be captured).
    pub fn needs_body(&self) -> bool {
        !matches!(self, Extractor::Header(_))
    }

    /// The value, or why it is missing (without the variable's name).
    fn run(&self, r: &Response<'_>, json: &mut JsonBody<'_>) -> Result<Vec<u8>, String> {
        match self {
            Extractor::Json(path) => match lookup(json.get().map_err(str::to_string)?, path) {
                Some(serde_json::Value::Null) => Err(format!("`{}` is null in the JSON body", path_text(path))),
                Some(v) => Ok(json_bytes(v)),
                None => Err(format!("`{}` not found in the JSON body", path_text(path))),
            },
            Extractor::Header(name) => {
                r.header(name).map(<[u8]>::to_vec).ok_or_else(|| format!("no header `{name}` in the response"))
            }
            Extractor::Regex(re) => {
                let text: Cow<'_, str> = String::from_utf8_lossy(r.body);
                let caps =
                    re.captures(&text).ok_or_else(|| format!("regex `{}` did not match the body", re.as_str()))?;
                let m = caps.iter().skip(1).flatten().next().or_else(|| caps.get(0));
                Ok(m.map_or_else(Vec::new, |m| m.as_str().as_bytes().to_vec()))
            }
        }
    }
}

/// Run every rule against `r`, storing each value in `out[slot]` (`None` when missing), reading
/// the JSON body through `json` (built from the same `r`), so that checks run on the same response
/// before or after share its single parse. `Err` carries the reason of the first missing value,
/// without the variable's name; the other rules still run.
pub fn extract_all_with(
    rules: &[(usize, Extractor)],
    r: &Response<'_>,
    json: &mut JsonBody<'_>,
    out: &mut [Option<Vec<u8>>],
) -> Result<(), String> {
    let mut first_missing = None;
    for (slot, rule) in rules {
        let value = match rule.run(r, json) {
            Ok(v) => Some(v),
            Err(why) => {
                first_missing.get_or_insert(why);
                None
            }
        };
        if let Some(s) = out.get_mut(*slot) {
            *s = value;
        }
    }
    first_missing.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: abc-123\r\n\r\n";
    const BODY: &[u8] = br#"{"token":"t0k","n":42,"f":1.5,"ok":true,"nil":null,
        "items":[{"id":7,"tags":["a","b"]},{"id":"x9"}],"odd key":{"x":"y"},"obj":{"a": [1, 2]}}"#;

    fn resp(body: &[u8]) -> Response<'_> {
        Response { status: 200, head: HEAD, body, body_truncated: false }
    }

    fn get(spec: &str, body: &[u8]) -> Option<String> {
        parse(spec).unwrap().extract(&resp(body)).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn json_values() {
        assert_eq!(get("json $.token", BODY).as_deref(), Some("t0k"));
        assert_eq!(get("json $.n", BODY).as_deref(), Some("42"));
        assert_eq!(get("json $.f", BODY).as_deref(), Some("1.5"));
        assert_eq!(get("json $.ok", BODY).as_deref(), Some("true"));
        assert_eq!(get("json $.items[0].id", BODY).as_deref(), Some("7"));
        assert_eq!(get("json $.items[1].id", BODY).as_deref(), Some("x9"));
        assert_eq!(get("json $.items[0].tags[1]", BODY).as_deref(), Some("b"));
        assert_eq!(get("json $['odd key'].x", BODY).as_deref(), Some("y"));
        assert_eq!(get(r#"json $["odd key"]['x']"#, BODY).as_deref(), Some("y"));
        assert_eq!(get("json $.obj", BODY).as_deref(), Some(r#"{"a":[1,2]}"#));
        assert_eq!(get("json $.items[0].tags", BODY).as_deref(), Some(r#"["a","b"]"#));
        assert_eq!(get("json $", b"[1, 2]").as_deref(), Some("[1,2]"));
        assert_eq!(get("json $[1]", b"[1, 2]").as_deref(), Some("2"));
    }

    #[test]
    fn json_missing_values() {
        for spec in
            ["json $.nope", "json $.items[5].id", "json $.token.x", "json $.items.x", "json $.obj[0]", "json $.nil"]
        {
            assert_eq!(get(spec, BODY), None, "{spec}");
        }
        assert_eq!(get("json $.token", b"not json"), None);
        assert_eq!(get("json $.token", b""), None);
    }

    #[test]
    fn header_values() {
        assert_eq!(get("header X-Request-Id", b"").as_deref(), Some("abc-123"));
        assert_eq!(get("header x-request-id", b"").as_deref(), Some("abc-123"));
        assert_eq!(get("header X-Missing", b""), None);
        assert!(!parse("header X-Request-Id").unwrap().needs_body());
        assert!(parse("json $.a").unwrap().needs_body());
        assert!(parse("regex a").unwrap().needs_body());
    }

    #[test]
    fn regex_groups() {
        let body = b"<a href=\"/item?id=1234&x=1\">";
        assert_eq!(get(r"regex id=(\d+)", body).as_deref(), Some("1234"));
        assert_eq!(get(r"regex id=\d+", body).as_deref(), Some("id=1234"));
        assert_eq!(get(r"regex (?:nope=(\d+))|x=(\d)", body).as_deref(), Some("1"), "first group that matched");
        assert_eq!(get(r"regex id=(\d+)", b"nothing here"), None);
        assert_eq!(get(r"regex tok=(\w+)", b"tok=abc\xff\xfe").as_deref(), Some("abc"), "lossy UTF-8");
    }

    #[test]
    fn spec_errors_name_the_problem() {
        let e = |s: &str| parse(s).unwrap_err().message;
        let at = |s: &str| parse(s).unwrap_err().offset;
        assert_eq!(e("xml //token"), "unknown extraction `xml //token`: use json, header or regex");
        assert_eq!(e("json $.a["), "bad JSON path `$.a[`: missing `]`");
        assert_eq!(e("json $['a'"), "bad JSON path `$['a'`: missing `]`");
        assert_eq!(e("json $['a"), "bad JSON path `$['a`: missing closing `'`");
        assert_eq!(e("json token"), "bad JSON path `token`: must start with `$`");
        assert_eq!(e("json $."), "bad JSON path `$.`: missing name after `.`");
        assert_eq!(e("json $[x]"), "bad JSON path `$[x]`: index `x` is not a non-negative integer");
        assert!(e("json $..a").contains("recursive descent"));
        assert!(e("json $a").contains("unexpected `a`"));
        assert!(e("json").contains("needs an argument"));
        assert!(e("header").contains("needs an argument"));
        assert!(e("regex id=(").starts_with("bad regex `id=(`: "), "{}", e("regex id=("));
        // Offsets are bytes into the spec as written: where the problem starts.
        assert_eq!(at("  xml //token"), 2);
        assert_eq!(at("json  $.a["), 9, "the `[` without its `]`");
        assert_eq!(at("json $[x]"), 7, "the index");
        assert_eq!(at("header X: Y"), 7);
        assert_eq!(at("json"), 4, "where the argument should be");
        assert_eq!(at("json é"), 5, "bad JSON path at its start");
        assert_eq!(
            parse("json $.items[0]['odd key'].id").map(|x| match x {
                Extractor::Json(p) => p,
                _ => vec![],
            }),
            Ok(vec![
                PathSeg::Key("items".into()),
                PathSeg::Index(0),
                PathSeg::Key("odd key".into()),
                PathSeg::Key("id".into())
            ])
        );
    }

    fn extract_all_counting(
        rules: &[(usize, Extractor)],
        r: &Response<'_>,
        out: &mut [Option<Vec<u8>>],
    ) -> (Result<(), String>, u32) {
        let mut json = JsonBody::new(r);
        let res = extract_all_with(rules, r, &mut json, out);
        (res, json.parses())
    }

    #[test]
    fn extract_all_parses_json_once_and_reports_first_missing() {
        let rules: Vec<(usize, Extractor)> = [
            (0, "json $.token"),
            (2, "json $.items[0].id"),
            (1, "header X-Request-Id"),
            (3, "json $.nope"),
            (4, "regex \"n\":(\\d+)"),
            (5, "json $.nil"),
        ]
        .into_iter()
        .map(|(i, s)| (i, parse(s).unwrap()))
        .collect();
        let mut out = vec![Some(b"stale".to_vec()); 6];
        let (res, parses) = extract_all_counting(&rules, &resp(BODY), &mut out);
        assert_eq!(parses, 1);
        assert_eq!(res, Err("`$.nope` not found in the JSON body".to_string()));
        let got: Vec<Option<&[u8]>> = out.iter().map(|v| v.as_deref()).collect();
        assert_eq!(got, [Some(&b"t0k"[..]), Some(b"abc-123"), Some(b"7"), None, Some(b"42"), None]);

        let (res, parses) = extract_all_counting(&rules[2..3], &resp(BODY), &mut out);
        assert_eq!((res, parses), (Ok(()), 0), "no JSON rule, no parse");

        let (res, parses) = extract_all_counting(&rules[..2], &resp(b"<html>"), &mut out);
        assert_eq!(parses, 1, "a failed parse is not retried");
        assert!(res.unwrap_err().starts_with("body is not JSON"));

        let truncated = Response { status: 200, head: HEAD, body: b"{\"token\":\"ab", body_truncated: true };
        let mut out = vec![None; 1];
        let err = extract_all_with(&rules[..1], &truncated, &mut JsonBody::new(&truncated), &mut out).unwrap_err();
        assert!(err.contains("capture limit"), "{err}");

        let mut out = vec![None; 6];
        let err = extract_all_with(&rules[5..], &resp(BODY), &mut JsonBody::new(&resp(BODY)), &mut out).unwrap_err();
        assert_eq!(err, "`$.nil` is null in the JSON body");
        let hdr = [(0, parse("header X-Nope").unwrap())];
        assert_eq!(
            extract_all_with(&hdr, &resp(b""), &mut JsonBody::new(&resp(b"")), &mut out).unwrap_err(),
            "no header `X-Nope` in the response"
        );
        let re = [(0, parse("regex z=(\\d)").unwrap())];
        assert_eq!(
            extract_all_with(&re, &resp(b""), &mut JsonBody::new(&resp(b"")), &mut out).unwrap_err(),
            "regex `z=(\\d)` did not match the body"
        );
    }

    #[test]
    fn path_text_round_trips() {
        for p in ["$", "$.a.b", "$.items[0].id", "$['odd key'].x", "$[\"it's\"]"] {
            assert_eq!(path_text(&parse_path(p).unwrap()), p);
        }
    }
}
