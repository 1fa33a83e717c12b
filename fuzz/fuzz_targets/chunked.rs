//! Fuzz `stampede::http::chunked::ChunkedDecoder` directly.
//!
//! Input layout: [0] flags for the round trip (bit 4 extensions, bit 5 upper-case hex, bit 6
//! trailers, bit 7 bare LF, bits 0-3 = k); [1..1+k] piece lengths, cycled (none or all zero = one
//! byte at a time); rest = the bytes.
//!
//! 1. Decode the bytes as a chunked body, in one piece and in the chosen pieces: the same body,
//!    the same number of bytes used, done or not, error or not. Body bytes <= bytes used <=
//!    input; each call uses all of its piece unless the body ended inside it; once done, the
//!    decoder stays done and uses nothing more.
//! 2. Encode the bytes as a chunked body (chunk sizes from the piece lengths, with the flags'
//!    extensions, case, trailers and line endings), append the start of a next response, decode
//!    in the chosen pieces: it must succeed, stop exactly at the end of the encoding and give
//!    the bytes back.
#![no_main]

mod common;

use common::split;
use libfuzzer_sys::fuzz_target;
use stampede::http::ParseError;
use stampede::http::chunked::ChunkedDecoder;

#[derive(Debug, PartialEq)]
struct Run {
    body: Vec<u8>,
    used: usize,
    done: bool,
    err: Option<ParseError>,
}

fn decode(pieces: &[&[u8]]) -> Run {
    let mut d = ChunkedDecoder::default();
    let mut run = Run { body: Vec::new(), used: 0, done: false, err: None };
    let mut offered = 0;
    for piece in pieces {
        offered += piece.len();
        let before = run.body.len();
        let body = &mut run.body;
        match d.decode(piece, |b| body.extend_from_slice(b)) {
            Ok((used, done)) => {
                assert!(used <= piece.len(), "used {used} of a {}-byte piece", piece.len());
                assert!(run.body.len() - before <= used, "more body bytes than bytes used");
                assert_eq!(done, d.is_done());
                run.used += used;
                if done {
                    run.done = true;
                    // Done stays done, takes nothing more and yields nothing more.
                    let (again, still) = d.decode(&piece[used..], |_| panic!("body after the end")).unwrap();
                    assert_eq!((again, still), (0, true));
                    break;
                }
                assert_eq!(used, piece.len(), "not done but left bytes unused");
            }
            Err(e) => {
                run.err = Some(e);
                break;
            }
        }
    }
    assert!(run.body.len() <= offered, "body {} > input {offered}", run.body.len());
    if run.err.is_none() {
        assert!(run.body.len() <= run.used, "body {} > used {}", run.body.len(), run.used);
    }
    run
}

/// `used` is only known without an error (an error reports no count; earlier pieces' counts
/// were already added), so it is compared only then.
fn same(a: &Run, b: &Run) -> bool {
    a.body == b.body && a.done == b.done && a.err.is_some() == b.err.is_some() && (a.err.is_some() || a.used == b.used)
}

fn encode(flags: u8, lens: &[u8], body: &[u8]) -> Vec<u8> {
    let (ext, upper, trailers, bare_lf) = (flags & 0x10 != 0, flags & 0x20 != 0, flags & 0x40 != 0, flags & 0x80 != 0);
    let eol: &[u8] = if bare_lf { b"\n" } else { b"\r\n" };
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    let lens: Vec<usize> = lens.iter().filter(|&&l| l != 0).map(|&l| l as usize).collect();
    while pos < body.len() {
        let n = lens.get(i % lens.len().max(1)).copied().unwrap_or(7).min(body.len() - pos);
        let size = if upper { format!("{n:X}") } else { format!("{n:x}") };
        out.extend_from_slice(size.as_bytes());
        if ext {
            out.extend_from_slice(if i % 2 == 0 { b";name=val" } else { b" ; q=\"a;b\"" });
        }
        out.extend_from_slice(eol);
        out.extend_from_slice(&body[pos..pos + n]);
        out.extend_from_slice(eol);
        pos += n;
        i += 1;
    }
    out.extend_from_slice(b"0");
    if ext {
        out.extend_from_slice(b";last");
    }
    out.extend_from_slice(eol);
    if trailers {
        out.extend_from_slice(b"Expires: never");
        out.extend_from_slice(eol);
        out.extend_from_slice(b"X-Trailer: 1");
        out.extend_from_slice(eol);
    }
    out.extend_from_slice(eol);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some(&flags) = data.first() else { return };
    let k = (flags & 15) as usize;
    if data.len() < 1 + k {
        return;
    }
    let lens = &data[1..1 + k];
    let stream = &data[1 + k..];

    // 1. Arbitrary bytes: split invariance.
    let whole = decode(&[stream]);
    let parts = decode(&split(lens, stream));
    assert!(
        same(&whole, &parts),
        "one piece and split pieces disagree\n  lens: {lens:?}\n  whole: {whole:?}\n  split: {parts:?}"
    );
    assert!(whole.used <= stream.len());

    // 2. A valid encoding of the bytes decodes back to them.
    let enc = encode(flags, lens, stream);
    let mut wire = enc.clone();
    wire.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    for pieces in [vec![&wire[..]], split(lens, &wire)] {
        let r = decode(&pieces);
        assert_eq!(r.err, None, "valid encoding refused\n  encoded: {:?}", String::from_utf8_lossy(&enc));
        assert!(r.done, "valid encoding not complete");
        assert_eq!(r.used, enc.len(), "did not stop at the end of the body");
        assert!(r.body == stream, "body changed in the round trip");
    }
});
