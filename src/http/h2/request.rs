//! A request as HTTP/2 sends it: the HTTP/1.1 request bytes stampede builds (prebuilt, rendered
//! from a template, carried over by a redirect) turned into an HPACK header block — pseudo-headers
//! first, names lowercase, connection-specific headers left out (RFC 9113 §8.2.2, §8.3.1). The
//! block never touches the dynamic table (static-table indexes and literals without indexing
//! only), so one block is valid on any connection: a static request's is made once, in the plan.

/// How many headers a request may carry.
const MAX_HEADERS: usize = 128;

/// A request's HTTP/2 form: its header block, and where its body starts in the HTTP/1.1 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H2Head {
    pub block: Vec<u8>,
    pub body_at: usize,
}

impl H2Head {
    /// The HTTP/2 form of the HTTP/1.1 request `h1`, sent over TLS (`:scheme https`) or not.
    pub fn of(h1: &[u8], tls: bool) -> Result<H2Head, String> {
        let mut block = Vec::with_capacity(64 + h1.len() / 2);
        let body_at = encode(h1, tls, &mut block)?;
        Ok(H2Head { block, body_at })
    }
}

/// Static-table entries a request uses (RFC 7541 Appendix A): (name, value, index); a value of
/// `None` matches the name only.
const STATIC: &[(&str, Option<&str>, u8)] = &[
    (":authority", None, 1),
    (":method", Some("GET"), 2),
    (":method", Some("POST"), 3),
    (":method", None, 2),
    (":path", Some("/"), 4),
    (":path", None, 4),
    (":scheme", Some("http"), 6),
    (":scheme", Some("https"), 7),
    ("accept-encoding", None, 16),
    ("accept-language", None, 17),
    ("accept", None, 19),
    ("authorization", None, 23),
    ("cache-control", None, 24),
    ("content-length", None, 28),
    ("content-type", None, 31),
    ("cookie", None, 32),
    ("if-modified-since", None, 40),
    ("if-none-match", None, 41),
    ("referer", None, 51),
    ("user-agent", None, 58),
];

/// Headers HTTP/2 forbids (connection-specific), and `host`, which becomes `:authority`.
fn dropped(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]
        .iter()
        .any(|d| name.eq_ignore_ascii_case(d))
}

/// Write the header block of the HTTP/1.1 request `h1` into `out`; returns where its body
/// starts in `h1`.
pub fn encode(h1: &[u8], tls: bool, out: &mut Vec<u8>) -> Result<usize, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let body_at = match req.parse(h1) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("the request head is incomplete".into()),
        Err(e) => return Err(format!("the request head is not valid HTTP/1.1: {e}")),
    };
    let method = req.method.unwrap_or("GET");
    let path = req.path.unwrap_or("/");
    let authority = req.headers.iter().find(|h| h.name.eq_ignore_ascii_case("host")).map(|h| h.value).unwrap_or(b"");
    field(out, ":method", method.as_bytes());
    field(out, ":scheme", if tls { b"https" } else { b"http" });
    field(out, ":authority", authority);
    field(out, ":path", path.as_bytes());
    let mut lower = String::new();
    for h in req.headers.iter() {
        if dropped(h.name) || (h.name.eq_ignore_ascii_case("te") && !h.value.eq_ignore_ascii_case(b"trailers")) {
            continue;
        }
        lower.clear();
        lower.extend(h.name.chars().map(|c| c.to_ascii_lowercase()));
        field(out, &lower, h.value);
    }
    Ok(body_at)
}

/// One header field: fully indexed when the static table has it, else a literal without
/// indexing (with the static table's name when it has the name).
fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    let hit = |v: Option<&str>| v.is_none_or(|v| v.as_bytes() == value);
    if let Some(&(_, _, i)) = STATIC.iter().find(|(n, v, _)| *n == name && v.is_some() && hit(*v)) {
        integer(out, i as usize, 7, 0x80);
        return;
    }
    match STATIC.iter().find(|(n, v, _)| *n == name && v.is_none()) {
        Some(&(_, _, i)) => integer(out, i as usize, 4, 0x00),
        None => {
            out.push(0x00);
            string(out, name.as_bytes());
        }
    }
    string(out, value);
}

/// A string literal without Huffman coding.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    integer(out, s.len(), 7, 0x00);
    out.extend_from_slice(s);
}

/// An HPACK integer with an `prefix`-bit prefix, its first byte or'ed with `first` (RFC 7541 §5.1).
pub(super) fn integer(out: &mut Vec<u8>, mut n: usize, prefix: u8, first: u8) {
    let max = (1usize << prefix) - 1;
    if n < max {
        out.push(first | n as u8);
        return;
    }
    out.push(first | max as u8);
    n -= max;
    while n >= 128 {
        out.push((n % 128) as u8 | 0x80);
        n /= 128;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(block: &[u8]) -> Vec<(String, String)> {
        let mut d = httlib_hpack::Decoder::default();
        let mut fields = Vec::new();
        d.decode(&mut block.to_vec(), &mut fields).expect("a valid block");
        fields
            .into_iter()
            .map(|(n, v, _)| (String::from_utf8_lossy(&n).into_owned(), String::from_utf8_lossy(&v).into_owned()))
            .collect()
    }

    #[test]
    fn a_get_becomes_pseudo_headers_and_lowercase_fields() {
        let h1 = b"GET /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: stampede/0.1.0\r\nX-Thing: Yes\r\nConnection: close\r\n\r\n";
        let h = H2Head::of(h1, true).unwrap();
        assert_eq!(h.body_at, h1.len());
        let fields = decode(&h.block);
        let want: Vec<(String, String)> = [
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "example.com:8080"),
            (":path", "/a?b=1"),
            ("user-agent", "stampede/0.1.0"),
            ("x-thing", "Yes"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(fields, want);
    }

    #[test]
    fn a_post_keeps_its_length_and_body_offset() {
        let h1 = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTE: gzip\r\n\r\nabc";
        let h = H2Head::of(h1, false).unwrap();
        assert_eq!(&h1[h.body_at..], b"abc");
        let fields = decode(&h.block);
        assert_eq!(fields[0], (":method".into(), "POST".into()));
        assert_eq!(fields[1], (":scheme".into(), "http".into()));
        assert!(fields.contains(&("content-length".into(), "3".into())));
        assert!(!fields.iter().any(|(n, _)| n == "te" || n == "host"));
    }

    #[test]
    fn long_values_use_multi_byte_lengths() {
        let value = "v".repeat(300);
        let h1 = format!("PUT /x HTTP/1.1\r\nHost: h\r\nCookie: {value}\r\n\r\n");
        let h = H2Head::of(h1.as_bytes(), false).unwrap();
        assert!(decode(&h.block).contains(&("cookie".into(), value)));
        assert!(H2Head::of(b"GET / HTTP/1.1\r\nHost", false).is_err());
    }
}
