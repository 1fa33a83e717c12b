//! The live dashboard's server: a small HTTP/1.1 server on threads of its own. `/` is the page
//! (charts by the vendored uPlot), `/events` a Server-Sent Events stream of one frame a second,
//! `/api/frame` the latest frame, `/metrics` the Prometheus text format, `/api/control` the
//! control API (`--control`; the only thing that takes a POST).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::prom::{self, Labels, Snapshot};

use super::control::{self, Steering};
use super::frame::Frame;

const PAGE: &str = include_str!("page.html");
const UPLOT_JS: &str = include_str!("vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("vendor/uPlot.min.css");

/// Pages and streams served at once; more get 503.
const MAX_CLIENTS: usize = 64;
/// A stream with nothing new sends a comment this often (proxies keep it open).
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Time allowed to send a request head, and to take a write.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the server shows, replaced each second.
#[derive(Default)]
struct Board {
    /// Frames published so far (a stream sends a frame when this moves).
    seq: u64,
    frame: Option<serde_json::Value>,
    /// `point` of every frame so far, as JSON.
    history: Vec<String>,
    snapshot: Option<Arc<Snapshot>>,
}

struct State {
    board: Mutex<Board>,
    changed: Condvar,
    closing: AtomicBool,
    clients: AtomicUsize,
    labels: Labels,
    steering: Option<Steering>,
}

/// A running dashboard server.
pub struct Dashboard {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl Dashboard {
    /// Listen on `addr` and serve from a thread of its own.
    pub fn bind(addr: SocketAddr, labels: Labels, steering: Option<Steering>) -> std::io::Result<Dashboard> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let state = Arc::new(State {
            board: Mutex::new(Board::default()),
            changed: Condvar::new(),
            closing: AtomicBool::new(false),
            clients: AtomicUsize::new(0),
            labels,
            steering,
        });
        let s = state.clone();
        let accept =
            std::thread::Builder::new().name("stampede-dashboard".into()).spawn(move || accept_loop(listener, s))?;
        Ok(Dashboard { addr, state, accept: Some(accept) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Show this second.
    pub fn publish(&self, frame: Frame, snapshot: Arc<Snapshot>) {
        let mut b = self.state.board.lock().unwrap_or_else(|e| e.into_inner());
        b.seq += 1;
        b.history.push(frame.point);
        b.frame = Some(frame.json);
        b.snapshot = Some(snapshot);
        drop(b);
        self.state.changed.notify_all();
    }

    /// The run is over: the last frame says so.
    pub fn done(&self) {
        let mut b = self.state.board.lock().unwrap_or_else(|e| e.into_inner());
        b.seq += 1;
        match &mut b.frame {
            Some(f) => f["done"] = serde_json::json!(true),
            None => b.frame = Some(serde_json::json!({"done": true, "run_id": self.state.labels.run})),
        }
        drop(b);
        self.state.changed.notify_all();
    }

    /// Stop serving: streams end, the listener closes.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.state.closing.store(true, Ordering::Relaxed);
        self.state.changed.notify_all();
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    while !state.closing.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                if state.clients.fetch_add(1, Ordering::Relaxed) >= MAX_CLIENTS {
                    state.clients.fetch_sub(1, Ordering::Relaxed);
                    let _ = respond(&stream, "503 Service Unavailable", "text/plain", b"too many clients\n");
                    continue;
                }
                let s = state.clone();
                let spawned = std::thread::Builder::new().name("stampede-dash-conn".into()).spawn(move || {
                    serve(stream, &s);
                    s.clients.fetch_sub(1, Ordering::Relaxed);
                });
                if spawned.is_err() {
                    state.clients.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Write a complete response and close.
fn respond(mut stream: &TcpStream, status: &str, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let extra = if status.starts_with("401") { "WWW-Authenticate: Bearer\r\n" } else { "" };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// One request as the server reads it.
struct Request {
    method: String,
    path: String,
    authorization: Option<String>,
    /// The body (POST only); `None` when it is over [`control::MAX_BODY`].
    body: Option<Vec<u8>>,
}

/// Read one request: its head, and a POST's body.
fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let n = reader.read_until(b'\n', &mut head).ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(&head).ok()?;
    let header = |name: &str| {
        req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let authorization = header("authorization").map(str::to_string);
    let length = match header("content-length") {
        Some(v) => v.trim().parse::<usize>().ok()?,
        None => 0,
    };
    let method = req.method?.to_string();
    let body = if method != "POST" {
        Some(Vec::new())
    } else if length > control::MAX_BODY {
        // Read (some of) it anyway, so the client sees the answer rather than a reset.
        let _ = std::io::copy(&mut (&mut reader).take(length.min(1 << 20) as u64), &mut std::io::sink());
        None
    } else {
        let mut body = Vec::with_capacity(length);
        (&mut reader).take(length as u64).read_to_end(&mut body).ok()?;
        if body.len() != length {
            return None;
        }
        Some(body)
    };
    Some(Request { method, path: req.path?.to_string(), authorization, body })
}

fn serve(stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Some(request) = read_request(&stream) else { return };
    let (method, path) = (request.method.as_str(), request.path.split('?').next().unwrap_or("/"));
    if path == "/api/control" {
        let _ = match &request.body {
            None => {
                respond(&stream, "413 Content Too Large", "application/json", br#"{"error":"the body is over 64 KiB"}"#)
            }
            Some(body) => {
                let (status, json) =
                    control::answer(state.steering.as_ref(), method, request.authorization.as_deref(), body);
                respond(&stream, status, "application/json", json.as_bytes())
            }
        };
        return;
    }
    if method != "GET" && method != "HEAD" {
        let _ = respond(&stream, "405 Method Not Allowed", "text/plain", b"read-only: GET only\n");
        return;
    }
    let _ = match path {
        "/" | "/index.html" => respond(&stream, "200 OK", "text/html; charset=utf-8", PAGE.as_bytes()),
        "/uplot.js" => respond(&stream, "200 OK", "text/javascript; charset=utf-8", UPLOT_JS.as_bytes()),
        "/uplot.css" => respond(&stream, "200 OK", "text/css; charset=utf-8", UPLOT_CSS.as_bytes()),
        "/api/frame" => {
            let b = state.board.lock().unwrap_or_else(|e| e.into_inner());
            let body = b.frame.as_ref().map_or_else(|| "{}".to_string(), |f| f.to_string());
            drop(b);
            respond(&stream, "200 OK", "application/json", body.as_bytes())
        }
        "/metrics" => {
            let snapshot = state.board.lock().unwrap_or_else(|e| e.into_inner()).snapshot.clone();
            let body = snapshot.map(|s| prom::text(&prom::series(&s, &state.labels))).unwrap_or_default();
            respond(&stream, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body.as_bytes())
        }
        "/events" => events(&stream, state),
        _ => respond(&stream, "404 Not Found", "text/plain", b"not found\n"),
    };
}

/// A Server-Sent Events stream: the history so far, then each new frame, until the dashboard
/// closes or the reader goes away.
fn events(mut stream: &TcpStream, state: &State) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: 1000\n\n",
    )?;
    let (mut seen, history, frame) = {
        let b = state.board.lock().unwrap_or_else(|e| e.into_inner());
        (b.seq, format!("[{}]", b.history.join(",")), b.frame.as_ref().map(|f| f.to_string()))
    };
    write!(stream, "event: history\ndata: {history}\n\n")?;
    if let Some(f) = frame {
        write!(stream, "event: frame\ndata: {f}\n\n")?;
    }
    stream.flush()?;
    loop {
        let next = {
            let b = state.board.lock().unwrap_or_else(|e| e.into_inner());
            let (b, _) = state
                .changed
                .wait_timeout_while(b, KEEPALIVE, |b| b.seq == seen && !state.closing.load(Ordering::Relaxed))
                .unwrap_or_else(|e| e.into_inner());
            if state.closing.load(Ordering::Relaxed) {
                return Ok(());
            }
            let moved = b.seq != seen;
            seen = b.seq;
            if moved { b.frame.as_ref().map(|f| f.to_string()) } else { None }
        };
        match next {
            Some(f) => write!(stream, "event: frame\ndata: {f}\n\n")?,
            None => stream.write_all(b": keepalive\n\n")?,
        }
        stream.flush()?;
    }
}
