//! The built-in test target (`stampede target`): a small HTTP/1.1 server on the same compio
//! runtime, so demos and tests have something real and stateful to hit, and can compare the
//! client's counts with the server's own.
//!
//! Routes (request counts by method and route pattern are on `GET /stats`):
//! - `/` → `hello world`; `/status/{code}`, `/delay/{ms}`, `/bytes/{n}`, `/chunked/{n}`,
//!   `/echo` (body back), `/close` (answers, then closes).
//! - `POST /auth/login` `{"email","password"}` → 200 `{"token","user"}`, 401 (empty fields or
//!   password `wrong`), 400 (bad JSON).
//! - `POST /escrows` (bearer token, JSON object) → 201 the object with a new `id`;
//!   `GET /escrows/{id}` → 200 own record, 403 another user's, 404 none; 401 without a valid
//!   token. Every 401/403/404 of these three routes counts as misuse.
//! - `GET /api/{name}[?delay=MS]` → `{"name","ok":true}` with `X-Cache: HIT` 4 times in 5.
//! - `GET /capacity/queue/{R}`, `/capacity/refuse/{R}` → servers of known capacity R per second
//! - `GET /stall/{every_ms}/{for_ms}` → held until the end of the stall window when it arrives
//!   while `ms_since_start % every_ms < for_ms`, answered at once otherwise.
//! - `GET /schedule/{base_ms}/{high_ms}/{from_ms}/{to_ms}` → answered after `high_ms` while the
//!   server's clock (ms since it started) is in `[from_ms, to_ms)`, after `base_ms` otherwise:
//!   latency that rises and falls on a known schedule.

mod api;
mod counters;
mod known;
mod route;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use compio::buf::BufResult;
use compio::driver::ProactorBuilder;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};
use compio::runtime::{Runtime, RuntimeBuilder};

pub use counters::Counters;

/// Largest request head the target accepts.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body the target accepts.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Listen backlog: enough for thousands of users connecting at once.
const BACKLOG: i32 = 4096;

/// State shared by the server threads.
struct Shared {
    counters: Arc<Counters>,
    api: api::Api,
    /// Start of the `/stall` clock.
    started: Instant,
    /// Rotation of `X-Cache` on `/api/{name}`.
    cache_seq: AtomicU64,
    /// The known-capacity servers of `/capacity/...`.
    limits: known::Limits,
}

/// A running target: its address, its counters, and a way to stop it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    /// The server threads' state (the tests read its `/stall` clock).
    #[cfg_attr(not(test), allow(dead_code))]
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// A runtime with the ring flags the engine uses; the default ring if the kernel refuses them.
fn runtime() -> io::Result<Runtime> {
    let mut proactor = ProactorBuilder::new();
    proactor.single_issuer(true).defer_taskrun(true).coop_taskrun(true).capacity(4096).cqsize(8192);
    RuntimeBuilder::new().with_proactor(proactor).build().or_else(|_| Runtime::new())
}

