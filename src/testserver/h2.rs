//! The target's h2c side (HTTP/2 with prior knowledge, RFC 9113), for connections that open with
//! the HTTP/2 preface: SETTINGS exchanged and acknowledged, streams answered by the same route
//! table as HTTP/1.1 ([`route::respond`]) and out of order (a delayed answer holds only its own
//! stream), flow control both ways, PING answered, GOAWAY when the target stops. Frames are the
//! client's codec ([`crate::http::h2::frame`]), HPACK httlib-hpack's: the `h2` crate's server
//! would bring tokio into the binary for a test server.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;

use super::api::Body;
use super::route::{self, Answer};
use super::{MAX_BODY, MAX_HEAD, Shared};
use crate::http::h2::frame::{self as f, Head};
use crate::http::h2::hpack::Hpack;

/// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
pub(super) const MAX_STREAMS: u32 = 256;
/// Our receive window per stream and for the connection: the RFC's default, so an upload larger
/// than 64 KiB goes on only as WINDOW_UPDATEs come back.
const WINDOW: u32 = f::DEFAULT_WINDOW as u32;

/// One request stream.
#[derive(Default)]
struct Stream {
    method: String,
    path: String,
    authorization: Option<Vec<u8>>,
    body: Vec<u8>,
    /// The request is whole (END_STREAM); it is answered from then on.
    ended: bool,
    /// The answer's body and how much of it is sent, once its HEADERS are out.
    sending: Option<(Body, usize)>,
    /// The client's window for this stream.
    window: i64,
}

/// One connection's state, shared by its reader, its writer and its held answers.
struct Conn {
    /// Frames to send; the writer takes them.
    out: Vec<u8>,
    writer: Option<Waker>,
    /// No more frames are read or answered; the writer ends once `out` is sent.
    closing: bool,
    /// GOAWAY sent: close once the open streams are answered.
    draining: bool,
    /// The client's SETTINGS came (they must come first).
    settled: bool,
    streams: HashMap<u32, Stream>,
    /// The highest stream id the client opened.
    last_id: u32,
    /// A header block waiting for its CONTINUATION frames: stream, HEADERS flags, block.
    block: Option<(u32, u8, Vec<u8>)>,
    /// The client's connection window, its initial stream window and its largest frame.
    window: i64,
    initial: i64,
    max_frame: usize,
    decoder: Hpack,
    encoder: httlib_hpack::Encoder<'static>,
}

/// What a handler needs to answer requests: the routes' state and a way back to the connection
/// for answers that are held.
struct Ctx<'a> {
    sh: &'a Arc<Shared>,
    shard: usize,
    me: &'a Weak<RefCell<Conn>>,
}

