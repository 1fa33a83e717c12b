//! One HTTP/1.1 connection, plain or TLS: connect (and handshake), send request bytes, receive
//! into the ring's provided buffers, decrypt and parse; keep-alive reuse, reconnects, and the
//! classification of every failure live here.

use std::cell::Cell;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use compio::buf::{BufResult, IoBuf};
use compio::driver::op::{RecvFlags, RecvMulti};
use compio::driver::{BufferRef, SharedFd, ToSharedFd};
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::TcpStream;
use compio::runtime::{Runtime, SubmitMultiManaged};
use futures_util::StreamExt;
use futures_util::stream::FusedStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::limit::Limiter;
use super::timeouts::Slot;
use crate::error::{ErrorKind, Failure};
use crate::http::{Progress, ResponseParser};

/// Size of a fallback read buffer, used only when the provided-buffer pool is empty.
const SPARE_READ: usize = 2 * 1024;

/// What connections of one worker share for one target: where to connect, how long to wait,
/// and the TLS client settings (with this worker's own session cache) when it is https.
#[derive(Debug)]
pub struct Net {
    pub addrs: Vec<SocketAddr>,
    /// Index of the address that last accepted a connection; tried first.
    pub preferred: Cell<usize>,
    pub connect_timeout: Duration,
    pub limiter: Limiter,
    pub tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// Close the connection after every response (`--no-keepalive`).
    pub no_keepalive: bool,
}

/// Connects one worker may have in flight at once, per target.
pub const CONNECTS_IN_FLIGHT: usize = 256;

impl Net {
    /// What this worker's connections to `t` share: its addresses, timeouts, connect limiter and
    /// TLS settings (with this worker's own session cache).
    pub fn new(plan: &crate::plan::Plan, t: &crate::plan::Target) -> Net {
        Net {
            addrs: t.addrs.clone(),
            preferred: Cell::new(0),
            connect_timeout: plan.connect_timeout,
            limiter: Limiter::new(CONNECTS_IN_FLIGHT),
            tls: match (&plan.tls, t.tls) {
                (Some(config), true) => {
                    crate::tls::server_name(&t.host).ok().map(|name| (crate::tls::for_worker(config), name))
                }
                _ => None,
            },
            no_keepalive: plan.no_keepalive,
        }
    }
}

/// Where one request of a step goes: a connection slot of the user (a target of the plan, or a
/// host first reached by a redirect) and the URL's parts cookies and `Location`s are read against.
#[derive(Debug, Clone)]
pub struct Hop {
    pub slot: usize,
    pub tls: bool,
    /// Host without port or brackets, lowercase (cookie domains).
    pub host: Rc<str>,
    /// `host[:port]` as in the URL.
    pub authority: Rc<str>,
}

impl Hop {
    /// The hop to target `slot` of the plan.
    pub fn to_target(slot: usize, t: &crate::plan::Target) -> Hop {
        Hop {
            slot,
            tls: t.tls,
            host: t.bare_host().to_ascii_lowercase().into(),
            authority: t.authority.as_str().into(),
        }
    }

    /// The absolute URL of `path` (origin form) on this hop's host.
    pub fn url(&self, path: &str) -> Option<url::Url> {
        let scheme = if self.tls { "https" } else { "http" };
        url::Url::parse(&format!("{scheme}://{}{path}", self.authority)).ok()
    }
}

/// A complete response.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    /// When the request's first byte was handed to the kernel.
    pub sent_at: Instant,
    /// When the last byte of the response was parsed.
    pub done_at: Instant,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// How one attempt on one connection ended.
enum Attempt {
    Done(Reply),
    /// A reused connection was closed by the server before any byte of the answer: the request
    /// did not reach it, so it is retried once on a fresh connection (the keep-alive race).
    Stale,
    Failed(Failure),
}

/// A multishot receive armed on a connection: one submission, one completion per arrival of
/// data, each in a buffer from the ring's pool.
type Receiver = SubmitMultiManaged<RecvMulti<SharedFd<socket2::Socket>>>;

/// Arm a multishot receive on `stream`.
fn arm(stream: &TcpStream) -> std::io::Result<Receiver> {
    let pool = Runtime::with_current(|rt| rt.buffer_pool())?;
    let op = RecvMulti::new(stream.to_shared_fd(), &pool, 0, RecvFlags::empty())?;
    Ok(compio::runtime::submit_multi(op).into_managed(pool))
}

/// Bytes received from the socket.
enum Chunk {
    Pool(BufferRef),
    Own(Vec<u8>),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Pool(b) => b.as_init(),
            Chunk::Own(v) => v,
        }
    }
}

