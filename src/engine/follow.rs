//! What a step's exchange adds to a bare request: the user's cookies written into it and stored
//! from its answers, and the redirects it follows (the next request built from the last one, on
//! the user's connection to whichever host the `Location` names).

use std::ops::Deref;
use std::rc::Rc;
use std::time::SystemTime;

use super::conn::{Hop, Net};
use super::ctx::Ctx;
use crate::cookie::Jar;
use crate::http::Response;
use crate::http::request::{finish, write_head};
use crate::plan::Target;

/// Most headers carried from one request to the redirected one.
const MAX_HEADERS: usize = 64;

/// A connection setting of the worker: one of the plan's targets, or a host reached by redirect.
pub(super) enum NetRef<'a> {
    Fixed(&'a Net),
    Extra(Rc<Net>),
}

impl Deref for NetRef<'_> {
    type Target = Net;
    fn deref(&self) -> &Net {
        match self {
            NetRef::Fixed(n) => n,
            NetRef::Extra(n) => n,
        }
    }
}

/// The worker's settings for connection slot `slot`.
pub(super) fn net(ctx: &Ctx, slot: usize) -> NetRef<'_> {
    match ctx.nets.get(slot) {
        Some(n) => NetRef::Fixed(n),
        None => NetRef::Extra(ctx.extra_nets.borrow()[slot - ctx.nets.len()].1.clone()),
    }
}

/// The request-target (path and query) of the request line in `request`.
pub(super) fn request_target(request: &[u8]) -> &str {
    let line = request.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.splitn(3, |&b| b == b' ');
    parts.next();
    parts.next().and_then(|t| std::str::from_utf8(t).ok()).unwrap_or("/")
}

/// The method of the request line in `request`.
pub(super) fn method_of(request: &[u8]) -> &str {
    let end = request.iter().position(|&b| b == b' ').unwrap_or(0);
    std::str::from_utf8(&request[..end]).unwrap_or("GET")
}

/// The path of a request-target, without its query (cookie paths).
fn path_only(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or("/")
}

/// Append the `Cookie` header the jar holds for `hop` and `target` (nothing when none applies).
pub(super) fn write_cookies(jar: &mut Jar, hop: &Hop, target: &str, out: &mut Vec<u8>) {
    if !jar.is_empty() {
        jar.write_header(&hop.host, path_only(target), hop.tls, SystemTime::now(), out);
    }
}

/// Insert the jar's `Cookie` header for `hop` into the request head being written in `buf` (its
/// request line first, its blank line not yet written); `scratch` is reused.
pub(super) fn insert_cookies(jar: &mut Jar, hop: &Hop, buf: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    if jar.is_empty() {
        return;
    }
    scratch.clear();
    write_cookies(jar, hop, request_target(buf), scratch);
    buf.extend_from_slice(scratch);
}

/// Store every `Set-Cookie` of `response`, which answers `request` sent on `hop`. Returns why
/// the first refused cookie was refused.
pub(super) fn store_cookies(jar: &mut Jar, response: &Response<'_>, hop: &Hop, request: &[u8]) -> Option<String> {
    if response.head.is_empty() {
        return None; // not kept: it set no cookie
    }
    let now = SystemTime::now();
    let path = path_only(request_target(request));
    let mut refused = None;
    for (name, value) in response.headers() {
        if name.eq_ignore_ascii_case("set-cookie") {
            if let Err(e) = jar.store(value, &hop.host, path, hop.tls, now) {
                refused.get_or_insert_with(|| e.to_string());
            }
        }
    }
    refused
}

/// The connection slot for `url`: the plan's target of that scheme and authority, or a host of
/// the worker's own, looked up the first time a redirect leads there.
pub(super) fn hop_to(ctx: &Ctx, url: &url::Url) -> Result<Hop, String> {
    let text = &url[..url::Position::BeforePath];
    let mut target = Target::parse(text).map_err(|e| e.to_string())?;
    if let Some(i) = ctx.plan.targets.iter().position(|t| t.authority == target.authority && t.tls == target.tls) {
        return Ok(Hop::to_target(i, &ctx.plan.targets[i]));
    }
    let key = (target.authority.clone(), target.tls);
    let known = ctx.extra_nets.borrow().iter().position(|(k, _)| *k == key);
    let index = match known {
        Some(i) => i,
        None => {
            if target.tls && ctx.plan.tls.is_none() {
                return Err(format!("{text}: https redirect, but the run has no TLS settings"));
            }
            // A host no target named: looked up once per worker, on the worker's thread (rare).
            target.resolve().map_err(|e| e.to_string())?;
            let net = Rc::new(Net::new(&ctx.plan, &target));
            let mut extra = ctx.extra_nets.borrow_mut();
            extra.push((key, net));
            extra.len() - 1
        }
    };
    Ok(Hop {
        slot: ctx.nets.len() + index,
        tls: target.tls,
        host: target.bare_host().to_ascii_lowercase().into(),
        authority: target.authority.as_str().into(),
    })
}

