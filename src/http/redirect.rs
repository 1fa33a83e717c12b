//! Following redirects the way browsers and k6 do: which statuses redirect, which method and body
//! the next request carries, and where a `Location` header points (resolved with the `url` crate).

use url::Url;

/// Longest `Location` value quoted in an error message.
const QUOTE_MAX: usize = 200;

/// A `Location` header that cannot be followed. Counted as an error of the redirecting request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    #[error("redirect without a Location to go to")]
    Empty,
    #[error("redirect Location is not valid UTF-8")]
    NotUtf8,
    #[error("redirect Location {location:?} is not a valid URL: {reason}")]
    Invalid { location: String, reason: url::ParseError },
    #[error("redirect to {scheme}: is not followed; only http and https are")]
    UnsupportedScheme { scheme: String },
}

/// 301, 302, 303, 307 and 308 redirect; 300 (a choice for the user) and 304 (not modified) do not.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The method of the request that follows a `status` answer to a `method` request, and whether it
/// keeps the body (the Fetch standard's rules, which browsers follow): 303 turns anything but HEAD
/// into GET; 301 and 302 turn POST into GET; the body goes whenever the method changes or the
/// status is 303; 307 and 308 keep method and body. Methods compare ASCII case-insensitively.
pub fn next_method(status: u16, method: &str) -> (&str, bool) {
    match status {
        303 if method.eq_ignore_ascii_case("HEAD") => (method, false),
        303 => ("GET", false),
        301 | 302 if method.eq_ignore_ascii_case("POST") => ("GET", false),
        _ => (method, true),
    }
}

/// Resolves a `Location` header value against the URL of the request that got it: absolute,
/// scheme-relative (`//host/x`), absolute-path, relative path, query only. The fragment is
/// dropped (it never goes on the wire). Only http and https targets are followed.
pub fn resolve(base: &Url, location: &[u8]) -> Result<Url, RedirectError> {
    let text = std::str::from_utf8(location).map_err(|_| RedirectError::NotUtf8)?;
    // The url crate trims these too; an all-blank Location would otherwise resolve to `base`.
    let text = text.trim_matches(|c: char| c <= ' ');
    if text.is_empty() {
        return Err(RedirectError::Empty);
    }
    let mut url = base.join(text).map_err(|reason| RedirectError::Invalid { location: quote(text), reason })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RedirectError::UnsupportedScheme { scheme: quote(url.scheme()) });
    }
    url.set_fragment(None);
    Ok(url)
}

