//! Request bytes, built once before the run: request line, Host, user headers, Content-Length, body.

/// One request as the user described it. `target` is the origin-form path with query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub method: String,
    pub target: String,
    pub host: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub const USER_AGENT: &str = concat!("stampede/", env!("CARGO_PKG_VERSION"));

impl RequestSpec {
    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// HEAD responses carry no body whatever their headers say.
    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }
}

/// Serialize `spec` to the exact bytes sent on the wire.
pub fn build_request(spec: &RequestSpec) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + spec.target.len() + spec.body.len() + spec.headers.len() * 32);
    write_head(
        &mut out,
        &spec.method,
        &spec.target,
        &spec.host,
        spec.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
    );
    let wants_length = !spec.body.is_empty() || method_has_body(&spec.method);
    let framed = spec.has_header("content-length") || spec.has_header("transfer-encoding");
    if wants_length && !framed {
        finish(&mut out, Some(&spec.body));
    } else {
        finish(&mut out, None);
        out.extend_from_slice(&spec.body);
    }
    out
}

/// Methods whose requests carry a body (and so a Content-Length, even when it is empty).
pub fn method_has_body(method: &str) -> bool {
    ["POST", "PUT", "PATCH"].iter().any(|m| method.eq_ignore_ascii_case(m))
}

/// Write the request line, `Host` and `User-Agent` (unless `headers` has its own) and `headers`,
/// each line ending in CRLF, without the blank line that ends the head: the one place request
/// heads are written, for `bench`, prebuilt scenario requests and templated ones (whose `{{holes}}`
/// pass through as text).
pub fn write_head<'a>(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    host: &str,
    headers: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let has = |name: &str| headers.clone().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("host") {
        header(out, "Host", host);
    }
    if !has("user-agent") {
        header(out, "User-Agent", USER_AGENT);
    }
    for (name, value) in headers {
        header(out, name, value);
    }
}

/// End a head written by [`write_head`] (or rendered from it): with a body, its
/// `Content-Length`, the blank line and the body; without, the blank line.
#[inline]
pub fn finish(out: &mut Vec<u8>, body: Option<&[u8]>) {
    match body {
        Some(body) => {
            out.extend_from_slice(b"Content-Length: ");
            crate::rules::template::write_u64(out, body.len() as u64);
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(body);
        }
        None => out.extend_from_slice(b"\r\n"),
    }
}

fn header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Parse a `Name: value` header as typed on the command line or in a scenario.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) =
        text.split_once(':').ok_or_else(|| format!("header `{text}` has no `:` (use 'Name: value')"))?;
    let name = name.trim();
    validate_header(name, value.trim())?;
    Ok((name.to_string(), value.trim().to_string()))
}

/// Refuse header names that are not HTTP tokens and values that would break the request.
pub fn validate_header(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name is empty".into());
    }
    if let Some(c) = name.chars().find(|c| !is_tchar(*c)) {
        return Err(format!(
            "header name `{name}` contains `{}`, which is not allowed in a header name",
            c.escape_default()
        ));
    }
    if value.contains(['\r', '\n', '\0']) {
        return Err(format!("header `{name}` has a line break or NUL in its value"));
    }
    Ok(())
}

/// Refuse methods that are not HTTP tokens.
pub fn validate_method(method: &str) -> Result<(), String> {
    if method.is_empty() || !method.chars().all(is_tchar) {
        return Err(format!("`{method}` is not a valid HTTP method"));
    }
    Ok(())
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(method: &str, body: &[u8], headers: &[(&str, &str)]) -> RequestSpec {
        RequestSpec {
            method: method.into(),
            target: "/a?b=1".into(),
            host: "example.com:8080".into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn get_has_host_and_no_length() {
        let bytes = build_request(&spec("GET", b"", &[("Accept", "*/*")]));
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            format!("GET /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n\r\n")
        );
    }

    #[test]
    fn post_gets_content_length_and_body() {
        let text = String::from_utf8(build_request(&spec("POST", b"{\"a\":1}", &[]))).unwrap();
        assert!(text.ends_with("Content-Length: 7\r\n\r\n{\"a\":1}"), "{text}");
        let empty = String::from_utf8(build_request(&spec("POST", b"", &[]))).unwrap();
        assert!(empty.contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn user_host_and_agent_win() {
        let text =
            String::from_utf8(build_request(&spec("GET", b"", &[("host", "other"), ("User-Agent", "me")]))).unwrap();
        assert_eq!(text.matches("ost: ").count(), 1);
        assert!(text.contains("host: other\r\n"));
        assert!(!text.contains("stampede/"));
    }

    #[test]
    fn headers_are_validated() {
        assert_eq!(parse_header("X-A:  b c ").unwrap(), ("X-A".into(), "b c".into()));
        assert!(parse_header("nocolon").unwrap_err().contains("no `:`"));
        assert!(parse_header("Bad Name: x").unwrap_err().contains("not allowed"));
        assert!(validate_header("X", "a\r\nInjected: 1").is_err());
        assert!(validate_method("GET").is_ok());
        assert!(validate_method("G ET").is_err());
    }
}
