//! Routing one parsed request to its answer: the fixed endpoints (`/`, `/status`, `/delay`,
//! `/bytes`, `/chunked`, `/echo`, `/close`, `/stall`, `/schedule`, `/api`, `/stats`) and the
//! stateful API.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::api::{Body, Reply};
use super::counters::{Route, method_index};
use super::{MAX_BODY, Shared};

/// Longest wait `/delay`, `?delay=` and `/stall` accept, in ms.
const MAX_DELAY_MS: u64 = 600_000;
const TEXT: &str = "text/plain";

/// A parsed request, enough to route it, whichever protocol carried it.
pub(super) struct Req<'a> {
    pub method: &'a str,
    /// The path and query (HTTP/1.1's request target, h2's `:path`).
    pub path: &'a str,
    pub body: &'a [u8],
    pub authorization: Option<&'a [u8]>,
    /// HTTP/1.1: the client closes after this request.
    pub close: bool,
}

/// The answer to a request, whichever protocol carries it back.
pub(super) struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    /// One more header (`X-Cache`, `Allow`, `WWW-Authenticate`).
    pub extra: Option<(&'static str, &'static str)>,
    pub body: Body,
    /// HTTP/1.1 sends the body chunked (`/chunked/{n}`); h2 sends DATA frames either way.
    pub chunked: bool,
    /// Hold the answer this long before sending it.
    pub delay: Option<Duration>,
    /// Close the connection after it (HTTP/1.1: `Connection: close`; h2: GOAWAY).
    pub close: bool,
}

impl Answer {
    fn new(status: u16, content_type: &'static str, body: Body) -> Answer {
        Answer { status, content_type, extra: None, body, chunked: false, delay: None, close: false }
    }

    /// A `text/plain` answer.
    pub(super) fn text(status: u16, body: &'static [u8]) -> Answer {
        Answer::new(status, TEXT, Body::Static(body))
    }

    fn delayed(mut self, delay: Option<Duration>) -> Answer {
        self.delay = delay;
        self
    }
}

/// The answer to `r`, counted on `shard`.
pub(super) fn respond(r: &Req<'_>, sh: &Shared, shard: usize) -> Answer {
    let mut a = route(r, sh, shard);
    a.close |= r.close;
    a
}

