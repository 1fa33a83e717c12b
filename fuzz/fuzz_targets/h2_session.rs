//! Fuzz `stampede::http::h2::Session`, the HTTP/2 frame reader and its HPACK path, as the engine
//! drives it: streams opened (some with request bodies larger than the default window), the
//! server's bytes fed in pieces, streams finished or cancelled, the connection closed.
//!
//! Input layout: [0] bits 0-2 = k, bit 3 capture, bit 4 watch, bits 5-7 = streams opened (1..8);
//! [1..1+k] piece lengths, cycled (none or all zero = one byte at a time); rest = the server's
//! bytes.
//!
//! Checks: no panic; the same outcome (each stream's end, status, body, head) for one piece and
//! for the chosen pieces; a stream that ended `Done` has a final status 200..=999 and a body no
//! longer than the capture limit; a dead session opens no stream; `out` stays bounded.
#![no_main]

mod common;

use common::split;
use libfuzzer_sys::fuzz_target;
use stampede::http::h2::{End, Keep, Limits, Response, Session};

const LIMITS: Limits = Limits { max_head: 4096, max_body: 64, streams: 4 };

#[derive(Debug, PartialEq)]
struct Outcome {
    ends: Vec<(u32, Option<End>, u16, Vec<u8>, Vec<u8>)>,
    dead: bool,
}

fn run(pieces: &[&[u8]], keep: Keep, streams: usize) -> Outcome {
    let mut s = Session::new(LIMITS);
    let body = vec![b'u'; 70_000];
    let mut ids = Vec::new();
    for i in 0..streams {
        let payload: &[u8] = if i == 1 { &body } else { b"" };
        if let Ok(id) = s.open(b"\x82\x86\x84\x41\x01h", payload, keep) {
            ids.push(id);
        }
    }
    for p in pieces {
        s.feed(p);
        s.out.clear();
        s.pump();
        assert!(s.out.len() < 1 << 20, "out stays bounded");
    }
    s.closed(None);
    let mut ends = Vec::new();
    for id in ids {
        let mut r = Response::default();
        let end = s.finish(id, &mut r);
        if end == Some(End::Done) {
            assert!((200..=999).contains(&r.status), "status {}", r.status);
            assert!(r.body.len() <= LIMITS.max_body);
        }
        ends.push((id, end, r.status, r.body, r.head));
    }
    let dead = s.dead().is_some();
    assert!(s.open(b"\x82", b"", keep).is_err(), "a closed session opens nothing");
    Outcome { ends, dead }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let k = (flags & 7) as usize;
    if rest.len() < k {
        return;
    }
    let (lens, bytes) = rest.split_at(k);
    let keep = Keep { capture: flags & 8 != 0, watch: flags & 16 != 0 };
    let streams = 1 + (flags >> 5) as usize;
    let whole = run(&[bytes], keep, streams);
    let pieces = split(lens, bytes);
    let split_run = run(&pieces, keep, streams);
    assert_eq!(whole, split_run, "one piece and the chosen pieces differ");
});
