//! One connection slot of a user, plain or TLS: connect (and handshake, and pick the protocol by
//! ALPN or `--http`), send request bytes, receive into the ring's provided buffers, decrypt and
//! parse; keep-alive reuse, reconnects, and the classification of every failure live here. An
//! HTTP/2 connection is handed to [`super::h2`] once open (or a stream of a shared one taken from
//! a pool); the exchange looks the same to the user either way.

use std::cell::Cell;
use std::io::{BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use compio::buf::{BufResult, IoBuf};
use compio::driver::op::{RecvFlags, RecvMulti};
use compio::driver::{BufferRef, SharedFd, ToSharedFd};
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::{TcpSocket, TcpStream};
use compio::runtime::{Runtime, SubmitMultiManaged};
use futures_util::StreamExt;
use futures_util::stream::FusedStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::h2::pool::{Acquired, Pool};
use super::h2::{Link, Waiters};
use super::limit::Limiter;
use super::timeouts::Slot;
use crate::error::{ErrorKind, Failure};
use crate::http::h2::{End, H2Head, Keep, Limits};
use crate::http::version::{Http, Proto};
use crate::http::{Progress, Response, ResponseParser};
use crate::plan::sources::{Dns, pick};

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
    /// Which HTTP to speak (`--http`).
    pub http: Http,
    /// What HTTP/2 sessions of this host are held to.
    pub h2_limits: Limits,
    /// Source addresses to bind connections to (empty: the kernel picks).
    pub sources: Vec<IpAddr>,
    /// Which of `addrs` a user's connection takes (`--dns`).
    pub dns: Dns,
    /// Connections opened from each source (one entry without sources) and to each of
    /// `addrs`, since the last snapshot.
    pub opened_from: Box<[Cell<u64>]>,
    pub opened_to: Box<[Cell<u64>]>,
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
            http: plan.http,
            h2_limits: Limits {
                max_head: plan.max_head,
                max_body: plan.max_body,
                streams: if plan.streams > 1 { plan.streams as u32 } else { u32::MAX },
            },
            sources: plan.sources.clone(),
            dns: plan.dns,
            opened_from: (0..plan.sources.len().max(1)).map(|_| Cell::new(0)).collect(),
            opened_to: (0..t.addrs.len()).map(|_| Cell::new(0)).collect(),
        }
    }

    /// Where a connection of user `key` goes first and where it comes from: the index into
    /// `addrs`, and the source to bind (of that address's family), with its index.
    fn route(&self, key: u64) -> (usize, Option<(usize, IpAddr)>) {
        let (s, a) = pick(key, self.sources.len(), self.addrs.len(), self.dns);
        let a = if self.dns == Dns::First { self.preferred.get() } else { a };
        (a, self.addrs.get(a).and_then(|&to| self.source_for(s, to)))
    }

    /// Source `s`, or the next one of `to`'s family.
    fn source_for(&self, s: usize, to: SocketAddr) -> Option<(usize, IpAddr)> {
        let n = self.sources.len();
        (0..n).map(|i| (s + i) % n).map(|i| (i, self.sources[i])).find(|(_, a)| a.is_ipv4() == to.is_ipv4())
    }

    /// Take the connections opened since the last call: per source, and per address.
    pub fn take_opened(&self) -> (Vec<u64>, Vec<u64>) {
        let take = |c: &[Cell<u64>]| c.iter().map(|c| c.take()).collect();
        (take(&self.opened_from), take(&self.opened_to))
    }
}

/// Open a TCP connection to `to`, bound first to `from` (the kernel picks the port per
/// destination, `IP_BIND_ADDRESS_NO_PORT`). The same ring operations on io_uring and epoll.
async fn connect_from(to: SocketAddr, from: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(from) = from else { return TcpStream::connect(to).await };
    let socket = if to.is_ipv4() { TcpSocket::new_v4().await? } else { TcpSocket::new_v6().await? };
    crate::sys::bind_address_no_port(socket.as_raw_fd())?;
    socket.bind(SocketAddr::new(from, 0)).await?;
    socket.connect(to).await
}

