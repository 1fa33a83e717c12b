//! Fuzz `stampede::http::ResponseParser` as a connection uses it: several responses in a row,
//! HEAD or not, capture on or off, small or default head limits, the bytes split at
//! fuzzer-chosen points.
//!
//! Input layout (see README.md):
//!   [0] flags: bit 0 capture on; bits 1-2 max_body index into MAX_BODY
//!   [1] max_head: top two bits pick a range (8..260, 512..4544, 16 KiB, 64 KiB default)
//!   [2] HEAD mask: bit i%8 set = the i-th request was HEAD
//!   [3] feed-after-Done mask: bit i%8 set = after the i-th response completes, feed the next
//!       piece before start() (as the TLS path does with the rest of a decrypted record)
//!   [4] k = number of split lengths (low 4 bits)
//!   [5..5+k] piece lengths, cycled (0 = an empty feed; none or all zero = one byte at a time)
//!   rest: the bytes the server sends
//!
//! Asserts: no panic; after Done the status is 100..=999 and not 1xx; captured body <= max_body
//! and captured head <= max_head; body_len agrees with the capture, with Content-Length, and is 0
//! for HEAD/204/304; feeding the bytes in one piece and in the chosen pieces gives the same
//! outcomes (status, keep-alive, body, head, error or not, complete at EOF, started at EOF);
//! the parser's heap stays within 16 KiB + 2 x (bytes fed since its carry was last empty) +
//! 2 x max_head + 2 x max_body.
#![no_main]

mod common;

use common::{Counting, live, reset_live, split, tracked};
use libfuzzer_sys::fuzz_target;
use stampede::http::response::DEFAULT_MAX_HEAD;
use stampede::http::{ParseError, Progress, ResponseParser};

#[global_allocator]
static ALLOC: Counting = Counting;

const MAX_BODY: [usize; 4] = [0, 1, 5, 4096];
/// Responses per input at most (keeps each run short).
const MAX_RESPONSES: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Cfg {
    capture: Option<usize>,
    max_head: usize,
    head_mask: u8,
    feed_after_done_mask: u8,
}

impl Cfg {
    fn head(&self, i: usize) -> bool {
        self.head_mask & (1 << (i % 8)) != 0
    }
    fn feed_after_done(&self, i: usize) -> bool {
        self.feed_after_done_mask & (1 << (i % 8)) != 0
    }
}

#[derive(Clone, PartialEq)]
enum Outcome {
    Done {
        status: u16,
        keep_alive: bool,
        body_len: u64,
        body: Vec<u8>,
        truncated: bool,
        head: Vec<u8>,
        at_eof: bool,
    },
    /// The kind of error is not compared (a head that is both too large and malformed may be
    /// named either way depending on where the bytes were cut); that there was one is.
    Error(ParseError),
    /// The bytes ended before the response did.
    Truncated {
        started: bool,
    },
}

/// Short form for failure messages: bodies and heads as lossy text, cut at 80 bytes.
impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |b: &[u8]| {
            let s = String::from_utf8_lossy(&b[..b.len().min(80)]).into_owned();
            if b.len() > 80 { format!("{s:?}... ({} bytes)", b.len()) } else { format!("{s:?}") }
        };
        match self {
            Outcome::Done { status, keep_alive, body_len, body, truncated, head, at_eof } => write!(
                f,
                "Done {{ status: {status}, keep_alive: {keep_alive}, body_len: {body_len}, truncated: {truncated}, \
                 at_eof: {at_eof}, body: {}, head: {} }}",
                short(body),
                short(head)
            ),
            Outcome::Error(e) => write!(f, "Error({e:?})"),
            Outcome::Truncated { started } => write!(f, "Truncated {{ started: {started} }}"),
        }
    }
}

impl Outcome {
    fn same(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Error(_), Outcome::Error(_)) => true,
            (a, b) => a == b,
        }
    }
}

/// Memory bookkeeping for one parser.
struct Mem {
    cfg: Cfg,
    /// Bytes fed since the carry buffer was last seen empty.
    pending: usize,
    peak: usize,
}

impl Mem {
    fn after_feed(&mut self, p: &ResponseParser, fed: usize) {
        if p.has_buffered() {
            self.pending += fed;
        } else {
            self.pending = 0;
        }
        self.peak = self.peak.max(self.pending + fed);
        let max_body = self.cfg.capture.unwrap_or(0);
        let bound = 16 * 1024 + 2 * self.peak + 2 * self.cfg.max_head + 2 * max_body + 1024;
        let now = live();
        assert!(
            now >= 0 && (now as usize) <= bound,
            "parser heap {now} bytes > bound {bound} (peak pending {}, max_head {}, max_body {max_body})",
            self.peak,
            self.cfg.max_head
        );
    }
    fn reset_if_empty(&mut self, p: &ResponseParser) {
        if !p.has_buffered() {
            self.pending = 0;
            self.peak = 0;
        }
    }
}