/// `text`, cut to at most [`QUOTE_MAX`] bytes at a character boundary.
fn quote(text: &str) -> String {
    if text.len() <= QUOTE_MAX {
        return text.to_string();
    }
    let mut end = QUOTE_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.example.com:8443/shop/cart/view?item=1#top").unwrap()
    }

    fn ok(location: &str) -> String {
        resolve(&base(), location.as_bytes()).unwrap().to_string()
    }

    #[test]
    fn redirect_statuses() {
        for status in [301, 302, 303, 307, 308] {
            assert!(is_redirect(status), "{status}");
        }
        for status in [200, 204, 300, 304, 305, 306, 309, 399, 0, u16::MAX] {
            assert!(!is_redirect(status), "{status}");
        }
    }

    #[test]
    fn see_other_turns_into_get_without_body() {
        for method in ["POST", "PUT", "DELETE", "PATCH", "GET", "post"] {
            assert_eq!(next_method(303, method), ("GET", false), "{method}");
        }
        assert_eq!(next_method(303, "HEAD"), ("HEAD", false));
        assert_eq!(next_method(303, "head"), ("head", false));
    }

    #[test]
    fn moved_and_found_turn_post_into_get() {
        for status in [301, 302] {
            assert_eq!(next_method(status, "POST"), ("GET", false));
            assert_eq!(next_method(status, "post"), ("GET", false));
            // Other methods are kept, body included (Fetch standard).
            assert_eq!(next_method(status, "GET"), ("GET", true));
            assert_eq!(next_method(status, "HEAD"), ("HEAD", true));
            assert_eq!(next_method(status, "PUT"), ("PUT", true));
            assert_eq!(next_method(status, "DELETE"), ("DELETE", true));
        }
    }

    #[test]
    fn temporary_and_permanent_redirect_keep_method_and_body() {
        for status in [307, 308] {
            for method in ["POST", "PUT", "PATCH", "DELETE", "GET", "HEAD"] {
                assert_eq!(next_method(status, method), (method, true), "{status} {method}");
            }
        }
        assert_eq!(next_method(200, "POST"), ("POST", true));
    }

    #[test]
    fn absolute_locations() {
        assert_eq!(ok("http://other.example.org/x?y=1"), "http://other.example.org/x?y=1");
        assert_eq!(ok("HTTPS://Other.Example.ORG:443/a"), "https://other.example.org/a");
        assert_eq!(ok("http://10.0.0.1:8080/"), "http://10.0.0.1:8080/");
        assert_eq!(ok("http://[::1]/v6"), "http://[::1]/v6");
    }

    #[test]
    fn scheme_relative_location_keeps_the_scheme() {
        assert_eq!(ok("//cdn.example.net/img.png"), "https://cdn.example.net/img.png");
        let http = Url::parse("http://example.com/").unwrap();
        assert_eq!(resolve(&http, b"//cdn.example.net/x").unwrap().as_str(), "http://cdn.example.net/x");
    }

    #[test]
    fn path_locations_keep_scheme_host_and_port() {
        assert_eq!(ok("/login?next=%2Fcart"), "https://api.example.com:8443/login?next=%2Fcart");
        assert_eq!(ok("checkout"), "https://api.example.com:8443/shop/cart/checkout");
        assert_eq!(ok("../orders/7"), "https://api.example.com:8443/shop/orders/7");
        assert_eq!(ok("../../../../x"), "https://api.example.com:8443/x");
        assert_eq!(ok("?page=2"), "https://api.example.com:8443/shop/cart/view?page=2");
        assert_eq!(ok("."), "https://api.example.com:8443/shop/cart/");
    }

    #[test]
    fn fragment_is_dropped() {
        assert_eq!(ok("/done#section"), "https://api.example.com:8443/done");
        assert_eq!(ok("#only"), "https://api.example.com:8443/shop/cart/view?item=1");
        assert_eq!(ok("http://x.example/a?b#c"), "http://x.example/a?b");
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(ok("  /next \t"), "https://api.example.com:8443/next");
    }

    #[test]
    fn empty_or_blank_location_is_refused() {
        for location in [&b""[..], b"   ", b"\t", b"\x00 \x1f"] {
            assert_eq!(resolve(&base(), location), Err(RedirectError::Empty), "{location:?}");
        }
    }

    #[test]
    fn non_utf8_location_is_refused() {
        assert_eq!(resolve(&base(), b"/caf\xe9"), Err(RedirectError::NotUtf8));
        assert_eq!(resolve(&base(), b"\xff\xfe"), Err(RedirectError::NotUtf8));
    }

    #[test]
    fn other_schemes_are_refused() {
        for (location, scheme) in [
            ("javascript:alert(1)", "javascript"),
            ("file:///etc/passwd", "file"),
            ("ftp://example.com/x", "ftp"),
            ("data:text/html,<h1>x</h1>", "data"),
            ("mailto:a@example.com", "mailto"),
            ("ws://example.com/socket", "ws"),
        ] {
            let err = resolve(&base(), location.as_bytes()).unwrap_err();
            assert_eq!(err, RedirectError::UnsupportedScheme { scheme: scheme.into() }, "{location}");
            assert!(err.to_string().contains("only http and https"));
        }
    }

    #[test]
    fn invalid_urls_are_errors() {
        for location in ["http://", "http://exa mple.com/", "https://example.com:99999/", "http://[::1/"] {
            match resolve(&base(), location.as_bytes()) {
                Err(RedirectError::Invalid { location: quoted, .. }) => assert_eq!(quoted, location),
                other => panic!("{location}: {other:?}"),
            }
        }
    }

    #[test]
    fn hostile_locations_stay_urls() {
        // Backslashes count as slashes in http URLs, as in browsers: this goes to evil.example.
        assert_eq!(ok("\\\\evil.example/x"), "https://evil.example/x");
        // Line breaks inside are removed by URL parsing, so they never reach a request line.
        let url = ok("/a\r\nHost: evil.example");
        assert!(!url.contains('\r') && !url.contains('\n') && !url.contains(' '), "{url}");
        // Percent-encoded, not passed through.
        assert_eq!(ok("/a b\"<>"), "https://api.example.com:8443/a%20b%22%3C%3E");
        // An error quotes at most QUOTE_MAX bytes of a huge Location, cut at a character boundary.
        let long = format!("http://[{}", "é".repeat(10_000));
        match resolve(&base(), long.as_bytes()) {
            Err(RedirectError::Invalid { location, .. }) => {
                assert!(location.len() <= QUOTE_MAX + '…'.len_utf8(), "{}", location.len());
                assert!(location.starts_with("http://[é") && location.ends_with('…'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn userinfo_and_ports_are_kept() {
        assert_eq!(ok("http://user:pw@example.com:81/"), "http://user:pw@example.com:81/");
        // The default port disappears, as in every URL the url crate prints.
        assert_eq!(ok("https://example.com:443/"), "https://example.com/");
    }

    #[test]
    fn error_messages() {
        assert_eq!(RedirectError::Empty.to_string(), "redirect without a Location to go to");
        let e = resolve(&base(), b"http://").unwrap_err();
        assert_eq!(e.to_string(), "redirect Location \"http://\" is not a valid URL: empty host");
    }
}
