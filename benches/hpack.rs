//! Measures HPACK decoding of the header block nginx 1.22 sends for each HTTP/2 response (every
//! field a Huffman-coded literal, two of them indexed into the dynamic table each time), one
//! block after another on one decoder as a connection does: httlib-hpack (what stampede uses)
//! beside loona-hpack — the measurement the HPACK crate was chosen by: loona-hpack builds a hash
//! map of the Huffman code for every Huffman-coded string, ~48 times slower here — and a whole
//! response (HEADERS with END_STREAM) through stampede's session, whose cache of recent Huffman
//! strings spares httlib-hpack's Huffman decoding of the values nginx repeats.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stampede::http::h2::frame as f;
use stampede::http::h2::{Keep, Limits, Response, Session};

/// `:status 200`, `server: nginx/1.22.1`, `date: ...`, `content-type: text/plain`,
/// `content-length: 12`, as captured from nginx's h2c answer to `GET /`.
const NGINX_BLOCK: &str =
    "887689aa6355e580ae212e1f6196d07abe9403aa5f29141004e2817ae09ab80754c5a37f5f87497ca58ae819aa5c023132";

fn block() -> Vec<u8> {
    (0..NGINX_BLOCK.len()).step_by(2).map(|i| u8::from_str_radix(&NGINX_BLOCK[i..i + 2], 16).unwrap()).collect()
}

fn hpack(c: &mut Criterion) {
    let b = block();
    let mut g = c.benchmark_group("hpack decode nginx response");
    g.throughput(Throughput::Elements(1));
    let mut loona = loona_hpack::Decoder::new();
    g.bench_function("loona-hpack", |x| {
        x.iter(|| {
            let mut n = 0usize;
            loona.decode_with_cb(black_box(&b), |name, value| n += name.len() + value.len()).unwrap();
            n
        })
    });
    let mut httlib = httlib_hpack::Decoder::default();
    let mut dst = Vec::with_capacity(8);
    g.bench_function("httlib-hpack", |x| {
        x.iter(|| {
            let mut buf = black_box(&b).clone();
            dst.clear();
            httlib.decode(&mut buf, &mut dst).unwrap();
            dst.len()
        })
    });
    let mut session = Session::new(Limits { max_head: 65_536, max_body: 1 << 20, streams: 100 });
    let mut frame = Vec::new();
    let mut answer = Response::default();
    g.bench_function("stampede session, a whole response", |x| {
        x.iter(|| {
            let id = session.open(b"\x82\x84", b"", Keep::default()).unwrap();
            frame.clear();
            f::write_headers(&mut frame, id, &b, true, 16_384);
            session.feed(black_box(&frame));
            session.finish(id, &mut answer);
            session.out.clear();
            answer.status
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2));
    targets = hpack
}
criterion_main!(benches);
