//! The client side of one HTTP/2 connection as a state machine without I/O (RFC 9113): streams
//! opened with a prebuilt header block, frames fed in as they arrive and written out into a
//! buffer the connection's writer sends — SETTINGS honoured and acknowledged, PING answered,
//! flow control both ways (WINDOW_UPDATE as bodies are consumed, request bodies sent as the
//! server's windows allow), CONTINUATION, padding, trailers, GOAWAY and RST_STREAM — and HPACK
//! decoding ([`super::hpack`]). Every misbehaviour of the server ends as a named failure of the
//! streams it touches; nothing here panics on input.

use std::task::Waker;

use super::frame::{self as f, Head};
use super::hpack::{Decoded, Hpack, decode};
use crate::error::{ErrorKind, Failure};

/// Our receive window for each stream (SETTINGS_INITIAL_WINDOW_SIZE), and for the connection.
pub const STREAM_WINDOW: u32 = 1 << 20;
pub const CONN_WINDOW: u32 = 16 << 20;
/// The largest frame we accept (we never raise SETTINGS_MAX_FRAME_SIZE).
pub const MAX_FRAME: usize = f::MIN_MAX_FRAME as usize;
/// Request body bytes queued for sending at most, beyond which DATA waits for the writer.
const OUT_HIGH: usize = 256 * 1024;

/// What each response is checked against, and how many streams this client opens at most.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_head: usize,
    pub max_body: usize,
    pub streams: u32,
}

/// What one request wants kept of its response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    /// Head and body (up to `Limits::max_body`), for checks and extraction.
    pub capture: bool,
    /// The head of a redirect or of a response that sets a cookie.
    pub watch: bool,
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// A complete response.
    Done,
    Failed(Failure),
    /// Not handled by the server (above a GOAWAY's last stream, or a reused connection closed
    /// before any answer): safe to send again on another connection.
    Retry(String),
    /// The server refused the stream (REFUSED_STREAM): not handled, safe to send again.
    Refused,
}

/// Why a stream cannot be opened now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Busy {
    /// The connection failed.
    Dead(Failure),
    /// The server is going away (or stream ids ran out): use another connection.
    Draining,
    /// Every stream the server (or this client) allows is in use.
    Full,
}

/// A complete response, its buffers handed to the caller.
#[derive(Debug, Default)]
pub struct Response {
    pub status: u16,
    /// The head in HTTP/1.1 form (`HTTP/1.1 200 \r\nname: value\r\n...\r\n`) when kept, so checks,
    /// extraction and cookies read h2 answers as they read HTTP/1.1 ones.
    pub head: Vec<u8>,
    pub body: Vec<u8>,
    pub truncated: bool,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

#[derive(Debug, Default)]
struct Stream {
    id: u32,
    waker: Option<Waker>,
    end: Option<End>,
    keep: Keep,
    /// Any frame of the answer arrived.
    answered: bool,
    /// The final (non-1xx) head arrived.
    final_head: bool,
    /// END_STREAM received.
    remote_done: bool,
    set_cookie: bool,
    resp: Response,
    recv_window: i64,
    recv_unacked: u32,
    send_window: i64,
    /// Request body not yet sent, from `sent`.
    pending: Vec<u8>,
    sent: usize,
}

/// One HTTP/2 client connection's protocol state.
pub struct Session {
    /// Frames to send, in order.
    pub out: Vec<u8>,
    /// A partial frame carried to the next `feed`.
    carry: Vec<u8>,
    decoder: Hpack,
    streams: Vec<Stream>,
    /// Streams kept for reuse (their buffers).
    spare: Vec<Stream>,
    next_id: u32,
    limits: Limits,
    peer_max_streams: u32,
    peer_window: i64,
    peer_max_frame: usize,
    send_window: i64,
    recv_window: i64,
    recv_unacked: u32,
    /// A header block being received: its stream, HEADERS flags, bytes so far.
    continuation: Option<(u32, u8, Vec<u8>)>,
    /// The last stream id of a GOAWAY received.
    goaway: Option<u32>,
    dead: Option<Failure>,
    /// Responses completed.
    pub served: u64,
    /// More streams may be opened than before (SETTINGS, a stream ended, the connection failed).
    pub capacity_changed: bool,
}

impl Session {
    /// A new session with its preface, SETTINGS and connection WINDOW_UPDATE ready to send.
    pub fn new(limits: Limits) -> Session {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(f::PREFACE);
        f::write_settings(
            &mut out,
            &[
                (f::SETTINGS_ENABLE_PUSH, 0),
                (f::SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW),
                (f::SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_head as u32),
            ],
        );
        f::write_window_update(&mut out, 0, CONN_WINDOW - f::DEFAULT_WINDOW as u32);
        Session {
            out,
            carry: Vec::new(),
            decoder: Hpack::default(),
            streams: Vec::new(),
            spare: Vec::new(),
            next_id: 1,
            limits,
            peer_max_streams: u32::MAX,
            peer_window: f::DEFAULT_WINDOW,
            peer_max_frame: f::MIN_MAX_FRAME as usize,
            send_window: f::DEFAULT_WINDOW,
            recv_window: CONN_WINDOW as i64,
            recv_unacked: 0,
            continuation: None,
            goaway: None,
            dead: None,
            served: 0,
            capacity_changed: false,
        }
    }

