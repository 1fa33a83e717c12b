//! The built-in test target (`stampede target`): a small HTTP/1.1 server on the same compio
//! runtime, with endpoints for fixed latency, a status code, a body size, chunked bodies, and a
//! `/stats` page of its own request counts, so demos and tests have something real to hit.

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};

/// Largest request head the target accepts.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body the target accepts.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Request counts the server keeps, by route, so tests can compare with what the client saw.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    by_route: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn count(&self, route: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self.by_route.lock().unwrap_or_else(|e| e.into_inner()).entry(route.to_string()).or_insert(0) += 1;
    }

    /// Requests per route (`GET /bytes`, `POST /echo`, ...).
    pub fn by_route(&self) -> BTreeMap<String, u64> {
        self.by_route.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn to_json(&self) -> String {
        let routes = self.by_route();
        serde_json::json!({ "requests": self.requests.load(Ordering::Relaxed), "routes": routes }).to_string()
    }
}

/// A running target: its address, its counters, and a way to stop it.
pub struct Target {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Target {
    /// Start serving on `listen` with `workers` threads (each its own io_uring runtime).
    pub fn start(listen: SocketAddr, workers: usize) -> io::Result<Target> {
        let std_listener = StdListener::bind(listen)?;
        let addr = std_listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for w in 0..workers.max(1) {
            let listener = std_listener.try_clone()?;
            let (counters, stop) = (counters.clone(), stop.clone());
            threads.push(std::thread::Builder::new().name(format!("target-{w}")).spawn(move || {
                let rt = match compio::runtime::Runtime::new() {
                    Ok(rt) => rt,
                    Err(e) => return eprintln!("target: cannot start runtime: {e}"),
                };
                rt.block_on(async move {
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
                                compio::runtime::spawn(serve(stream, counters.clone())).detach();
                            }
                            Err(_) => compio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                });
            })?);
        }
        Ok(Target { addr, counters, stop, threads })
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

/// A parsed request, enough to route it.
struct Req<'a> {
    method: &'a str,
    path: &'a str,
    body: &'a [u8],
    close: bool,
}

/// Serve one connection: requests back to back (pipelining allowed) until it closes.
async fn serve(stream: TcpStream, counters: Arc<Counters>) {
    let mut input: Vec<u8> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut s = &stream;
    loop {
        // Answer every complete request already buffered.
        let mut close = false;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            let head_len = match req.parse(&input) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) if input.len() <= MAX_HEAD => break,
                _ => {
                    out.extend_from_slice(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    close = true;
                    break;
                }
            };
            let mut body_len = 0usize;
            let mut conn_close = req.version == Some(0);
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    body_len =
                        std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(usize::MAX);
                } else if h.name.eq_ignore_ascii_case("connection") {
                    let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
                    conn_close = v.contains("close") || (req.version == Some(0) && !v.contains("keep-alive"));
                }
            }
            if body_len > MAX_BODY {
                out.extend_from_slice(
                    b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                close = true;
                break;
            }
            if input.len() < head_len + body_len {
                break;
            }
            let r = Req {
                method: req.method.unwrap_or("GET"),
                path: req.path.unwrap_or("/"),
                body: &input[head_len..head_len + body_len],
                close: conn_close,
            };
            let delay = respond(&r, &counters, &mut out);
            close = r.close;
            input.drain(..head_len + body_len);
            if let Some(d) = delay {
                // Send what is ready, then wait before this response.
                let pending = std::mem::take(&mut out);
                let head = pending;
                compio::time::sleep(d).await;
                let BufResult(res, back) = s.write_all(head).await;
                out = back;
                out.clear();
                if res.is_err() {
                    return;
                }
            }
            if close {
                break;
            }
        }
        if !out.is_empty() {
            let BufResult(res, back) = s.write_all(std::mem::take(&mut out)).await;
            out = back;
            out.clear();
            if res.is_err() {
                return;
            }
        }
        if close {
            let _ = compio::io::AsyncWrite::shutdown(&mut s).await;
            return;
        }
        input.reserve(4096);
        let BufResult(res, back) = s.append(std::mem::take(&mut input)).await;
        input = back;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Append the response to `r` to `out`; returns a delay to wait before sending it.
fn respond(r: &Req<'_>, counters: &Counters, out: &mut Vec<u8>) -> Option<Duration> {
    let path = r.path.split('?').next().unwrap_or("/");
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let first = parts.next().unwrap_or("");
    let arg = parts.next().unwrap_or("");
    let route = if first.is_empty() { "/".to_string() } else { format!("/{first}") };
    if first != "stats" {
        counters.count(&format!("{} {route}", r.method));
    }
    let close = r.close;
    match first {
        "" => write_response(out, 200, "text/plain", b"hello world\n", close),
        "status" => match arg.parse::<u16>() {
            Ok(code) if (200..=599).contains(&code) => write_response(out, code, "text/plain", b"", close),
            _ => write_response(out, 400, "text/plain", b"status must be 200..599\n", close),
        },
        "delay" => match arg.parse::<u64>() {
            Ok(ms) if ms <= 600_000 => {
                write_response(out, 200, "text/plain", b"ok\n", close);
                return Some(Duration::from_millis(ms));
            }
            _ => write_response(out, 400, "text/plain", b"delay is in ms, at most 600000\n", close),
        },
        "bytes" => match arg.parse::<usize>() {
            Ok(n) if n <= MAX_BODY => {
                let body = vec![b'x'; n];
                write_response(out, 200, "application/octet-stream", &body, close)
            }
            _ => write_response(out, 400, "text/plain", b"size must be at most 16777216\n", close),
        },
        "chunked" => match arg.parse::<usize>() {
            Ok(n) if n <= MAX_BODY => write_chunked(out, n, close),
            _ => write_response(out, 400, "text/plain", b"size must be at most 16777216\n", close),
        },
        "echo" => write_response(out, 200, "application/octet-stream", r.body, close),
        "close" => write_response(out, 200, "text/plain", b"bye\n", true),
        "stats" => write_response(out, 200, "application/json", counters.to_json().as_bytes(), close),
        _ => write_response(out, 404, "text/plain", b"not found\n", close),
    }
    None
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
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Append a complete response with a Content-Length body.
pub fn write_response(out: &mut Vec<u8>, code: u16, content_type: &str, body: &[u8], close: bool) {
    use std::io::Write;
    let _ = write!(
        out,
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        reason(code),
        body.len()
    );
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
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
