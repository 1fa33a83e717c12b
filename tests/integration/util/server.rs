//! A scripted raw HTTP/1.x server for tests: thread per connection over std::net, so a test
//! controls the exact bytes, their split and timing, and when connections close. It counts what
//! it received, per connection, and stops (joining every thread) when dropped.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often a connection thread blocked in a read looks at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Connection number, 0-based in accept order.
    pub conn: usize,
    /// Index of this request on its connection, 0-based.
    pub on_conn: u64,
    /// Index of this request over the whole server, 0-based, in arrival order.
    pub index: u64,
    pub method: String,
    pub target: String,
    /// Head bytes (request line and headers, with the final CRLFCRLF).
    pub head: Vec<u8>,
    pub body: Vec<u8>,
}

impl Request {
    /// Value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = String::from_utf8_lossy(&self.head);
        head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The request exactly as it was on the wire.
    pub fn wire_len(&self) -> usize {
        self.head.len() + self.body.len()
    }
}

/// Take the request of `len` bytes (its head `head_len` of them) off the front of `buf`:
/// method, request-target, head bytes, body bytes.
pub fn take_request(buf: &mut Vec<u8>, head_len: usize, len: usize) -> (String, String, Vec<u8>, Vec<u8>) {
    let head = buf[..head_len].to_vec();
    let body = buf[head_len..len].to_vec();
    buf.drain(..len);
    let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    (method, target, head, body)
}

/// Exact response bytes, how they are written, and what happens to the connection afterwards.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// Written one after another; `pause` between them.
    pub pieces: Vec<Vec<u8>>,
    /// Wait before the first byte.
    pub delay: Duration,
    /// Wait between two pieces.
    pub pause: Duration,
    /// Close the connection after this response (whatever its headers say).
    pub close: bool,
}

impl Response {
    /// These exact bytes, in one write.
    pub fn raw(bytes: impl AsRef<[u8]>) -> Response {
        Response { pieces: vec![bytes.as_ref().to_vec()], ..Response::default() }
    }

    /// `HTTP/1.1 <code> <reason>` with a Content-Length body.
    pub fn with_length(code: u16, body: &str) -> Response {
        Response::raw(format!("HTTP/1.1 {code} {}\r\nContent-Length: {}\r\n\r\n{body}", reason(code), body.len()))
    }

    /// These exact pieces, written with `pause` between them.
    pub fn pieces<B: AsRef<[u8]>>(pieces: &[B], pause: Duration) -> Response {
        Response { pieces: pieces.iter().map(|p| p.as_ref().to_vec()).collect(), pause, ..Response::default() }
    }

    /// Re-cut the bytes at these offsets (into the whole response), `pause` between pieces.
    pub fn split_at(self, cuts: &[usize], pause: Duration) -> Response {
        let all = self.bytes();
        let mut pieces = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().filter(|&&c| c > 0 && c < all.len()) {
            pieces.push(all[from..cut].to_vec());
            from = cut;
        }
        pieces.push(all[from..].to_vec());
        Response { pieces, pause, ..self }
    }

    /// One write per byte, `pause` between them.
    pub fn bytewise(self, pause: Duration) -> Response {
        let cuts: Vec<usize> = (1..self.len()).collect();
        self.split_at(&cuts, pause)
    }

    pub fn delay(self, delay: Duration) -> Response {
        Response { delay, ..self }
    }

    /// Close the connection once the response is written.
    pub fn then_close(self) -> Response {
        Response { close: true, ..self }
    }

    /// All bytes of the response.
    pub fn bytes(&self) -> Vec<u8> {
        self.pieces.concat()
    }