    /// Why the connection failed, if it did.
    pub fn dead(&self) -> Option<&Failure> {
        self.dead.as_ref()
    }

    /// Whether new streams may still go on this connection.
    pub fn usable(&self) -> bool {
        self.dead.is_none() && self.goaway.is_none()
    }

    /// Streams open now.
    pub fn active(&self) -> usize {
        self.streams.len()
    }

    /// Streams that may be opened now.
    pub fn free(&self) -> usize {
        if !self.usable() {
            return 0;
        }
        (self.peer_max_streams.min(self.limits.streams) as usize).saturating_sub(self.streams.len())
    }

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (`u32::MAX` until it says).
    pub fn peer_max_streams(&self) -> u32 {
        self.peer_max_streams
    }

    /// Open a stream for a request: its header block, and its body (sent as the server's flow
    /// control allows).
    pub fn open(&mut self, block: &[u8], payload: &[u8], keep: Keep) -> Result<u32, Busy> {
        if let Some(f) = &self.dead {
            return Err(Busy::Dead(f.clone()));
        }
        if self.goaway.is_some() || self.next_id > (1 << 31) - 2 {
            return Err(Busy::Draining);
        }
        if self.free() == 0 {
            return Err(Busy::Full);
        }
        let id = self.next_id;
        self.next_id += 2;
        // A spare stream's buffers are reused: no allocation per request once warm.
        let mut old = self.spare.pop().unwrap_or_default();
        let (mut head, mut body, mut pending) =
            (std::mem::take(&mut old.resp.head), std::mem::take(&mut old.resp.body), std::mem::take(&mut old.pending));
        head.clear();
        body.clear();
        pending.clear();
        pending.extend_from_slice(payload);
        let bytes_out = f::write_headers(&mut self.out, id, block, payload.is_empty(), self.peer_max_frame) as u64;
        self.streams.push(Stream {
            id,
            keep,
            recv_window: STREAM_WINDOW as i64,
            send_window: self.peer_window,
            resp: Response { head, body, bytes_out, ..Response::default() },
            pending,
            ..Stream::default()
        });
        self.pump();
        Ok(id)
    }

    /// Whether stream `id` has ended; else `waker` is woken when it does.
    pub fn poll_end(&mut self, id: u32, waker: &Waker) -> bool {
        match self.streams.iter_mut().find(|s| s.id == id) {
            Some(s) if s.end.is_none() => {
                if !s.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    s.waker = Some(waker.clone());
                }
                false
            }
            _ => true,
        }
    }

    /// Take the end of stream `id` (after `poll_end` said it ended), its response swapped into
    /// `into` (whose old buffers are kept for reuse). A stream still open is cancelled
    /// (RST_STREAM CANCEL) and `None` returned.
    pub fn finish(&mut self, id: u32, into: &mut Response) -> Option<End> {
        let i = self.streams.iter().position(|s| s.id == id)?;
        let mut s = self.streams.swap_remove(i);
        self.capacity_changed = true;
        let end = s.end.take();
        if end.is_none() {
            if self.dead.is_none() {
                f::write_rst(&mut self.out, id, f::CANCEL);
            }
        } else {
            std::mem::swap(into, &mut s.resp);
        }
        s.waker = None;
        if self.spare.len() < 64 {
            self.spare.push(s);
        }
        end
    }

    /// How much of stream `id`'s request body is sent, of how much, while some is left.
    pub fn upload(&self, id: u32) -> Option<(usize, usize)> {
        let s = self.streams.iter().find(|s| s.id == id)?;
        (s.sent < s.pending.len()).then_some((s.sent, s.pending.len()))
    }

