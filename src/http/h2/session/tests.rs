//! The session against frames a server would send, well-behaved and hostile.

use super::*;

const LIMITS: Limits = Limits { max_head: 65_536, max_body: 1 << 20, streams: u32::MAX };
const KEEP_ALL: Keep = Keep { capture: true, watch: false };

/// A server's side of the frames: its HPACK encoder (with its dynamic table) and helpers.
struct Server {
    enc: loona_hpack::Encoder<'static>,
}

impl Server {
    fn new() -> Server {
        Server { enc: loona_hpack::Encoder::new() }
    }

    fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        self.enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    fn headers(&mut self, stream: u32, fields: &[(&str, &str)], end: bool) -> Vec<u8> {
        let block = self.block(fields);
        let mut out = Vec::new();
        f::write_headers(&mut out, stream, &block, end, 16_384);
        out
    }
}

fn data(stream: u32, body: &[u8], end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    f::write_data(&mut out, stream, body, end);
    out
}

fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    f::write_settings(&mut out, pairs);
    out
}

/// Frames in `out` after the preface (kind, flags, stream, payload).
fn frames(out: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut b = out.strip_prefix(f::PREFACE).unwrap_or(out);
    let mut v = Vec::new();
    while b.len() >= 9 {
        let h = Head::read(b);
        v.push((h.kind, h.flags, h.stream, b[9..9 + h.len].to_vec()));
        b = &b[9 + h.len..];
    }
    v
}

fn session() -> Session {
    let mut s = Session::new(LIMITS);
    s.out.clear();
    s
}

fn end_of(s: &mut Session, id: u32) -> (Option<End>, Response) {
    let mut r = Response::default();
    let end = s.finish(id, &mut r);
    (end, r)
}

#[test]
fn the_preface_carries_settings_and_the_connection_window() {
    let s = Session::new(LIMITS);
    assert!(s.out.starts_with(f::PREFACE));
    let fr = frames(&s.out);
    assert_eq!(fr[0].0, f::SETTINGS);
    assert_eq!(fr[1].0, f::WINDOW_UPDATE);
    assert_eq!(f::be32(&fr[1].3), CONN_WINDOW - 65_535);
}

#[test]
fn a_response_in_headers_and_data_is_complete_and_readable_as_http_1() {
    let mut s = session();
    let mut srv = Server::new();
    let id = s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    assert_eq!(id, 1);
    let mut input = settings(&[(f::SETTINGS_MAX_CONCURRENT_STREAMS, 100)]);
    input.extend(srv.headers(1, &[(":status", "200"), ("x-cache", "HIT"), ("set-cookie", "a=1")], false));
    input.extend(data(1, b"hello ", false));
    input.extend(data(1, b"world", true));
    // Split anywhere: the carry holds partial frames.
    for piece in input.chunks(7) {
        s.feed(piece);
    }
    assert!(s.poll_end(1, std::task::Waker::noop()));
    let (end, r) = end_of(&mut s, 1);
    assert_eq!(end, Some(End::Done));
    assert_eq!((r.status, &r.body[..]), (200, &b"hello world"[..]));
    let view = crate::http::Response { status: r.status, head: &r.head, body: &r.body, body_truncated: false };
    assert_eq!(view.header("X-Cache"), Some(&b"HIT"[..]));
    assert_eq!(view.header("set-cookie"), Some(&b"a=1"[..]));
    // SETTINGS acknowledged.
    assert!(frames(&s.out).iter().any(|(k, fl, _, _)| *k == f::SETTINGS && *fl == f::ACK));
    assert_eq!(s.served, 1);
}

#[test]
fn the_dynamic_table_carries_over_between_responses() {
    let mut s = session();
    let mut srv = Server::new();
    for id in [1u32, 3, 5] {
        assert_eq!(s.open(b"\x82\x84", b"", KEEP_ALL).unwrap(), id);
        let mut input = srv.headers(id, &[(":status", "404"), ("server", "nginx"), ("x-id", "same")], false);
        input.extend(data(id, b"x", true));
        s.feed(&input);
        let (end, r) = end_of(&mut s, id);
        assert_eq!(end, Some(End::Done));
        assert_eq!(r.status, 404);
        assert!(String::from_utf8_lossy(&r.head).contains("x-id: same"));
    }
}