/// A connect that failed: `ports` when the box ran out of local ports for the destination.
fn connect_failure(to: SocketAddr, from: Option<IpAddr>, e: &std::io::Error) -> Failure {
    let from = from.map(|a| format!(" from {a}")).unwrap_or_default();
    if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) {
        let advice = crate::plan::sources::PORTS_ADVICE;
        return Failure::new(ErrorKind::Ports, format!("{to}{from}: {e}: {advice}"));
    }
    Failure::new(ErrorKind::Connect, format!("{to}{from}: {e}"))
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
    pub proto: Proto,
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

/// The receive side of a connection: its armed multishot receive, handed on with the socket
/// (data it already took must not be lost). Boxed: an idle plain HTTP/1.1 connection holds none,
/// and then costs its slot one pointer (memory per idle user).
#[derive(Default)]
pub(crate) struct Inbox {
    rx: Option<Box<Receiver>>,
    /// Receive with one single-shot operation at a time instead of a multishot: the connection
    /// of a user that thinks between requests, which then has nothing armed (nothing to cancel)
    /// while it thinks.
    once: bool,
}

impl Inbox {
    /// An inbox that receives with single-shot operations (see [`Inbox::once`]).
    pub fn once() -> Inbox {
        Inbox { rx: None, once: true }
    }

    /// Wait for the next bytes from `stream` (multishot receive, re-armed as needed; or one
    /// single-shot receive).
    pub async fn recv(&mut self, stream: &TcpStream) -> Recv {
        loop {
            if self.once && self.rx.is_none() {
                // Boxed: only thinking users' exchanges take this path.
                let mut r = stream;
                let item = Box::pin(compio::io::AsyncReadManaged::read_managed(&mut r, 0)).await;
                return Self::received(stream, Some(item)).await;
            }
            if self.rx.is_none() {
                match arm(stream) {
                    Ok(rx) => self.rx = Some(Box::new(rx)),
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
            if item.is_none() {
                continue;
            }
            return Self::received(stream, item).await;
        }
    }

    /// What a receive gave (`None`: a multishot that ended without data, not called with it).
    async fn received(stream: &TcpStream, item: Option<std::io::Result<Option<BufferRef>>>) -> Recv {
        match item {
            Some(Ok(Some(buf))) if !buf.is_empty() => Recv::Data(Chunk::Pool(buf)),
            Some(Ok(_)) | None => Recv::Eof,
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
        }
    }
}

/// Bytes received from the socket.
pub(crate) enum Chunk {
    Pool(BufferRef),
    Own(Vec<u8>),
}

impl Chunk {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Pool(b) => b.as_init(),
            Chunk::Own(v) => v,
        }
    }
}