/// A connection error: GOAWAY with this code and reason, then close.
struct ConnError(u32, &'static str);

impl Conn {
    fn new() -> Conn {
        let mut out = Vec::with_capacity(4096);
        f::write_settings(
            &mut out,
            &[(f::SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS), (f::SETTINGS_INITIAL_WINDOW_SIZE, WINDOW)],
        );
        Conn {
            out,
            writer: None,
            closing: false,
            draining: false,
            settled: false,
            streams: HashMap::new(),
            last_id: 0,
            block: None,
            window: f::DEFAULT_WINDOW,
            initial: f::DEFAULT_WINDOW,
            max_frame: f::MIN_MAX_FRAME as usize,
            decoder: Hpack::default(),
            encoder: httlib_hpack::Encoder::default(),
        }
    }

    fn wake_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }

    /// Send GOAWAY, with `why` as its debug data: no stream above the last one opened will be
    /// answered; an error code closes the connection at once, NO_ERROR once the open streams are
    /// answered.
    fn goaway(&mut self, code: u32, why: &str) {
        if !self.draining {
            f::write_head(&mut self.out, 8 + why.len(), f::GOAWAY, 0, 0);
            self.out.extend_from_slice(&self.last_id.to_be_bytes());
            self.out.extend_from_slice(&code.to_be_bytes());
            self.out.extend_from_slice(why.as_bytes());
            self.draining = true;
        }
        self.closing |= code != f::NO_ERROR || self.streams.is_empty();
        self.wake_writer();
    }

    /// Handle the whole frames at the start of `input`; returns the bytes used.
    fn frames(&mut self, input: &[u8], cx: &Ctx<'_>) -> usize {
        let mut used = 0;
        while !self.closing && input.len() - used >= f::HEADER_LEN {
            let h = Head::read(&input[used..]);
            if h.len > f::MIN_MAX_FRAME as usize {
                self.goaway(f::FRAME_SIZE_ERROR, "a frame larger than SETTINGS_MAX_FRAME_SIZE");
                break;
            }
            if input.len() - used < f::HEADER_LEN + h.len {
                break;
            }
            let payload = &input[used + f::HEADER_LEN..used + f::HEADER_LEN + h.len];
            used += f::HEADER_LEN + h.len;
            if let Err(ConnError(code, why)) = self.frame(h, payload, cx) {
                self.goaway(code, why);
            }
        }
        self.wake_writer();
        used
    }

    fn frame(&mut self, h: Head, p: &[u8], cx: &Ctx<'_>) -> Result<(), ConnError> {
        if !self.settled && (h.kind != f::SETTINGS || h.flags & f::ACK != 0) {
            return Err(ConnError(f::PROTOCOL_ERROR, "the preface is not followed by SETTINGS"));
        }
        if self.block.as_ref().is_some_and(|b| h.kind != f::CONTINUATION || h.stream != b.0) {
            return Err(ConnError(f::PROTOCOL_ERROR, "a header block interrupted"));
        }
        match h.kind {
            f::DATA => self.data(h, p, cx),
            f::HEADERS => self.headers(h, p, cx),
            f::CONTINUATION => self.continuation(h, p, cx),
            f::SETTINGS => self.settings(h, p),
            f::PING if h.len != 8 || h.stream != 0 => Err(ConnError(f::FRAME_SIZE_ERROR, "a PING not 8 bytes")),
            f::PING if h.flags & f::ACK == 0 => {
                f::write_ping_ack(&mut self.out, p);
                Ok(())
            }
            f::RST_STREAM if h.len != 4 || h.stream == 0 => Err(ConnError(f::PROTOCOL_ERROR, "a bad RST_STREAM")),
            f::RST_STREAM => {
                self.streams.remove(&h.stream);
                self.ended();
                Ok(())
            }
            f::WINDOW_UPDATE => self.window_update(h, p),
            f::GOAWAY => {
                self.goaway(f::NO_ERROR, "");
                Ok(())
            }
            f::PUSH_PROMISE => Err(ConnError(f::PROTOCOL_ERROR, "a client may not push")),
            // PING acknowledgements, PRIORITY, unknown frame types: nothing to do.
            _ => Ok(()),
        }
    }

    /// `p` without its padding (and priority fields) when `h` says it has them.
    fn unpad(h: Head, p: &[u8]) -> Result<&[u8], ConnError> {
        let mut p = p;
        let mut pad = 0;
        if h.flags & f::PADDED != 0 {
            pad = *p.first().ok_or(ConnError(f::FRAME_SIZE_ERROR, "a padded frame without its length"))? as usize;
            p = &p[1..];
        }
        if h.kind == f::HEADERS && h.flags & f::PRIORITY_FLAG != 0 {
            p = p.get(5..).ok_or(ConnError(f::FRAME_SIZE_ERROR, "HEADERS too short for its priority"))?;
        }
        if pad > p.len() {
            return Err(ConnError(f::PROTOCOL_ERROR, "padding longer than the frame"));
        }
        Ok(&p[..p.len() - pad])
    }

    fn data(&mut self, h: Head, p: &[u8], cx: &Ctx<'_>) -> Result<(), ConnError> {
        if h.stream == 0 || h.stream > self.last_id {
            return Err(ConnError(f::PROTOCOL_ERROR, "DATA on a stream not open"));
        }
        let body = Self::unpad(h, p)?;
        // The whole frame counts against the connection's window: give it back at once.
        if h.len > 0 {
            f::write_window_update(&mut self.out, 0, h.len as u32);
        }
        let end = h.flags & f::END_STREAM != 0;
        let Some(s) = self.streams.get_mut(&h.stream).filter(|s| !s.ended) else {
            // A stream already answered or reset: its frames are dropped.
            return Ok(());
        };
        if s.body.len() + body.len() > MAX_BODY {
            // Answered at once; the rest of the body is not wanted (RST_STREAM NO_ERROR).
            s.ended = true;
            let id = h.stream;
            self.answer(id, Answer::text(413, b"body larger than 16 MiB\n"), false);
            if !self.streams.contains_key(&id) {
                f::write_rst(&mut self.out, id, f::NO_ERROR);
            }
            return Ok(());
        }
        s.body.extend_from_slice(body);
        if end {
            s.ended = true;
            self.dispatch(h.stream, cx);
        } else if h.len > 0 {
            f::write_window_update(&mut self.out, h.stream, h.len as u32);
        }
        Ok(())
    }

    fn headers(&mut self, h: Head, p: &[u8], cx: &Ctx<'_>) -> Result<(), ConnError> {
        if h.stream % 2 == 0 {
            return Err(ConnError(f::PROTOCOL_ERROR, "a client stream with an even id"));
        }
        let block = Self::unpad(h, p)?;
        if h.flags & f::END_HEADERS == 0 {
            self.block = Some((h.stream, h.flags, block.to_vec()));
            return Ok(());
        }
        self.header_block(h.stream, h.flags, block, cx)
    }

    fn continuation(&mut self, h: Head, p: &[u8], cx: &Ctx<'_>) -> Result<(), ConnError> {
        let Some((id, flags, mut block)) = self.block.take() else {
            return Err(ConnError(f::PROTOCOL_ERROR, "CONTINUATION without HEADERS"));
        };
        block.extend_from_slice(p);
        if block.len() > MAX_HEAD {
            return Err(ConnError(f::PROTOCOL_ERROR, "a header block larger than 64 KiB"));
        }
        if h.flags & f::END_HEADERS == 0 {
            self.block = Some((id, flags, block));
            return Ok(());
        }
        self.header_block(id, flags, &block, cx)
    }

    /// A whole header block of stream `id`: a new request, or the trailers of one.
    fn header_block(&mut self, id: u32, flags: u8, block: &[u8], cx: &Ctx<'_>) -> Result<(), ConnError> {
        let fields = self.decoder.fields(block).map_err(|_| ConnError(f::COMPRESSION_ERROR, "a bad HPACK block"))?;
        let end = flags & f::END_STREAM != 0;
        if let Some(s) = self.streams.get_mut(&id) {
            // Trailers: they end the request, and are not read.
            if s.ended || !end {
                return Err(ConnError(f::PROTOCOL_ERROR, "HEADERS on a stream that is not expecting trailers"));
            }
            s.ended = true;
            self.dispatch(id, cx);
            return Ok(());
        }
        if id <= self.last_id {
            return Err(ConnError(f::PROTOCOL_ERROR, "HEADERS on a closed stream"));
        }
        self.last_id = id;
        if self.draining {
            return Ok(());
        }
        if self.streams.len() >= MAX_STREAMS as usize {
            f::write_rst(&mut self.out, id, f::REFUSED_STREAM);
            return Ok(());
        }
        let mut s = Stream { window: self.initial, ended: end, ..Stream::default() };
        let mut size = 0;
        for (name, value, _) in fields {
            size += name.len() + value.len() + 32;
            match name.as_slice() {
                b":method" => s.method = String::from_utf8_lossy(value).into_owned(),
                b":path" => s.path = String::from_utf8_lossy(value).into_owned(),
                b"authorization" => s.authorization = Some(value.clone()),
                _ => {}
            }
        }
        let bad = match () {
            _ if s.method.is_empty() || !s.path.starts_with('/') => Some(Answer::text(400, b"no :method or :path\n")),
            _ if size > MAX_HEAD => Some(Answer::text(431, b"request head too large\n")),
            _ => None,
        };
        self.streams.insert(id, s);
        match bad {
            Some(a) => self.answer(id, a, false),
            None if end => self.dispatch(id, cx),
            None => {}
        }
        Ok(())
    }

    fn settings(&mut self, h: Head, p: &[u8]) -> Result<(), ConnError> {
        if h.stream != 0 {
            return Err(ConnError(f::PROTOCOL_ERROR, "SETTINGS on a stream"));
        }
        if h.flags & f::ACK != 0 {
            return if h.len == 0 {
                Ok(())
            } else {
                Err(ConnError(f::FRAME_SIZE_ERROR, "a SETTINGS ACK with a payload"))
            };
        }
        if h.len % 6 != 0 {
            return Err(ConnError(f::FRAME_SIZE_ERROR, "SETTINGS not a multiple of 6 bytes"));
        }
        for s in p.chunks_exact(6) {
            let v = f::be32(&s[2..]);
            match u16::from_be_bytes([s[0], s[1]]) {
                f::SETTINGS_INITIAL_WINDOW_SIZE if i64::from(v) > f::MAX_WINDOW => {
                    return Err(ConnError(f::FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE too large"));
                }
                f::SETTINGS_INITIAL_WINDOW_SIZE => {
                    let delta = i64::from(v) - self.initial;
                    self.initial = i64::from(v);
                    self.streams.values_mut().for_each(|s| s.window += delta);
                }
                f::SETTINGS_MAX_FRAME_SIZE if !(f::MIN_MAX_FRAME..=f::MAX_MAX_FRAME).contains(&v) => {
                    return Err(ConnError(f::PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE out of range"));
                }
                f::SETTINGS_MAX_FRAME_SIZE => self.max_frame = v as usize,
                _ => {}
            }
        }
        self.settled = true;
        f::write_settings_ack(&mut self.out);
        self.pump();
        Ok(())
    }

    fn window_update(&mut self, h: Head, p: &[u8]) -> Result<(), ConnError> {
        if h.len != 4 {
            return Err(ConnError(f::FRAME_SIZE_ERROR, "a WINDOW_UPDATE not 4 bytes"));
        }
        let inc = i64::from(f::be32(p) & 0x7fff_ffff);
        if h.stream == 0 {
            if inc == 0 || self.window + inc > f::MAX_WINDOW {
                return Err(ConnError(f::FLOW_CONTROL_ERROR, "a bad connection WINDOW_UPDATE"));
            }
            self.window += inc;
        } else if let Some(s) = self.streams.get_mut(&h.stream) {
            if inc == 0 || s.window + inc > f::MAX_WINDOW {
                self.streams.remove(&h.stream);
                f::write_rst(&mut self.out, h.stream, f::FLOW_CONTROL_ERROR);
                return Ok(());
            }
            s.window += inc;
        }
        self.pump();
        Ok(())
    }

    /// Stream `id`'s request is whole: answer it now, or later when its route holds it.
    fn dispatch(&mut self, id: u32, cx: &Ctx<'_>) {
        let Some(s) = self.streams.get_mut(&id) else { return };
        let body = std::mem::take(&mut s.body);
        let r = route::Req {
            method: &s.method,
            path: &s.path,
            body: &body,
            authorization: s.authorization.as_deref(),
            close: false,
        };
        let answer = route::respond(&r, cx.sh, cx.shard);
        let head_only = s.method == "HEAD";
        let Some(d) = answer.delay else { return self.answer(id, answer, head_only) };
        let me = cx.me.clone();
        compio::runtime::spawn(async move {
            compio::time::sleep(d).await;
            if let Some(conn) = me.upgrade() {
                let mut c = conn.borrow_mut();
                c.answer(id, answer, head_only);
                c.wake_writer();
            }
        })
        .detach();
    }

    /// Send `a` on stream `id` (HEADERS, then its body as the windows allow).
    fn answer(&mut self, id: u32, a: Answer, head_only: bool) {
        if self.closing || !self.streams.contains_key(&id) {
            return; // reset by the client, or the connection is going
        }
        let mut block = Vec::with_capacity(64);
        let status = a.status.to_string();
        let len = a.body.len().to_string();
        let mut fields = vec![(":status", status.as_str()), ("content-type", a.content_type)];
        if !a.chunked {
            fields.push(("content-length", &len));
        }
        if let Some((name, value)) = a.extra {
            fields.push((name, value));
        }
        for (name, value) in fields {
            let field =
                (name.to_ascii_lowercase().into_bytes(), value.as_bytes().to_vec(), httlib_hpack::Encoder::BEST_FORMAT);
            // Literals without indexing: the encoder only fails on a dynamic table it does not keep.
            let _ = self.encoder.encode(field, &mut block);
        }
        let empty = head_only || a.body.len() == 0 || matches!(a.status, 204 | 304);
        f::write_headers(&mut self.out, id, &block, empty, self.max_frame);
        if empty {
            self.streams.remove(&id);
        } else if let Some(s) = self.streams.get_mut(&id) {
            s.sending = Some((a.body, 0));
            self.pump();
        }
        if a.close {
            self.goaway(f::NO_ERROR, "");
        }
        self.ended();
    }

    /// Send what the windows allow of every answer's body.
    fn pump(&mut self) {
        let mut done = Vec::new();
        for (&id, s) in self.streams.iter_mut() {
            let Some((body, sent)) = s.sending.as_mut() else { continue };
            while *sent < body.len() && s.window > 0 && self.window > 0 {
                let n = (body.len() - *sent).min(self.max_frame).min(s.window.min(self.window) as usize);
                let last = *sent + n == body.len();
                f::write_head(&mut self.out, n, f::DATA, if last { f::END_STREAM } else { 0 }, id);
                body.put(*sent..*sent + n, &mut self.out);
                *sent += n;
                s.window -= n as i64;
                self.window -= n as i64;
            }
            if *sent == body.len() {
                done.push(id);
            }
        }
        for id in done {
            self.streams.remove(&id);
        }
        self.ended();
    }

    /// After GOAWAY, close once the last stream is answered.
    fn ended(&mut self) {
        if self.draining && self.streams.is_empty() {
            self.closing = true;
            self.wake_writer();
        }
    }
}

/// The h2c connections of one server thread, told GOAWAY when the target stops.
#[derive(Default)]
pub(super) struct Live(RefCell<Vec<Weak<RefCell<Conn>>>>);

impl Live {
    fn add(&self, conn: &Rc<RefCell<Conn>>) {
        let mut v = self.0.borrow_mut();
        if v.len() >= 64 && v.len().is_power_of_two() {
            v.retain(|c| c.strong_count() > 0);
        }
        v.push(Rc::downgrade(conn));
    }

    /// GOAWAY on every open connection, and a moment for the writers to send it.
    pub(super) async fn goaway(&self) {
        let conns: Vec<_> = self.0.borrow_mut().drain(..).filter_map(|c| c.upgrade()).collect();
        if conns.is_empty() {
            return;
        }
        for c in &conns {
            let mut c = c.borrow_mut();
            c.goaway(f::NO_ERROR, "the target is stopping");
            c.closing = true;
            c.wake_writer();
        }
        compio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Send what the connection queues until it closes, then shut the socket's sending side.
async fn write_loop(stream: Rc<TcpStream>, conn: Rc<RefCell<Conn>>) {
    let mut spare: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let next = poll_fn(|cx| {
            let mut c = conn.borrow_mut();
            if !c.out.is_empty() {
                let fresh = std::mem::take(&mut spare);
                return Poll::Ready(Some(std::mem::replace(&mut c.out, fresh)));
            }
            if c.closing {
                return Poll::Ready(None);
            }
            c.writer = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let Some(buf) = next else { break };
        let BufResult(res, mut back) = (&mut &*stream).write_all(buf).await;
        if res.is_err() {
            conn.borrow_mut().closing = true;
            return;
        }
        back.clear();
        spare = back;
    }
    let _ = compio::io::AsyncWrite::shutdown(&mut &*stream).await;
}

/// Serve an h2c connection whose first bytes (`input`) hold the preface.
pub(super) async fn serve(stream: TcpStream, mut input: Vec<u8>, sh: Arc<Shared>, shard: usize, live: Rc<Live>) {
    let stream = Rc::new(stream);
    let conn = Rc::new(RefCell::new(Conn::new()));
    live.add(&conn);
    let writer = compio::runtime::spawn(write_loop(stream.clone(), conn.clone()));
    let me = Rc::downgrade(&conn);
    let cx = Ctx { sh: &sh, shard, me: &me };
    input.drain(..f::PREFACE.len());
    loop {
        let used = conn.borrow_mut().frames(&input, &cx);
        input.drain(..used);
        if conn.borrow().closing {
            break;
        }
        input.reserve(4096);
        let BufResult(res, back) = (&mut &*stream).append(std::mem::take(&mut input)).await;
        input = back;
        if matches!(res, Ok(0) | Err(_)) || conn.borrow().closing {
            break;
        }
    }
    {
        let mut c = conn.borrow_mut();
        c.closing = true;
        c.wake_writer();
    }
    let _ = writer.await;
}