#[test]
fn padding_continuation_interim_heads_and_trailers_are_understood() {
    let mut s = session();
    let mut srv = Server::new();
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    let mut input = srv.headers(1, &[(":status", "103"), ("link", "</a>")], false);
    let block = srv.block(&[(":status", "201"), ("x-long", &"v".repeat(100))]);
    // HEADERS (padded, with priority) then CONTINUATION.
    let (a, b) = block.split_at(10);
    let mut payload = vec![3u8];
    payload.extend_from_slice(&[0, 0, 0, 0, 16]);
    payload.extend_from_slice(a);
    payload.extend_from_slice(&[0, 0, 0]);
    f::write_head(&mut input, payload.len(), f::HEADERS, f::PADDED | f::PRIORITY_FLAG, 1);
    input.extend(&payload);
    f::write_head(&mut input, b.len(), f::CONTINUATION, f::END_HEADERS, 1);
    input.extend(b);
    let mut padded = vec![2u8];
    padded.extend_from_slice(b"body");
    padded.extend_from_slice(&[0, 0]);
    f::write_head(&mut input, padded.len(), f::DATA, f::PADDED, 1);
    input.extend(&padded);
    input.extend(srv.headers(1, &[("grpc-status", "0")], true));
    s.feed(&input);
    let (end, r) = end_of(&mut s, 1);
    assert_eq!(end, Some(End::Done));
    assert_eq!((r.status, &r.body[..]), (201, &b"body"[..]));
    assert!(String::from_utf8_lossy(&r.head).contains("x-long: vvvv"));
    assert!(!String::from_utf8_lossy(&r.head).contains("grpc-status"), "trailers are not the head");
}

#[test]
fn ping_is_answered_with_its_payload() {
    let mut s = session();
    let mut input = Vec::new();
    f::write_head(&mut input, 8, f::PING, 0, 0);
    input.extend_from_slice(b"12345678");
    s.feed(&input);
    let fr = frames(&s.out);
    assert_eq!(fr, vec![(f::PING, f::ACK, 0, b"12345678".to_vec())]);
}

#[test]
fn goaway_retries_the_streams_above_its_last_id_and_lets_the_others_finish() {
    let mut s = session();
    let mut srv = Server::new();
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    let mut input = Vec::new();
    f::write_goaway(&mut input, 1, f::NO_ERROR);
    s.feed(&input);
    assert!(!s.usable());
    assert_eq!(s.open(b"\x82\x84", b"", KEEP_ALL), Err(Busy::Draining));
    let (end3, _) = end_of(&mut s, 3);
    assert!(matches!(end3, Some(End::Retry(why)) if why.contains("GOAWAY (NO_ERROR)")));
    s.feed(&srv.headers(1, &[(":status", "200")], true));
    assert_eq!(end_of(&mut s, 1).0, Some(End::Done));
}

#[test]
fn rst_stream_is_an_h2_reset_with_its_code_and_refused_is_retried() {
    let mut s = session();
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    let mut input = Vec::new();
    f::write_rst(&mut input, 1, 0x2);
    f::write_rst(&mut input, 3, f::REFUSED_STREAM);
    s.feed(&input);
    let (end, _) = end_of(&mut s, 1);
    let Some(End::Failed(fail)) = end else { panic!("{end:?}") };
    assert_eq!(fail.kind, ErrorKind::H2Reset);
    assert!(fail.reason.contains("INTERNAL_ERROR (0x2)"), "{}", fail.reason);
    assert_eq!(end_of(&mut s, 3).0, Some(End::Refused));
    assert!(s.usable(), "a reset stream leaves the connection up");
}

#[test]
fn uploads_wait_for_window_and_downloads_give_it_back() {
    let mut s = session();
    let mut srv = Server::new();
    let body = vec![7u8; 200_000];
    let id = s.open(b"\x83\x84", &body, KEEP_ALL).unwrap();
    let sent: usize = frames(&s.out).iter().filter(|f| f.0 == f::DATA).map(|f| f.3.len()).sum();
    assert_eq!(sent, 65_535, "the default window");
    assert_eq!(s.upload(id), Some((65_535, 200_000)));
    s.out.clear();
    let mut input = Vec::new();
    f::write_window_update(&mut input, 0, 200_000);
    f::write_window_update(&mut input, id, 200_000);
    s.feed(&input);
    let data_frames: Vec<_> = frames(&s.out).into_iter().filter(|f| f.0 == f::DATA).collect();
    assert_eq!(data_frames.iter().map(|f| f.3.len()).sum::<usize>(), 200_000 - 65_535);
    assert_eq!(data_frames.last().unwrap().1 & f::END_STREAM, f::END_STREAM);
    assert_eq!(s.upload(id), None);
    // A download past half the stream window gets a WINDOW_UPDATE for the stream.
    s.out.clear();
    let mut input = srv.headers(id, &[(":status", "200")], false);
    for _ in 0..40 {
        input.extend(data(id, &[1u8; 16_384], false));
    }
    s.feed(&input);
    let updates: Vec<_> = frames(&s.out).into_iter().filter(|f| f.0 == f::WINDOW_UPDATE).collect();
    assert!(updates.iter().any(|u| u.2 == id), "{updates:?}");
}