/// The next request of a redirect, written into `out`: `prev` (the request that was answered
/// with the redirect) sent as `method` to `url`, its body kept or not (the pair
/// [`crate::http::redirect::next_method`] gives), its headers carried over
/// except those the new request writes itself (Host, Cookie, the body's framing) and, on
/// another host, Authorization. Returns the new request-target.
pub(super) fn redirected(
    prev: &[u8],
    (method, keep_body): (&str, bool),
    from: &Hop,
    to: &Hop,
    url: &url::Url,
    jar: Option<&mut Jar>,
    out: &mut Vec<u8>,
) -> String {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let body_at = match req.parse(prev) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => prev.len(),
    };
    let cross_host = from.authority != to.authority || from.tls != to.tls;
    let to_authority: &str = &to.authority;
    let dropped = |name: &str| {
        ["host", "cookie", "content-length", "transfer-encoding"].iter().any(|d| name.eq_ignore_ascii_case(d))
            || (!keep_body && name.eq_ignore_ascii_case("content-type"))
            || (cross_host && name.eq_ignore_ascii_case("authorization"))
    };
    let kept: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|h| !dropped(h.name))
        .filter_map(|h| Some((h.name, std::str::from_utf8(h.value).ok()?)))
        .collect();
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    out.clear();
    write_head(out, method, &target, to_authority, kept.iter().copied());
    if let Some(jar) = jar {
        write_cookies(jar, to, &target, out);
    }
    let body = &prev[body_at.min(prev.len())..];
    finish(out, keep_body.then_some(body));
    target
}

/// The URL a response's `Location` leads to, read against the request it answers.
pub(super) fn location(response: &Response<'_>, from: &Hop, request: &[u8]) -> Result<url::Url, String> {
    let location = response.header("location").ok_or("a redirect without a Location header")?;
    let target = request_target(request);
    let base = from.url(target).ok_or_else(|| format!("cannot read `{target}` as a URL path"))?;
    crate::http::redirect::resolve(&base, location).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(authority: &str, tls: bool) -> Hop {
        let host = authority.split(':').next().unwrap().to_string();
        Hop { slot: 0, tls, host: host.into(), authority: authority.into() }
    }

    #[test]
    fn request_target_is_read_from_the_request_line() {
        assert_eq!(request_target(b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"), "/a/b?x=1");
        assert_eq!(request_target(b"garbage"), "/");
        assert_eq!(path_only("/a/b?x=1"), "/a/b");
    }

    #[test]
    fn a_303_after_post_becomes_a_get_without_body_or_its_framing() {
        let prev = b"POST /submit HTTP/1.1\r\nHost: a:1\r\nUser-Agent: t\r\nContent-Type: application/json\r\nAuthorization: Bearer x\r\nContent-Length: 2\r\n\r\n{}";
        let (from, to) = (hop("a:1", false), hop("a:1", false));
        let url = url::Url::parse("http://a:1/done?y=2").unwrap();
        let mut out = Vec::new();
        let target = redirected(prev, ("GET", false), &from, &to, &url, None, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(target, "/done?y=2");
        assert!(text.starts_with("GET /done?y=2 HTTP/1.1\r\nHost: a:1\r\n"), "{text}");
        assert!(text.contains("Authorization: Bearer x\r\n"), "same host keeps Authorization: {text}");
        assert!(!text.contains("Content-Type") && !text.contains("Content-Length"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");
    }

    #[test]
    fn a_307_keeps_method_and_body_and_another_host_loses_authorization() {
        let prev =
            b"PUT /x HTTP/1.1\r\nHost: a:1\r\nAuthorization: Bearer x\r\nCookie: s=1\r\nContent-Length: 3\r\n\r\nabc";
        let (from, to) = (hop("a:1", false), hop("b:2", false));
        let url = url::Url::parse("http://b:2/y").unwrap();
        let mut jar = Jar::new();
        jar.set("t", "9", "b", "/").unwrap();
        let mut out = Vec::new();
        redirected(prev, ("PUT", true), &from, &to, &url, Some(&mut jar), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("PUT /y HTTP/1.1\r\nHost: b:2\r\n"), "{text}");
        assert!(!text.contains("Authorization"), "{text}");
        assert!(!text.contains("s=1"), "the old Cookie header is not carried: {text}");
        assert!(text.contains("Cookie: t=9\r\n"), "{text}");
        assert!(text.ends_with("Content-Length: 3\r\n\r\nabc"), "{text}");
    }
}
