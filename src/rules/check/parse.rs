//! The text form of a response condition, one line (`status in 2xx`, `header X-Cache == HIT`,
//! `body contains ok`, `json $.n == 7`), as `[metrics]` writes it: parsed into a
//! [`ResponseCond`] with byte-located errors, and written back by its `Display`.

use std::fmt;

use super::{JsonCheck, JsonWant, ResponseCond, STATUS_FORMS_TEXT, StatusMatch, either, parse_status_item};
use crate::rules::{ParseError, status};

/// `v` as the text form reads it back: bare when it can be, else in double quotes (only the
/// outer pair is removed when read, so any text round-trips).
fn quoted(v: &str) -> String {
    let bare = !v.is_empty() && v.trim() == v && !v.starts_with(['"', '\'']);
    if bare { v.to_string() } else { format!("\"{v}\"") }
}

/// The text form, as [`parse_cond`] reads it.
impl fmt::Display for ResponseCond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseCond::Status(s) => {
                let items: Vec<String> = s.ranges.iter().map(|&r| status::describe(r)).collect();
                match items.as_slice() {
                    [one] if !one.contains('.') => write!(f, "status == {one}"),
                    _ => write!(f, "status in {}", items.join(", ")),
                }
            }
            ResponseCond::Header(name, value) => write!(f, "header {name} == {}", quoted(value)),
            ResponseCond::HeaderPresent(name) => write!(f, "header {name}"),
            ResponseCond::BodyContains(text) => write!(f, "body contains {}", quoted(text)),
            ResponseCond::Json(c) => write!(f, "json {} == {}", c.text, c.want_text),
        }
    }
}

fn cond_err<T>(offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { offset, message: message.into() })
}

/// Byte offset of the first non-whitespace character at or after `i`.
fn skip_ws(s: &str, i: usize) -> usize {
    let rest = &s[i..];
    i + rest.len() - rest.trim_start().len()
}

/// `v` without one pair of surrounding quotes (`"…"` or `'…'`), else as it is: text that only
/// starts with a quote (`"n":7`) is taken verbatim.
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|rest| rest.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

const COND_FORMS: &str = concat!(
    "use `status == 200`, `status in 2xx`, `header X-Cache == HIT`, `header ETag`, `body contains ok` or ",
    "`json $.ok == true`"
);

/// Parse the text form of a condition (see the module documentation), e.g. `header X-Cache == HIT`.
pub fn parse_cond(src: &str) -> Result<ResponseCond, ParseError> {
    let start = skip_ws(src, 0);
    if start == src.len() {
        return cond_err(start, format!("empty condition: {COND_FORMS}"));
    }
    let word_end = src[start..].find(|c: char| !c.is_ascii_alphabetic()).map_or(src.len(), |r| start + r);
    let word = &src[start..word_end];
    let at = skip_ws(src, word_end);
    match word.to_ascii_lowercase().as_str() {
        "status" => parse_status_cond(src, at),
        "header" => parse_header_cond(src, at),
        "body" => parse_body_cond(src, at),
        "json" => parse_json_cond(src, at),
        _ => {
            let token_end = src[start..].find(char::is_whitespace).map_or(src.len(), |r| start + r);
            cond_err(start, format!("unknown condition `{}`: {COND_FORMS}", &src[start..token_end]))
        }
    }
}

/// After `status`: `== SPEC` or `in SPEC`.
fn parse_status_cond(src: &str, at: usize) -> Result<ResponseCond, ParseError> {
    let rest = &src[at..];
    let is_in = rest.get(..2).is_some_and(|w| w.eq_ignore_ascii_case("in"))
        && (rest.len() == 2 || rest[2..].starts_with(|c: char| c.is_whitespace() || c.is_ascii_digit()));
    if !is_in && !rest.starts_with("==") {
        return if rest.starts_with("!=") {
            cond_err(at, "`!=` is not supported: a condition names the statuses that meet it (`status in 2xx`)")
        } else if rest.starts_with('=') {
            cond_err(at, "`=` is not an operator — did you mean `==`?")
        } else {
            cond_err(at, "expected `==` or `in` after `status`, as in `status == 201` or `status in 2xx`")
        };
    }
    let op_len = 2;
    let spec_at = skip_ws(src, at + op_len);
    let spec = src[spec_at..].trim_end();
    if spec.is_empty() {
        return cond_err(spec_at, format!("expected a status after `{}`: {STATUS_FORMS_TEXT}", &rest[..op_len]));
    }
    let (mut ranges, mut names) = (Vec::new(), Vec::new());
    let mut item_at = spec_at;
    for item in spec.split(',') {
        let (range, name) = parse_status_item(item.trim(), spec, STATUS_FORMS_TEXT)
            .or_else(|e| cond_err(skip_ws(src, item_at).min(spec_at + spec.len()), e))?;
        ranges.push(range);
        names.push(name);
        item_at += item.len() + 1;
    }
    Ok(ResponseCond::Status(StatusMatch { ranges, text: either(&names) }))
}

