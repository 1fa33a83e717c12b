//! Fuzz `stampede::rules::template::compile` and `Template::render`.
//!
//! Input layout: the template source (lossy UTF-8) up to the first NUL byte; then NUL-separated
//! values for the variable slots `token`, `email`, `id`, `escrow_id`, `a` (a missing value, or one
//! that is a single 0xFF byte, leaves the slot empty). The RNG seed, vu and iter come from a hash
//! of the input.
//!
//! Asserts: compile never panics; an error's offset points at a `{{` of the source; a compiled
//! template renders without panicking for any values; a render fails exactly when a slot it reads
//! has no value, names such a slot, and then leaves the output as it was; a static template
//! renders to its literal; a source without `{{` compiles to itself; vars() are known slots,
//! each once; `{{rand A B}}` alone renders a number in [A, B].
#![no_main]

use libfuzzer_sys::fuzz_target;
use stampede::rules::template::{Names, RenderCx, Rng, compile};

const VARS: [&str; 5] = ["token", "email", "id", "escrow_id", "a"];

struct N;
impl Names for N {
    fn var(&self, name: &str) -> Option<usize> {
        VARS.iter().position(|v| *v == name)
    }
    fn env(&self, name: &str) -> Option<String> {
        // Set: names starting with S; their value holds braces, which must stay literal.
        name.starts_with('S').then(|| format!("{{{{{name}}}}}"))
    }
    fn known(&self) -> Vec<String> {
        VARS.iter().map(|s| s.to_string()).collect()
    }
}

fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let src = String::from_utf8_lossy(parts.next().unwrap_or(&[]));
    let src = src.as_ref();
    let vals: Vec<Option<Vec<u8>>> =
        (0..VARS.len()).map(|_| parts.next().filter(|v| *v != [0xff]).map(<[u8]>::to_vec)).collect();

    let t = match compile(src, &N) {
        Ok(t) => t,
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(
                src.is_char_boundary(e.offset) && src[e.offset..].starts_with("{{"),
                "offset {} is not at a `{{{{`",
                e.offset
            );
            return;
        }
    };
    let vars = t.vars();
    for (i, v) in vars.iter().enumerate() {
        assert!(*v < VARS.len(), "unknown slot {v}");
        assert!(!vars[..i].contains(v), "slot {v} listed twice");
    }
    let h = hash(data);
    let mut rng = Rng::new(h);
    let mut out = b"before".to_vec();
    let mut cx = RenderCx { vu: h >> 3, iter: h.rotate_left(17), vars: &vals, rng: &mut rng };
    match t.render(&mut out, &mut cx) {
        Ok(()) => {
            assert!(vars.iter().all(|&v| vals[v].is_some()), "rendered with a slot empty");
            assert!(out.starts_with(b"before"));
            if let Some(lit) = t.literal() {
                assert_eq!(&out[6..], lit, "static template rendered differently from its literal");
            }
            if !src.contains("{{") {
                assert_eq!(&out[6..], src.as_bytes(), "a source without holes must render as itself");
            }
            // `{{rand A B}}` alone: the number is within the bounds.
            let inner = src.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")).filter(|s| !s.contains(['{', '}']));
            let words: Vec<&str> = inner.map_or(vec![], |s| s.split_whitespace().collect());
            if let ["rand", a, b] = words[..] {
                let (a, b): (i64, i64) = (a.parse().unwrap(), b.parse().unwrap());
                let n: i64 = std::str::from_utf8(&out[6..]).unwrap().parse().unwrap();
                assert!(a <= n && n <= b, "rand {a} {b} gave {n}");
            }
        }
        Err(i) => {
            assert_eq!(out, b"before", "failed render changed the output");
            assert!(vars.contains(&i), "render failed on slot {i} it does not read");
            assert!(vals[i].is_none(), "render failed on slot {i} which has a value");
        }
    }
    // Every slot filled: must render.
    let full: Vec<Option<Vec<u8>>> = (0..VARS.len()).map(|i| Some(vec![b'x'; i])).collect();
    let mut out = Vec::new();
    let mut cx = RenderCx { vu: 0, iter: u64::MAX, vars: &full, rng: &mut rng };
    assert_eq!(t.render(&mut out, &mut cx), Ok(()));
});
