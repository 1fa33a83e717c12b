//! Fuzz `stampede::rules::extract::parse` (and `parse_path`) on arbitrary specs, and run what parses on
//! a response whose body comes from the input.
//!
//! Input layout: the spec (lossy UTF-8) up to the first NUL byte; the rest is the response body
//! (truncated flag = its length is odd).
//!
//! Asserts: parse and parse_path never panic and refuse with a message located on a character
//! boundary; a parsed rule extracts
//! from the response (JSON, header or regex) without panicking, twice with the same result;
//! `header` rules find the headers of the fixed head case-insensitively.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stampede::rules::extract::{Extractor, parse, parse_path};
use stampede::http::Response;

const HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: abc-123\r\nx-cache: HIT\r\nEmpty:\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let (spec, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let spec = String::from_utf8_lossy(spec);
    if let Err(e) = parse_path(&spec) {
        assert!(!e.message.is_empty() && spec.is_char_boundary(e.offset), "{spec:?}: {e:?}");
    }
    let x = match parse(&spec) {
        Ok(x) => x,
        Err(e) => {
            assert!(!e.message.is_empty() && spec.is_char_boundary(e.offset), "{spec:?}: {e:?}");
            return;
        }
    };
    let r = Response { status: 200, head: HEAD, body, body_truncated: body.len() % 2 == 1 };
    let a = x.extract(&r);
    assert_eq!(a, x.extract(&r), "extraction is not repeatable");
    if let Extractor::Header(name) = &x {
        let want: Option<&[u8]> = match name.to_ascii_lowercase().as_str() {
            "content-type" => Some(b"application/json"),
            "x-request-id" => Some(b"abc-123"),
            "x-cache" => Some(b"HIT"),
            "empty" => Some(b""),
            _ => None,
        };
        if want.is_some() || name.is_ascii() {
            assert_eq!(a.as_deref(), want, "header `{name}`");
        }
        assert!(!x.needs_body());
    }
});