/// After `header`: `NAME == VALUE` or `NAME`.
fn parse_header_cond(src: &str, at: usize) -> Result<ResponseCond, ParseError> {
    let name_end = src[at..].find(|c: char| c.is_whitespace() || c == '=').map_or(src.len(), |r| at + r);
    let name = &src[at..name_end];
    if name.is_empty() {
        return cond_err(at, "expected a header name after `header`, as in `header X-Cache == HIT`");
    }
    if let Some(colon) = name.find(':') {
        return cond_err(at + colon, format!("bad header name `{name}`: write `header NAME == VALUE`, without `:`"));
    }
    let op_at = skip_ws(src, name_end);
    let rest = &src[op_at..];
    if rest.is_empty() {
        return Ok(ResponseCond::HeaderPresent(name.to_string()));
    }
    if !rest.starts_with("==") {
        let hint = if rest.starts_with("!=") {
            "`!=` is not supported: a condition names the value that meets it"
        } else if rest.starts_with('=') {
            "`=` is not an operator — did you mean `==`?"
        } else {
            "expected `== VALUE` after the header name, or nothing (the header is present)"
        };
        return cond_err(op_at, hint);
    }
    let value_at = skip_ws(src, op_at + 2);
    let raw = src[value_at..].trim_end();
    if raw.is_empty() {
        return cond_err(value_at, format!("expected a value after `header {name} ==` (\"\" for an empty one)"));
    }
    Ok(ResponseCond::Header(name.to_string(), unquote(raw).to_string()))
}

/// After `body`: `contains TEXT`.
fn parse_body_cond(src: &str, at: usize) -> Result<ResponseCond, ParseError> {
    let rest = &src[at..];
    let is_contains = rest.get(..8).is_some_and(|w| w.eq_ignore_ascii_case("contains"))
        && (rest.len() == 8 || rest[8..].starts_with(|c: char| c.is_whitespace() || c == '"' || c == '\''));
    if !is_contains {
        return cond_err(at, "expected `contains` after `body`, as in `body contains ok`");
    }
    let text_at = skip_ws(src, at + 8);
    let raw = src[text_at..].trim_end();
    let text = unquote(raw);
    if text.is_empty() {
        return cond_err(text_at, "expected the text to look for after `body contains`");
    }
    Ok(ResponseCond::BodyContains(text.to_string()))
}

/// After `json`: `PATH == VALUE`.
fn parse_json_cond(src: &str, at: usize) -> Result<ResponseCond, ParseError> {
    // The path runs to the first whitespace or `==` outside brackets and quotes.
    let (mut quote, mut depth, mut end) = (None, 0usize, src.len());
    for (i, c) in src[at..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => depth = depth.saturating_sub(1),
            (None, c) if depth == 0 && (c.is_whitespace() || src[at + i..].starts_with("==")) => {
                end = at + i;
                break;
            }
            _ => {}
        }
    }
    let path = &src[at..end];
    if path.is_empty() {
        return cond_err(at, "expected a JSON path after `json`, as in `json $.status == \"active\"`");
    }
    let segs = crate::rules::extract::parse_path(path).or_else(|e| cond_err(at + e.offset, e.message))?;
    let op_at = skip_ws(src, end);
    if !src[op_at..].starts_with("==") {
        return cond_err(op_at, format!("expected `==` and a value after `json {path}`"));
    }
    let value_at = skip_ws(src, op_at + 2);
    let want = json_want(src[value_at..].trim_end()).or_else(|e| cond_err(value_at, e))?;
    Ok(ResponseCond::Json(JsonCheck::new(path.to_string(), segs, want)))
}

/// A JSON value as the text form writes it: `"text"` (JSON escapes), `'text'` (verbatim), a
/// number, `true` or `false`.
fn json_want(v: &str) -> Result<JsonWant, String> {
    if v.starts_with('"') {
        return serde_json::from_str::<String>(v)
            .map(JsonWant::Str)
            .map_err(|_| format!("bad string `{v}`: write one JSON string, as in \"active\""));
    }
    if let Some(inner) = v.strip_prefix('\'') {
        return inner
            .strip_suffix('\'')
            .map(|s| JsonWant::Str(s.to_string()))
            .ok_or_else(|| "missing closing `'`".into());
    }
    match v {
        "" => return Err("expected a value after `==`: a string in quotes, a number, true or false".into()),
        "true" => return Ok(JsonWant::Bool(true)),
        "false" => return Ok(JsonWant::Bool(false)),
        "null" => return Err("null cannot be compared: use a string, a number, true or false".into()),
        _ => {}
    }
    if v.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        let n = serde_json::from_str::<serde_json::Number>(v).map_err(|_| format!("`{v}` is not a JSON number"))?;
        return match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Ok(JsonWant::Int(i)),
            (None, Some(_), _) => Err(format!("`{v}` is too large (integers go up to {})", i64::MAX)),
            (None, None, Some(f)) if f.is_finite() => Ok(JsonWant::Float(f)),
            _ => Err(format!("`{v}` is not a JSON number")),
        };
    }
    Err(format!("expected a string in quotes (\"{v}\"), a number, true or false"))
}
