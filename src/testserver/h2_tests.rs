//! Tests of the target's h2c side over real loopback sockets, from a client that writes and reads
//! raw frames (so each test controls exactly what the server sees): SETTINGS and PING, streams
//! answered out of order, HEADERS split into CONTINUATIONs, flow control both ways, RST_STREAM,
//! protocol errors and GOAWAY when the target stops.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::TestServer;
use super::h2::MAX_STREAMS;
use crate::http::h2::frame::{self as f, Head};
use crate::http::h2::hpack::Field;

/// A complete response: stream, status, header fields, body.
#[derive(Debug)]
struct Resp {
    id: u32,
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

/// An h2c client connection, frame by frame.
struct H2 {
    s: TcpStream,
    buf: Vec<u8>,
    enc: httlib_hpack::Encoder<'static>,
    dec: httlib_hpack::Decoder<'static>,
    /// Responses being received: status and fields, body.
    open: HashMap<u32, Resp>,
    /// The server's windows for what we send: connection, and per stream.
    send_window: i64,
    stream_windows: HashMap<u32, i64>,
    /// Our window for the server's DATA: how much it may still send us before we grant more.
    recv_window: i64,
    /// Grant window as DATA arrives (false: only when `grant` is called).
    auto_grant: bool,
    /// The server's SETTINGS, as received.
    server_settings: Vec<(u16, u32)>,
}

fn start() -> TestServer {
    TestServer::start("127.0.0.1:0".parse().unwrap(), 1).expect("target starts")
}

impl H2 {
    /// Connect, send the preface and empty SETTINGS.
    fn connect(t: &TestServer) -> H2 {
        let s = TcpStream::connect(t.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        let mut c = H2 {
            s,
            buf: Vec::new(),
            enc: httlib_hpack::Encoder::default(),
            dec: httlib_hpack::Decoder::default(),
            open: HashMap::new(),
            send_window: f::DEFAULT_WINDOW,
            stream_windows: HashMap::new(),
            recv_window: f::DEFAULT_WINDOW,
            auto_grant: true,
            server_settings: Vec::new(),
        };
        let mut out = f::PREFACE.to_vec();
        f::write_settings(&mut out, &[]);
        c.raw(&out);
        c
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("write");
    }

    /// The next frame; `None` when the server closed the connection.
    fn frame(&mut self) -> Option<(Head, Vec<u8>)> {
        loop {
            if self.buf.len() >= f::HEADER_LEN {
                let h = Head::read(&self.buf);
                if self.buf.len() >= f::HEADER_LEN + h.len {
                    let p = self.buf[f::HEADER_LEN..f::HEADER_LEN + h.len].to_vec();
                    self.buf.drain(..f::HEADER_LEN + h.len);
                    return Some((h, p));
                }
            }
            let mut chunk = [0u8; 65_536];
            match self.s.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn block(&mut self, method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        let fields = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "target")];
        for (n, v) in fields.iter().chain(extra) {
            self.enc.encode((n.as_bytes().to_vec(), v.as_bytes().to_vec(), 0x10), &mut block).unwrap();
        }
        block
    }

    /// Open stream `id` with a request, its header block in frames of at most `max_frame` bytes.
    fn request(&mut self, id: u32, method: &str, path: &str, extra: &[(&str, &str)], end: bool, max_frame: usize) {
        let block = self.block(method, path, extra);
        let mut out = Vec::new();
        f::write_headers(&mut out, id, &block, end, max_frame);
        self.stream_windows.insert(id, f::DEFAULT_WINDOW);
        self.raw(&out);
    }

    fn get(&mut self, id: u32, path: &str) {
        self.request(id, "GET", path, &[], true, 16_384);
    }

    /// Grant the server `n` more bytes on the connection and on stream `id`.
    fn grant(&mut self, id: u32, n: u32) {
        let mut out = Vec::new();
        f::write_window_update(&mut out, 0, n);
        f::write_window_update(&mut out, id, n);
        self.recv_window += i64::from(n);
        self.raw(&out);
    }

    /// Handle one frame from the server; a response it completes is returned.
    fn handle(&mut self, h: Head, p: Vec<u8>) -> Option<Resp> {
        let end = h.flags & f::END_STREAM != 0;
        match h.kind {
            f::SETTINGS if h.flags & f::ACK == 0 => {
                self.server_settings =
                    p.chunks_exact(6).map(|s| (u16::from_be_bytes([s[0], s[1]]), f::be32(&s[2..]))).collect();
                let mut out = Vec::new();
                f::write_settings_ack(&mut out);
                self.raw(&out);
            }
            f::WINDOW_UPDATE if h.stream == 0 => self.send_window += i64::from(f::be32(&p)),
            f::WINDOW_UPDATE => *self.stream_windows.entry(h.stream).or_default() += i64::from(f::be32(&p)),
            f::HEADERS => {
                assert_ne!(h.flags & f::END_HEADERS, 0, "the server's header blocks fit one frame");
                let mut fields: Vec<Field> = Vec::new();
                self.dec.decode(&mut p.clone(), &mut fields).expect("the server's HPACK decodes");
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let fields: Vec<(String, String)> = fields.iter().map(|(n, v, _)| (text(n), text(v))).collect();
                let status = fields.iter().find(|(n, _)| n == ":status").map(|(_, v)| v.parse().unwrap()).unwrap();
                self.open.insert(h.stream, Resp { id: h.stream, status, fields, body: Vec::new() });
            }
            f::DATA => {
                self.recv_window -= h.len as i64;
                assert!(self.recv_window >= 0, "the server sent past the window we granted");
                self.open.get_mut(&h.stream).expect("DATA after HEADERS").body.extend_from_slice(&p);
                if self.auto_grant && h.len > 0 {
                    self.grant(h.stream, h.len as u32);
                }
            }
            f::RST_STREAM | f::GOAWAY => panic!("unexpected frame {h:?}: {p:?}"),
            _ => {}
        }
        if end && matches!(h.kind, f::HEADERS | f::DATA) {
            return self.open.remove(&h.stream);
        }
        None
    }

    /// The next `n` responses to complete, in the order they complete.
    fn responses(&mut self, n: usize) -> Vec<Resp> {
        let mut done = Vec::new();
        while done.len() < n {
            let (h, p) = self.frame().expect("the server closed the connection");
            done.extend(self.handle(h, p));
        }
        done
    }

    /// Frames until one of `kind`.
    fn until(&mut self, kind: u8) -> Option<(Head, Vec<u8>)> {
        loop {
            let (h, p) = self.frame()?;
            if h.kind == kind {
                return Some((h, p));
            }
            if h.kind != f::GOAWAY {
                self.handle(h, p);
            }
        }
    }
}

#[test]
fn settings_are_exchanged_and_ping_is_answered() {
    let t = start();
    let mut c = H2::connect(&t);
    let mut out = Vec::new();
    f::write_head(&mut out, 8, f::PING, 0, 0);
    out.extend_from_slice(b"stampede");
    c.raw(&out);
    // The server's SETTINGS come first, then its acknowledgement of ours, then the PING's.
    let (h, p) = c.frame().expect("SETTINGS");
    assert_eq!((h.kind, h.flags), (f::SETTINGS, 0));
    c.handle(h, p);
    assert!(c.server_settings.contains(&(f::SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS)), "{:?}", c.server_settings);
    let (h, _) = c.frame().expect("SETTINGS ACK");
    assert_eq!((h.kind, h.flags, h.len), (f::SETTINGS, f::ACK, 0));
    let (h, ack) = c.frame().expect("PING answered");
    assert_eq!((h.kind, h.flags, ack.as_slice()), (f::PING, f::ACK, &b"stampede"[..]));
    c.get(1, "/");
    let r = c.responses(1).remove(0);
    assert_eq!((r.id, r.status, r.body.as_slice()), (1, 200, &b"hello world\n"[..]));
    t.stop();
}

#[test]
fn concurrent_streams_are_answered_out_of_order() {
    let t = start();
    let mut c = H2::connect(&t);
    c.get(1, "/delay/600");
    c.get(3, "/delay/150");
    c.get(5, "/api/x");
    let order: Vec<u32> = c.responses(3).iter().map(|r| r.id).collect();
    assert_eq!(order, [5, 3, 1], "each answer as soon as it is ready, whatever came first");
    assert_eq!(t.counters.route("GET /delay"), 2);
    assert_eq!(t.counters.route("GET /api/:name"), 1);
    t.stop();
}

#[test]
fn a_header_block_split_into_continuations_is_one_request() {
    let t = start();
    let mut c = H2::connect(&t);
    let token = "x".repeat(200);
    c.request(1, "GET", "/escrows/1", &[("authorization", &format!("Bearer {token}"))], true, 16);
    let r = c.responses(1).remove(0);
    // The authorization field arrived whole (and is not ours): 401, counted as misuse.
    assert_eq!(r.status, 401);
    assert!(r.fields.contains(&("www-authenticate".into(), "Bearer".into())), "{:?}", r.fields);
    assert_eq!(t.counters.misuse(), 1);
    t.stop();
}

#[test]
fn an_upload_larger_than_the_window_waits_for_window_updates_and_comes_back_whole() {
    let t = start();
    let mut c = H2::connect(&t);
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let len = body.len().to_string();
    c.request(1, "POST", "/echo", &[("content-length", &len)], false, 16_384);
    let (mut sent, mut waits) = (0, 0);
    while sent < body.len() {
        let window = c.send_window.min(c.stream_windows[&1]);
        if window <= 0 {
            waits += 1;
            let (h, p) = c.frame().expect("a WINDOW_UPDATE");
            c.handle(h, p);
            continue;
        }
        let n = (body.len() - sent).min(16_384).min(window as usize);
        let mut out = Vec::new();
        f::write_data(&mut out, 1, &body[sent..sent + n], sent + n == body.len());
        c.raw(&out);
        sent += n;
        c.send_window -= n as i64;
        *c.stream_windows.get_mut(&1).unwrap() -= n as i64;
    }
    assert!(waits > 0, "300 KB went through a 64 KiB window without waiting");
    // The answer is as large: the server sends only what our 64 KiB windows allow, and goes on
    // as we grant more (never before: `handle` checks).
    c.auto_grant = false;
    let mut got = 0;
    let r = loop {
        let (h, p) = c.frame().expect("the echo");
        let data = h.kind == f::DATA;
        if let Some(r) = c.handle(h, p) {
            break r;
        }
        if data {
            got += h.len;
            if c.recv_window == 0 {
                c.grant(1, got as u32);
                got = 0;
            }
        }
    };
    assert_eq!(r.status, 200);
    assert!(r.body == body, "the echo differs ({} bytes back)", r.body.len());
    t.stop();
}

#[test]
fn a_reset_stream_is_never_answered_and_the_connection_goes_on() {
    let t = start();
    let mut c = H2::connect(&t);
    c.get(1, "/delay/200");
    let mut out = Vec::new();
    f::write_rst(&mut out, 1, f::CANCEL);
    c.raw(&out);
    c.get(3, "/");
    c.get(5, "/delay/400");
    // Stream 1's answer would have come before stream 5's.
    let order: Vec<u32> = c.responses(2).iter().map(|r| r.id).collect();
    assert_eq!(order, [3, 5]);
    t.stop();
}

#[test]
fn a_protocol_error_is_goaway_with_its_code_then_close() {
    let t = start();
    let mut c = H2::connect(&t);
    c.get(1, "/");
    c.responses(1);
    // DATA on stream 0 is a connection error (RFC 9113 §6.1).
    let mut out = Vec::new();
    f::write_data(&mut out, 0, b"nope", false);
    c.raw(&out);
    let (_, p) = c.until(f::GOAWAY).expect("GOAWAY");
    assert_eq!((f::be32(&p), f::be32(&p[4..])), (1, f::PROTOCOL_ERROR));
    assert!(c.frame().is_none(), "the connection closes after GOAWAY");
    // A frame larger than SETTINGS_MAX_FRAME_SIZE, on a new connection.
    let mut c = H2::connect(&t);
    let mut out = Vec::new();
    f::write_data(&mut out, 1, &[0u8; 20_000], false);
    c.raw(&out);
    let (_, p) = c.until(f::GOAWAY).expect("GOAWAY");
    assert_eq!(f::be32(&p[4..]), f::FRAME_SIZE_ERROR);
    t.stop();
}

#[test]
fn stopping_the_target_sends_goaway_to_open_connections() {
    let t = start();
    let mut c = H2::connect(&t);
    c.get(1, "/");
    c.responses(1);
    let stopper = std::thread::spawn(move || t.stop());
    let (_, p) = c.until(f::GOAWAY).expect("GOAWAY before the connection closes");
    assert_eq!((f::be32(&p), f::be32(&p[4..])), (1, f::NO_ERROR), "last stream 1, NO_ERROR");
    assert!(c.frame().is_none());
    stopper.join().unwrap();
}

#[test]
fn http_1_1_and_h2c_share_the_port_and_the_counts() {
    let t = start();
    let mut c = H2::connect(&t);
    c.get(1, "/status/204");
    let r = c.responses(1).remove(0);
    assert_eq!((r.status, r.body.len()), (204, 0));
    let mut h1 = TcpStream::connect(t.addr).unwrap();
    h1.write_all(b"GET /status/204 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    h1.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert_eq!(t.counters.route("GET /status"), 2);
    t.stop();
}

#[test]
fn a_stream_past_the_concurrent_limit_is_refused_and_the_others_are_answered() {
    let t = start();
    let mut c = H2::connect(&t);
    let ids: Vec<u32> = (0..=MAX_STREAMS).map(|i| 2 * i + 1).collect();
    for &id in &ids {
        c.get(id, "/delay/300");
    }
    let (h, p) = c.until(f::RST_STREAM).expect("RST_STREAM");
    assert_eq!((h.stream, f::be32(&p)), (*ids.last().unwrap(), f::REFUSED_STREAM));
    assert_eq!(c.responses(MAX_STREAMS as usize).len(), MAX_STREAMS as usize);
    assert_eq!(t.counters.route("GET /delay"), u64::from(MAX_STREAMS), "the refused stream never reached a route");
    t.stop();
}
