//! Integration tests of `stampede bench`: the real binary against scripted raw HTTP servers on
//! loopback ephemeral ports. Every run is short (1–2 s, one or two workers, few connections).

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::util::{self, Action, Response, Server, assert_refused_before_sending, assert_server_agrees, bench};

const MS: Duration = Duration::from_millis(1);

/// A fast server answering every request with the same response.
fn fixed(resp: Response) -> Server {
    Server::start(move |_| resp.clone().into())
}

// ---------------------------------------------------------------------------------------------
// Response framing
// ---------------------------------------------------------------------------------------------

#[test]
fn content_length_responses_count_statuses_and_exact_bytes() {
    let _m = util::shared_machine();
    let ok = Response::with_length(200, "hello world, this is a content-length body");
    let not_found = Response::with_length(404, "no such thing");
    let (ok_len, nf_len) = (ok.len() as u64, not_found.len() as u64);
    let sent_404 = Arc::new(AtomicU64::new(0));
    let counter = sent_404.clone();
    let server = Server::start(move |req| {
        if req.index % 10 == 9 {
            counter.fetch_add(1, Ordering::SeqCst);
            not_found.clone().into()
        } else {
            ok.clone().into()
        }
    });
    let out = bench(&server.url("/cl"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);

    let (n200, n404) = (out.status(200), out.status(404));
    assert!(n200 > 500, "too few responses for a fast local server\n{}", out.describe());
    assert!(n404 > 0, "404s were sent but not counted\n{}", out.describe());
    assert_eq!(out.requests(), n200 + n404, "only 200 and 404 were sent\n{}", out.describe());
    assert_eq!(out.errors(), n404, "a 404 is an error of kind status\n{}", out.describe());
    assert_eq!(out.errors_of("status"), n404);
    let kinds = out.at("/totals/errors_by_kind").as_object().unwrap();
    assert_eq!(kinds.len(), 1, "no error kind but status: {kinds:?}");
    // The 404s the client counted were sent; at most one per connection was still on its way.
    let sent = sent_404.load(Ordering::SeqCst);
    assert!(n404 <= sent && sent - n404 <= 2, "server sent {sent} 404s, client counted {n404}");
    // Every byte of every response, no more.
    assert_eq!(out.u64("/totals/bytes_in"), n200 * ok_len + n404 * nf_len, "bytes_in\n{}", out.describe());
    let req_len = server.first_request().unwrap().wire_len() as u64;
    assert_eq!(out.u64("/totals/bytes_out"), out.requests() * req_len, "bytes_out\n{}", out.describe());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn content_length_body_split_across_many_writes() {
    let _m = util::shared_machine();
    let body = "x".repeat(3000);
    let whole = Response::with_length(200, &body);
    let len = whole.len() as u64;
    let head = whole.bytes().windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    // Cut inside the status line, inside a header name, inside the final CRLFCRLF, between
    // head and body, and twice inside the body.
    let split = whole.split_at(&[5, 20, head - 2, head, head + 1000, head + 2500], MS);
    let server = fixed(split);
    let out = bench(&server.url("/pieces"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 50, "{}", out.describe());
    assert_eq!(out.u64("/totals/bytes_in"), out.status(200) * len);
    // Each response takes at least five 1 ms pauses.
    assert!(out.u64("/totals/latency_us/min") >= 5_000, "{}", out.describe());
    assert_server_agrees(&server, &out, 2);
}

const CHUNKED: &str = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n\
    5;name=value\r\nhello\r\n\
    7;ext;quoted=\"a;b\"\r\n, world\r\n\
    1A\r\nabcdefghijklmnopqrstuvwxyz\r\n\
    0;last=chunk\r\nX-Trailer: yes\r\nX-Checksum: 1234\r\n\r\n";

#[test]
fn chunked_with_extensions_and_trailers_succeeds() {
    let _m = util::shared_machine();
    let server = fixed(Response::raw(CHUNKED));
    let out = bench(&server.url("/chunked"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 500, "{}", out.describe());
    assert_eq!(out.requests(), out.status(200));
    assert_eq!(out.u64("/totals/bytes_in"), out.status(200) * CHUNKED.len() as u64);
    // Keep-alive works after a chunked body: the connections were reused.
    assert_eq!(server.connections(), 2, "per connection: {:?}", server.per_connection());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn chunked_split_inside_sizes_extensions_and_trailers_succeeds() {
    let _m = util::shared_machine();
    let at = |s: &str| CHUNKED.find(s).unwrap();
    let cuts = [
        at("5;name") + 2,    // inside an extension
        at("1A\r\n") + 1,    // inside a chunk size
        at("0;last"),        // just before the last chunk
        at("X-Trailer") + 4, // inside a trailer
        CHUNKED.len() - 1,   // between the final CR and LF
    ];
    let server = fixed(Response::raw(CHUNKED).split_at(&cuts, MS));
    let out = bench(&server.url("/chunked-pieces"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 50, "{}", out.describe());
    assert_eq!(out.u64("/totals/bytes_in"), out.status(200) * CHUNKED.len() as u64);
    assert_eq!(server.connections(), 2, "per connection: {:?}", server.per_connection());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn close_delimited_bodies_succeed_and_connections_are_reopened() {
    let _m = util::shared_machine();
    let http10 = Response::raw("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close").then_close();
    let http11 = Response::pieces(
        &["HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfirst part, ", "second part"],
        Duration::from_micros(500),
    )
    .then_close();
    let lens = (http10.len() as u64, http11.len() as u64);
    let server = Server::start(move |req| if req.conn % 2 == 0 { http10.clone() } else { http11.clone() }.into());
    let out = bench(&server.url("/close"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let ok = out.status(200);
    assert!(ok > 100, "{}", out.describe());
    // One response per connection: the client reconnected for every request.
    let per_conn = server.per_connection();
    assert!(per_conn.iter().all(|&n| n <= 1), "a close-delimited connection was reused: {per_conn:?}");
    assert!(per_conn.len() as u64 >= ok, "{} connections for {ok} responses", per_conn.len());
    let bytes_in = out.u64("/totals/bytes_in");
    assert!(
        bytes_in >= ok * lens.0.min(lens.1) && bytes_in <= ok * lens.0.max(lens.1),
        "bytes_in {bytes_in} for {ok} responses of {lens:?} bytes"
    );
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn interim_1xx_responses_are_skipped_and_the_final_status_counted() {
    let _m = util::shared_machine();
    let continue_then_ok = Response::raw(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    // The same, with the interim responses arriving in their own segments before the final one.
    let split = Response::pieces(
        &[
            "HTTP/1.1 100 Continue\r\n\r\n",
            "HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\n\r\n",
            "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nnew",
        ],
        MS,
    );
    let server =
        Server::start(move |req| if req.conn % 2 == 0 { continue_then_ok.clone() } else { split.clone() }.into());
    let out = bench(&server.url("/hints"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 100, "{}", out.describe());
    assert!(out.status(201) > 10, "{}", out.describe());
    assert_eq!(out.status(100) + out.status(103), 0, "interim statuses counted\n{}", out.describe());
    assert_eq!(out.requests(), out.status(200) + out.status(201));
    assert_eq!(server.connections(), 2, "per connection: {:?}", server.per_connection());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn no_body_statuses_204_304_do_not_hang() {
    let _m = util::shared_machine();
    // 304 may carry the Content-Length of the representation it stands for; it has no body.
    let responses = [
        Response::raw("HTTP/1.1 204 No Content\r\nServer: test\r\n\r\n"),
        Response::raw("HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\nContent-Length: 1234\r\n\r\n"),
        Response::with_length(200, "after the bodiless ones"),
    ];
    let lens: Vec<u64> = responses.iter().map(|r| r.len() as u64).collect();
    let server = Server::start(move |req| responses[(req.on_conn % 3) as usize].clone().into());
    let out = bench(&server.url("/nobody"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "300ms"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let (n204, n304, n200) = (out.status(204), out.status(304), out.status(200));
    assert!(n204 > 100 && n304 > 100 && n200 > 100, "{}", out.describe());
    // Each connection cycles 204, 304, 200: the counts differ by at most one per connection.
    assert!(n204.abs_diff(n304) <= 2 && n304.abs_diff(n200) <= 2, "{}", out.describe());
    assert_eq!(out.u64("/totals/bytes_in"), n204 * lens[0] + n304 * lens[1] + n200 * lens[2]);
    assert_eq!(server.connections(), 2, "per connection: {:?}", server.per_connection());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn head_responses_with_content_length_have_no_body() {
    let _m = util::shared_machine();
    // The headers describe the body a GET would get; a HEAD response never has one.
    let length = Response::raw("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n");
    let chunked = Response::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    let head_len = length.len() as u64;
    let chunked_len = chunked.len() as u64;
    let server = Server::start(move |req| match (req.method.as_str(), req.conn % 2) {
        ("HEAD", 0) => length.clone().into(),
        ("HEAD", _) => chunked.clone().into(),
        _ => Response::with_length(405, "HEAD only").into(),
    });
    let out = bench(&server.url("/head"), &["-c", "2", "-d", "1s", "-t", "1", "-m", "HEAD", "--timeout", "300ms"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 100, "{}", out.describe());
    let bytes_in = out.u64("/totals/bytes_in");
    assert!(bytes_in >= out.status(200) * chunked_len && bytes_in <= out.status(200) * head_len, "{bytes_in}");
    assert_eq!(out.at("/steps/0/name"), "HEAD /head");
    assert_eq!(server.connections(), 2, "per connection: {:?}", server.per_connection());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn large_bodies_across_many_receive_buffers_are_counted_exactly() {
    let _m = util::shared_machine();
    // Bigger than the client's 16 KiB receive buffers, with more connections than buffers.
    let length = Response::with_length(200, &"L".repeat(256 * 1024));
    let mut chunked = b"HTTP/1.1 203 Non-Authoritative Information\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..16 {
        chunked.extend_from_slice(format!("{:x}\r\n{}\r\n", 8000, "c".repeat(8000)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let chunked = Response::raw(chunked);
    let lens = (length.len() as u64, chunked.len() as u64);
    let server = Server::start(move |req| if req.conn % 2 == 0 { length.clone() } else { chunked.clone() }.into());
    let out = bench(&server.url("/large"), &["-c", "40", "-d", "1s", "-t", "2"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let (n200, n203) = (out.status(200), out.status(203));
    assert!(n200 > 20 && n203 > 20, "{}", out.describe());
    assert_eq!(out.u64("/totals/bytes_in"), n200 * lens.0 + n203 * lens.1, "{}", out.describe());
    assert_eq!(server.connections(), 40, "per connection: {:?}", server.per_connection());
    assert_server_agrees(&server, &out, 40);
}

#[test]
fn response_cut_short_by_the_server_is_a_closed_error() {
    let _m = util::shared_machine();
    // Every third response announces 100 body bytes, sends 40 and closes.
    let short = Response::raw(format!("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", "s".repeat(40))).then_close();
    let server = Server::start(move |req| {
        if req.on_conn % 3 == 2 { short.clone().into() } else { Response::with_length(200, "whole").into() }
    });
    let out = bench(&server.url("/short"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "500ms"]);
    out.assert_code(0);
    let closed = out.errors_of("closed");
    assert!(closed > 50, "{}", out.describe());
    assert_eq!(out.errors(), closed, "only closed errors expected\n{}", out.describe());
    // A truncated response is not a response: its 200 is not counted.
    assert_eq!(out.requests(), out.status(200) + closed);
    assert!(out.status(200).abs_diff(2 * closed) <= 4, "{}", out.describe());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn responses_written_one_byte_at_a_time_parse() {
    let _m = util::shared_machine();
    let variants = [
        Response::with_length(200, "byte by byte"),
        Response::raw(CHUNKED.replacen("200 OK", "203 Non-Authoritative Information", 1)),
        Response::raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nnew"),
    ];
    let lens: Vec<u64> = variants.iter().map(|r| r.len() as u64).collect();
    let variants: Vec<Response> = variants.into_iter().map(|r| r.bytewise(Duration::from_micros(100))).collect();
    let server = Server::start(move |req| variants[(req.on_conn % 3) as usize].clone().into());
    let out = bench(&server.url("/bytes"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "500ms"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let (n200, n203, n201) = (out.status(200), out.status(203), out.status(201));
    assert!(n200 >= 5 && n203 >= 5 && n201 >= 5, "{}", out.describe());
    assert_eq!(out.u64("/totals/bytes_in"), n200 * lens[0] + n203 * lens[1] + n201 * lens[2]);
    assert_eq!(server.connections(), 2, "per connection: {:?}", server.per_connection());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn unusual_but_valid_response_heads_keep_the_framing() {
    let _m = util::shared_machine();
    // Cycled on each keep-alive connection: misreading any one's framing desynchronises the next.
    let variants = [
        "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nno",        // no reason phrase
        "HTTP/1.1 200 OK\nContent-Length: 2\n\nlf",           // bare LF line endings
        "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nrep", // repeated equal lengths
        "HTTP/1.1 200 OK\r\nContent-Length : 4\r\n\r\nspcs",  // space before the colon
        "HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 4\r\n\r\nfold", // obsolete line folding
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nCONNECTION: Keep-Alive\r\n\r\ncases", // header name case
        // Transfer-Encoding overrides Content-Length; chunked is the last coding.
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nzip\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", // empty body
    ];
    let total: u64 = variants.iter().map(|v| v.len() as u64).sum();
    let server = Server::start(move |req| Response::raw(variants[(req.on_conn % 8) as usize]).into());
    let out = bench(&server.url("/odd"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "300ms"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 400, "{}", out.describe());
    assert_eq!(server.connections(), 2, "per connection: {:?}", server.per_connection());
    // Whole cycles of all eight variants add up exactly; the partial cycles are bounded.
    let bytes_in = out.u64("/totals/bytes_in");
    let cycles = out.status(200) / 8;
    assert!(bytes_in >= (cycles - 2) * total && bytes_in <= (cycles + 2) * total, "{bytes_in} bytes in");
    assert_server_agrees(&server, &out, 2);
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

#[test]
fn keep_alive_reuses_the_connections() {
    let _m = util::shared_machine();
    let server = fixed(Response::with_length(200, "keep me"));
    let out = bench(&server.url("/ka"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.requests() >= 1000, "{}", out.describe());
    let per_conn = server.per_connection();
    assert_eq!(per_conn.len(), 2, "2 connections expected, per connection: {per_conn:?}");
    assert!(per_conn.iter().all(|&n| n >= 200), "both connections carry load: {per_conn:?}");
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn connection_close_semantics_are_honoured_when_the_server_keeps_the_socket_open() {
    let _m = util::shared_machine();
    // Neither response may be followed by another request on its connection, although the
    // server leaves the connection open: HTTP/1.0 without keep-alive, and `Connection: close`.
    let http10 = Response::raw("HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nonce");
    let close = Response::raw("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nonce");
    let server = Server::start(move |req| if req.conn % 2 == 0 { http10.clone() } else { close.clone() }.into());
    let out = bench(&server.url("/once"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "300ms"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 100, "{}", out.describe());
    let per_conn = server.per_connection();
    assert!(per_conn.iter().all(|&n| n <= 1), "a connection was reused after close semantics: {per_conn:?}");
    assert_server_agrees(&server, &out, 2);
}

/// The server ends each connection after `n` responses, announcing it or not.
fn close_every(n: u64, announce: bool) -> Server {
    let plain = Response::with_length(200, "fine");
    let last = if announce {
        Response::raw("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nfine").then_close()
    } else {
        plain.clone().then_close()
    };
    Server::start(move |req| if req.on_conn + 1 == n { last.clone() } else { plain.clone() }.into())
}

fn assert_reconnects_without_errors(server: &Server, out: &util::Outcome, n: u64, conns: u64) {
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "server closes after {n} responses\n{}", out.describe());
    assert!(out.status(200) > 100, "{}", out.describe());
    let per_conn = server.per_connection();
    assert!(per_conn.iter().all(|&c| c <= n), "more than {n} requests on a connection: {per_conn:?}");
    assert!(per_conn.len() as u64 >= out.status(200) / n, "{} connections", per_conn.len());
    assert_server_agrees(server, out, conns);
}

#[test]
fn server_closing_after_every_3_responses_with_connection_close_header() {
    let _m = util::shared_machine();
    let server = close_every(3, true);
    let out = bench(&server.url("/close3"), &["-c", "2", "-d", "1s", "-t", "1"]);
    assert_reconnects_without_errors(&server, &out, 3, 2);
}

#[test]
fn stale_keep_alive_server_closing_after_every_3_responses_silently_is_retried() {
    let _m = util::shared_machine();
    let server = close_every(3, false);
    let out = bench(&server.url("/silent3"), &["-c", "4", "-d", "1s", "-t", "2"]);
    assert_reconnects_without_errors(&server, &out, 3, 4);
}

#[test]
fn stale_keep_alive_server_closing_after_every_response_silently_is_retried() {
    let _m = util::shared_machine();
    let server = close_every(1, false);
    let out = bench(&server.url("/silent1"), &["-c", "2", "-d", "1s", "-t", "1"]);
    assert_reconnects_without_errors(&server, &out, 1, 2);
}

/// A thinking user's idle HTTP/1.1 connection holds no armed receive (memory per idle user): a
/// server that closed it meanwhile is met at the next request, which is retried on a fresh
/// connection and counted once, without an error.
#[test]
fn thinking_users_whose_idle_connection_the_server_closed_are_retried_without_errors() {
    let _m = util::shared_machine();
    let server = close_every(1, false);
    let dir = util::TempDir::new("idle-closed");
    let file = dir.write(
        "think.toml",
        &format!(
            "target = \"{}\"\n[load]\nexecutor = \"constant-vus\"\nvus = 4\nduration = \"2s\"\n\n\
             [[users]]\nname = \"thinker\"\nthink = \"50ms\"\n  [[users.steps]]\n  request = \"GET /\"\n",
            server.url("")
        ),
    );
    let out = util::scenario(&file, &["-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    // About 4 users × 2 s / 50 ms; each answer on a connection of its own.
    assert!(out.status(200) > 60, "{}", out.describe());
    let per_conn = server.per_connection();
    assert!(per_conn.iter().all(|&c| c <= 1), "more than one request on a connection: {per_conn:?}");
    assert!(per_conn.len() as u64 >= out.status(200), "{} connections", per_conn.len());
}

#[test]
fn timeouts_are_counted_and_the_run_ends_on_time() {
    let _m = util::shared_machine();
    let ok = Response::with_length(200, "quick");
    // Every fifth request on a connection is never answered.
    let server = Server::start(move |req| if req.on_conn % 5 == 4 { Action::Hang } else { ok.clone().into() });
    let conns = 4;
    let out = bench(&server.url("/sometimes"), &["-c", "4", "-d", "1s", "-t", "1", "--timeout", "200ms"]);
    out.assert_code(0);
    let timeouts = out.errors_of("timeout");
    // Per connection: four quick answers, then 200 ms of waiting; about four times a second.
    assert!(timeouts >= 2 * conns && timeouts <= 5 * conns, "{timeouts} timeouts\n{}", out.describe());
    assert_eq!(out.errors(), timeouts, "only timeouts expected\n{}", out.describe());
    assert!(out.status(200) >= 4 * timeouts, "{}", out.describe());
    let reasons = out.at("/totals/error_reasons").as_object().expect("error_reasons is an object");
    assert!(reasons.keys().any(|k| k.starts_with("timeout")), "reasons: {reasons:?}");
    assert!(out.f64("/duration_s") < 1.2, "{}", out.describe());
    assert!(out.wall < Duration::from_millis(2500), "the process took {:?}", out.wall);
    assert_server_agrees(&server, &out, conns);
}

#[test]
fn a_response_that_stalls_halfway_times_out() {
    let _m = util::shared_machine();
    let stall =
        Response::pieces(&["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", "67890"], Duration::from_secs(5));
    let server = Server::start(move |req| {
        if req.on_conn % 4 == 3 { stall.clone().into() } else { Response::with_length(200, "ok").into() }
    });
    let out = bench(&server.url("/stall"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "200ms"]);
    out.assert_code(0);
    let timeouts = out.errors_of("timeout");
    assert!((4..=10).contains(&timeouts), "{timeouts} timeouts\n{}", out.describe());
    assert_eq!(out.errors(), timeouts, "{}", out.describe());
    assert!(out.wall < Duration::from_millis(2500), "the process took {:?}", out.wall);
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn a_server_that_never_answers_does_not_delay_the_end_of_the_run() {
    let _m = util::shared_machine();
    let server = Server::start(|_| Action::Hang);
    // The default timeout (10 s) is far beyond the run: in-flight requests are abandoned.
    let out = bench(&server.url("/never"), &["-c", "3", "-d", "1s", "-t", "1"]);
    assert!(out.wall < Duration::from_millis(2500), "the process took {:?}\n{}", out.wall, out.describe());
    assert_eq!(out.requests(), 0, "{}", out.describe());
    assert_eq!(out.unfinished(), 3, "each connection has one request in flight\n{}", out.describe());
    assert_eq!(server.requests(), 3, "one request per connection reached the server");
}

/// Regression: a target that accepts connections but never answers within the run exited 0
/// ("ok") with zero requests, because only completed requests were looked at. Exit code 3
/// means "no response ever", whether the requests timed out or were still in flight.
#[test]
fn no_response_ever_exits_3_even_when_every_request_is_still_in_flight() {
    let _m = util::shared_machine();
    let server = Server::start(|_| Action::Hang);
    let timed_out = bench(&server.url("/never"), &["-c", "1", "-d", "1s", "-t", "1", "--timeout", "200ms"]);
    assert!(timed_out.errors_of("timeout") >= 3, "{}", timed_out.describe());
    assert_eq!(timed_out.answered(), 0);
    timed_out.assert_code(3);

    let in_flight = bench(&server.url("/never"), &["-c", "1", "-d", "1s", "-t", "1"]);
    assert_eq!(in_flight.answered(), 0);
    assert_eq!(in_flight.unfinished(), 1, "{}", in_flight.describe());
    in_flight.assert_code(3);
}

#[test]
fn connection_refused_exits_3_with_connect_errors() {
    let _m = util::shared_machine();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = bench(&format!("http://127.0.0.1:{port}/"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(3);
    assert!(out.errors_of("connect") > 0, "{}", out.describe());
    assert_eq!(out.errors(), out.errors_of("connect"), "{}", out.describe());
    assert_eq!(out.requests(), out.errors(), "{}", out.describe());
    assert_eq!(out.answered(), 0);
    assert_eq!(out.u64("/totals/bytes_out"), 0, "nothing can be sent without a connection");
    assert!(out.wall < Duration::from_millis(2500), "the process took {:?}", out.wall);
    assert!(out.stderr.contains("reach"), "stderr should say the target was not reached: {}", out.stderr);
}

#[test]
fn a_target_that_comes_up_mid_run_is_reached_within_a_second() {
    let _m = util::shared_machine();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/late");
    let run = std::thread::spawn(move || bench(&url, &["-c", "2", "-d", "2s", "-t", "1"]));
    std::thread::sleep(Duration::from_millis(500));
    let server = Server::start_on(&format!("127.0.0.1:{port}"), |_| Response::with_length(200, "up").into())
        .expect("rebind the reserved port");
    let out = run.join().expect("bench thread");
    out.assert_code(0);
    assert!(out.errors_of("connect") > 0, "the target was down for 0.5 s\n{}", out.describe());
    assert_eq!(out.errors(), out.errors_of("connect"), "{}", out.describe());
    // Connect retries back off to at most 1 s: the second second has load and no failures.
    let second = &out.doc()["timeline"][1];
    assert!(second["requests"].as_u64().unwrap() > 100, "second second: {second}");
    assert_eq!(second["errors"], 0, "second second: {second}");
    assert_server_agrees(&server, &out, 2);
}

// ---------------------------------------------------------------------------------------------
// Load models
// ---------------------------------------------------------------------------------------------

#[test]
fn open_model_holds_the_requested_rate() {
    let _m = util::exclusive_machine();
    let server = fixed(Response::with_length(200, "rate"));
    let out = bench(&server.url("/rate"), &["--rate", "2000", "-c", "20", "-d", "2s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!(out.at("/load/model"), "open");
    let rps = out.f64("/totals/rps");
    assert!((rps - 2000.0).abs() <= 40.0, "rps {rps} is not within 2% of 2000\n{}", out.describe());
    assert!(out.requests().abs_diff(4000) <= 80, "{}", out.describe());
    assert_eq!(out.u64("/totals/dropped_iterations"), 0);
    assert_server_agrees(&server, &out, 20);
    // The server saw the same rate: count arrivals in the middle 1.5 s of the run.
    let arrivals = server.arrivals();
    let t0 = arrivals[0];
    let (from, to) = (t0 + Duration::from_millis(250), t0 + Duration::from_millis(1750));
    let mid = arrivals.iter().filter(|&&t| t >= from && t < to).count() as f64;
    assert!((mid - 3000.0).abs() <= 90.0, "{mid} arrivals in 1.5 s, expected 3000 ± 3%");
}

#[test]
fn open_model_latency_includes_queueing_from_the_intended_start() {
    let _m = util::exclusive_machine();
    let slow = Response::with_length(200, "slow").delay(Duration::from_millis(50));
    let server = fixed(slow);
    // One connection can serve 20 requests/s; 100/s are scheduled, so requests queue.
    let open = bench(&server.url("/slow"), &["--rate", "100", "-c", "1", "-d", "2s", "-t", "1"]);
    open.assert_code(0);
    assert_eq!(open.errors(), 0, "{}", open.describe());
    assert!(open.requests() >= 30 && open.requests() <= 41, "{}", open.describe());
    let p99 = open.u64("/totals/latency_us/p99");
    assert!(p99 > 500_000, "open-model p99 {p99} µs ignores the queueing\n{}", open.describe());
    let service_p99 = open.u64("/totals/service_us/p99");
    assert!((50_000..100_000).contains(&service_p99), "service p99 {service_p99} µs, expected about 50 ms");

    let closed = bench(&server.url("/slow"), &["-c", "1", "-d", "1s", "-t", "1"]);
    closed.assert_code(0);
    assert_eq!(closed.errors(), 0, "{}", closed.describe());
    let p99 = closed.u64("/totals/latency_us/p99");
    assert!((50_000..100_000).contains(&p99), "closed-model p99 {p99} µs, expected about 50 ms");
    assert!(closed.doc()["totals"].get("service_us").is_none(), "service_us is for the open model");
}

/// Regression: in an overloaded open-model run, scheduled starts that never found a free
/// connection vanished from the result (neither requests, unfinished nor dropped_iterations).
/// DESIGN: a start beyond capacity "is dropped and counted as dropped_iterations, never silently
/// skipped", so every scheduled start must be accounted for.
#[test]
fn open_model_overload_accounts_for_every_scheduled_start() {
    let _m = util::exclusive_machine();
    let server = fixed(Response::with_length(200, "slow").delay(Duration::from_millis(50)));
    // 100 starts are scheduled in 1 s; one connection can serve about 20 of them.
    let out = bench(&server.url("/overload"), &["--rate", "100", "-c", "1", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    assert!((15..=21).contains(&out.requests()), "{}", out.describe());
    let dropped = out.u64("/totals/dropped_iterations");
    let accounted = out.requests() + out.unfinished() + dropped;
    assert!(
        accounted.abs_diff(100) <= 2,
        "100 starts scheduled, {} completed + {} unfinished + {dropped} dropped = {accounted}\n{}",
        out.requests(),
        out.unfinished(),
        out.describe()
    );
    let timeline_dropped: u64 =
        out.doc()["timeline"].as_array().unwrap().iter().map(|r| r["dropped"].as_u64().unwrap()).sum();
    assert_eq!(timeline_dropped, dropped, "timeline dropped does not add up to the total");
}

#[test]
fn shard_takes_its_share_of_connections_and_rate() {
    let _m = util::exclusive_machine();
    let server = fixed(Response::with_length(200, "shard"));
    // Shard 2 of 2 of 3 connections at 400/s: one connection, 200/s.
    let out = bench(&server.url("/shard"), &["--shard", "2/2", "-c", "3", "--rate", "400", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!(out.at("/load/shard"), "2/2");
    assert_eq!(out.u64("/load/users"), 1);
    assert_eq!(out.f64("/load/rate"), 200.0);
    assert_eq!(server.connections(), 1, "per connection: {:?}", server.per_connection());
    let started = out.requests() + out.unfinished();
    assert!(started.abs_diff(200) <= 2, "{started} requests started for 200/s over 1 s\n{}", out.describe());
    assert_server_agrees(&server, &out, 1);
}

// ---------------------------------------------------------------------------------------------
// The result document
// ---------------------------------------------------------------------------------------------

fn assert_u64(v: &Value, path: &str) -> u64 {
    v.pointer(path).and_then(Value::as_u64).unwrap_or_else(|| panic!("`{path}` is not an unsigned integer"))
}

fn assert_f64(v: &Value, path: &str) -> f64 {
    v.pointer(path).and_then(Value::as_f64).unwrap_or_else(|| panic!("`{path}` is not a number"))
}

fn assert_counts(v: &Value, path: &str) -> u64 {
    let o = v.pointer(path).and_then(Value::as_object).unwrap_or_else(|| panic!("`{path}` is not an object"));
    o.iter().map(|(k, n)| n.as_u64().unwrap_or_else(|| panic!("`{path}/{k}` is not an unsigned integer"))).sum()
}

/// The fields every summary (totals and each step) carries, with their types and invariants.
fn assert_summary(v: &Value, at: &str) {
    let requests = assert_u64(v, &format!("{at}/requests"));
    let errors = assert_u64(v, &format!("{at}/errors"));
    assert!(errors <= requests);
    assert_f64(v, &format!("{at}/rps"));
    assert_u64(v, &format!("{at}/bytes_in"));
    assert_u64(v, &format!("{at}/bytes_out"));
    let lat: Vec<f64> = ["min", "p50", "p75", "p90", "p95", "p99", "p999", "max"]
        .iter()
        .map(|q| assert_u64(v, &format!("{at}/latency_us/{q}")) as f64)
        .collect();
    assert!(lat.windows(2).all(|w| w[0] <= w[1]), "{at}: percentiles out of order: {lat:?}");
    let mean = assert_f64(v, &format!("{at}/latency_us/mean"));
    assert!(mean >= lat[0] && mean <= lat[7], "{at}: mean {mean} outside [min, max]");
    let answered = assert_counts(v, &format!("{at}/status"));
    let by_kind = assert_counts(v, &format!("{at}/errors_by_kind"));
    assert_eq!(by_kind, errors, "{at}: errors_by_kind does not add up to errors");
    assert!(answered <= requests);
}

#[test]
fn result_document_has_every_field_and_a_decodable_histogram() {
    let _m = util::shared_machine();
    let server = Server::start(|req| match req.index % 20 {
        7 => Response::with_length(503, "busy").into(),
        13 => Response::raw("NOT HTTP AT ALL\r\n\r\n").into(),
        _ => Response::with_length(200, "document").into(),
    });
    let out = bench(&server.url("/path"), &["-c", "2", "-d", "2s", "-t", "1"]);
    out.assert_code(0);
    let doc = out.doc();

    assert_eq!(doc["schema"], "stampede.result/v1");
    let duration = assert_f64(doc, "/duration_s");
    assert!((duration - 2.0).abs() < 0.1, "duration_s {duration}");
    assert_summary(doc, "/totals");
    assert_u64(doc, "/totals/unfinished");
    assert_u64(doc, "/totals/dropped_iterations");
    let requests = out.requests();
    assert!(requests > 500, "{}", out.describe());
    assert!(out.status(503) > 0 && out.errors_of("parse") > 0, "{}", out.describe());
    assert_eq!(out.errors(), out.errors_of("status") + out.errors_of("parse"), "{}", out.describe());
    assert_eq!(out.errors_of("status"), out.status(503));
    let reasons = assert_counts(doc, "/totals/error_reasons");
    assert_eq!(reasons, out.errors_of("parse"), "each parse error has a reason");
    let rps = out.f64("/totals/rps");
    assert!((rps - requests as f64 / duration).abs() < 1.0, "rps {rps} != requests / duration_s");

    // Steps: one, named after the request, the same numbers as the totals.
    let steps = doc["steps"].as_array().expect("steps is an array");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0]["name"], "GET /path");
    assert_summary(doc, "/steps/0");
    for f in ["requests", "errors", "bytes_in", "bytes_out", "status", "errors_by_kind", "latency_us"] {
        assert_eq!(steps[0][f], doc["totals"][f], "steps[0].{f} differs from totals.{f}");
    }

    // Timeline: one row per second, adding up to the totals.
    let timeline = doc["timeline"].as_array().expect("timeline is an array");
    assert!((2..=3).contains(&timeline.len()), "{} timeline rows for 2 s", timeline.len());
    let mut sum = 0;
    let mut last_t = 0.0;
    for (i, _) in timeline.iter().enumerate() {
        let at = format!("/timeline/{i}");
        let t = assert_f64(doc, &format!("{at}/t"));
        assert!(t > last_t, "timeline t not increasing");
        last_t = t;
        let interval = assert_f64(doc, &format!("{at}/interval_s"));
        assert!(interval > 0.0 && interval <= 1.0, "interval_s {interval}");
        let n = assert_u64(doc, &format!("{at}/requests"));
        sum += n;
        let rps = assert_f64(doc, &format!("{at}/rps"));
        assert!((rps - n as f64 / interval).abs() < 1.0, "row {i}: rps {rps} for {n} in {interval} s");
        assert!(assert_u64(doc, &format!("{at}/errors")) <= n);
        let p50 = assert_u64(doc, &format!("{at}/p50_us"));
        let p95 = assert_u64(doc, &format!("{at}/p95_us"));
        let p99 = assert_u64(doc, &format!("{at}/p99_us"));
        assert!(p50 <= p95 && p95 <= p99, "row {i}: percentiles out of order");
    }
    assert_eq!(sum, requests, "timeline rows do not add up to totals.requests");
    assert!((last_t - duration).abs() < 0.01, "last row ends at {last_t}, run at {duration}");

    assert!(doc["thresholds"].is_array(), "thresholds is an array");
    assert!(assert_f64(doc, "/generator/cpu_percent") > 0.0);
    let rss = assert_u64(doc, "/generator/rss_bytes");
    assert!(rss > 0 && assert_u64(doc, "/generator/peak_rss_bytes") >= rss);
    assert_eq!(assert_u64(doc, "/generator/workers"), 1);
    let cpu = doc["generator"]["worker_cpu_s"].as_array().expect("worker_cpu_s is an array");
    assert_eq!(cpu.len(), 1);
    assert!(cpu[0].as_f64().is_some_and(|s| s > 0.0));

    // Histograms: one latency value per response (failures have none).
    let decode = |text: &Value| {
        stampede::report::result::decode_histogram(text.as_str().expect("histogram is a string"))
            .expect("histogram decodes")
    };
    let total = decode(&doc["histogram"]);
    assert_eq!(total.len(), out.answered(), "histogram count vs responses\n{}", out.describe());
    assert_eq!(total.max(), total.highest_equivalent(out.u64("/totals/latency_us/max")));
    assert_eq!(decode(&steps[0]["histogram"]).len(), out.answered());
    // The document also deserializes into the crate's own type.
    let typed: stampede::report::RunResult = serde_json::from_value(doc.clone()).expect("RunResult");
    assert_eq!(typed.totals.summary.requests, requests);
    assert_server_agrees(&server, &out, 2);
}

// ---------------------------------------------------------------------------------------------
// Input validation
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_input_exits_2_before_sending_anything() {
    let server = fixed(Response::with_length(200, "must not be reached"));
    let url = server.url("/");
    let bare = format!("{}/", server.addr());
    let ftp = format!("ftp://{}/", server.addr());
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("unknown flag", vec!["bench", &url, "-d", "1s", "--no-such-flag"]),
        ("zero connections", vec!["bench", &url, "-d", "1s", "-c", "0"]),
        ("negative rate", vec!["bench", &url, "-d", "1s", "--rate", "-5"]),
        ("negative rate (=)", vec!["bench", &url, "-d", "1s", "--rate=-5"]),
        ("zero rate", vec!["bench", &url, "-d", "1s", "--rate", "0"]),
        ("bad duration", vec!["bench", &url, "-d", "10x"]),
        ("URL without scheme", vec!["bench", &bare, "-d", "1s"]),
        ("header without colon", vec!["bench", &url, "-d", "1s", "-H", "no colon"]),
        ("missing body file", vec!["bench", &url, "-d", "1s", "--body", "@/nonexistent/body.json"]),
        ("zero threads", vec!["bench", &url, "-d", "1s", "-t", "0"]),
        ("zero duration", vec!["bench", &url, "-d", "0s"]),
        ("zero timeout", vec!["bench", &url, "-d", "1s", "--timeout", "0ms"]),
        ("bad method", vec!["bench", &url, "-d", "1s", "-m", "GE T"]),
        ("header with a bad name", vec!["bench", &url, "-d", "1s", "-H", "Bad Name: x"]),
        ("shard out of range", vec!["bench", &url, "-d", "1s", "--shard", "3/2"]),
        ("shard with no connection", vec!["bench", &url, "-d", "1s", "-c", "1", "--shard", "2/2"]),
        ("tiny max header bytes", vec!["bench", &url, "-d", "1s", "--max-header-bytes", "10"]),
        ("unsupported scheme", vec!["bench", &ftp, "-d", "1s"]),
        ("no URL", vec!["bench", "-d", "1s"]),
    ];
    for (what, args) in cases {
        let json = util::run::temp_path("bad.json");
        let json_arg = json.to_str().unwrap();
        let mut args = args.clone();
        args.extend_from_slice(&["-q", "--json", json_arg]);
        let mut out = util::stampede(&args);
        out.json = std::fs::read_to_string(&json).ok().map(|t| serde_json::from_str(&t).unwrap_or(Value::Null));
        assert!(out.wall < Duration::from_secs(2), "{what}: took {:?}", out.wall);
        assert_refused_before_sending(&server, &out, what);
    }
}

// ---------------------------------------------------------------------------------------------
// Accounting, addressing, malformed responses
// ---------------------------------------------------------------------------------------------

#[test]
fn every_reported_success_was_received_by_the_server() {
    let _m = util::shared_machine();
    let server = fixed(Response::with_length(200, "counted"));
    let out = bench(&server.url("/count"), &["-c", "8", "-d", "1s", "-t", "2"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_eq!(out.u64("/load/workers"), 2);
    std::thread::sleep(Duration::from_millis(50));
    let (received, ok) = (server.requests(), out.status(200));
    assert!(ok > 500, "{}", out.describe());
    assert!(received >= ok, "client reports {ok} successes, server received {received}");
    assert!(received - ok <= 8, "server received {received}, client counted {ok}: more than 8 unaccounted");
    assert_eq!(received - ok, out.unfinished(), "the difference is the requests in flight at the end");
    assert_eq!(server.responses(), server.requests(), "the server answered every request it read");
    assert_eq!(server.connections(), 8, "per connection: {:?}", server.per_connection());
}

#[test]
fn ipv6_literal_url_works() {
    let _m = util::shared_machine();
    // No silent skip: a machine without IPv6 on loopback fails here, saying what it needs.
    let server = Server::start_on("[::1]:0", |_| Response::with_length(200, "six").into()).unwrap_or_else(|e| {
        panic!(
            "cannot bind [::1]: {e}; this test needs IPv6 on loopback \
             (sysctl -w net.ipv6.conf.lo.disable_ipv6=0, or a kernel booted without ipv6.disable=1)"
        )
    });
    let url = server.url("/v6");
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let out = bench(&url, &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 100, "{}", out.describe());
    let first = server.first_request().expect("a request arrived");
    assert_eq!(first.target, "/v6");
    assert_eq!(first.header("host").as_deref(), Some(format!("[::1]:{}", server.addr().port()).as_str()));
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn host_names_resolve_and_reach_the_server() {
    let _m = util::shared_machine();
    let server = fixed(Response::with_length(200, "named"));
    let port = server.addr().port();
    let out = bench(&format!("http://localhost:{port}/named"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    // Whatever addresses `localhost` has, the one that answers is found without failures.
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 100, "{}", out.describe());
    let first = server.first_request().expect("a request arrived");
    assert_eq!(first.header("host").as_deref(), Some(format!("localhost:{port}").as_str()));
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn garbage_instead_of_a_status_line_is_a_parse_error_and_the_run_continues() {
    let _m = util::shared_machine();
    let garbage = [
        "SSH-2.0-OpenSSH_9.6\r\n",
        "HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
        "\0\0\0\x04garbage",
        "HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\n",
    ];
    // Two good answers, then garbage, on every connection.
    let server = Server::start(move |req| {
        if req.on_conn % 3 == 2 {
            Response::raw(garbage[(req.index % 4) as usize]).into()
        } else {
            Response::with_length(200, "good").into()
        }
    });
    let out = bench(&server.url("/garbage"), &["-c", "2", "-d", "1s", "-t", "1"]);
    out.assert_code(0);
    let (parse, ok) = (out.errors_of("parse"), out.status(200));
    assert!(parse > 50, "{}", out.describe());
    assert_eq!(out.errors(), parse, "only parse errors expected\n{}", out.describe());
    assert_eq!(out.requests(), ok + parse);
    // A parse error ends the connection, so each connection gives 2 good answers then garbage.
    assert!(ok.abs_diff(2 * parse) <= 4, "{ok} good, {parse} garbage\n{}", out.describe());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn response_head_larger_than_max_header_bytes_is_a_parse_error() {
    let _m = util::shared_machine();
    // 40 KB of head: within the default limit (64 KiB), spread over several receive buffers.
    let big = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 2\r\n\r\nok", "b".repeat(40_000));
    let server = Server::start(move |req| {
        if req.on_conn % 2 == 1 { Response::raw(&big).into() } else { Response::with_length(200, "ok").into() }
    });
    let limited = bench(&server.url("/big"), &["-c", "2", "-d", "1s", "-t", "1", "--max-header-bytes", "1024"]);
    limited.assert_code(0);
    assert!(limited.errors_of("parse") > 50, "{}", limited.describe());
    assert_eq!(limited.errors(), limited.errors_of("parse"));
    assert!(limited.status(200).abs_diff(limited.errors_of("parse")) <= 2, "{}", limited.describe());

    let default = bench(&server.url("/big"), &["-c", "2", "-d", "1s", "-t", "1"]);
    default.assert_code(0);
    assert_eq!(default.errors(), 0, "a 40 KB head is within the default limit\n{}", default.describe());
    assert!(default.status(200) > 100, "{}", default.describe());
}

#[test]
fn request_body_and_headers_reach_the_server() {
    let _m = util::shared_machine();
    let body_file = util::run::temp_path("body.json");
    std::fs::write(&body_file, br#"{"from":"file"}"#).unwrap();
    let server = Server::start(|req| {
        let good = req.method == "POST"
            && req.body == br#"{"from":"file"}"#
            && req.header("content-length").as_deref() == Some("15")
            && req.header("x-test").as_deref() == Some("yes: really");
        Response::with_length(if good { 201 } else { 400 }, "").into()
    });
    let body_arg = format!("@{}", body_file.display());
    let args = ["-c", "2", "-d", "1s", "-t", "1", "-m", "post", "-H", "X-Test: yes: really", "--body", &body_arg];
    let out = bench(&server.url("/submit"), &args);
    let _ = std::fs::remove_file(&body_file);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "the server refused the request\n{:?}", server.first_request());
    assert!(out.status(201) > 100, "{}", out.describe());
    assert_eq!(out.at("/steps/0/name"), "POST /submit");
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn ctrl_c_stops_the_run_and_still_writes_the_result() {
    let _m = util::shared_machine();
    let server = fixed(Response::with_length(200, "interrupted"));
    let after = Duration::from_millis(1200);
    let out = util::bench_signalled(
        &server.url("/sigint"),
        &["-c", "2", "-d", "20s", "-t", "1"],
        Some((after, libc::SIGINT)),
    );
    out.assert_code(0);
    assert!(out.wall < after + Duration::from_secs(1), "stopping took {:?}", out.wall - after);
    assert_eq!(out.at("/interrupted"), true, "{}", out.describe());
    let duration = out.f64("/duration_s");
    assert!(duration > 0.9 && duration < 1.5, "duration_s {duration} for a run stopped after about 1.2 s");
    assert!(out.status(200) > 100, "{}", out.describe());
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn start_at_waits_for_the_wall_clock_time_then_runs() {
    let _m = util::shared_machine();
    let server = fixed(Response::with_length(200, "aligned"));
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let at_ms = now_ms + 1500;
    let at = format!("@{}.{:03}", at_ms / 1000, at_ms % 1000);
    let out = bench(&server.url("/later"), &["-c", "2", "-d", "1s", "-t", "1", "--start-at", &at]);
    out.assert_code(0);
    let started = out.u64("/started_at_unix_ms");
    assert!(
        started >= at_ms && started < at_ms + 300,
        "asked to start at {at_ms}, started at {started} ({} ms late)",
        started as i64 - at_ms as i64
    );
    assert!(out.wall >= Duration::from_millis(2400), "waited and ran 1 s, yet took {:?}", out.wall);
    assert!(out.status(200) > 0, "{}", out.describe());
}

#[test]
fn start_at_in_the_past_is_refused_before_sending() {
    let _m = util::shared_machine();
    let server = fixed(Response::with_length(200, "never"));
    for bad in ["2020-01-01T00:00:00Z", "next tuesday", "@soon"] {
        let out = bench(&server.url("/"), &["-c", "1", "-d", "1s", "--start-at", bad]);
        assert_refused_before_sending(&server, &out, &format!("--start-at {bad}"));
        assert!(out.stderr.contains("--start-at"), "names the flag: {}", out.stderr);
    }
}
