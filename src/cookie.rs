//! A per-user cookie jar with browser rules (RFC 6265): stores `Set-Cookie` values, parsed by the
//! `cookie` crate, and writes the `Cookie` header a browser would send with the next request.
//!
//! The jar is an empty `Vec` until the first cookie arrives, so 10,000 users who never receive a
//! cookie cost 24 bytes each. A hostile server cannot grow it without bound: at most
//! [`MAX_COOKIES`] cookies (the oldest is dropped) of at most [`MAX_COOKIE_BYTES`] bytes each.
//!
//! Hosts are request hosts without the port (`api.example.com`, `10.0.0.1`, `[::1]`); paths are
//! request paths (`/a/b?q=1`; the query is ignored).

use std::cmp::Reverse;
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

/// Most cookies one jar holds; storing one more drops the expired ones, then the oldest.
pub const MAX_COOKIES: usize = 50;
/// Largest cookie accepted, counting its name, value, domain and path together.
pub const MAX_COOKIE_BYTES: usize = 4096;

// Indexes into the jar fit a `u8` in `write_header`.
const _: () = assert!(MAX_COOKIES <= u8::MAX as usize);
// Lengths of a cookie's parts fit a `u16`.
const _: () = assert!(MAX_COOKIE_BYTES <= u16::MAX as usize);

/// Why a cookie was not stored. Counted by the engine; the jar is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    #[error("Set-Cookie is not valid UTF-8")]
    NotUtf8,
    #[error("Set-Cookie contains a control character; browsers drop such cookies")]
    ControlCharacter,
    #[error("Set-Cookie has no name=value pair")]
    MissingPair,
    #[error("Set-Cookie has an empty cookie name")]
    EmptyName,
    #[error("unparsable Set-Cookie: {0}")]
    Unparsable(&'static str),
    #[error("the request host is empty, so the cookie has no host to belong to")]
    EmptyHost,
    #[error(
        "Domain={domain} does not domain-match the request host {host}: a server may only set cookies for its own \
         host or a parent domain of it"
    )]
    DomainMismatch { domain: String, host: String },
    #[error("Domain={0} is a top-level domain; browsers refuse cookies that every site under it would receive")]
    TopLevelDomain(String),
    #[error("cookie {name} has the Secure attribute but came over plain http; browsers refuse it (use https)")]
    SecureOverHttp { name: String },
    #[error("cookie is {0} bytes (name, value, domain and path together); the limit is {MAX_COOKIE_BYTES}")]
    TooLarge(usize),
    #[error("invalid cookie name {0:?}: it must be non-empty, without '=', ';', whitespace or control characters")]
    InvalidName(String),
    #[error("the value of cookie {0} contains ';' or a control character")]
    InvalidValue(String),
    #[error("invalid cookie domain {0:?}: give a host name such as example.com (a leading dot includes subdomains)")]
    InvalidDomain(String),
    #[error("invalid cookie path {0:?}: it must start with '/' and hold no ';', whitespace or control characters")]
    InvalidPath(String),
}

impl From<cookie::ParseError> for CookieError {
    fn from(e: cookie::ParseError) -> Self {
        match e {
            cookie::ParseError::MissingPair => CookieError::MissingPair,
            cookie::ParseError::EmptyName => CookieError::EmptyName,
            other => CookieError::Unparsable(other.as_str()),
        }
    }
}

/// One user's cookies, in the order they were first stored.
#[derive(Debug, Clone, Default)]
pub struct Jar {
    cookies: Vec<Stored>,
}

/// A stored cookie. Name, value, domain (lowercase) and path share one allocation.
#[derive(Debug, Clone)]
struct Stored {
    buf: Box<str>,
    name_len: u16,
    value_len: u16,
    domain_len: u16,
    /// `None`: lives until the jar is cleared (a session cookie, or an expiry too far to represent).
    expiry: Option<SystemTime>,
    /// Sent to exactly `domain`, not to its subdomains (the Set-Cookie had no Domain).
    host_only: bool,
    /// Sent over https only.
    secure: bool,
}

impl Stored {
    fn name(&self) -> &str {
        &self.buf[..self.name_len as usize]
    }

    fn value(&self) -> &str {
        let start = self.name_len as usize;
        &self.buf[start..start + self.value_len as usize]
    }

    fn domain(&self) -> &str {
        let start = self.name_len as usize + self.value_len as usize;
        &self.buf[start..start + self.domain_len as usize]
    }

    fn path(&self) -> &str {
        &self.buf[self.name_len as usize + self.value_len as usize + self.domain_len as usize..]
    }

    fn expired(&self, now: SystemTime) -> bool {
        self.expiry.is_some_and(|e| e <= now)
    }

    fn is(&self, name: &str, domain: &str, path: &str) -> bool {
        self.name() == name && self.domain().eq_ignore_ascii_case(domain) && self.path() == path
    }
}