/// What one receive gave.
enum Recv {
    Data(Chunk),
    Eof,
    Error(std::io::Error),
}

/// Why feeding received bytes failed.
enum Absorb {
    Parse(String),
    Tls(String),
}

impl From<Absorb> for Failure {
    fn from(a: Absorb) -> Failure {
        match a {
            Absorb::Parse(m) => Failure::new(ErrorKind::Parse, m),
            Absorb::Tls(m) => Failure::new(ErrorKind::Tls, m),
        }
    }
}

/// A connection slot of one user: holds at most one open connection at a time.
pub struct Conn {
    stream: Option<TcpStream>,
    /// The armed receive of `stream`; re-armed when the kernel ends it (buffer pool empty).
    rx: Option<Receiver>,
    /// TLS session of `stream`, for https targets.
    tls: Option<Box<ClientConnection>>,
    /// Ciphertext waiting to be sent, reused.
    tls_out: Vec<u8>,
    parser: ResponseParser,
    slot: Rc<Slot>,
    /// Responses completed on the current connection.
    served: u64,
    /// Connections opened over the life of this slot.
    pub connects: u64,
    /// Whether the last request's bytes were handed to the connection (false when it failed
    /// while connecting or in the TLS handshake).
    pub sent: bool,
}

impl Conn {
    pub fn new(slot: Rc<Slot>, max_head: usize) -> Conn {
        Conn {
            stream: None,
            rx: None,
            tls: None,
            tls_out: Vec::new(),
            parser: ResponseParser::new(max_head),
            slot,
            served: 0,
            connects: 0,
            sent: false,
        }
    }

    /// The parser, holding the last response's status and (when capturing) head and body.
    pub fn parser(&self) -> &ResponseParser {
        &self.parser
    }

    /// Keep head and body of the next responses (for checks and extraction), up to `max_body`.
    pub fn set_capture(&mut self, max_body: Option<usize>) {
        self.parser.set_capture(max_body);
    }

    /// Keep the head of responses that set cookies or redirect.
    pub fn set_watch(&mut self, watch: bool) {
        self.parser.set_watch(watch);
    }

    /// Send `req` and read the response, connecting first if needed. `timeout` bounds the
    /// exchange (not the connect, which has its own). Returns the buffer for reuse.
    pub async fn request<B: IoBuf>(
        &mut self,
        net: &Net,
        mut req: B,
        head: bool,
        timeout: Duration,
    ) -> (Result<Reply, Failure>, B) {
        self.sent = false;
        for _ in 0..2 {
            if self.stream.is_none() {
                // Boxed: connecting is rare and its future is large; keeping it out of line keeps
                // every idle user's task small (memory per connection).
                if let Err(f) = Box::pin(self.connect(net)).await {
                    return (Err(f), req);
                }
            }
            self.slot.arm(Instant::now() + timeout);
            let (attempt, back) = self.exchange(req, head).await;
            req = back;
            self.slot.disarm();
            if self.slot.fired() {
                self.close();
                let why = format!("no complete response within {}", crate::units::duration(timeout));
                return (Err(Failure::new(ErrorKind::Timeout, why)), req);
            }
            match attempt {
                Attempt::Done(reply) => {
                    self.served += 1;
                    if !self.parser.keep_alive() || net.no_keepalive {
                        self.close();
                    }
                    return (Ok(reply), req);
                }
                Attempt::Stale => self.close(),
                Attempt::Failed(f) => {
                    self.close();
                    return (Err(f), req);
                }
            }
        }
        (Err(Failure::new(ErrorKind::Closed, "server closed the connection before answering, twice")), req)
    }

    /// Drop the connection (the next request opens a new one).
    pub fn close(&mut self) {
        self.rx = None;
        self.tls = None;
        if self.stream.take().is_some() {
            self.slot.set_fd(-1);
            self.parser.reset_connection();
            self.served = 0;
        }
    }