#[test]
fn zero_streams_allowed_means_no_stream_opens() {
    let mut s = session();
    s.feed(&settings(&[(f::SETTINGS_MAX_CONCURRENT_STREAMS, 0)]));
    assert_eq!(s.open(b"\x82\x84", b"", KEEP_ALL), Err(Busy::Full));
    assert_eq!(s.peer_max_streams(), 0);
    s.feed(&settings(&[(f::SETTINGS_MAX_CONCURRENT_STREAMS, 1)]));
    assert!(s.open(b"\x82\x84", b"", KEEP_ALL).is_ok());
    assert_eq!(s.open(b"\x82\x84", b"", KEEP_ALL), Err(Busy::Full));
}

fn failure_after(input: &[u8]) -> Failure {
    let mut s = session();
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    s.feed(input);
    match end_of(&mut s, 1).0 {
        Some(End::Failed(f)) => f,
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_frames_fail_the_streams_with_named_reasons() {
    let mut big = Vec::new();
    f::write_head(&mut big, 20_000, f::DATA, 0, 1);
    big.extend(vec![0u8; 20_000]);
    let f1 = failure_after(&big);
    assert_eq!(f1.kind, ErrorKind::Parse);
    assert!(f1.reason.contains("DATA frame of 20000 bytes") && f1.reason.contains("FRAME_SIZE_ERROR"), "{}", f1.reason);

    let mut bad_hpack = Vec::new();
    f::write_headers(&mut bad_hpack, 1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], true, 16_384);
    let f2 = failure_after(&bad_hpack);
    assert!(f2.reason.contains("HPACK") && f2.reason.contains("COMPRESSION_ERROR"), "{}", f2.reason);

    let mut push = Vec::new();
    f::write_head(&mut push, 4, f::PUSH_PROMISE, f::END_HEADERS, 1);
    push.extend([0, 0, 0, 2]);
    assert!(failure_after(&push).reason.contains("PUSH_PROMISE"));

    let mut early = Vec::new();
    f::write_data(&mut early, 1, b"x", true);
    assert!(failure_after(&early).reason.contains("DATA before the response head"));

    let mut s = session();
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    s.feed(&[0, 0, 10, f::DATA, 0, 0, 0, 0, 1, 1, 2]);
    s.closed(None);
    let Some(End::Failed(f)) = end_of(&mut s, 1).0 else { panic!() };
    assert_eq!(f.kind, ErrorKind::Closed);
    assert!(f.reason.contains("middle of a frame"), "{}", f.reason);
}

#[test]
fn a_reused_connection_closed_before_answering_is_retried() {
    let mut s = session();
    let mut srv = Server::new();
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    s.feed(&srv.headers(1, &[(":status", "204")], true));
    assert_eq!(end_of(&mut s, 1).0, Some(End::Done));
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    s.closed(None);
    assert!(matches!(end_of(&mut s, 3).0, Some(End::Retry(_))));
}

#[test]
fn a_cancelled_stream_is_reset_and_its_late_frames_ignored() {
    let mut s = session();
    let mut srv = Server::new();
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    s.out.clear();
    assert_eq!(end_of(&mut s, 1).0, None);
    assert_eq!(frames(&s.out), vec![(f::RST_STREAM, 0, 1, f::CANCEL.to_be_bytes().to_vec())]);
    let mut late = srv.headers(1, &[(":status", "200")], false);
    late.extend(data(1, b"late", true));
    s.feed(&late);
    assert!(s.dead().is_none());
    // The HPACK table stayed in step: a later response decodes.
    s.open(b"\x82\x84", b"", KEEP_ALL).unwrap();
    s.feed(&srv.headers(3, &[(":status", "200")], true));
    assert_eq!(end_of(&mut s, 3).0, Some(End::Done));
}

#[test]
fn blocks_that_run_past_their_end_are_refused_before_the_decoder_sees_them() {
    for block in [&[0x7f][..], &[0x40, 0x05, b'a'], &[0x00, 0x01, b'n', 0x7f], &[0x3f], &[0x0f]] {
        let mut input = Vec::new();
        f::write_headers(&mut input, 1, block, true, 16_384);
        let fail = failure_after(&input);
        assert!(fail.reason.contains("runs past its end"), "{block:?}: {}", fail.reason);
    }
}