/// What one receive gave.
pub(crate) enum Recv {
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

/// A freshly opened connection, its protocol decided.
pub(crate) struct Opened {
    pub stream: TcpStream,
    pub tls: Option<Box<ClientConnection>>,
    pub inbox: Inbox,
    pub proto: Proto,
}

/// Connect user `key`'s connection (from its source, to its address per `--dns`, then to the
/// others if that one does not answer), shake hands over TLS, and decide the protocol: what the
/// server picked in ALPN, or over plain TCP h2 with prior knowledge when `--http 2` asks for it.
pub(crate) async fn open_tcp(net: &Net, key: u64) -> Result<Opened, Failure> {
    let _permit = net.limiter.acquire().await;
    let n = net.addrs.len();
    let (first, source) = net.route(key);
    let mut failure = Failure::new(ErrorKind::Connect, "no address");
    for i in 0..n {
        let idx = (first + i) % n;
        let addr = net.addrs[idx];
        let source = if i == 0 { source } else { source.and_then(|(s, _)| net.source_for(s, addr)) };
        let from = source.map(|(_, a)| a);
        match compio::time::timeout(net.connect_timeout, connect_from(addr, from)).await {
            Ok(Ok(stream)) => {
                // Best effort: requests are written whole, so Nagle only adds delay.
                let _ = stream.set_nodelay(true);
                if net.dns == Dns::First {
                    net.preferred.set(idx);
                }
                let from = &net.opened_from[source.map_or(0, |(s, _)| s)];
                from.set(from.get() + 1);
                net.opened_to[idx].set(net.opened_to[idx].get() + 1);
                let mut inbox = Inbox::default();
                let Some((config, name)) = &net.tls else {
                    let proto = if net.http == Http::H2 { Proto::H2 } else { Proto::H1 };
                    return Ok(Opened { stream, tls: None, inbox, proto });
                };
                let shake = compio::time::timeout(net.connect_timeout, handshake(&stream, &mut inbox, config, name));
                let tls = shake.await.unwrap_or_else(|_| {
                    let limit = crate::units::duration(net.connect_timeout);
                    Err(Failure::new(ErrorKind::Tls, format!("{addr}: TLS handshake not done within {limit}")))
                })?;
                let proto = negotiated(net, &tls)?;
                return Ok(Opened { stream, tls: Some(tls), inbox, proto });
            }
            Ok(Err(e)) => failure = connect_failure(addr, from, &e),
            Err(_) => {
                let limit = crate::units::duration(net.connect_timeout);
                failure = Failure::new(ErrorKind::Connect, format!("{addr}: no answer within {limit}"));
            }
        }
    }
    Err(failure)
}

/// The protocol the server picked in ALPN, held to `--http`.
fn negotiated(net: &Net, tls: &ClientConnection) -> Result<Proto, Failure> {
    match (tls.alpn_protocol(), net.http) {
        (Some(b"h2"), _) => Ok(Proto::H2),
        (picked, Http::H2) => {
            let picked = picked.map_or("no protocol".to_string(), |p| format!("`{}`", String::from_utf8_lossy(p)));
            Err(Failure::new(ErrorKind::Tls, format!("the server picked {picked} in ALPN, but --http 2 asks for h2")))
        }
        _ => Ok(Proto::H1),
    }
}

/// Run the TLS handshake on a fresh connection.
async fn handshake(
    stream: &TcpStream,
    inbox: &mut Inbox,
    config: &Arc<ClientConfig>,
    name: &ServerName<'static>,
) -> Result<Box<ClientConnection>, Failure> {
    let mut tls = Box::new(
        ClientConnection::new(config.clone(), name.clone()).map_err(|e| Failure::new(ErrorKind::Tls, e.to_string()))?,
    );
    let mut out = Vec::new();
    loop {
        flush(stream, &mut tls, &mut out).await?;
        if !tls.is_handshaking() {
            return Ok(tls);
        }
        match inbox.recv(stream).await {
            Recv::Data(chunk) => {
                if let Err(why) = read_ciphertext(&mut tls, chunk.bytes()) {
                    // Tell the server why (best effort), then report it.
                    let _ = flush(stream, &mut tls, &mut out).await;
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

/// Send whatever ciphertext the TLS session has ready; `out` is reused.
async fn flush(stream: &TcpStream, tls: &mut ClientConnection, out: &mut Vec<u8>) -> Result<(), Failure> {
    if !tls.wants_write() {
        return Ok(());
    }
    let mut buf = std::mem::take(out);
    buf.clear();
    while tls.wants_write() {
        // Writing into a Vec cannot fail.
        let _ = tls.write_tls(&mut buf);
    }
    let mut w = stream;
    let BufResult(res, mut back) = w.write_all(buf).await;
    back.clear();
    if back.capacity() > 64 * 1024 {
        back = Vec::new();
    }
    *out = back;
    res.map_err(|e| Failure::io(&e))
}

/// Encrypt and send `plain`: as much as the session buffers (rustls holds at most 64 KiB), sent,
/// and again until all of it went (a large request body is never cut short).
async fn send_tls(
    stream: &TcpStream,
    tls: &mut ClientConnection,
    out: &mut Vec<u8>,
    mut plain: &[u8],
) -> Result<(), Failure> {
    loop {
        let n = tls.writer().write(plain).map_err(|e| Failure::new(ErrorKind::Tls, e.to_string()))?;
        plain = &plain[n..];
        if n == 0 && !plain.is_empty() && !tls.wants_write() {
            return Err(Failure::new(ErrorKind::Tls, "the TLS session refused to encrypt the request"));
        }
        flush(stream, tls, out).await?;
        if plain.is_empty() {
            return Ok(());
        }
    }
}

/// Why decrypting failed: the TLS session refused the bytes, or the sink refused the plaintext.
pub(crate) enum Decrypt<E> {
    Tls(String),
    Sink(E),
}

impl<E> Decrypt<E> {
    /// The TLS session's reason, if it was the session that failed.
    pub fn tls(self) -> Option<String> {
        match self {
            Decrypt::Tls(m) => Some(m),
            Decrypt::Sink(_) => None,
        }
    }
}

/// Decrypt `data` through `tls`, handing each piece of plaintext to `sink` as it comes (so the
/// session's plaintext buffer never fills up); with no `data`, what the session already holds.
pub(crate) fn decrypt<E>(
    tls: &mut ClientConnection,
    mut data: &[u8],
    mut sink: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), Decrypt<E>> {
    loop {
        if !data.is_empty() {
            tls.read_tls(&mut data).map_err(|e| Decrypt::Tls(e.to_string()))?;
            tls.process_new_packets().map_err(|e| Decrypt::Tls(crate::tls::describe(&e)))?;
        }
        loop {
            let mut reader = tls.reader();
            match reader.fill_buf() {
                Ok([]) => break,
                Ok(plain) => {
                    let n = plain.len();
                    sink(plain).map_err(Decrypt::Sink)?;
                    reader.consume(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(Decrypt::Tls(e.to_string())),
            }
        }
        if data.is_empty() {
            return Ok(());
        }
    }
}

/// A slot's HTTP/2 side: its own connection, the last answer, a request's header block.
#[derive(Default)]
struct H2Side {
    link: Option<Rc<Link>>,
    answer: crate::http::h2::Response,
    block: Vec<u8>,
}

/// A connection slot of one user: at most one connection of its own at a time (HTTP/1.1, or
/// HTTP/2 carrying one stream at a time), or streams of a worker's shared connections.
pub struct Conn {
    stream: Option<TcpStream>,
    /// The armed receive of `stream`; re-armed when the kernel ends it (buffer pool empty).
    inbox: Inbox,
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
    /// HTTP/2 (boxed: most slots never speak it, and idle users stay small).
    h2: Option<Box<H2Side>>,
    /// Streams of a worker's shared connections instead of a connection of its own, and the
    /// connection to try first.
    pool: Option<(Rc<Pool>, usize)>,
    keep: Keep,
    /// The protocol of the last exchange (`None`: it never reached a connection).
    pub proto: Option<Proto>,
    /// Its user's number: which source and address its connections take.
    key: u64,
}

impl Conn {
    pub fn new(slot: Rc<Slot>, max_head: usize, key: u64) -> Conn {
        Conn {
            stream: None,
            inbox: Inbox::default(),
            tls: None,
            tls_out: Vec::new(),
            parser: ResponseParser::new(max_head),
            slot,
            served: 0,
            connects: 0,
            sent: false,
            h2: None,
            pool: None,
            keep: Keep::default(),
            proto: None,
            key,
        }
    }

    /// Take streams of `pool`'s shared connections, trying connection `home` first.
    pub fn pooled(mut self, pool: Rc<Pool>, home: usize) -> Conn {
        self.pool = Some((pool, home));
        self
    }

    /// The last response as checks, extraction, cookies and redirects read it, whichever
    /// protocol carried it.
    pub fn view(&self) -> Response<'_> {
        match (&self.h2, self.proto) {
            (Some(h), Some(Proto::H2)) => Response {
                status: h.answer.status,
                head: &h.answer.head,
                body: &h.answer.body,
                body_truncated: h.answer.truncated,
            },
            _ => self.parser.view(),
        }
    }

    /// Keep head and body of the next responses (for checks and extraction), up to `max_body`.
    pub fn set_capture(&mut self, max_body: Option<usize>) {
        self.parser.set_capture(max_body);
        self.keep.capture = max_body.is_some();
    }

    /// Keep the head of responses that set cookies or redirect.
    pub fn set_watch(&mut self, watch: bool) {
        self.parser.set_watch(watch);
        self.keep.watch = watch;
    }

    /// Send `req` (HTTP/1.1 bytes; `h2`: its prebuilt HTTP/2 form, else made from them when the
    /// connection speaks h2) and read the response, connecting first if needed. `timeout`
    /// bounds the exchange (not the connect, which has its own). Returns the buffer for reuse.
    pub async fn request<B: IoBuf>(
        &mut self,
        net: &Net,
        mut req: B,
        h2: Option<&H2Head>,
        head: bool,
        timeout: Duration,
    ) -> (Result<Reply, Failure>, B) {
        self.sent = false;
        self.proto = None;
        if let Some((pool, home)) = self.pool.clone().filter(|(p, _)| !p.speaks_h1()) {
            if let Some(result) = Box::pin(self.shared(&pool, home, net, req.as_init(), h2, timeout)).await {
                return (result, req);
            }
        }
        let mut retries = Retries::default();
        loop {
            if self.stream.is_none() && self.link().is_none() {
                // Boxed: connecting is rare and its future is large; keeping it out of line keeps
                // every idle user's task small (memory per connection).
                if let Err(f) = Box::pin(self.connect(net)).await {
                    return (Err(f), req);
                }
            }
            if let Some(link) = self.link() {
                match self.on_link(&link, net, req.as_init(), h2, timeout).await {
                    Ok(reply) => return (Ok(reply), req),
                    Err(end) => match retries.again(end, timeout) {
                        Ok(()) => continue,
                        Err(f) => return (Err(f), req),
                    },
                }
            }
            self.proto = Some(Proto::H1);
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
                Attempt::Stale if retries.stale == 0 => {
                    retries.stale += 1;
                    self.close();
                }
                Attempt::Stale => {
                    self.close();
                    let why = "server closed the connection before answering, twice";
                    return (Err(Failure::new(ErrorKind::Closed, why)), req);
                }
                Attempt::Failed(f) => {
                    self.close();
                    return (Err(f), req);
                }
            }
        }
    }

    /// The slot's own HTTP/2 connection, if it has one.
    fn link(&self) -> Option<Rc<Link>> {
        self.h2.as_ref().and_then(|h| h.link.clone())
    }

    /// One request as a stream of the slot's own HTTP/2 connection; a connection that failed
    /// or is going away is let go (the next request opens another).
    async fn on_link(
        &mut self,
        link: &Rc<Link>,
        net: &Net,
        req: &[u8],
        h2: Option<&H2Head>,
        timeout: Duration,
    ) -> Result<Reply, End> {
        let sent_at = Instant::now();
        self.slot.arm(sent_at + timeout);
        let r = self.stream_on(link, net, req, h2, sent_at).await;
        self.slot.disarm();
        if !link.usable() || net.no_keepalive {
            if let Some(h) = self.h2.as_mut() {
                h.link = None;
            }
        }
        r
    }

    /// Requests as streams of a worker's shared connections (the slot's timeout runs from when
    /// the request was due, its wait for a free stream included). `None`: the host speaks
    /// HTTP/1.1, so the slot's own connection is used.
    async fn shared(
        &mut self,
        pool: &Pool,
        home: usize,
        net: &Net,
        req: &[u8],
        h2: Option<&H2Head>,
        timeout: Duration,
    ) -> Option<Result<Reply, Failure>> {
        let due = Instant::now();
        self.slot.arm(due + timeout);
        let mut retries = Retries::default();
        let result = loop {
            let link = match pool.acquire(net, home, &self.slot).await {
                Acquired::H2(link) => link,
                Acquired::H1 => {
                    self.slot.disarm();
                    return None;
                }
                Acquired::Failed(f) => break Err(f),
            };
            match self.stream_on(&link, net, req, h2, due).await {
                Ok(reply) => break Ok(reply),
                Err(end) => {
                    if let Err(f) = retries.again(end, timeout) {
                        break Err(f);
                    }
                }
            }
        };
        self.slot.disarm();
        Some(result)
    }

    /// Send one request as a stream on `link` and wait for its answer (into the slot's h2 side).
    async fn stream_on(
        &mut self,
        link: &Link,
        net: &Net,
        req: &[u8],
        h2: Option<&H2Head>,
        sent_at: Instant,
    ) -> Result<Reply, End> {
        self.proto = Some(Proto::H2);
        let side = self.h2.get_or_insert_default();
        let mut block = std::mem::take(&mut side.block);
        let mut answer = std::mem::take(&mut side.answer);
        let head = match h2 {
            Some(h) => Ok((&h.block[..], h.body_at)),
            None => {
                block.clear();
                crate::http::h2::request::encode(req, net.tls.is_some(), &mut block).map(|at| (&block[..], at))
            }
        };
        let result = match head {
            Err(why) => Err(End::Failed(Failure::new(ErrorKind::Io, format!("cannot send as HTTP/2: {why}")))),
            Ok((head, body_at)) => {
                match super::h2::open(link, head, &req[body_at.min(req.len())..], self.keep, &self.slot).await {
                    Err(end) => Err(end),
                    Ok(id) => {
                        self.sent = true;
                        match super::h2::wait(link, id, &self.slot, &mut answer).await {
                            End::Done => Ok(Reply {
                                status: answer.status,
                                sent_at,
                                done_at: Instant::now(),
                                bytes_in: answer.bytes_in,
                                bytes_out: answer.bytes_out,
                                proto: Proto::H2,
                            }),
                            end => Err(end),
                        }
                    }
                }
            }
        };
        let side = self.h2.get_or_insert_default();
        side.block = block;
        side.answer = answer;
        result
    }

    /// Give back the memory of the buffers between two exchanges (while the user thinks): the
    /// connection stays open, its buffers are made again at the next request. A plain HTTP/1.1
    /// connection also lets go of its armed receive (the kernel's operation, its queue and its
    /// state: ~0.6 KiB a connection) and from then on receives with single-shot operations, so
    /// nothing is armed while its user thinks. Nothing is lost: HTTP/1.1 servers send nothing
    /// between responses but a close, and a request on a connection closed meanwhile is retried
    /// once on a fresh one ([`Attempt::Stale`]). TLS connections keep theirs (a session ticket
    /// may follow the answer).
    pub fn shed(&mut self) {
        if self.tls.is_none() && self.stream.is_some() && !self.inbox.once {
            self.inbox = Inbox::once();
        }
        self.tls_out = Vec::new();
        self.parser.shed();
        if let Some(h) = self.h2.as_mut() {
            h.block = Vec::new();
            h.answer = Default::default();
        }
    }

    /// Drop the connection (the next request opens a new one).
    pub fn close(&mut self) {
        self.inbox = Inbox::default();
        self.tls = None;
        if let Some(h) = self.h2.as_mut() {
            h.link = None;
        }
        if self.stream.take().is_some() {
            self.slot.set_fd(-1);
            self.parser.reset_connection();
            self.served = 0;
        }
    }

    /// Open a connection: HTTP/1.1 stays in this slot, HTTP/2 gets a link of its own.
    async fn connect(&mut self, net: &Net) -> Result<(), Failure> {
        let Opened { stream, tls, inbox, proto } = open_tcp(net, self.key).await?;
        self.connects += 1;
        self.served = 0;
        self.parser.reset_connection();
        match proto {
            Proto::H2 => {
                let link = Link::start(stream, tls, inbox, net.h2_limits, Rc::new(Waiters::default()));
                self.h2.get_or_insert_default().link = Some(link);
            }
            Proto::H1 => {
                self.slot.set_fd(stream.as_raw_fd());
                self.stream = Some(stream);
                self.tls = tls;
                self.inbox = inbox;
            }
        }
        Ok(())
    }

    /// Send whatever ciphertext the TLS session has ready.
    async fn flush_tls(&mut self) -> Result<(), Failure> {
        let (Some(tls), Some(stream)) = (self.tls.as_mut(), self.stream.as_ref()) else { return Ok(()) };
        flush(stream, tls, &mut self.tls_out).await
    }

    /// Wait for the next bytes from the socket.
    async fn recv(&mut self) -> Recv {
        let stream = self.stream.as_ref().expect("connected");
        self.inbox.recv(stream).await
    }

    /// Feed received bytes to the parser, through TLS when the connection has it. Adds the
    /// HTTP bytes (plaintext) to `bytes_in`.
    fn absorb(&mut self, data: &[u8], bytes_in: &mut u64) -> Result<Progress, Absorb> {
        let Some(tls) = self.tls.as_mut() else {
            *bytes_in += data.len() as u64;
            return self.parser.feed(data).map_err(|e| Absorb::Parse(e.to_string()));
        };
        let mut progress = Progress::NeedMore;
        let parser = &mut self.parser;
        decrypt(tls, data, |plain| {
            *bytes_in += plain.len() as u64;
            if parser.feed(plain)? == Progress::Done {
                progress = Progress::Done;
            }
            Ok(())
        })
        .map_err(|e| match e {
            Decrypt::Tls(m) => Absorb::Tls(m),
            Decrypt::Sink(p) => Absorb::Parse(crate::http::ParseError::to_string(&p)),
        })?;
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
                let stream = self.stream.as_ref().expect("connected before exchange");
                if let Err(f) = send_tls(stream, tls, &mut self.tls_out, req.as_init()).await {
                    let stale = reused && f.kind == ErrorKind::Reset;
                    return (if stale { Attempt::Stale } else { Attempt::Failed(f) }, req);
                }
                req
            }
        };
        self.parser.start(head);
        let mut bytes_in = 0u64;
        let done = |status, bytes_in| {
            Attempt::Done(Reply { status, sent_at, done_at: Instant::now(), bytes_in, bytes_out, proto: Proto::H1 })
        };
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

/// How many times a stream the server did not handle is sent again.
const UNHANDLED_RETRIES: u32 = 5;

/// Retries of one request: once after a stale HTTP/1.1 connection; up to five times after a
/// stream the server did not handle (above a GOAWAY's last stream, or a reused connection closed
/// before answering), each on another connection, within the request's timeout; once after
/// REFUSED_STREAM.
#[derive(Default)]
struct Retries {
    stale: u32,
    /// HTTP/2 streams the server did not handle, sent again so far.
    unhandled: u32,
    refused: bool,
}

impl Retries {
    /// Whether a stream that ended without a response may be sent again; else the failure to
    /// count.
    fn again(&mut self, end: End, timeout: Duration) -> Result<(), Failure> {
        match end {
            End::Retry(_) if self.unhandled < UNHANDLED_RETRIES => {
                self.unhandled += 1;
                Ok(())
            }
            End::Retry(why) => Err(Failure::new(ErrorKind::Closed, format!("{why}, {} times", UNHANDLED_RETRIES + 1))),
            End::Refused if !self.refused => {
                self.refused = true;
                Ok(())
            }
            End::Refused => {
                Err(Failure::new(ErrorKind::H2Reset, "the server refused the stream twice (REFUSED_STREAM)"))
            }
            End::Failed(f) if f.kind == ErrorKind::Timeout => {
                let within = format!("no complete response within {}", crate::units::duration(timeout));
                let why = if f.reason.is_empty() { within } else { format!("{within}: {}", f.reason) };
                Err(Failure::new(ErrorKind::Timeout, why))
            }
            End::Failed(f) => Err(f),
            End::Done => Err(Failure::new(ErrorKind::Io, "a stream ended twice")),
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