    pub fn len(&self) -> usize {
        self.pieces.iter().map(Vec::len).sum()
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Action {
    Respond(Response),
    /// Never answer: stop reading requests on this connection and hold it open until the peer
    /// closes it or the server stops.
    Hang,
    /// Close the connection without answering.
    Close,
}

impl From<Response> for Action {
    fn from(r: Response) -> Action {
        Action::Respond(r)
    }
}

type Handler = dyn Fn(&Request) -> Action + Send + Sync + 'static;

#[derive(Default)]
struct Counters {
    stop: AtomicBool,
    requests: AtomicU64,
    responses: AtomicU64,
    bytes_sent: AtomicU64,
    /// Requests read on each connection, by connection number.
    per_conn: Mutex<Vec<u64>>,
    /// Arrival time of every request, in arrival order.
    arrivals: Mutex<Vec<Instant>>,
    first: Mutex<Option<Request>>,
}

/// A running server on a loopback port. Dropping it stops it and joins all its threads.
pub struct Server {
    addr: SocketAddr,
    counters: Arc<Counters>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve on an ephemeral port of 127.0.0.1; `handler` decides each response.
    pub fn start(handler: impl Fn(&Request) -> Action + Send + Sync + 'static) -> Server {
        Server::start_on("127.0.0.1:0", handler).expect("bind 127.0.0.1:0")
    }

    /// Serve on `addr` (such as `[::1]:0`).
    pub fn start_on(addr: &str, handler: impl Fn(&Request) -> Action + Send + Sync + 'static) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let handler: Arc<Handler> = Arc::new(handler);
        let c = counters.clone();
        let acceptor = thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || accept_loop(listener, c, handler))?;
        Ok(Server { addr, counters, acceptor: Some(acceptor) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port{path}`, with brackets around an IPv6 host.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.counters.per_conn.lock().unwrap().len()
    }

    /// Requests read completely (head and body) so far.
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// Responses written completely so far.
    pub fn responses(&self) -> u64 {
        self.counters.responses.load(Ordering::SeqCst)
    }

    /// Response bytes written so far.
    pub fn bytes_sent(&self) -> u64 {
        self.counters.bytes_sent.load(Ordering::SeqCst)
    }

    /// Requests read on each connection, in accept order.
    pub fn per_connection(&self) -> Vec<u64> {
        self.counters.per_conn.lock().unwrap().clone()
    }

    /// When each request arrived, in order.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.counters.arrivals.lock().unwrap().clone()
    }

    /// The first request received, if any.
    pub fn first_request(&self) -> Option<Request> {
        self.counters.first.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.counters.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; the acceptor sees the flag and joins its connections.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, counters: Arc<Counters>, handler: Arc<Handler>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if counters.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let conn = {
            let mut per_conn = counters.per_conn.lock().unwrap();
            per_conn.push(0);
            per_conn.len() - 1
        };
        let (c, h) = (counters.clone(), handler.clone());
        threads.retain(|t| !t.is_finished());
        match thread::Builder::new().name(format!("test-conn-{conn}")).spawn(move || serve(stream, conn, &c, &*h)) {
            Ok(t) => threads.push(t),
            Err(e) => eprintln!("test server: cannot spawn a connection thread: {e}"),
        }
    }
    for t in threads {
        let _ = t.join();
    }
}

/// Serve one connection until the peer closes it, the script closes it, or the server stops.
fn serve(mut stream: TcpStream, conn: usize, counters: &Counters, handler: &Handler) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::with_capacity(4096);
    let mut on_conn = 0u64;
    loop {
        let Some(req_len) = complete_request(&buf) else {
            if !read_more(&mut stream, &mut buf, counters) {
                return;
            }
            continue;
        };
        let head_len = find_head_end(&buf).expect("complete request has a head");
        let (method, target, head, body) = take_request(&mut buf, head_len, req_len);
        let index = {
            let mut arrivals = counters.arrivals.lock().unwrap();
            arrivals.push(Instant::now());
            counters.requests.fetch_add(1, Ordering::SeqCst);
            counters.per_conn.lock().unwrap()[conn] += 1;
            arrivals.len() as u64 - 1
        };
        let req = Request { conn, on_conn, index, method, target, head, body };
        counters.first.lock().unwrap().get_or_insert_with(|| req.clone());
        on_conn += 1;
        match handler(&req) {
            Action::Respond(resp) => {
                if !write_response(&mut stream, &resp, counters) {
                    return;
                }
                if resp.close {
                    let _ = stream.shutdown(Shutdown::Write);
                    return;
                }
            }
            Action::Close => return,
            Action::Hang => {
                // Drain whatever comes until the peer goes away or the server stops.
                while read_more(&mut stream, &mut buf, counters) {
                    buf.clear();
                }
                return;
            }
        }
    }
}

/// Read once into `buf`. False when the connection is over (EOF, error) or the server stops.
fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, counters: &Counters) -> bool {
    let mut tmp = [0u8; 16 * 1024];
    loop {
        if counters.stop.load(Ordering::SeqCst) {
            return false;
        }
        match stream.read(&mut tmp) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                return true;
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

fn write_response(stream: &mut TcpStream, resp: &Response, counters: &Counters) -> bool {
    if !sleep_unless_stopped(resp.delay, counters) {
        return false;
    }
    for (i, piece) in resp.pieces.iter().enumerate() {
        if i > 0 && !sleep_unless_stopped(resp.pause, counters) {
            return false;
        }
        if stream.write_all(piece).and_then(|_| stream.flush()).is_err() {
            return false;
        }
        counters.bytes_sent.fetch_add(piece.len() as u64, Ordering::SeqCst);
    }
    counters.responses.fetch_add(1, Ordering::SeqCst);
    true
}

/// Sleep `d` in short steps; false if the server was stopped meanwhile.
fn sleep_unless_stopped(d: Duration, counters: &Counters) -> bool {
    let end = Instant::now() + d;
    loop {
        if counters.stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        thread::sleep((end - now).min(Duration::from_millis(10)));
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// `(head length, head + Content-Length body length)` of the first complete request in `buf`.
pub fn request_extent(buf: &[u8]) -> Option<(usize, usize)> {
    let head_len = find_head_end(buf)?;
    let head = String::from_utf8_lossy(&buf[..head_len]);
    let body_len = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buf.len() >= head_len + body_len).then_some((head_len, head_len + body_len))
}

/// Length of the first complete request in `buf` (head plus Content-Length body), if any.
fn complete_request(buf: &[u8]) -> Option<usize> {
    request_extent(buf).map(|(_, len)| len)
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
