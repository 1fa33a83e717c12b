//! One HTTP/1.1 connection: connect, send request bytes, receive into the ring's provided buffers
//! and parse; keep-alive reuse, reconnects, and the classification of every failure live here.

use std::cell::Cell;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use compio::buf::{BufResult, IoBuf};
use compio::driver::op::{RecvFlags, RecvMulti};
use compio::driver::{SharedFd, ToSharedFd};
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::TcpStream;
use compio::runtime::{Runtime, SubmitMultiManaged};
use futures_util::StreamExt;
use futures_util::stream::FusedStream;

use super::limit::Limiter;
use super::timeouts::Slot;
use crate::error::{ErrorKind, Failure};
use crate::http::{ParseError, Progress, ResponseParser};

/// Size of a fallback read buffer, used only when the provided-buffer pool is empty.
const SPARE_READ: usize = 2 * 1024;

/// What connections of one worker share: where to connect and how long to wait.
#[derive(Debug)]
pub struct Net {
    pub addrs: Vec<SocketAddr>,
    /// Index of the address that last accepted a connection; tried first.
    pub preferred: Cell<usize>,
    pub connect_timeout: Duration,
    pub limiter: Limiter,
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

/// A connection slot of one user: holds at most one open connection at a time.
pub struct Conn {
    stream: Option<TcpStream>,
    /// The armed receive of `stream`; re-armed when the kernel ends it (buffer pool empty).
    rx: Option<Receiver>,
    parser: ResponseParser,
    slot: Rc<Slot>,
    /// Responses completed on the current connection.
    served: u64,
    /// Connections opened over the life of this slot.
    pub connects: u64,
}

impl Conn {
    pub fn new(slot: Rc<Slot>, max_head: usize) -> Conn {
        Conn { stream: None, rx: None, parser: ResponseParser::new(max_head), slot, served: 0, connects: 0 }
    }

    /// The parser, holding the last response's status and (when capturing) head and body.
    pub fn parser(&self) -> &ResponseParser {
        &self.parser
    }

    /// Keep head and body of the next responses (for checks and extraction), up to `max_body`.
    pub fn set_capture(&mut self, max_body: Option<usize>) {
        self.parser.set_capture(max_body);
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
                return (
                    Err(Failure::new(
                        ErrorKind::Timeout,
                        format!("no complete response within {}", crate::units::duration(timeout)),
                    )),
                    req,
                );
            }
            match attempt {
                Attempt::Done(reply) => {
                    self.served += 1;
                    if !self.parser.keep_alive() {
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
                    return Ok(());
                }
                Ok(Err(e)) => reason = format!("{addr}: {e}"),
                Err(_) => reason = format!("{addr}: no answer within {}", crate::units::duration(net.connect_timeout)),
            }
        }
        Err(Failure::new(ErrorKind::Connect, reason))
    }

    async fn exchange<B: IoBuf>(&mut self, req: B, head: bool) -> (Attempt, B) {
        let stream = self.stream.as_ref().expect("connected before exchange");
        let reused = self.served > 0;
        let bytes_out = req.buf_len() as u64;
        let sent_at = Instant::now();
        let mut w = stream;
        let BufResult(res, req) = w.write_all(req).await;
        if let Err(e) = res {
            let stale = reused && ErrorKind::from_io(&e) == ErrorKind::Reset;
            return (if stale { Attempt::Stale } else { Attempt::Failed(Failure::io(&e)) }, req);
        }
        self.parser.start(head);
        let mut bytes_in = 0u64;
        let done =
            |status, bytes_in| Attempt::Done(Reply { status, sent_at, done_at: Instant::now(), bytes_in, bytes_out });
        if self.parser.has_buffered() {
            match self.parser.feed(&[]) {
                Ok(Progress::Done) => return (done(self.parser.status(), 0), req),
                Ok(Progress::NeedMore) => {}
                Err(e) => return (parse_failure(e), req),
            }
        }
        loop {
            if self.rx.is_none() {
                match arm(stream) {
                    Ok(rx) => self.rx = Some(rx),
                    Err(e) => return (Attempt::Failed(Failure::io(&e)), req),
                }
            }
            let rx = self.rx.as_mut().expect("armed above");
            let item = rx.next().await;
            if rx.is_terminated() {
                // The kernel ended the multishot (end of stream, error, empty pool): re-arm
                // next time round.
                self.rx = None;
            }
            let progress = match item {
                Some(Ok(Some(buf))) if !buf.is_empty() => {
                    let data = buf.as_init();
                    bytes_in += data.len() as u64;
                    self.parser.feed(data)
                }
                Some(Ok(_)) => {
                    return (at_eof(&mut self.parser, reused, |status| done(status, bytes_in)), req);
                }
                None => continue,
                Some(Err(e)) if e.kind() == std::io::ErrorKind::ResourceBusy => {
                    // The provided-buffer pool is momentarily empty: read into our own buffer.
                    let mut r = stream;
                    let BufResult(res, spare) = Box::pin(r.read(Vec::with_capacity(SPARE_READ))).await;
                    match res {
                        Ok(0) => return (at_eof(&mut self.parser, reused, |status| done(status, bytes_in)), req),
                        Ok(n) => {
                            bytes_in += n as u64;
                            self.parser.feed(&spare)
                        }
                        Err(e) => return (read_error(&self.parser, &e, reused), req),
                    }
                }
                Some(Err(e)) => return (read_error(&self.parser, &e, reused), req),
            };
            match progress {
                Ok(Progress::Done) => return (done(self.parser.status(), bytes_in), req),
                Ok(Progress::NeedMore) => {}
                Err(e) => return (parse_failure(e), req),
            }
        }
    }
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

fn parse_failure(e: ParseError) -> Attempt {
    Attempt::Failed(Failure::new(ErrorKind::Parse, e.to_string()))
}