    /// Queue request body bytes the windows allow (call again when the writer drained `out`).
    pub fn pump(&mut self) {
        let max = self.peer_max_frame;
        for s in self.streams.iter_mut().filter(|s| s.sent < s.pending.len() && s.end.is_none()) {
            while s.sent < s.pending.len() && self.out.len() < OUT_HIGH {
                let room = s.send_window.min(self.send_window);
                if room <= 0 {
                    break;
                }
                let n = (s.pending.len() - s.sent).min(room as usize).min(max);
                let last = s.sent + n == s.pending.len();
                f::write_data(&mut self.out, s.id, &s.pending[s.sent..s.sent + n], last);
                s.sent += n;
                s.send_window -= n as i64;
                self.send_window -= n as i64;
                s.resp.bytes_out += (n + f::HEADER_LEN) as u64;
            }
        }
    }

    /// Bytes received from the server.
    pub fn feed(&mut self, data: &[u8]) {
        if self.dead.is_some() {
            return;
        }
        if self.carry.is_empty() {
            let used = self.frames(data);
            if self.dead.is_none() {
                self.carry.extend_from_slice(&data[used..]);
            }
            return;
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(data);
        let used = self.frames(&buf);
        buf.drain(..used);
        if self.dead.is_none() {
            self.carry = buf;
        }
    }

    /// The connection ended under us: `why` is an I/O failure, or `None` for the server closing it.
    pub fn closed(&mut self, why: Option<Failure>) {
        if self.dead.is_some() {
            return;
        }
        let mid_frame = !self.carry.is_empty() || self.continuation.is_some();
        let failure = why.unwrap_or_else(|| {
            let what = if mid_frame {
                "the server closed the connection in the middle of a frame"
            } else {
                "the server closed the connection before the response was complete"
            };
            Failure::new(ErrorKind::Closed, what)
        });
        let served = self.served;
        for s in self.streams.iter_mut().filter(|s| s.end.is_none()) {
            // A reused connection closed before any answer to this stream: the keep-alive race.
            let end = if !s.answered && served > 0 && failure.kind != ErrorKind::Timeout {
                End::Retry("the server closed a reused connection before answering".into())
            } else {
                End::Failed(failure.clone())
            };
            end_stream(s, end);
        }
        self.dead = Some(failure);
        self.capacity_changed = true;
    }

    /// Parse whole frames at the start of `data`; returns the bytes used.
    fn frames(&mut self, data: &[u8]) -> usize {
        let mut pos = 0;
        while self.dead.is_none() && data.len() - pos >= f::HEADER_LEN {
            let h = Head::read(&data[pos..]);
            if h.len > MAX_FRAME {
                let why = format!(
                    "the server sent a {} frame of {} bytes, more than the {MAX_FRAME} (SETTINGS_MAX_FRAME_SIZE) this client allows",
                    kind_name(h.kind),
                    h.len
                );
                self.fail(f::FRAME_SIZE_ERROR, why);
                return data.len();
            }
            if data.len() - pos - f::HEADER_LEN < h.len {
                break;
            }
            let payload = &data[pos + f::HEADER_LEN..pos + f::HEADER_LEN + h.len];
            pos += f::HEADER_LEN + h.len;
            self.frame(h, payload);
        }
        pos
    }

    fn frame(&mut self, h: Head, p: &[u8]) {
        if let Some(id) = self.continuation.as_ref().map(|c| c.0) {
            if h.kind != f::CONTINUATION || h.stream != id {
                return self.fail(f::PROTOCOL_ERROR, "a header block was interrupted by another frame".into());
            }
        }
        match h.kind {
            f::DATA => self.data(h, p),
            f::HEADERS => self.headers(h, p),
            f::CONTINUATION => self.continuation(h, p),
            f::SETTINGS => self.settings(h, p),
            f::PING => self.ping(h, p),
            f::GOAWAY => self.goaway(h, p),
            f::RST_STREAM => self.rst(h, p),
            f::WINDOW_UPDATE => self.window_update(h, p),
            f::PUSH_PROMISE => self.fail(f::PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled".into()),
            f::PRIORITY if h.len != 5 => self.fail(f::FRAME_SIZE_ERROR, "a PRIORITY frame not 5 bytes long".into()),
            _ => {} // PRIORITY, and unknown types, are ignored
        }
    }

    /// A connection error: GOAWAY to the server, every open stream failed as `parse`.
    fn fail(&mut self, code: u32, why: String) {
        f::write_goaway(&mut self.out, 0, code);
        let failure = Failure::new(ErrorKind::Parse, format!("HTTP/2: {why} ({})", f::error_name(code)));
        for s in self.streams.iter_mut().filter(|s| s.end.is_none()) {
            end_stream(s, End::Failed(failure.clone()));
        }
        self.dead = Some(failure);
        self.capacity_changed = true;
    }

    /// A stream error: RST_STREAM to the server, the stream failed as `parse`.
    fn fail_stream(&mut self, i: usize, code: u32, why: &str) {
        let s = &mut self.streams[i];
        f::write_rst(&mut self.out, s.id, code);
        let failure = Failure::new(ErrorKind::Parse, format!("HTTP/2: {why} ({})", f::error_name(code)));
        end_stream(s, End::Failed(failure));
    }

    /// The open stream `id`, or why a frame for it is wrong: `Ok(None)` for a stream this
    /// client ended (frames may still be in flight), `Err` for one it never opened.
    fn stream(&self, id: u32) -> Result<Option<usize>, ()> {
        if id == 0 || id % 2 == 0 || id >= self.next_id {
            return Err(());
        }
        Ok(self.streams.iter().position(|s| s.id == id))
    }

    fn data(&mut self, h: Head, p: &[u8]) {
        let Ok(at) = self.stream(h.stream) else {
            return self.fail(f::PROTOCOL_ERROR, format!("DATA on stream {} that was never opened", h.stream));
        };
        let Some(body) = unpad(h.flags, p) else {
            return self.fail(f::PROTOCOL_ERROR, "DATA with more padding than payload".into());
        };
        self.recv_window -= p.len() as i64;
        if self.recv_window < 0 {
            return self.fail(f::FLOW_CONTROL_ERROR, "the server sent more DATA than the connection window".into());
        }
        self.recv_unacked += p.len() as u32;
        if self.recv_unacked >= CONN_WINDOW / 2 {
            f::write_window_update(&mut self.out, 0, self.recv_unacked);
            self.recv_window += self.recv_unacked as i64;
            self.recv_unacked = 0;
        }
        let Some(i) = at else { return };
        let s = &mut self.streams[i];
        if s.end.is_some() {
            return;
        }
        if !s.final_head || s.remote_done {
            return self.fail_stream(i, f::PROTOCOL_ERROR, "DATA before the response head or after its end");
        }
        s.answered = true;
        s.resp.bytes_in += (p.len() + f::HEADER_LEN) as u64;
        s.recv_window -= p.len() as i64;
        if s.recv_window < 0 {
            return self.fail_stream(i, f::FLOW_CONTROL_ERROR, "the server sent more DATA than the stream window");
        }
        if s.keep.capture {
            let room = self.limits.max_body.saturating_sub(s.resp.body.len());
            s.resp.truncated |= body.len() > room;
            s.resp.body.extend_from_slice(&body[..body.len().min(room)]);
        }
        if h.flags & f::END_STREAM != 0 {
            s.remote_done = true;
            self.served += 1;
            end_stream(s, End::Done);
            return;
        }
        s.recv_unacked += p.len() as u32;
        if s.recv_unacked >= STREAM_WINDOW / 2 {
            f::write_window_update(&mut self.out, s.id, s.recv_unacked);
            s.recv_window += s.recv_unacked as i64;
            s.recv_unacked = 0;
        }
    }

    fn headers(&mut self, h: Head, p: &[u8]) {
        if self.stream(h.stream).is_err() {
            return self.fail(f::PROTOCOL_ERROR, format!("HEADERS on stream {} that was never opened", h.stream));
        }
        let Some(mut block) = unpad(h.flags, p) else {
            return self.fail(f::PROTOCOL_ERROR, "HEADERS with more padding than payload".into());
        };
        if h.flags & f::PRIORITY_FLAG != 0 {
            if block.len() < 5 {
                return self.fail(f::FRAME_SIZE_ERROR, "HEADERS too short for its priority fields".into());
            }
            block = &block[5..];
        }
        if h.flags & f::END_HEADERS == 0 {
            self.continuation = Some((h.stream, h.flags, block.to_vec()));
            return;
        }
        self.header_block(h.stream, h.flags, block, p.len());
    }

    fn continuation(&mut self, h: Head, p: &[u8]) {
        let Some((id, flags, mut block)) = self.continuation.take() else {
            return self.fail(f::PROTOCOL_ERROR, "CONTINUATION without a header block before it".into());
        };
        block.extend_from_slice(p);
        if block.len() > self.limits.max_head + MAX_FRAME {
            let why = format!("a header block larger than {} bytes", self.limits.max_head + MAX_FRAME);
            return self.fail(f::PROTOCOL_ERROR, why);
        }
        if h.flags & f::END_HEADERS == 0 {
            self.continuation = Some((id, flags, block));
            return;
        }
        self.header_block(id, flags, &block, block.len());
    }

    /// A complete header block for stream `id`: decoded (always, to keep the HPACK table in step
    /// with the server's), and applied to the stream if it is still open.
    fn header_block(&mut self, id: u32, flags: u8, block: &[u8], wire: usize) {
        let at = self.streams.iter().position(|s| s.id == id && s.end.is_none());
        let max_head = self.limits.max_head;
        let Session { decoder, streams, .. } = self;
        let mut scratch = Decoded::default();
        let s = at.map(|i| &mut streams[i]);
        let trailers = s.as_ref().is_some_and(|s| s.final_head);
        let keep = s.as_ref().is_some_and(|s| (s.keep.capture || s.keep.watch) && !trailers);
        let head = match s {
            Some(s) if keep => {
                s.resp.head.clear();
                Some(&mut s.resp.head)
            }
            _ => None,
        };
        let result = decode(decoder, block, head, max_head, &mut scratch);
        if let Err(why) = result {
            return self.fail(f::COMPRESSION_ERROR, why);
        }
        let Some(i) = at else { return };
        let end = flags & f::END_STREAM != 0;
        let s = &mut self.streams[i];
        s.answered = true;
        s.resp.bytes_in += (wire + f::HEADER_LEN) as u64;
        if trailers {
            if !end {
                return self.fail_stream(i, f::PROTOCOL_ERROR, "trailers without END_STREAM");
            }
        } else {
            if scratch.too_large {
                let why = format!("response head larger than {max_head} bytes");
                return self.fail_stream(i, f::CANCEL, &why);
            }
            match scratch.status {
                Some(st) if (100..200).contains(&st) => {
                    if end {
                        return self.fail_stream(i, f::PROTOCOL_ERROR, "an informational response ended the stream");
                    }
                    return; // interim: the final head follows
                }
                Some(st) if (200..=999).contains(&st) => s.resp.status = st,
                _ => return self.fail_stream(i, f::PROTOCOL_ERROR, "a response head without a valid :status"),
            }
            s.final_head = true;
            s.set_cookie = scratch.set_cookie;
            if s.keep.watch && !s.keep.capture && !(300..400).contains(&s.resp.status) && !s.set_cookie {
                s.resp.head.clear();
            }
        }
        if end {
            s.remote_done = true;
            self.served += 1;
            end_stream(s, End::Done);
        }
    }

    fn settings(&mut self, h: Head, p: &[u8]) {
        if h.stream != 0 {
            return self.fail(f::PROTOCOL_ERROR, "SETTINGS on a stream".into());
        }
        if h.flags & f::ACK != 0 {
            if !p.is_empty() {
                return self.fail(f::FRAME_SIZE_ERROR, "a SETTINGS acknowledgement with a payload".into());
            }
            return;
        }
        if p.len() % 6 != 0 {
            return self.fail(f::FRAME_SIZE_ERROR, "SETTINGS not a multiple of 6 bytes".into());
        }
        for e in p.chunks(6) {
            let (id, v) = (u16::from_be_bytes([e[0], e[1]]), f::be32(&e[2..]));
            match id {
                f::SETTINGS_MAX_CONCURRENT_STREAMS => self.peer_max_streams = v,
                f::SETTINGS_INITIAL_WINDOW_SIZE => {
                    if v as i64 > f::MAX_WINDOW {
                        return self.fail(f::FLOW_CONTROL_ERROR, format!("SETTINGS_INITIAL_WINDOW_SIZE {v}"));
                    }
                    let delta = v as i64 - self.peer_window;
                    self.peer_window = v as i64;
                    for s in &mut self.streams {
                        s.send_window += delta;
                    }
                }
                f::SETTINGS_MAX_FRAME_SIZE => {
                    if !(f::MIN_MAX_FRAME..=f::MAX_MAX_FRAME).contains(&v) {
                        return self.fail(f::PROTOCOL_ERROR, format!("SETTINGS_MAX_FRAME_SIZE {v}"));
                    }
                    self.peer_max_frame = v as usize;
                }
                // The header table size bounds our encoder, which never uses the dynamic table.
                _ => {}
            }
        }
        f::write_settings_ack(&mut self.out);
        self.capacity_changed = true;
        self.pump();
    }

    fn ping(&mut self, h: Head, p: &[u8]) {
        if p.len() != 8 {
            return self.fail(f::FRAME_SIZE_ERROR, "a PING not 8 bytes long".into());
        }
        if h.stream != 0 {
            return self.fail(f::PROTOCOL_ERROR, "PING on a stream".into());
        }
        if h.flags & f::ACK == 0 {
            f::write_ping_ack(&mut self.out, p);
        }
    }

    fn goaway(&mut self, h: Head, p: &[u8]) {
        if h.stream != 0 || p.len() < 8 {
            return self.fail(f::PROTOCOL_ERROR, "a malformed GOAWAY".into());
        }
        let last = f::be32(p) & 0x7fff_ffff;
        let code = f::be32(&p[4..]);
        self.goaway = Some(self.goaway.map_or(last, |l| l.min(last)));
        let why = format!("the server sent GOAWAY ({}) before handling this stream", f::error_name(code));
        for s in self.streams.iter_mut().filter(|s| s.id > last && s.end.is_none()) {
            end_stream(s, End::Retry(why.clone()));
        }
        self.capacity_changed = true;
    }

    fn rst(&mut self, h: Head, p: &[u8]) {
        if p.len() != 4 {
            return self.fail(f::FRAME_SIZE_ERROR, "a RST_STREAM not 4 bytes long".into());
        }
        let Ok(at) = self.stream(h.stream) else {
            return self.fail(f::PROTOCOL_ERROR, format!("RST_STREAM on stream {} that was never opened", h.stream));
        };
        let Some(s) = at.map(|i| &mut self.streams[i]).filter(|s| s.end.is_none()) else { return };
        let code = f::be32(p);
        let end = if code == f::REFUSED_STREAM {
            End::Refused
        } else {
            let why = format!("the server reset the stream: {} (0x{code:x})", f::error_name(code));
            End::Failed(Failure::new(ErrorKind::H2Reset, why))
        };
        end_stream(s, end);
    }

    fn window_update(&mut self, h: Head, p: &[u8]) {
        if p.len() != 4 {
            return self.fail(f::FRAME_SIZE_ERROR, "a WINDOW_UPDATE not 4 bytes long".into());
        }
        let inc = (f::be32(p) & 0x7fff_ffff) as i64;
        if h.stream == 0 {
            if inc == 0 || self.send_window + inc > f::MAX_WINDOW {
                return self.fail(f::PROTOCOL_ERROR, format!("a connection WINDOW_UPDATE of {inc}"));
            }
            self.send_window += inc;
        } else {
            let Ok(at) = self.stream(h.stream) else {
                return self.fail(f::PROTOCOL_ERROR, format!("WINDOW_UPDATE on stream {} never opened", h.stream));
            };
            let Some(i) = at else { return };
            let s = &mut self.streams[i];
            if inc == 0 || s.send_window + inc > f::MAX_WINDOW {
                return self.fail_stream(i, f::FLOW_CONTROL_ERROR, "a bad stream WINDOW_UPDATE");
            }
            s.send_window += inc;
        }
        self.pump();
    }
}

/// End a stream and wake the request waiting for it.
fn end_stream(s: &mut Stream, end: End) {
    s.end = Some(end);
    if let Some(w) = s.waker.take() {
        w.wake();
    }
}

/// The payload of a DATA or HEADERS frame without its padding (`None`: padding too long).
fn unpad(flags: u8, p: &[u8]) -> Option<&[u8]> {
    if flags & f::PADDED == 0 {
        return Some(p);
    }
    let (&pad, rest) = p.split_first()?;
    rest.len().checked_sub(pad as usize).map(|n| &rest[..n])
}

/// A frame type's name, for reasons.
fn kind_name(kind: u8) -> &'static str {
    match kind {
        f::DATA => "DATA",
        f::HEADERS => "HEADERS",
        f::PRIORITY => "PRIORITY",
        f::RST_STREAM => "RST_STREAM",
        f::SETTINGS => "SETTINGS",
        f::PUSH_PROMISE => "PUSH_PROMISE",
        f::PING => "PING",
        f::GOAWAY => "GOAWAY",
        f::WINDOW_UPDATE => "WINDOW_UPDATE",
        f::CONTINUATION => "CONTINUATION",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests;
