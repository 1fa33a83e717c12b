//! Routing one parsed request to its answer: the fixed endpoints (`/`, `/status`, `/delay`,
//! `/bytes`, `/chunked`, `/echo`, `/close`, `/stall`, `/schedule`, `/api`, `/stats`) and the
//! stateful API.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::api::{Body, Reply};
use super::counters::{Route, method_index};
use super::{MAX_BODY, Shared, write_chunked, write_head, write_response};

/// Longest wait `/delay`, `?delay=` and `/stall` accept, in ms.
const MAX_DELAY_MS: u64 = 600_000;

const ROOT_KEEP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello world\n";
const ROOT_CLOSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello world\n";

/// A parsed request, enough to route it.
pub(super) struct Req<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    pub authorization: Option<&'a [u8]>,
    pub close: bool,
}

/// What the connection does after the response is in `out`.
#[derive(Default)]
pub(super) struct After {
    /// Hold the response this long before sending it.
    pub delay: Option<Duration>,
    /// Close the connection after it.
    pub close: bool,
}

/// Append the response to `r` to `out`.
pub(super) fn respond(r: &Req<'_>, sh: &Shared, shard: usize, out: &mut Vec<u8>) -> After {
    let (path, query) = r.path.split_once('?').unwrap_or((r.path, ""));
    let m = method_index(r.method);
    let close = r.close;
    if path == "/" {
        sh.counters.count(shard, m, Route::Root);
        out.extend_from_slice(if close { ROOT_CLOSE } else { ROOT_KEEP });
        return After { delay: None, close };
    }
    let rest = path.strip_prefix('/').unwrap_or(path);
    let (first, arg) = rest.split_once('/').unwrap_or((rest, ""));
    if first == "stats" {
        write_response(out, 200, "application/json", sh.counters.to_json().as_bytes(), close);
        return After { delay: None, close };
    }
    let route = route_of(first, arg);
    sh.counters.count(shard, m, route);
    let text = "text/plain";
    let mut after = After { delay: None, close };
    match route {
        Route::Root => out.extend_from_slice(if close { ROOT_CLOSE } else { ROOT_KEEP }),
        Route::Status => match arg.parse::<u16>() {
            Ok(code) if (200..=599).contains(&code) => write_response(out, code, text, b"", close),
            _ => write_response(out, 400, text, b"status must be 200..599\n", close),
        },
        Route::Delay => match parse_ms(arg) {
            Some(ms) => {
                write_response(out, 200, text, b"ok\n", close);
                after.delay = Some(Duration::from_millis(ms));
            }
            None => write_response(out, 400, text, b"delay is in ms, at most 600000\n", close),
        },
        Route::Bytes => match arg.parse::<usize>() {
            Ok(n) if n <= MAX_BODY => {
                write_head(out, 200, "application/octet-stream", &[], n, close);
                out.resize(out.len() + n, b'x');
            }
            _ => write_response(out, 400, text, b"size must be at most 16777216\n", close),
        },
        Route::Chunked => match arg.parse::<usize>() {
            Ok(n) if n <= MAX_BODY => write_chunked(out, n, close),
            _ => write_response(out, 400, text, b"size must be at most 16777216\n", close),
        },
        Route::Echo => write_response(out, 200, "application/octet-stream", r.body, close),
        Route::Close => {
            write_response(out, 200, text, b"bye\n", true);
            after.close = true;
        }
        Route::Stall => match stall(arg, sh) {
            Some(hold) => {
                write_response(out, 200, text, b"ok\n", close);
                after.delay = hold;
            }
            None => write_response(
                out,
                400,
                text,
                b"use /stall/{every_ms}/{for_ms} with 0 <= for_ms < every_ms <= 600000\n",
                close,
            ),
        },
        Route::Schedule => match schedule(arg, sh) {
            Some(hold) => {
                write_response(out, 200, text, b"ok\n", close);
                after.delay = Some(hold);
            }
            None => write_response(
                out,
                400,
                text,
                b"use /schedule/{base_ms}/{high_ms}/{from_ms}/{to_ms}, each at most 600000, from_ms <= to_ms\n",
                close,
            ),
        },
        Route::Capacity => after.delay = capacity(arg, sh, out, close),
        Route::Api => return page(r, query, arg, sh, out, close),
        Route::Login | Route::Escrows | Route::Escrow => return account(route, r, arg, sh, out, close),
        Route::Unmatched => write_response(out, 404, text, b"not found\n", close),
    }
    after
}

/// The route a path's first segment (and the rest, `arg`) names.
fn route_of(first: &str, arg: &str) -> Route {
    match first {
        "" => Route::Root,
        "status" => Route::Status,
        "delay" => Route::Delay,
        "bytes" => Route::Bytes,
        "chunked" => Route::Chunked,
        "echo" => Route::Echo,
        "close" => Route::Close,
        "stall" => Route::Stall,
        "schedule" => Route::Schedule,
        "capacity" => Route::Capacity,
        "auth" if arg == "login" => Route::Login,
        "escrows" if arg.is_empty() => Route::Escrows,
        "escrows" if !arg.contains('/') => Route::Escrow,
        "api" if !arg.is_empty() && !arg.contains('/') => Route::Api,
        _ => Route::Unmatched,
    }
}