fn digits(v: &[u8]) -> Option<u64> {
    let t = v.trim_ascii();
    if t.is_empty() || t.len() > 19 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    t.iter().try_fold(0u64, |a, d| a.checked_mul(10)?.checked_add((d - b'0') as u64))
}

/// Invariants of a completed response; returns what is compared across splits.
fn done(p: &ResponseParser, cfg: &Cfg, head_req: bool, at_eof: bool) -> Outcome {
    let status = p.status();
    assert!((100..=999).contains(&status), "status {status} out of range");
    assert!(!(100..200).contains(&status), "interim status {status} reported as final");
    let body_len = p.body_len();
    if head_req || status == 204 || status == 304 {
        assert_eq!(body_len, 0, "HEAD/204/304 response with a body");
    }
    if at_eof {
        assert!(!p.keep_alive(), "close-delimited body but keep-alive");
    }
    let (body, head) = (p.body().to_vec(), p.head_bytes().to_vec());
    match cfg.capture {
        None => {
            assert!(body.is_empty() && head.is_empty(), "captured without capture");
            assert!(!p.body_truncated());
        }
        Some(max_body) => {
            assert!(body.len() <= max_body, "captured body {} > max_body {max_body}", body.len());
            assert!(head.len() <= cfg.max_head, "captured head {} > max_head {}", head.len(), cfg.max_head);
            assert!(!head.is_empty(), "capture on but no head kept");
            if p.body_truncated() {
                assert_eq!(body.len(), max_body);
                assert!(body_len > max_body as u64);
            } else {
                assert_eq!(body.len() as u64, body_len, "body_len disagrees with the captured body");
            }
            let v = p.view();
            let (te, cl, view_status) =
                (p.header("transfer-encoding").is_some(), p.header("content-length").map(digits), v.status);
            assert_eq!(view_status, status);
            if !head_req && status != 204 && status != 304 && !te {
                if let Some(Some(n)) = cl {
                    assert!(!at_eof, "Content-Length {n} but close-delimited");
                    assert_eq!(body_len, n, "body_len differs from Content-Length");
                }
            }
        }
    }
    Outcome::Done { status, keep_alive: p.keep_alive(), body_len, body, truncated: p.body_truncated(), head, at_eof }
}

fn drive(cfg: &Cfg, pieces: &[&[u8]]) -> Vec<Outcome> {
    reset_live();
    let mut p = tracked(|| {
        let mut p = ResponseParser::new(cfg.max_head);
        p.set_capture(cfg.capture);
        p
    });
    let mut mem = Mem { cfg: *cfg, pending: 0, peak: 0 };
    let mut next = 0;
    let mut out = Vec::new();
    for i in 0..MAX_RESPONSES {
        let head_req = cfg.head(i);
        tracked(|| p.start(head_req));
        mem.reset_if_empty(&p);
        let mut r = Ok(Progress::NeedMore);
        if p.has_buffered() {
            r = tracked(|| p.feed(&[]));
            mem.after_feed(&p, 0);
        }
        while r == Ok(Progress::NeedMore) && next < pieces.len() {
            let d = pieces[next];
            next += 1;
            r = tracked(|| p.feed(d));
            mem.after_feed(&p, d.len());
        }
        match r {
            Err(e) => {
                out.push(Outcome::Error(e));
                break;
            }
            Ok(Progress::Done) => {
                out.push(done(&p, cfg, head_req, false));
                if cfg.feed_after_done(i) && next < pieces.len() {
                    let d = pieces[next];
                    next += 1;
                    let r2 = tracked(|| p.feed(d));
                    assert_eq!(r2, Ok(Progress::Done), "feed after Done must keep the bytes for the next response");
                    mem.after_feed(&p, d.len());
                }
            }
            Ok(Progress::NeedMore) => {
                if tracked(|| p.finish_at_eof()) {
                    out.push(done(&p, cfg, head_req, true));
                } else {
                    out.push(Outcome::Truncated { started: p.started() });
                }
                break;
            }
        }
    }
    tracked(|| drop(p));
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let m = data[1];
    let cfg = Cfg {
        capture: (data[0] & 1 != 0).then(|| MAX_BODY[(data[0] >> 1 & 3) as usize]),
        max_head: match m >> 6 {
            0 => 8 + (m & 63) as usize * 4,
            1 => 512 + (m & 63) as usize * 64,
            2 => 16 * 1024,
            _ => DEFAULT_MAX_HEAD,
        },
        head_mask: data[2],
        feed_after_done_mask: data[3],
    };
    let k = (data[4] & 15) as usize;
    if data.len() < 5 + k {
        return;
    }
    let lens = &data[5..5 + k];
    let stream = &data[5 + k..];

    let whole = drive(&cfg, &[stream]);
    let pieces = split(lens, stream);
    let parts = drive(&cfg, &pieces);
    let same = whole.len() == parts.len() && whole.iter().zip(&parts).all(|(a, b)| a.same(b));
    assert!(
        same,
        "one piece and split pieces disagree\n  cfg: {cfg:?}\n  lens: {lens:?}\n  whole: {whole:?}\n  split: {parts:?}"
    );
});