    async fn connect(&mut self, net: &Net) -> Result<(), Failure> {
        let _permit = net.limiter.acquire().await;
        let n = net.addrs.len();
        let first = net.preferred.get();
        let mut reason = String::new();
        for i in 0..n {
            let idx = (first + i) % n;
            let addr = net.addrs[idx];
            match compio::time::timeout(net.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    // Best effort: requests are written whole, so Nagle only adds delay.
                    let _ = stream.set_nodelay(true);
                    net.preferred.set(idx);
                    self.slot.set_fd(stream.as_raw_fd());
                    self.stream = Some(stream);
                    self.served = 0;
                    self.connects += 1;
                    self.parser.reset_connection();
                    if let Some((config, name)) = &net.tls {
                        let shake = compio::time::timeout(net.connect_timeout, self.handshake(config, name)).await;
                        let result = shake.unwrap_or_else(|_| {
                            let limit = crate::units::duration(net.connect_timeout);
                            Err(Failure::new(ErrorKind::Tls, format!("{addr}: TLS handshake not done within {limit}")))
                        });
                        if let Err(f) = result {
                            self.close();
                            return Err(f);
                        }
                    }
                    return Ok(());
                }
                Ok(Err(e)) => reason = format!("{addr}: {e}"),
                Err(_) => reason = format!("{addr}: no answer within {}", crate::units::duration(net.connect_timeout)),
            }
        }
        Err(Failure::new(ErrorKind::Connect, reason))
    }

    /// Run the TLS handshake on the fresh connection.
    async fn handshake(&mut self, config: &Arc<ClientConfig>, name: &ServerName<'static>) -> Result<(), Failure> {
        let tls = ClientConnection::new(config.clone(), name.clone())
            .map_err(|e| Failure::new(ErrorKind::Tls, e.to_string()))?;
        self.tls = Some(Box::new(tls));
        loop {
            self.flush_tls().await?;
            if !self.tls.as_ref().is_some_and(|t| t.is_handshaking()) {
                return Ok(());
            }
            match self.recv().await {
                Recv::Data(chunk) => {
                    let tls = self.tls.as_mut().expect("set above");
                    if let Err(why) = read_ciphertext(tls, chunk.bytes()) {
                        // Tell the server why (best effort), then report it.
                        let _ = self.flush_tls().await;
                        return Err(Failure::new(ErrorKind::Tls, why));
                    }
                }
                Recv::Eof => {
                    return Err(Failure::new(ErrorKind::Tls, "the server closed the connection during the handshake"));
                }
                Recv::Error(e) => return Err(Failure::io(&e)),
            }
        }
    }

    /// Send whatever ciphertext the TLS session has ready.
    async fn flush_tls(&mut self) -> Result<(), Failure> {
        let Some(tls) = self.tls.as_mut() else { return Ok(()) };
        if !tls.wants_write() {
            return Ok(());
        }
        let mut out = std::mem::take(&mut self.tls_out);
        out.clear();
        while tls.wants_write() {
            // Writing into a Vec cannot fail.
            let _ = tls.write_tls(&mut out);
        }
        let stream = self.stream.as_ref().expect("connected");
        let mut w = stream;
        let BufResult(res, mut back) = w.write_all(out).await;
        back.clear();
        if back.capacity() > 64 * 1024 {
            back = Vec::new();
        }
        self.tls_out = back;
        res.map_err(|e| Failure::io(&e))
    }

    /// Wait for the next bytes from the socket (multishot receive, re-armed as needed).
    async fn recv(&mut self) -> Recv {
        loop {
            let stream = self.stream.as_ref().expect("connected");
            if self.rx.is_none() {
                match arm(stream) {
                    Ok(rx) => self.rx = Some(rx),
                    Err(e) => return Recv::Error(e),
                }
            }
            let rx = self.rx.as_mut().expect("armed above");
            let item = rx.next().await;
            if rx.is_terminated() {
                // The kernel ended the multishot (end of stream, error, empty pool): re-arm
                // next time round.
                self.rx = None;
            }
            return match item {
                Some(Ok(Some(buf))) if !buf.is_empty() => Recv::Data(Chunk::Pool(buf)),
                Some(Ok(_)) => Recv::Eof,
                None => continue,
                Some(Err(e)) if e.kind() == std::io::ErrorKind::ResourceBusy => {
                    // The provided-buffer pool is momentarily empty: read into our own buffer.
                    let mut r = stream;
                    let BufResult(res, spare) = Box::pin(r.read(Vec::with_capacity(SPARE_READ))).await;
                    match res {
                        Ok(0) => Recv::Eof,
                        Ok(_) => Recv::Data(Chunk::Own(spare)),
                        Err(e) => Recv::Error(e),
                    }
                }
                Some(Err(e)) => Recv::Error(e),
            };
        }
    }

    /// Feed received bytes to the parser, through TLS when the connection has it. Adds the
    /// HTTP bytes (plaintext) to `bytes_in`.
    fn absorb(&mut self, data: &[u8], bytes_in: &mut u64) -> Result<Progress, Absorb> {
        let Some(tls) = self.tls.as_mut() else {
            *bytes_in += data.len() as u64;
            return self.parser.feed(data).map_err(|e| Absorb::Parse(e.to_string()));
        };
        let mut data = data;
        let mut progress = Progress::NeedMore;
        while !data.is_empty() {
            // Take what the session accepts, decrypt it, and hand the plaintext on, so the
            // session's plaintext buffer never fills up.
            tls.read_tls(&mut data).map_err(|e| Absorb::Tls(e.to_string()))?;
            tls.process_new_packets().map_err(|e| Absorb::Tls(crate::tls::describe(&e)))?;
            loop {
                let mut reader = tls.reader();
                match reader.fill_buf() {
                    Ok([]) => break,
                    Ok(plain) => {
                        let n = plain.len();
                        *bytes_in += n as u64;
                        if self.parser.feed(plain).map_err(|e| Absorb::Parse(e.to_string()))? == Progress::Done {
                            progress = Progress::Done;
                        }
                        reader.consume(n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(Absorb::Tls(e.to_string())),
                }
            }
        }
        Ok(progress)
    }

    async fn exchange<B: IoBuf>(&mut self, req: B, head: bool) -> (Attempt, B) {
        let reused = self.served > 0;
        let bytes_out = req.buf_len() as u64;
        let sent_at = Instant::now();
        self.sent = true;
        let req = match self.tls.as_mut() {
            None => {
                let mut w = self.stream.as_ref().expect("connected before exchange");
                let BufResult(res, req) = w.write_all(req).await;
                if let Err(e) = res {
                    let stale = reused && ErrorKind::from_io(&e) == ErrorKind::Reset;
                    return (if stale { Attempt::Stale } else { Attempt::Failed(Failure::io(&e)) }, req);
                }
                req
            }
            Some(tls) => {
                // Writing plaintext into the session cannot fail before it is closed.
                let _ = tls.writer().write_all(req.as_init());
                if let Err(f) = self.flush_tls().await {
                    let stale = reused && f.kind == ErrorKind::Reset;
                    return (if stale { Attempt::Stale } else { Attempt::Failed(f) }, req);
                }
                req
            }
        };
        self.parser.start(head);
        let mut bytes_in = 0u64;
        let done =
            |status, bytes_in| Attempt::Done(Reply { status, sent_at, done_at: Instant::now(), bytes_in, bytes_out });
        if self.parser.has_buffered() {
            match self.parser.feed(&[]) {
                Ok(Progress::Done) => return (done(self.parser.status(), 0), req),
                Ok(Progress::NeedMore) => {}
                Err(e) => return (Attempt::Failed(Failure::new(ErrorKind::Parse, e.to_string())), req),
            }
        }
        loop {
            let progress = match self.recv().await {
                Recv::Data(chunk) => self.absorb(chunk.bytes(), &mut bytes_in),
                Recv::Eof => return (at_eof(&mut self.parser, reused, |status| done(status, bytes_in)), req),
                Recv::Error(e) => return (read_error(&self.parser, &e, reused), req),
            };
            match progress {
                Ok(Progress::Done) => {
                    // Anything the session wants to say back (key updates) goes out now.
                    if let Err(f) = self.flush_tls().await {
                        return (Attempt::Failed(f), req);
                    }
                    return (done(self.parser.status(), bytes_in), req);
                }
                Ok(Progress::NeedMore) => {}
                Err(a) => return (Attempt::Failed(a.into()), req),
            }
        }
    }
}

/// Hand ciphertext to the TLS session and process it; `Err` carries the TLS error.
fn read_ciphertext(tls: &mut ClientConnection, mut data: &[u8]) -> Result<(), String> {
    while !data.is_empty() {
        if let Err(e) = tls.read_tls(&mut data) {
            return Err(e.to_string());
        }
        if let Err(e) = tls.process_new_packets() {
            return Err(crate::tls::describe(&e));
        }
    }
    Ok(())
}

/// The server closed the connection while we waited for (the rest of) a response.
fn at_eof(parser: &mut ResponseParser, reused: bool, done: impl FnOnce(u16) -> Attempt) -> Attempt {
    if parser.finish_at_eof() {
        // Close-delimited body: complete, and the connection cannot be reused.
        return done(parser.status());
    }
    if !parser.started() {
        if reused {
            return Attempt::Stale;
        }
        return Attempt::Failed(Failure::new(ErrorKind::Closed, "connection closed before any response"));
    }
    Attempt::Failed(Failure::new(ErrorKind::Closed, "connection closed in the middle of a response"))
}

fn read_error(parser: &ResponseParser, e: &std::io::Error, reused: bool) -> Attempt {
    let f = Failure::io(e);
    if reused && f.kind == ErrorKind::Reset && !parser.started() {
        return Attempt::Stale;
    }
    Attempt::Failed(f)
}