impl TestServer {
    /// Start serving on `listen` with `workers` threads (each its own io_uring runtime).
    pub fn start(listen: SocketAddr, workers: usize) -> io::Result<TestServer> {
        let workers = workers.max(1);
        let std_listener = StdListener::bind(listen)?;
        // std listens with a backlog of 128; raise it (Linux updates it on a second listen).
        // SAFETY: a plain syscall on a socket this function owns.
        unsafe { libc::listen(std_listener.as_raw_fd(), BACKLOG) };
        let addr = std_listener.local_addr()?;
        let counters = Arc::new(Counters::with_shards(workers));
        let shared = Arc::new(Shared {
            counters: counters.clone(),
            api: api::Api::new(),
            started: Instant::now(),
            cache_seq: AtomicU64::new(0),
            limits: known::Limits::default(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for w in 0..workers {
            let listener = std_listener.try_clone()?;
            let (thread_shared, thread_stop) = (shared.clone(), stop.clone());
            let spawned = std::thread::Builder::new().name(format!("target-{w}")).spawn(move || {
                let rt = match runtime() {
                    Ok(rt) => rt,
                    Err(e) => return eprintln!("target: cannot start runtime: {e}"),
                };
                rt.block_on(accept_loop(listener, thread_shared, thread_stop, w));
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    TestServer { addr, counters, shared, stop, threads }.stop();
                    return Err(e);
                }
            }
        }
        Ok(TestServer { addr, counters, shared, stop, threads })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting and wait for the server threads (open connections are dropped).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for _ in &self.threads {
            // Wake each accept loop so it sees the flag.
            let _ = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: StdListener, shared: Arc<Shared>, stop: Arc<AtomicBool>, worker: usize) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => return eprintln!("target: {e}"),
    };
    while !stop.load(Ordering::Relaxed) {
        match listener.accept().await {
            Ok((stream, _)) => {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = stream.set_nodelay(true);
                compio::runtime::spawn(serve(stream, shared.clone(), worker)).detach();
            }
            Err(_) => compio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Does a comma-separated header value hold `token` (case-insensitive)?
fn has_token(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Send `buf` whole; `Err` when the peer is gone. Gives the buffer back, emptied.
async fn send(s: &mut &TcpStream, buf: Vec<u8>) -> Result<Vec<u8>, ()> {
    let BufResult(res, mut back) = s.write_all(buf).await;
    back.clear();
    res.map(|_| back).map_err(|_| ())
}

/// Serve one connection: requests back to back (pipelining allowed) until it closes.
/// Bad input gets an answer (400, 411, 413), never a panic.
async fn serve(stream: TcpStream, sh: Arc<Shared>, shard: usize) {
    let mut input: Vec<u8> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut s = &stream;
    loop {
        // Answer every complete request already buffered.
        let mut pos = 0;
        let mut close = false;
        let mut want = 0;
        while !close {
            let buf = &input[pos..];
            // Headers left uninitialized: zeroing 64 of them per request costs more than parsing.
            let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; 64];
            let mut req = httparse::Request::new(&mut []);
            let head_len = match req.parse_with_uninit_headers(buf, &mut headers) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => break,
                Ok(httparse::Status::Partial) => {
                    write_response(&mut out, 431, "text/plain", b"request head too large\n", true);
                    close = true;
                    break;
                }
                Err(_) => {
                    write_response(&mut out, 400, "text/plain", b"malformed request head\n", true);
                    close = true;
                    break;
                }
            };
            let Framing { body_len, authorization, close: conn_close } = match framing(&req) {
                Ok(f) => f,
                Err((code, why)) => {
                    write_response(&mut out, code, "text/plain", why, true);
                    close = true;
                    break;
                }
            };
            if buf.len() < head_len + body_len {
                want = head_len + body_len - buf.len();
                break;
            }
            let method = req.method.unwrap_or("GET");
            let r = route::Req {
                method,
                path: req.path.unwrap_or("/"),
                body: &buf[head_len..head_len + body_len],
                authorization,
                close: conn_close,
            };
            let start = out.len();
            let after = route::respond(&r, &sh, shard, &mut out);
            if method == "HEAD" {
                strip_body(&mut out, start);
            }
            close = after.close;
            pos += head_len + body_len;
            if let Some(d) = after.delay {
                // Send the answers before this one, then hold this one.
                if start > 0 {
                    let held = out.split_off(start);
                    match send(&mut s, out).await {
                        Ok(back) => out = back,
                        Err(()) => return,
                    }
                    out.extend_from_slice(&held);
                }
                compio::time::sleep(d).await;
            }
        }
        input.drain(..pos);
        if !out.is_empty() {
            match send(&mut s, std::mem::take(&mut out)).await {
                Ok(back) => out = back,
                Err(()) => return,
            }
        }
        if close {
            let _ = compio::io::AsyncWrite::shutdown(&mut s).await;
            return;
        }
        input.reserve(want.clamp(4096, 1 << 20));
        let BufResult(res, back) = s.append(std::mem::take(&mut input)).await;
        input = back;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// What a request's headers say about it.
struct Framing<'b> {
    body_len: usize,
    authorization: Option<&'b [u8]>,
    /// The client closes after this request.
    close: bool,
}

/// A request's [`Framing`]. `Err`: the status and reason of a request that cannot be served.
fn framing<'b>(req: &httparse::Request<'_, 'b>) -> Result<Framing<'b>, (u16, &'static [u8])> {
    let mut body_len = Some(0usize);
    let mut chunked = false;
    let mut authorization = None;
    let mut conn_close = req.version == Some(0);
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            body_len = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = !h.value.trim_ascii().eq_ignore_ascii_case(b"identity");
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(h.value);
        } else if h.name.eq_ignore_ascii_case("connection") {
            conn_close = has_token(h.value, "close") || (req.version == Some(0) && !has_token(h.value, "keep-alive"));
        }
    }
    match body_len {
        _ if chunked => Err((411, b"chunked request bodies are not supported; send Content-Length\n")),
        None => Err((400, b"bad Content-Length\n")),
        Some(n) if n > MAX_BODY => Err((413, b"body larger than 16 MiB\n")),
        Some(n) => Ok(Framing { body_len: n, authorization, close: conn_close }),
    }
}

/// Drop the body of the response that starts at `start` (a HEAD answer keeps only the head).
fn strip_body(out: &mut Vec<u8>, start: usize) {
    if let Some(end) = out[start..].windows(4).position(|w| w == b"\r\n\r\n") {
        out.truncate(start + end + 4);
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Append a response head announcing a `len`-byte body, with `extra` headers.
fn write_head(out: &mut Vec<u8>, code: u16, content_type: &str, extra: &[(&str, &str)], len: usize, close: bool) {
    use std::io::Write;
    let _ =
        write!(out, "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n", reason(code));
    for (name, value) in extra {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Append a complete response with a Content-Length body.
pub fn write_response(out: &mut Vec<u8>, code: u16, content_type: &str, body: &[u8], close: bool) {
    write_head(out, code, content_type, &[], body.len(), close);
    if code != 204 && code != 304 {
        out.extend_from_slice(body);
    }
}

fn write_chunked(out: &mut Vec<u8>, n: usize, close: bool) {
    use std::io::Write;
    out.extend_from_slice(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n",
    );
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let mut left = n;
    while left > 0 {
        let c = left.min(1000);
        let _ = write!(out, "{c:x}\r\n");
        out.extend(std::iter::repeat_n(b'x', c));
        out.extend_from_slice(b"\r\n");
        left -= c;
    }
    out.extend_from_slice(b"0\r\n\r\n");
}