/// What a Set-Cookie's expiry attributes ask for.
enum Lifetime {
    /// Store until this time (`None`: no end).
    Until(Option<SystemTime>),
    /// Delete the cookie of the same name, domain and path, and store nothing.
    Delete,
}

/// The parts of a cookie to store, checked.
struct New<'a> {
    name: &'a str,
    value: &'a str,
    domain: &'a str,
    path: &'a str,
    host_only: bool,
    secure: bool,
}

impl Jar {
    /// An empty jar; allocates nothing.
    pub const fn new() -> Self {
        Jar { cookies: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Forgets every cookie called `name`, whatever its domain and path.
    pub fn remove(&mut self, name: &str) {
        self.cookies.retain(|c| c.name() != name);
    }

    /// Stores one `Set-Cookie` header value received from `host` (lowercase, no port) for a request
    /// to `request_path`, over https when `secure`. An expiry in the past (`Max-Age=0`, a past
    /// `Expires`) deletes the cookie of the same name, domain and path. A refused cookie leaves the
    /// jar unchanged.
    pub fn store(
        &mut self,
        set_cookie: &[u8],
        host: &str,
        request_path: &str,
        secure: bool,
        now: SystemTime,
    ) -> Result<(), CookieError> {
        let text = std::str::from_utf8(set_cookie).map_err(|_| CookieError::NotUtf8)?;
        if text.bytes().any(is_control) {
            return Err(CookieError::ControlCharacter);
        }
        if host.is_empty() {
            return Err(CookieError::EmptyHost);
        }
        let parsed = cookie::Cookie::parse(text)?;
        let (name, value) = (parsed.name(), parsed.value());
        let path = match parsed.path() {
            Some(p) if p.starts_with('/') => p,
            _ => default_path(request_path),
        };
        // `domain()` drops one leading dot; an empty Domain is ignored (RFC 6265 §5.2.3).
        let domain_attr = parsed.domain().filter(|d| !d.is_empty());
        let size = name.len() + value.len() + path.len() + domain_attr.unwrap_or(host).len();
        if size > MAX_COOKIE_BYTES {
            return Err(CookieError::TooLarge(size));
        }
        let (domain, host_only) = match domain_attr {
            None => (host, true),
            Some(d) => {
                if !domain_match(host, d) {
                    return Err(CookieError::DomainMismatch {
                        domain: d.to_ascii_lowercase(),
                        host: host.to_ascii_lowercase(),
                    });
                }
                if !d.contains('.') && !d.eq_ignore_ascii_case(host) {
                    return Err(CookieError::TopLevelDomain(d.to_ascii_lowercase()));
                }
                // An IP address has no subdomains: its cookie goes to exactly that address.
                (d, is_ip(host))
            }
        };
        let is_secure = parsed.secure() == Some(true);
        if is_secure && !secure {
            return Err(CookieError::SecureOverHttp { name: name.to_string() });
        }
        let lifetime = lifetime(&parsed, now);
        let new = New { name, value, domain, path, host_only, secure: is_secure };
        self.upsert(new, lifetime, Some(now));
        Ok(())
    }

    /// Sets a cookie the way a scenario step does: for `domain` (a leading dot includes its
    /// subdomains; without one the cookie goes to exactly that host) and `path` (empty means `/`),
    /// with no expiry and no Secure flag. Replaces a cookie of the same name, domain and path.
    pub fn set(&mut self, name: &str, value: &str, domain: &str, path: &str) -> Result<(), CookieError> {
        if name.is_empty() || name.bytes().any(|b| is_control(b) || matches!(b, b'=' | b';' | b' ' | b'\t')) {
            return Err(CookieError::InvalidName(name.to_string()));
        }
        if value.bytes().any(|b| is_control(b) || b == b';') {
            return Err(CookieError::InvalidValue(name.to_string()));
        }
        let (bare, host_only) = match domain.strip_prefix('.') {
            Some(rest) => (rest, false),
            None => (domain, true),
        };
        if bare.is_empty() || bare.bytes().any(|b| is_control(b) || matches!(b, b';' | b'/' | b' ' | b'\t')) {
            return Err(CookieError::InvalidDomain(domain.to_string()));
        }
        let path = if path.is_empty() { "/" } else { path };
        if !path.starts_with('/') || path.bytes().any(|b| is_control(b) || matches!(b, b';' | b' ' | b'\t')) {
            return Err(CookieError::InvalidPath(path.to_string()));
        }
        let size = name.len() + value.len() + bare.len() + path.len();
        if size > MAX_COOKIE_BYTES {
            return Err(CookieError::TooLarge(size));
        }
        let new = New { name, value, domain: bare, path, host_only, secure: false };
        self.upsert(new, Lifetime::Until(None), None);
        Ok(())
    }

    /// Appends `Cookie: a=1; b=2\r\n` to `out` with every unexpired cookie for `host` (lowercase, no
    /// port) and `path` (a request path; the query is ignored), Secure ones only when `secure`;
    /// longer paths first, then oldest first (RFC 6265 §5.4). Drops expired cookies. Returns whether
    /// it wrote a header; writes nothing when no cookie applies, and allocates nothing.
    pub fn write_header(&mut self, host: &str, path: &str, secure: bool, now: SystemTime, out: &mut Vec<u8>) -> bool {
        if self.cookies.is_empty() {
            return false;
        }
        self.cookies.retain(|c| !c.expired(now));
        let path = request_path(path);
        let mut order = [0u8; MAX_COOKIES];
        let mut n = 0;
        for (i, c) in self.cookies.iter().enumerate() {
            if n == MAX_COOKIES {
                break; // unreachable while the cap holds; keeps the indexing below in bounds regardless
            }
            let host_ok =
                if c.host_only { host.eq_ignore_ascii_case(c.domain()) } else { domain_match(host, c.domain()) };
            if host_ok && (secure || !c.secure) && path_match(path, c.path()) {
                order[n] = i as u8;
                n += 1;
            }
        }
        if n == 0 {
            return false;
        }
        let order = &mut order[..n];
        // The index breaks ties, so equal paths keep their creation order; in place, no allocation.
        order.sort_unstable_by_key(|&i| (Reverse(self.cookies[i as usize].path().len()), i));
        out.extend_from_slice(b"Cookie: ");
        for (k, &i) in order.iter().enumerate() {
            let c = &self.cookies[i as usize];
            if k > 0 {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(c.name().as_bytes());
            out.push(b'=');
            out.extend_from_slice(c.value().as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        true
    }

    /// Replaces the cookie of the same name, domain and path in place (it keeps its creation
    /// order, as RFC 6265 §5.3 asks), or appends a new one, dropping expired cookies and then the
    /// oldest when the jar is full. `Delete` only removes.
    fn upsert(&mut self, new: New<'_>, lifetime: Lifetime, now: Option<SystemTime>) {
        let existing = self.cookies.iter().position(|c| c.is(new.name, new.domain, new.path));
        let expiry = match lifetime {
            Lifetime::Delete => {
                if let Some(i) = existing {
                    self.cookies.remove(i);
                }
                return;
            }
            Lifetime::Until(expiry) => expiry,
        };
        let mut buf = String::with_capacity(new.name.len() + new.value.len() + new.domain.len() + new.path.len());
        buf.push_str(new.name);
        buf.push_str(new.value);
        buf.push_str(new.domain);
        buf.push_str(new.path);
        let domain_start = new.name.len() + new.value.len();
        buf[domain_start..domain_start + new.domain.len()].make_ascii_lowercase();
        // The callers refused anything larger than MAX_COOKIE_BYTES, so every length fits a u16.
        let stored = Stored {
            buf: buf.into_boxed_str(),
            name_len: new.name.len() as u16,
            value_len: new.value.len() as u16,
            domain_len: new.domain.len() as u16,
            expiry,
            host_only: new.host_only,
            secure: new.secure,
        };
        match existing {
            Some(i) => self.cookies[i] = stored,
            None => {
                if self.cookies.len() >= MAX_COOKIES {
                    if let Some(now) = now {
                        self.cookies.retain(|c| !c.expired(now));
                    }
                    if self.cookies.len() >= MAX_COOKIES {
                        self.cookies.remove(0);
                    }
                }
                self.cookies.push(stored);
            }
        }
    }
}

/// Max-Age wins over Expires; Max-Age <= 0 or an expiry not after `now` deletes.
fn lifetime(parsed: &cookie::Cookie<'_>, now: SystemTime) -> Lifetime {
    let expiry = if let Some(age) = parsed.max_age() {
        let secs = age.whole_seconds();
        if secs <= 0 {
            return Lifetime::Delete;
        }
        // Too far to represent: no end.
        now.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else if let Some(at) = parsed.expires_datetime() {
        let secs = at.unix_timestamp();
        if secs >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
        } else {
            match SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs())) {
                Some(t) => Some(t),
                None => return Lifetime::Delete,
            }
        }
    } else {
        None
    };
    match expiry {
        Some(t) if t <= now => Lifetime::Delete,
        other => Lifetime::Until(other),
    }
}

/// A control character other than tab (browsers drop cookies that hold one; CR and LF would also
/// break the request the cookie is written into).
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// The host is an IP address, which only matches itself.
fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.contains(':') || host.parse::<Ipv4Addr>().is_ok()
}

/// RFC 6265 §5.1.3, ASCII case-insensitive: `host` is `domain` or a host name under it.
fn domain_match(host: &str, domain: &str) -> bool {
    if host.eq_ignore_ascii_case(domain) {
        return true;
    }
    let (h, d) = (host.as_bytes(), domain.as_bytes());
    !d.is_empty()
        && h.len() > d.len()
        && h[h.len() - d.len() - 1] == b'.'
        && h[h.len() - d.len()..].eq_ignore_ascii_case(d)
        && !is_ip(host)
}

/// The path of a request target: up to `?` or `#`, and `/` when that is not an absolute path.
fn request_path(path: &str) -> &str {
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path.starts_with('/') { path } else { "/" }
}

/// RFC 6265 §5.1.4 default-path: the request path up to, not including, its last `/`; or `/`.
fn default_path(request: &str) -> &str {
    let path = request_path(request);
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// RFC 6265 §5.1.4 path-match: `/a` matches `/a`, `/a/` and `/a/b`, not `/ab`.
fn path_match(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request.as_bytes().get(cookie.len()) == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-01T00:00:00Z.
    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// The Cookie header the jar writes, without "Cookie: " and CRLF; `None` when it writes nothing.
    fn header(jar: &mut Jar, host: &str, path: &str, secure: bool, now: SystemTime) -> Option<String> {
        let mut out = b"GET / HTTP/1.1\r\n".to_vec();
        let wrote = jar.write_header(host, path, secure, now, &mut out);
        let rest = String::from_utf8(out[16..].to_vec()).unwrap();
        assert_eq!(wrote, !rest.is_empty(), "return value and output disagree: {rest:?}");
        if !wrote {
            return None;
        }
        assert!(rest.starts_with("Cookie: ") && rest.ends_with("\r\n"), "{rest:?}");
        Some(rest["Cookie: ".len()..rest.len() - 2].to_string())
    }

    fn store(jar: &mut Jar, set_cookie: &str, host: &str, path: &str) -> Result<(), CookieError> {
        jar.store(set_cookie.as_bytes(), host, path, true, t0())
    }

    #[test]
    fn empty_jar_is_small_writes_nothing_and_does_not_allocate() {
        assert_eq!(std::mem::size_of::<Jar>(), std::mem::size_of::<Vec<u8>>());
        let mut jar = Jar::new();
        let mut out = Vec::new();
        assert!(!jar.write_header("example.com", "/", true, t0(), &mut out));
        assert!(out.is_empty());
        assert_eq!(out.capacity(), 0);
        assert_eq!(jar.cookies.capacity(), 0);
        assert!(jar.is_empty());
        assert_eq!(jar.cookies.len(), 0);
    }

    #[test]
    fn header_format_appends_to_output() {
        let mut jar = Jar::new();
        store(&mut jar, "a=1", "example.com", "/").unwrap();
        store(&mut jar, "b=2; HttpOnly", "example.com", "/").unwrap();
        let mut out = b"X-A: 1\r\n".to_vec();
        assert!(jar.write_header("example.com", "/", false, t0(), &mut out));
        assert_eq!(out, b"X-A: 1\r\nCookie: a=1; b=2\r\n");
    }

    #[test]
    fn nothing_written_when_no_cookie_applies() {
        let mut jar = Jar::new();
        store(&mut jar, "a=1; Path=/x", "example.com", "/").unwrap();
        let mut out = b"keep".to_vec();
        assert!(!jar.write_header("example.com", "/y", true, t0(), &mut out));
        assert!(!jar.write_header("other.com", "/x", true, t0(), &mut out));
        assert_eq!(out, b"keep");
    }

    #[test]
    fn host_only_cookie_goes_to_its_host_only() {
        let mut jar = Jar::new();
        store(&mut jar, "sid=1", "api.example.com", "/").unwrap();
        assert_eq!(header(&mut jar, "api.example.com", "/", true, t0()).as_deref(), Some("sid=1"));
        assert_eq!(header(&mut jar, "API.Example.com", "/", true, t0()).as_deref(), Some("sid=1"));
        assert_eq!(header(&mut jar, "www.api.example.com", "/", true, t0()), None);
        assert_eq!(header(&mut jar, "example.com", "/", true, t0()), None);
        assert_eq!(header(&mut jar, "xapi.example.com", "/", true, t0()), None);
    }

    #[test]
    fn domain_cookie_goes_to_the_domain_and_its_subdomains() {
        let mut jar = Jar::new();
        store(&mut jar, "sid=1; Domain=example.com", "api.example.com", "/").unwrap();
        for host in ["example.com", "api.example.com", "a.b.example.com"] {
            assert_eq!(header(&mut jar, host, "/", true, t0()).as_deref(), Some("sid=1"), "{host}");
        }
        for host in ["notexample.com", "example.org", "com", "example.com.evil.org"] {
            assert_eq!(header(&mut jar, host, "/", true, t0()), None, "{host}");
        }
    }

    #[test]
    fn leading_dot_and_case_in_domain_are_ignored() {
        let mut jar = Jar::new();
        store(&mut jar, "sid=1; Domain=.Example.COM", "api.example.com", "/").unwrap();
        assert_eq!(jar.cookies[0].domain(), "example.com");
        assert!(!jar.cookies[0].host_only);
        assert_eq!(header(&mut jar, "www.example.com", "/", true, t0()).as_deref(), Some("sid=1"));
    }

    #[test]
    fn domain_equal_to_host_is_a_domain_cookie() {
        let mut jar = Jar::new();
        store(&mut jar, "sid=1; Domain=example.com", "example.com", "/").unwrap();
        assert_eq!(header(&mut jar, "www.example.com", "/", true, t0()).as_deref(), Some("sid=1"));
    }

    #[test]
    fn foreign_domain_is_refused() {
        let mut jar = Jar::new();
        let err = store(&mut jar, "sid=1; Domain=evil.com", "api.example.com", "/").unwrap_err();
        assert_eq!(err, CookieError::DomainMismatch { domain: "evil.com".into(), host: "api.example.com".into() });
        assert!(err.to_string().contains("evil.com") && err.to_string().contains("api.example.com"));
        // A child of the host, or a suffix that is not at a dot, is foreign too.
        assert!(matches!(
            store(&mut jar, "sid=1; Domain=api.example.com", "example.com", "/"),
            Err(CookieError::DomainMismatch { .. })
        ));
        assert!(matches!(
            store(&mut jar, "sid=1; Domain=ple.com", "example.com", "/"),
            Err(CookieError::DomainMismatch { .. })
        ));
        assert!(jar.is_empty());
    }

    #[test]
    fn top_level_domain_is_refused() {
        let mut jar = Jar::new();
        assert_eq!(
            store(&mut jar, "sid=1; Domain=com", "example.com", "/"),
            Err(CookieError::TopLevelDomain("com".into()))
        );
        // Unless it is the host itself.
        store(&mut jar, "sid=1; Domain=localhost", "localhost", "/").unwrap();
        assert_eq!(header(&mut jar, "localhost", "/", true, t0()).as_deref(), Some("sid=1"));
    }

    #[test]
    fn ip_hosts_only_match_themselves() {
        let mut jar = Jar::new();
        assert!(matches!(
            store(&mut jar, "a=1; Domain=168.0.1", "192.168.0.1", "/"),
            Err(CookieError::DomainMismatch { .. })
        ));
        store(&mut jar, "a=1; Domain=192.168.0.1", "192.168.0.1", "/").unwrap();
        store(&mut jar, "b=2", "[::1]", "/").unwrap();
        assert_eq!(header(&mut jar, "192.168.0.1", "/", true, t0()).as_deref(), Some("a=1"));
        assert_eq!(header(&mut jar, "[::1]", "/", true, t0()).as_deref(), Some("b=2"));
        assert_eq!(header(&mut jar, "1.192.168.0.1", "/", true, t0()), None);
    }

    #[test]
    fn path_match_rules() {
        assert!(path_match("/a", "/a"));
        assert!(path_match("/a/b", "/a"));
        assert!(path_match("/a/", "/a"));
        assert!(!path_match("/ab", "/a"));
        assert!(!path_match("/", "/a"));
        assert!(path_match("/a/b", "/a/"));
        assert!(!path_match("/a", "/a/"));
        assert!(path_match("/anything", "/"));
    }

    #[test]
    fn path_attribute_limits_where_a_cookie_goes() {
        let mut jar = Jar::new();
        store(&mut jar, "a=1; Path=/a", "example.com", "/").unwrap();
        for path in ["/a", "/a/b", "/a?x=1", "/a#f", "/a/"] {
            assert_eq!(header(&mut jar, "example.com", path, true, t0()).as_deref(), Some("a=1"), "{path}");
        }
        for path in ["/ab", "/", "", "/b/a", "/A"] {
            assert_eq!(header(&mut jar, "example.com", path, true, t0()), None, "{path}");
        }
    }

    #[test]
    fn default_path_rules() {
        assert_eq!(default_path("/a/b/c"), "/a/b");
        assert_eq!(default_path("/a/b/"), "/a/b");
        assert_eq!(default_path("/a"), "/");
        assert_eq!(default_path("/"), "/");
        assert_eq!(default_path(""), "/");
        assert_eq!(default_path("a/b"), "/");
        assert_eq!(default_path("/a/b?next=/x/y"), "/a");
        assert_eq!(default_path("/a/b/c?q"), "/a/b");
    }

    #[test]
    fn missing_or_relative_path_attribute_uses_the_default_path() {
        let mut jar = Jar::new();
        store(&mut jar, "a=1", "example.com", "/login/form?x=/y/z").unwrap();
        store(&mut jar, "b=2; Path=relative", "example.com", "/login/form").unwrap();
        store(&mut jar, "c=3; Path=", "example.com", "/login/form").unwrap();
        assert!(jar.cookies.iter().all(|c| c.path() == "/login"));
        assert_eq!(header(&mut jar, "example.com", "/login", true, t0()).as_deref(), Some("a=1; b=2; c=3"));
        assert_eq!(header(&mut jar, "example.com", "/", true, t0()), None);
    }

    #[test]
    fn max_age_sets_the_expiry_and_wins_over_expires() {
        let mut jar = Jar::new();
        // Expires is in the past, Max-Age says one minute: the cookie lives one minute.
        store(&mut jar, "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=60", "example.com", "/").unwrap();
        // Order of the attributes does not matter.
        store(&mut jar, "b=2; Max-Age=60; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "example.com", "/").unwrap();
        assert_eq!(jar.cookies[0].expiry, Some(t0() + secs(60)));
        assert_eq!(header(&mut jar, "example.com", "/", true, t0() + secs(59)).as_deref(), Some("a=1; b=2"));
        assert_eq!(header(&mut jar, "example.com", "/", true, t0() + secs(60)), None);
        assert!(jar.is_empty(), "expired cookies are dropped while writing");
    }

    #[test]
    fn expires_alone_sets_the_expiry() {
        let mut jar = Jar::new();
        store(&mut jar, "a=1; Expires=Wed, 01 Jan 2025 00:00:00 GMT", "example.com", "/").unwrap();
        let at = SystemTime::UNIX_EPOCH + secs(1_735_689_600);
        assert_eq!(jar.cookies[0].expiry, Some(at));
        assert_eq!(header(&mut jar, "example.com", "/", true, at - secs(1)).as_deref(), Some("a=1"));
        assert_eq!(header(&mut jar, "example.com", "/", true, at), None);
    }

    #[test]
    fn unparsable_expires_or_max_age_is_ignored() {
        let mut jar = Jar::new();
        store(&mut jar, "a=1; Expires=soon; Max-Age=ten", "example.com", "/").unwrap();
        assert_eq!(jar.cookies[0].expiry, None);
    }

    #[test]
    fn huge_max_age_and_far_expires_do_not_overflow() {
        let mut jar = Jar::new();
        store(&mut jar, "a=1; Max-Age=99999999999999999999999", "example.com", "/").unwrap();
        store(&mut jar, "b=2; Expires=Fri, 31 Dec 9999 23:59:59 GMT", "example.com", "/").unwrap();
        let later = t0() + secs(100 * 365 * 86_400);
        assert_eq!(header(&mut jar, "example.com", "/", true, later).as_deref(), Some("a=1; b=2"));
    }

    #[test]
    fn max_age_zero_or_negative_and_past_expires_delete() {
        let mut jar = Jar::new();
        for (i, deleting) in [
            "a=x; Max-Age=0",
            "a=x; Max-Age=-5",
            "a=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "a=x; Expires=Sun, 31 Dec 2023 23:59:59 GMT",
        ]
        .into_iter()
        .enumerate()
        {
            store(&mut jar, "a=1", "example.com", "/").unwrap();
            store(&mut jar, "keep=1", "example.com", "/").unwrap();
            assert_eq!(jar.cookies.len(), 2);
            store(&mut jar, deleting, "example.com", "/").unwrap();
            assert_eq!(jar.cookies.len(), 1, "case {i}: deleted at once, not stored as expired");
            assert_eq!(header(&mut jar, "example.com", "/", true, t0()).as_deref(), Some("keep=1"), "case {i}");
            assert_eq!(jar.cookies.len(), 1);
        }
        // Deleting needs the same domain and path.
        store(&mut jar, "a=1; Path=/p", "example.com", "/").unwrap();
        store(&mut jar, "a=x; Max-Age=0; Path=/", "example.com", "/").unwrap();
        assert_eq!(jar.cookies.len(), 2);
        store(&mut jar, "a=x; Max-Age=0; Path=/p", "example.com", "/").unwrap();
        assert_eq!(jar.cookies.len(), 1);
    }

    #[test]
    fn secure_cookie_over_http_is_refused() {
        let mut jar = Jar::new();
        let err = jar.store(b"sid=1; Secure", "example.com", "/", false, t0()).unwrap_err();
        assert_eq!(err, CookieError::SecureOverHttp { name: "sid".into() });
        assert!(jar.is_empty());
        // Without Secure, plain http may set cookies.
        jar.store(b"plain=1", "example.com", "/", false, t0()).unwrap();
        assert_eq!(jar.cookies.len(), 1);
    }

    #[test]
    fn secure_cookie_is_sent_over_https_only() {
        let mut jar = Jar::new();
        jar.store(b"sid=1; Secure", "example.com", "/", true, t0()).unwrap();
        jar.store(b"plain=2", "example.com", "/", true, t0()).unwrap();
        assert_eq!(header(&mut jar, "example.com", "/", true, t0()).as_deref(), Some("sid=1; plain=2"));
        assert_eq!(header(&mut jar, "example.com", "/", false, t0()).as_deref(), Some("plain=2"));
    }

    #[test]
    fn same_name_domain_and_path_replace_in_place() {
        let mut jar = Jar::new();
        store(&mut jar, "a=1", "example.com", "/").unwrap();
        store(&mut jar, "b=2", "example.com", "/").unwrap();
        store(&mut jar, "a=3", "example.com", "/").unwrap();
        assert_eq!(jar.cookies.len(), 2);
        // The replaced cookie keeps its creation order.
        assert_eq!(header(&mut jar, "example.com", "/", true, t0()).as_deref(), Some("a=3; b=2"));
        // A host-only and a domain cookie of the same host share the key (name, domain, path).
        store(&mut jar, "a=4; Domain=EXAMPLE.com", "example.com", "/").unwrap();
        assert_eq!(jar.cookies.len(), 2);
        assert!(!jar.cookies[0].host_only);
        // Another path or domain is another cookie.
        store(&mut jar, "a=5; Path=/x", "example.com", "/").unwrap();
        store(&mut jar, "a=6", "www.example.com", "/").unwrap();
        assert_eq!(jar.cookies.len(), 4);
        assert_eq!(header(&mut jar, "example.com", "/x", true, t0()).as_deref(), Some("a=5; a=4; b=2"));
        assert_eq!(header(&mut jar, "www.example.com", "/x", true, t0()).as_deref(), Some("a=4; a=6"));
    }

    #[test]
    fn longer_paths_first_then_oldest_first() {
        let mut jar = Jar::new();
        store(&mut jar, "root=1; Path=/", "example.com", "/").unwrap();
        store(&mut jar, "deep=2; Path=/x/y", "example.com", "/").unwrap();
        store(&mut jar, "mid=3; Path=/x", "example.com", "/").unwrap();
        store(&mut jar, "root2=4; Path=/", "example.com", "/").unwrap();
        store(&mut jar, "mid2=5; Path=/x", "example.com", "/").unwrap();
        assert_eq!(
            header(&mut jar, "example.com", "/x/y/z", true, t0()).as_deref(),
            Some("deep=2; mid=3; mid2=5; root=1; root2=4")
        );
        assert_eq!(
            header(&mut jar, "example.com", "/x", true, t0()).as_deref(),
            Some("mid=3; mid2=5; root=1; root2=4")
        );
    }

    #[test]
    fn at_most_max_cookies_oldest_dropped() {
        let mut jar = Jar::new();
        for i in 0..=MAX_COOKIES {
            store(&mut jar, &format!("c{i}={i}"), "example.com", "/").unwrap();
        }
        assert_eq!(jar.cookies.len(), MAX_COOKIES);
        let sent = header(&mut jar, "example.com", "/", true, t0()).unwrap();
        assert!(!sent.split("; ").any(|c| c == "c0=0"), "the oldest cookie was dropped");
        assert!(sent.starts_with("c1=1; ") && sent.ends_with(&format!("; c{MAX_COOKIES}={MAX_COOKIES}")));
        assert_eq!(sent.split("; ").count(), MAX_COOKIES);
    }

    #[test]
    fn a_full_jar_drops_expired_cookies_before_the_oldest() {
        let mut jar = Jar::new();
        store(&mut jar, "old=1", "example.com", "/").unwrap();
        store(&mut jar, "short=1; Max-Age=10", "example.com", "/").unwrap();
        for i in 2..MAX_COOKIES {
            store(&mut jar, &format!("c{i}=1"), "example.com", "/").unwrap();
        }
        assert_eq!(jar.cookies.len(), MAX_COOKIES);
        jar.store(b"new=1", "example.com", "/", true, t0() + secs(11)).unwrap();
        assert_eq!(jar.cookies.len(), MAX_COOKIES);
        assert!(jar.cookies.iter().any(|c| c.name() == "old"));
        assert!(!jar.cookies.iter().any(|c| c.name() == "short"));
    }

    #[test]
    fn cookies_larger_than_the_limit_are_refused() {
        let mut jar = Jar::new();
        // name (1) + value + domain (11) + path (1) = MAX_COOKIE_BYTES: accepted.
        let fits = format!("a={}", "v".repeat(MAX_COOKIE_BYTES - 13));
        store(&mut jar, &fits, "example.com", "/").unwrap();
        let too_big = format!("a={}", "v".repeat(MAX_COOKIE_BYTES - 12));
        assert_eq!(store(&mut jar, &too_big, "example.com", "/"), Err(CookieError::TooLarge(MAX_COOKIE_BYTES + 1)));
        let long_path = format!("a=1; Path=/{}", "p".repeat(MAX_COOKIE_BYTES));
        assert!(matches!(store(&mut jar, &long_path, "example.com", "/"), Err(CookieError::TooLarge(_))));
        assert_eq!(jar.cookies.len(), 1);
        assert_eq!(jar.cookies[0].value().len(), MAX_COOKIE_BYTES - 13);
    }

    #[test]
    fn malformed_set_cookie_is_an_error() {
        let mut jar = Jar::new();
        let cases: &[(&[u8], CookieError)] = &[
            (b"", CookieError::MissingPair),
            (b"novalue", CookieError::MissingPair),
            (b";", CookieError::MissingPair),
            (b"=", CookieError::EmptyName),
            (b"=value", CookieError::EmptyName),
            (b"  =value; Path=/", CookieError::EmptyName),
            (b"\xff\xfe=1", CookieError::NotUtf8),
            (b"a=\xc3", CookieError::NotUtf8),
            (b"a=1\r\nX-Injected: 1", CookieError::ControlCharacter),
            (b"a=1\0", CookieError::ControlCharacter),
            (b"a=\x7f", CookieError::ControlCharacter),
        ];
        for (input, want) in cases {
            assert_eq!(jar.store(input, "example.com", "/", true, t0()).as_ref(), Err(want), "{input:?}");
        }
        assert_eq!(jar.store(b"a=1", "", "/", true, t0()), Err(CookieError::EmptyHost));
        assert!(jar.is_empty());
    }

    #[test]
    fn values_are_sent_as_received() {
        let mut jar = Jar::new();
        store(&mut jar, r#"q="quoted value"; Path=/"#, "example.com", "/").unwrap();
        store(&mut jar, "e=; Path=/", "example.com", "/").unwrap();
        store(&mut jar, "t=a=b=c", "example.com", "/").unwrap();
        store(&mut jar, "utf=naïve", "example.com", "/").unwrap();
        assert_eq!(
            header(&mut jar, "example.com", "/", true, t0()).as_deref(),
            Some(r#"q="quoted value"; e=; t=a=b=c; utf=naïve"#)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_keep_the_caps() {
        // A small xorshift over an alphabet of the characters that matter to the parser.
        let alphabet: &[u8] = b"a=;. /-0123456789DomainPathMax-AgeExpiresSecure,GMT\t\r\x00\xff\xc3\xa9\"";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut jar = Jar::new();
        let mut stored = 0;
        for _ in 0..20_000 {
            let len = (next() % 48) as usize;
            let input: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let host = ["example.com", "a.example.com", "10.0.0.1", "[::1]"][(next() % 4) as usize];
            if jar.store(&input, host, "/a/b", next() % 2 == 0, t0()).is_ok() {
                stored += 1;
            }
            assert!(jar.cookies.len() <= MAX_COOKIES);
            let mut out = Vec::new();
            jar.write_header(host, "/a/b", true, t0(), &mut out);
            assert!(!out[..out.len().saturating_sub(2)].contains(&b'\n'));
        }
        assert!(stored > 100, "the generator reaches valid cookies too ({stored})");
    }

    #[test]
    fn set_remove_and_clear() {
        let mut jar = Jar::new();
        jar.set("sid", "1", "Example.com", "").unwrap();
        jar.set("lang", "en", ".example.com", "/").unwrap();
        jar.set("sid", "2", "other.org", "/app").unwrap();
        assert_eq!(header(&mut jar, "example.com", "/", false, t0()).as_deref(), Some("sid=1; lang=en"));
        assert_eq!(header(&mut jar, "www.example.com", "/", false, t0()).as_deref(), Some("lang=en"));
        assert_eq!(header(&mut jar, "other.org", "/app/x", false, t0()).as_deref(), Some("sid=2"));
        // set replaces the same name, domain and path.
        jar.set("sid", "3", "example.com", "/").unwrap();
        assert_eq!(header(&mut jar, "example.com", "/", false, t0()).as_deref(), Some("sid=3; lang=en"));
        jar.remove("sid");
        assert_eq!(jar.cookies.len(), 1);
        assert_eq!(header(&mut jar, "other.org", "/app", false, t0()), None);
        jar.cookies.clear();
        assert!(jar.is_empty());
        assert_eq!(header(&mut jar, "www.example.com", "/", false, t0()), None);
    }

    #[test]
    fn set_refuses_what_would_break_the_header() {
        let mut jar = Jar::new();
        assert!(matches!(jar.set("", "1", "example.com", "/"), Err(CookieError::InvalidName(_))));
        assert!(matches!(jar.set("a=b", "1", "example.com", "/"), Err(CookieError::InvalidName(_))));
        assert!(matches!(jar.set("a\r\n", "1", "example.com", "/"), Err(CookieError::InvalidName(_))));
        assert!(matches!(jar.set("a", "1; b=2", "example.com", "/"), Err(CookieError::InvalidValue(_))));
        assert!(matches!(jar.set("a", "1\r\nX: y", "example.com", "/"), Err(CookieError::InvalidValue(_))));
        assert!(matches!(jar.set("a", "1", "", "/"), Err(CookieError::InvalidDomain(_))));
        assert!(matches!(jar.set("a", "1", ".", "/"), Err(CookieError::InvalidDomain(_))));
        assert!(matches!(jar.set("a", "1", "example.com/x", "/"), Err(CookieError::InvalidDomain(_))));
        assert!(matches!(jar.set("a", "1", "example.com", "x"), Err(CookieError::InvalidPath(_))));
        let big = "v".repeat(MAX_COOKIE_BYTES);
        assert!(matches!(jar.set("a", &big, "example.com", "/"), Err(CookieError::TooLarge(_))));
        assert!(jar.is_empty());
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let e = CookieError::SecureOverHttp { name: "sid".into() };
        assert_eq!(
            e.to_string(),
            "cookie sid has the Secure attribute but came over plain http; browsers refuse it (use https)"
        );
        assert!(CookieError::TooLarge(5000).to_string().contains("limit is 4096"));
    }
}
