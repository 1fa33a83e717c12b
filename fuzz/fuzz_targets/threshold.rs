//! Fuzz `stampede::rules::threshold::parse` on arbitrary text (lossy UTF-8), then judge what parses (through `Threshold::judge`).
//!
//! Asserts: never panics; an error's offset is a byte offset on a character boundary of the text and its message
//! is not empty; a parsed threshold keeps the trimmed text as `expr`, has a finite bound, a
//! percentile in (0, 100], a rate bound in [0, 100] and no negative latency/rps/count bound; it
//! measures and evaluates on an empty histogram, on a real one and with zero duration without
//! panicking, and measures a finite value.
#![no_main]

use hdrhistogram::Histogram;
use libfuzzer_sys::fuzz_target;
use stampede::rules::threshold::{Data, Fixed, Measure, Observed, Scope, parse};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let t = match parse(&text) {
        Ok(t) => t,
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(text.is_char_boundary(e.offset), "offset {} is not a character boundary of {text:?}", e.offset);
            return;
        }
    };
    assert_eq!(t.expr, text.trim());
    assert!(t.bound.is_finite(), "bound {}", t.bound);
    match t.metric {
        Measure::Percentile(p) => assert!(p > 0.0 && p <= 100.0, "percentile {p}"),
        Measure::Errors | Measure::Checks => assert!((0.0..=100.0).contains(&t.bound), "rate bound {}", t.bound),
        _ => assert!(t.bound >= 0.0, "negative bound {}", t.bound),
    }
    let empty = Histogram::<u64>::new(3).unwrap();
    let mut full = Histogram::<u64>::new(3).unwrap();
    for v in [1u64, 250, 1_000, 99_999, 3_600_000_000] {
        full.record(v).unwrap();
    }
    for (h, requests, errors, checks, failed, secs) in
        [(&empty, 0, 0, 0, 0, 0.0), (&full, 5, 1, 4, 5, 2.5), (&full, u64::MAX, u64::MAX, 1, 0, -1.0)]
    {
        let o = Observed { latency: h, requests, errors, checks, checks_failed: failed, duration_s: secs };
        let v = t.judge(&Fixed(Data::Requests(o)), &Scope::RUN);
        match v.measured {
            Ok(m) => {
                assert!(m.is_finite(), "measured {m}");
                assert_eq!(v.held(), t.holds(m));
            }
            Err(_) => assert!(!v.held(), "no data never holds"),
        }
        let _ = t.unit();
    }
});