fn route(r: &Req<'_>, sh: &Shared, shard: usize) -> Answer {
    let (path, query) = r.path.split_once('?').unwrap_or((r.path, ""));
    let m = method_index(r.method);
    if path == "/" {
        sh.counters.count(shard, m, Route::Root);
        return Answer::text(200, b"hello world\n");
    }
    let rest = path.strip_prefix('/').unwrap_or(path);
    let (first, arg) = rest.split_once('/').unwrap_or((rest, ""));
    if first == "stats" {
        return Answer::new(200, "application/json", Body::Owned(sh.counters.to_json().into_bytes()));
    }
    let route = route_of(first, arg);
    sh.counters.count(shard, m, route);
    match route {
        Route::Root => Answer::text(200, b"hello world\n"),
        Route::Status => match arg.parse::<u16>() {
            Ok(code) if (200..=599).contains(&code) => Answer::text(code, b""),
            _ => Answer::text(400, b"status must be 200..599\n"),
        },
        Route::Delay => match parse_ms(arg) {
            Some(ms) => Answer::text(200, b"ok\n").delayed(Some(Duration::from_millis(ms))),
            None => Answer::text(400, b"delay is in ms, at most 600000\n"),
        },
        Route::Bytes => match arg.parse::<usize>() {
            Ok(n) if n <= MAX_BODY => Answer::new(200, "application/octet-stream", Body::Fill(n)),
            _ => Answer::text(400, b"size must be at most 16777216\n"),
        },
        Route::Chunked => match arg.parse::<usize>() {
            Ok(n) if n <= MAX_BODY => {
                Answer { chunked: true, ..Answer::new(200, "application/octet-stream", Body::Fill(n)) }
            }
            _ => Answer::text(400, b"size must be at most 16777216\n"),
        },
        Route::Echo => Answer::new(200, "application/octet-stream", Body::Owned(r.body.to_vec())),
        Route::Close => Answer { close: true, ..Answer::text(200, b"bye\n") },
        Route::Stall => match stall(arg, sh) {
            Some(hold) => Answer::text(200, b"ok\n").delayed(hold),
            None => Answer::text(400, b"use /stall/{every_ms}/{for_ms} with 0 <= for_ms < every_ms <= 600000\n"),
        },
        Route::Schedule => match schedule(arg, sh) {
            Some(hold) => Answer::text(200, b"ok\n").delayed(Some(hold)),
            None => Answer::text(
                400,
                b"use /schedule/{base_ms}/{high_ms}/{from_ms}/{to_ms}, each at most 600000, from_ms <= to_ms\n",
            ),
        },
        Route::Capacity => capacity(arg, sh),
        Route::Api => page(r, query, arg, sh),
        Route::Login | Route::Escrows | Route::Escrow => account(route, r, arg, sh),
        Route::Unmatched => Answer::text(404, b"not found\n"),
    }
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

/// `/capacity/queue/{R}` and `/capacity/refuse/{R}`: the servers of known capacity (the
/// queueing one holds its answer).
fn capacity(arg: &str, sh: &Shared) -> Answer {
    let (kind, rate) = arg.split_once('/').unwrap_or((arg, ""));
    match (kind, rate.parse::<u64>()) {
        ("queue", Ok(r)) if r > 0 => {
            Answer::text(200, b"ok\n").delayed(Some(sh.limits.queue(r, std::time::Instant::now())))
        }
        ("refuse", Ok(r)) if r > 0 => match sh.limits.admit(r, std::time::Instant::now()) {
            true => Answer::text(200, b"ok\n"),
            false => Answer::text(503, b"over capacity\n"),
        },
        _ => Answer::text(400, b"use /capacity/queue/{rate} or /capacity/refuse/{rate}\n"),
    }
}

/// `GET /api/{name}[?delay=MS]`: a small JSON page, cached four times in five (`X-Cache`).
fn page(r: &Req<'_>, query: &str, arg: &str, sh: &Shared) -> Answer {
    if !matches!(r.method, "GET" | "HEAD") {
        return method_not_allowed("GET, HEAD");
    }
    let delay = match query_param(query, "delay") {
        None => None,
        Some(v) => match parse_ms(v) {
            Some(ms) => Some(Duration::from_millis(ms)),
            None => return Answer::text(400, b"delay is in ms, at most 600000\n"),
        },
    };
    // Four hits, then a miss: exactly 80% over any five consecutive answers.
    let n = sh.cache_seq.fetch_add(1, Ordering::Relaxed);
    let cache = if n % 5 == 4 { "MISS" } else { "HIT" };
    let name = serde_json::to_string(arg).unwrap_or_else(|_| "\"\"".into());
    let body = format!("{{\"name\":{name},\"ok\":true}}");
    let page = Answer::new(200, "application/json", Body::Owned(body.into_bytes()));
    Answer { extra: Some(("X-Cache", cache)), ..page }.delayed(delay)
}

/// `/auth/login`, `/escrows` and `/escrows/{id}`: the stateful API, its misuse counted.
fn account(route: Route, r: &Req<'_>, arg: &str, sh: &Shared) -> Answer {
    let (status, body) = match api(route, r, arg, sh) {
        Ok(reply) => reply,
        Err(allow) => return method_not_allowed(allow),
    };
    if matches!(status, 401 | 403 | 404) {
        sh.counters.add_misuse();
    }
    let extra = (status == 401).then_some(("WWW-Authenticate", "Bearer"));
    Answer { extra, ..Answer::new(status, "application/json", body) }
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

fn method_not_allowed(allow: &'static str) -> Answer {
    Answer { extra: Some(("Allow", allow)), ..Answer::text(405, b"method not allowed\n") }
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
