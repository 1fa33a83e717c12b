//! Measures the HTTP/1.1 hot path outside the network: `ResponseParser` over typical responses
//! (small Content-Length, split reads, chunked, 16 KiB body, close-delimited, capture on/off)
//! and `build_request`. Throughput is in bytes of wire data per second.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stampede::http::response::DEFAULT_MAX_HEAD;
use stampede::http::{Progress, RequestSpec, ResponseParser, build_request};

/// nginx's answer to `GET /` for a 12-byte static file, as seen on the wire.
const NGINX_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\n\
Server: nginx/1.22.1\r\n\
Date: Mon, 24 Nov 2025 14:00:00 GMT\r\n\
Content-Type: text/plain\r\n\
Content-Length: 12\r\n\
Last-Modified: Mon, 24 Nov 2025 13:00:00 GMT\r\n\
Connection: keep-alive\r\n\
ETag: \"69245b50-c\"\r\n\
Accept-Ranges: bytes\r\n\
\r\n\
hello world\n";

/// Head of an nginx-like response with the given framing header, followed by a blank line.
fn head(framing: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 24 Nov 2025 14:00:00 GMT\r\n\
         Content-Type: application/json\r\n{framing}\r\nConnection: keep-alive\r\n\r\n"
    )
    .into_bytes()
}

/// A deterministic body of `len` printable bytes.
fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A chunked response carrying `chunks` chunks of `size` bytes, then the last chunk.
fn chunked(chunks: usize, size: usize) -> Vec<u8> {
    let mut out = head("Transfer-Encoding: chunked");
    let data = body(size);
    for _ in 0..chunks {
        out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A Content-Length response with a body of `len` bytes.
fn sized(len: usize) -> Vec<u8> {
    let mut out = head(&format!("Content-Length: {len}"));
    out.extend_from_slice(&body(len));
    out
}

/// Parse one response delivered as `reads`; returns its body length. `eof`: the server closes
/// the connection after the last read (close-delimited body).
fn parse(p: &mut ResponseParser, reads: &[&[u8]], eof: bool) -> u64 {
    p.start(false);
    for r in reads {
        match p.feed(black_box(r)) {
            Ok(Progress::Done) => return p.body_len(),
            Ok(Progress::NeedMore) => {}
            Err(e) => panic!("fixture does not parse: {e}"),
        }
    }
    assert!(eof && p.finish_at_eof(), "fixture is incomplete");
    p.body_len()
}

/// One benchmark: parse `reads` again and again with a parser in the given capture mode.
fn bench_reads(c: &mut Criterion, group: &str, name: &str, reads: &[&[u8]], eof: bool, capture: Option<usize>) {
    let total: usize = reads.iter().map(|r| r.len()).sum();
    let mut p = ResponseParser::new(DEFAULT_MAX_HEAD);
    p.set_capture(capture);
    let body_len = parse(&mut p, reads, eof);
    assert!(body_len > 0 && !p.has_buffered(), "{name}: fixture left bytes behind");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function(name, |b| b.iter(|| parse(&mut p, reads, eof)));
    g.finish();
}

fn response_parser(c: &mut Criterion) {
    let small = NGINX_HELLO;
    // Split inside the header block: the first part is carried and re-parsed with the second.
    let mid_head = small.len() / 2;
    // Split at the end of the head: the body arrives in a later read.
    let head_end = small.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let chunks = chunked(8, 512);
    let big = sized(16 * 1024);
    let big_reads: Vec<&[u8]> = big.chunks(4096).collect();
    let mut close = b"HTTP/1.0 200 OK\r\nServer: legacy\r\nContent-Type: text/html\r\n\r\n".to_vec();
    close.extend_from_slice(&body(1024));

    bench_reads(c, "parse", "small_1_read", &[small], false, None);
    bench_reads(c, "parse", "small_2_reads_split_head", &[&small[..mid_head], &small[mid_head..]], false, None);
    bench_reads(c, "parse", "small_2_reads_split_body", &[&small[..head_end], &small[head_end..]], false, None);
    bench_reads(c, "parse", "chunked_8x512", &[&chunks], false, None);
    bench_reads(c, "parse", "body_16k_1_read", &[&big], false, None);
    bench_reads(c, "parse", "body_16k_4k_reads", &big_reads, false, None);
    bench_reads(c, "parse", "close_delimited_1k", &[&close], true, None);

    // The same responses with the head and up to 64 KiB of body kept for checks. Note: body_16k_on
    // copies 16 KiB in one memcpy, whose speed depends on the buffers' addresses on some CPUs
    // (glibc `rep movsb` on AMD Zen is ~25x slower when dst is just ahead of src mod 4 KiB).
    for (capture, mode) in [(None, "off"), (Some(64 * 1024), "on")] {
        bench_reads(c, "parse_capture", &format!("small_{mode}"), &[small], false, capture);
        bench_reads(c, "parse_capture", &format!("chunked_8x512_{mode}"), &[&chunks], false, capture);
        bench_reads(c, "parse_capture", &format!("body_16k_{mode}"), &[&big], false, capture);
    }
}

fn request_builder(c: &mut Criterion) {
    let get = RequestSpec {
        method: "GET".into(),
        target: "/api/v1/pricing?region=eu-west-1&plan=pro".into(),
        host: "staging.example.com".into(),
        headers: vec![("Accept".into(), "application/json".into()), ("Authorization".into(), "Bearer x".repeat(8))],
        body: Vec::new(),
    };
    let post = RequestSpec {
        method: "POST".into(),
        target: "/api/v1/records".into(),
        host: "staging.example.com".into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: br#"{"name":"load test","kind":"report","tags":["a","b","c"],"size":1024}"#.to_vec(),
    };
    let mut g = c.benchmark_group("build_request");
    for (name, spec) in [("get_with_headers", &get), ("post_json", &post)] {
        g.throughput(Throughput::Bytes(build_request(spec).len() as u64));
        g.bench_function(name, |b| b.iter(|| build_request(black_box(spec))));
    }
    g.finish();
}

criterion_group!(benches, response_parser, request_builder);
criterion_main!(benches);