/// `/capacity/queue/{R}` and `/capacity/refuse/{R}`: the servers of known capacity. Returns how
/// long the queueing server holds the answer.
fn capacity(arg: &str, sh: &Shared, out: &mut Vec<u8>, close: bool) -> Option<Duration> {
    let text = "text/plain";
    let (kind, rate) = arg.split_once('/').unwrap_or((arg, ""));
    match (kind, rate.parse::<u64>()) {
        ("queue", Ok(r)) if r > 0 => {
            write_response(out, 200, text, b"ok\n", close);
            return Some(sh.limits.queue(r, std::time::Instant::now()));
        }
        ("refuse", Ok(r)) if r > 0 => {
            if sh.limits.admit(r, std::time::Instant::now()) {
                write_response(out, 200, text, b"ok\n", close);
            } else {
                write_response(out, 503, text, b"over capacity\n", close);
            }
        }
        _ => write_response(out, 400, text, b"use /capacity/queue/{rate} or /capacity/refuse/{rate}\n", close),
    }
    None
}

/// `GET /api/{name}[?delay=MS]`: a small JSON page, cached four times in five (`X-Cache`).
fn page(r: &Req<'_>, query: &str, arg: &str, sh: &Shared, out: &mut Vec<u8>, close: bool) -> After {
    let (text, mut after) = ("text/plain", After { delay: None, close });
    if !matches!(r.method, "GET" | "HEAD") {
        return method_not_allowed(out, "GET, HEAD", close);
    }
    let delay = match query_param(query, "delay") {
        None => None,
        Some(v) => match parse_ms(v) {
            Some(ms) => Some(Duration::from_millis(ms)),
            None => {
                write_response(out, 400, text, b"delay is in ms, at most 600000\n", close);
                return after;
            }
        },
    };
    // Four hits, then a miss: exactly 80% over any five consecutive answers.
    let n = sh.cache_seq.fetch_add(1, Ordering::Relaxed);
    let cache = if n % 5 == 4 { "MISS" } else { "HIT" };
    let name = serde_json::to_string(arg).unwrap_or_else(|_| "\"\"".into());
    let body = format!("{{\"name\":{name},\"ok\":true}}");
    write_head(out, 200, "application/json", &[("X-Cache", cache)], body.len(), close);
    out.extend_from_slice(body.as_bytes());
    after.delay = delay;
    after
}

/// `/auth/login`, `/escrows` and `/escrows/{id}`: the stateful API, its misuse counted.
fn account(route: Route, r: &Req<'_>, arg: &str, sh: &Shared, out: &mut Vec<u8>, close: bool) -> After {
    let reply = match api(route, r, arg, sh) {
        Ok(reply) => reply,
        Err(allow) => return method_not_allowed(out, allow, close),
    };
    if matches!(reply.0, 401 | 403 | 404) {
        sh.counters.add_misuse();
    }
    let extra: &[(&str, &str)] = if reply.0 == 401 { &[("WWW-Authenticate", "Bearer")] } else { &[] };
    write_head(out, reply.0, "application/json", extra, reply.1.as_ref().len(), close);
    out.extend_from_slice(reply.1.as_ref());
    After { delay: None, close }
}

/// The stateful API; `Err(allowed methods)` for a method the route does not take.
fn api(route: Route, r: &Req<'_>, id: &str, sh: &Shared) -> Result<Reply, &'static str> {
    const UNAUTHORIZED: &str = r#"{"error":"missing or unknown bearer token"}"#;
    let unauthorized = || (401, Body::Static(UNAUTHORIZED.as_bytes()));
    Ok(match route {
        Route::Login if r.method == "POST" => sh.api.login(r.body, &sh.counters),
        Route::Login => return Err("POST"),
        Route::Escrows if r.method == "POST" => match sh.api.user_of(r.authorization) {
            None => unauthorized(),
            Some(user) => sh.api.create(&user, r.body, &sh.counters),
        },
        Route::Escrows => return Err("POST"),
        Route::Escrow if matches!(r.method, "GET" | "HEAD") => match sh.api.user_of(r.authorization) {
            None => unauthorized(),
            Some(user) => sh.api.read(&user, id),
        },
        _ => return Err("GET, HEAD"),
    })
}

fn method_not_allowed(out: &mut Vec<u8>, allow: &str, close: bool) -> After {
    let body = b"method not allowed\n";
    write_head(out, 405, "text/plain", &[("Allow", allow)], body.len(), close);
    out.extend_from_slice(body);
    After { delay: None, close }
}

fn parse_ms(s: &str) -> Option<u64> {
    s.parse::<u64>().ok().filter(|&ms| ms <= MAX_DELAY_MS)
}

/// The value of `name` in a query string (`a=1&delay=20`).
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

/// `/stall/{every_ms}/{for_ms}`: how long to hold a request arriving now (`None` inside the
/// outer option means answer at once); `None` for bad parameters.
fn stall(arg: &str, sh: &Shared) -> Option<Option<Duration>> {
    let (every, for_) = arg.split_once('/')?;
    let (every, for_) = (every.parse::<u64>().ok()?, for_.parse::<u64>().ok()?);
    if every == 0 || every > MAX_DELAY_MS || for_ >= every {
        return None;
    }
    let now_us = sh.started.elapsed().as_micros();
    let phase_us = (now_us % (u128::from(every) * 1000)) as u64;
    let for_us = for_ * 1000;
    Some((phase_us < for_us).then(|| Duration::from_micros(for_us - phase_us)))
}

/// `/schedule/{base_ms}/{high_ms}/{from_ms}/{to_ms}`: how long to hold a request arriving now:
/// `high_ms` while the server's clock is in `[from_ms, to_ms)`, `base_ms` otherwise; `None` for
/// bad parameters.
fn schedule(arg: &str, sh: &Shared) -> Option<Duration> {
    let ms: Vec<u64> = arg.split('/').map(parse_ms).collect::<Option<_>>()?;
    let &[base, high, from, to] = ms.as_slice() else { return None };
    if from > to {
        return None;
    }
    let now = sh.started.elapsed().as_millis();
    let high_now = (u128::from(from)..u128::from(to)).contains(&now);
    Some(Duration::from_millis(if high_now { high } else { base }))
}
