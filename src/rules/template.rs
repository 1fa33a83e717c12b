//! Request templates: strings with `{{...}}` holes, compiled once against the scenario's names and
//! rendered per request without re-parsing; plus the workers' small seedable PRNG.
//!
//! Holes: `{{vu}}`, `{{iter}}`, `{{rand A B}}`, `{{uuid}}`, `{{env.NAME}}` (resolved at compile
//! time into a literal) and `{{name}}` (a CSV column or extracted value, resolved at compile time
//! to an index into the user's variable slots). Whitespace inside the braces is allowed. When a
//! hole is opened by more than two braces (`{{{vu}}}`), the extra braces are literal text.

use crate::rules::ParseError;

/// What a template may refer to, provided by the plan that compiles it.
pub trait Names {
    /// Index of the variable slot called `name` (CSV column or extracted value).
    fn var(&self, name: &str) -> Option<usize>;
    /// Value of the environment variable `name`.
    fn env(&self, name: &str) -> Option<String>;
    /// The variable names in scope, for error messages.
    fn known(&self) -> Vec<String>;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    /// `lits[start..end]`.
    Lit(usize, usize),
    Vu,
    Iter,
    Rand(i64, i64),
    Uuid,
    Var(usize),
}

/// A compiled template: literal bytes (all in one buffer) and holes, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    lits: Vec<u8>,
    parts: Vec<Part>,
}

/// Compile `src`. Variables and environment variables are resolved through `names`.
pub fn compile(src: &str, names: &dyn Names) -> Result<Template, ParseError> {
    let mut t = Template { lits: Vec::new(), parts: Vec::new() };
    let bytes = src.as_bytes();
    let mut pos = 0;
    while let Some(rel) = src[pos..].find("{{") {
        let mut open = pos + rel;
        // `{{{x}}}`: the hole is the innermost pair of braces; the extra ones are literal.
        while bytes.get(open + 2) == Some(&b'{') {
            open += 1;
        }
        t.push_lit(&bytes[pos..open]);
        let inner_start = open + 2;
        let unclosed = || ParseError { offset: open, message: "`{{` without a closing `}}`".into() };
        let close = inner_start + src[inner_start..].find("}}").ok_or_else(unclosed)?;
        let inner = &src[inner_start..close];
        if inner.contains("{{") {
            return Err(unclosed());
        }
        t.push_hole(inner.trim(), open, names)?;
        pos = close + 2;
    }
    t.push_lit(&bytes[pos..]);
    Ok(t)
}

impl Template {
    fn push_lit(&mut self, b: &[u8]) {
        if b.is_empty() {
            return;
        }
        let start = self.lits.len();
        self.lits.extend_from_slice(b);
        let end = self.lits.len();
        match self.parts.last_mut() {
            Some(Part::Lit(_, e)) if *e == start => *e = end,
            _ => self.parts.push(Part::Lit(start, end)),
        }
    }

    fn push_hole(&mut self, inner: &str, offset: usize, names: &dyn Names) -> Result<(), ParseError> {
        let err = |message: String| ParseError { offset, message };
        let part = match inner {
            "" => return Err(err("empty placeholder `{{}}`".into())),
            "vu" => Part::Vu,
            "iter" => Part::Iter,
            "uuid" => Part::Uuid,
            _ if inner.split_whitespace().next() == Some("rand") => {
                let args: Vec<&str> = inner.split_whitespace().skip(1).collect();
                if args.len() != 2 {
                    return Err(err(format!(
                        "`{{{{{inner}}}}}`: `rand` takes two integers, as in `{{{{rand 1 100}}}}`"
                    )));
                }
                let mut bounds = [0i64; 2];
                for (slot, a) in bounds.iter_mut().zip(&args) {
                    *slot = a.parse().map_err(|_| err(format!("`rand` bound `{a}` is not an integer")))?;
                }
                let [a, b] = bounds;
                if a > b {
                    return Err(err(format!("`rand` bounds are reversed: {a} > {b}")));
                }
                Part::Rand(a, b)
            }
            _ if inner.starts_with("env.") => {
                let name = inner["env.".len()..].trim();
                if name.is_empty() {
                    return Err(err("`{{env.}}` needs a variable name, as in `{{env.API_TOKEN}}`".into()));
                }
                let value = names.env(name).ok_or_else(|| err(format!("environment variable `{name}` is not set")))?;
                self.push_lit(value.as_bytes());
                return Ok(());
            }
            _ if inner.contains(char::is_whitespace) => {
                return Err(err(format!(
                    "unknown placeholder `{{{{{inner}}}}}`: use vu, iter, uuid, rand A B, env.NAME or a variable name"
                )));
            }
            name => match names.var(name) {
                Some(i) => Part::Var(i),
                None => {
                    let known = names.known();
                    let message = if known.is_empty() {
                        format!("unknown variable `{name}` (no variables are defined here)")
                    } else {
                        format!("unknown variable `{name}` (known: {})", known.join(", "))
                    };
                    return Err(err(message));
                }
            },
        };
        self.parts.push(part);
        Ok(())
    }

    /// No holes left after compile (environment variables have become literals).
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(..)))
    }

    /// The bytes, when the template is static.
    pub fn literal(&self) -> Option<&[u8]> {
        self.is_static().then_some(&self.lits[..])
    }

    /// The variable indices the template reads, each once, in order of first use.
    pub fn vars(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for p in &self.parts {
            match *p {
                Part::Var(i) if !out.contains(&i) => out.push(i),
                _ => {}
            }
        }
        out
    }

    /// Append the rendering to `out`. `Err(index)` when a variable it needs has no value (`None`
    /// or out of range); `out` is then left as it was.
    pub fn render(&self, out: &mut Vec<u8>, cx: &mut RenderCx<'_>) -> Result<(), usize> {
        let start = out.len();
        for p in &self.parts {
            match *p {
                Part::Lit(a, b) => out.extend_from_slice(&self.lits[a..b]),
                Part::Vu => write_u64(out, cx.vu),
                Part::Iter => write_u64(out, cx.iter),
                Part::Rand(a, b) => write_i64(out, cx.rng.range_i64(a, b)),
                Part::Uuid => write_uuid(out, cx.rng),
                Part::Var(i) => match cx.vars.get(i) {
                    Some(Some(v)) => out.extend_from_slice(v),
                    _ => {
                        out.truncate(start);
                        return Err(i);
                    }
                },
            }
        }
        Ok(())
    }
}

/// What one rendering reads: the user, its iteration, its variable slots and its worker's RNG.
pub struct RenderCx<'a> {
    pub vu: u64,
    pub iter: u64,
    pub vars: &'a [Option<Vec<u8>>],
    pub rng: &'a mut Rng,
}

/// Append the decimal form of `v` without allocating.
pub fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Append the decimal form of `v` without allocating.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// Append a random version-4 UUID, lowercase hex with dashes.
fn write_uuid(out: &mut Vec<u8>, rng: &mut Rng) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut s = [0u8; 36];
    let mut j = 0;
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s[j] = b'-';
            j += 1;
        }
        s[j] = HEX[(byte >> 4) as usize];
        s[j + 1] = HEX[(byte & 15) as usize];
        j += 2;
    }
    out.extend_from_slice(&s);
}

/// wyrand: a small, fast, seedable PRNG (64-bit state). Not for cryptography.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = (self.0 as u128).wrapping_mul((self.0 ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Uniform in `[0, n)`, without modulo bias (Lemire). `below(0)` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut m = (self.next_u64() as u128) * (n as u128);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.next_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }

    /// Uniform in `[a, b]` (inclusive). Reversed bounds are swapped.
    pub fn range_i64(&mut self, a: i64, b: i64) -> i64 {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let span = hi.wrapping_sub(lo) as u64; // count - 1, fits in u64
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        lo.wrapping_add(self.below(span + 1) as i64)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct N;
    impl Names for N {
        fn var(&self, name: &str) -> Option<usize> {
            ["token", "email", "password"].iter().position(|n| *n == name)
        }
        fn env(&self, name: &str) -> Option<String> {
            (name == "API_KEY").then(|| "s3cret".to_string())
        }
        fn known(&self) -> Vec<String> {
            vec!["token".into(), "email".into(), "password".into()]
        }
    }

    fn render_with(t: &Template, vu: u64, iter: u64, vars: &[Option<Vec<u8>>], rng: &mut Rng) -> Result<String, usize> {
        let mut out = b"prefix:".to_vec();
        t.render(&mut out, &mut RenderCx { vu, iter, vars, rng })?;
        Ok(String::from_utf8(out[7..].to_vec()).unwrap())
    }

    fn render(src: &str, vars: &[Option<Vec<u8>>]) -> Result<String, usize> {
        render_with(&compile(src, &N).unwrap(), 7, 42, vars, &mut Rng::new(1))
    }

    fn err(src: &str) -> (usize, String) {
        let e = compile(src, &N).unwrap_err();
        (e.offset, e.message)
    }

    #[test]
    fn static_templates_and_env_become_literals() {
        let t = compile("plain text } { }}", &N).unwrap();
        assert!(t.is_static());
        assert_eq!(t.literal(), Some(&b"plain text } { }}"[..]));
        let t = compile("Bearer {{ env.API_KEY }}!", &N).unwrap();
        assert!(t.is_static());
        assert_eq!(t.literal(), Some(&b"Bearer s3cret!"[..]));
        assert_eq!(t.parts.len(), 1, "adjacent literals are merged");
        assert_eq!(compile("", &N).unwrap().literal(), Some(&b""[..]));
        assert_eq!(compile("{{vu}}", &N).unwrap().literal(), None);
    }

    #[test]
    fn renders_each_hole() {
        assert_eq!(render("u{{vu}}-i{{ iter }}", &[]).unwrap(), "u7-i42");
        let vars = [Some(b"tok".to_vec()), Some(b"a@b.c".to_vec()), None];
        assert_eq!(render("Bearer {{token}} {{email}}{{token}}", &vars).unwrap(), "Bearer tok a@b.ctok");
        assert_eq!(render(r#"{"a":{{{vu}}}}"#, &[]).unwrap(), r#"{"a":{7}}"#);
        let t = compile("{{vu}}", &N).unwrap();
        assert_eq!(render_with(&t, 0, 0, &[], &mut Rng::new(0)).unwrap(), "0");
        assert_eq!(render_with(&t, u64::MAX, 0, &[], &mut Rng::new(0)).unwrap(), u64::MAX.to_string());
        assert_eq!(render("{{rand -5 -5}}", &[]).unwrap(), "-5");
        assert_eq!(render("{{rand 9223372036854775807 9223372036854775807}}", &[]).unwrap(), i64::MAX.to_string());
        assert_eq!(render("{{rand -9223372036854775808 -9223372036854775808}}", &[]).unwrap(), i64::MIN.to_string());
    }

    #[test]
    fn vars_lists_indices_once() {
        let t = compile("{{password}}{{token}}{{password}}{{vu}}", &N).unwrap();
        assert_eq!(t.vars(), vec![2, 0]);
        assert!(!t.is_static());
    }

    #[test]
    fn missing_variable_is_an_error_and_leaves_output_alone() {
        let t = compile("a{{token}}b{{password}}", &N).unwrap();
        let vars = [Some(b"x".to_vec()), None, None];
        let mut out = b"keep".to_vec();
        let r = t.render(&mut out, &mut RenderCx { vu: 1, iter: 1, vars: &vars, rng: &mut Rng::new(3) });
        assert_eq!(r, Err(2));
        assert_eq!(out, b"keep");
        assert_eq!(render("{{email}}", &[]), Err(1), "slot out of range counts as missing");
    }

    #[test]
    fn compile_errors_carry_offsets() {
        assert_eq!(err("ab{{tokn}}"), (2, "unknown variable `tokn` (known: token, email, password)".into()));
        assert_eq!(err("{{vu}} x {{ vu"), (9, "`{{` without a closing `}}`".into()));
        assert_eq!(err("{{a {{vu}}").0, 0);
        assert_eq!(err("xyz{{ env.NOPE }}"), (3, "environment variable `NOPE` is not set".into()));
        assert_eq!(err("{{}}"), (0, "empty placeholder `{{}}`".into()));
        assert_eq!(err("12{{  }}").0, 2);
        assert_eq!(err("{{rand 5 1}}"), (0, "`rand` bounds are reversed: 5 > 1".into()));
        assert_eq!(err("-{{rand 1}}").0, 1);
        assert!(err("{{rand 1}}").1.contains("two integers"));
        assert_eq!(err("{{rand 1 x}}").1, "`rand` bound `x` is not an integer");
        assert!(err("{{foo bar}}").1.starts_with("unknown placeholder `{{foo bar}}`"));
        assert!(err("{{env.}}").1.contains("needs a variable name"));
        struct Empty;
        impl Names for Empty {
            fn var(&self, _: &str) -> Option<usize> {
                None
            }
            fn env(&self, _: &str) -> Option<String> {
                None
            }
            fn known(&self) -> Vec<String> {
                Vec::new()
            }
        }
        assert_eq!(
            compile("{{x}}", &Empty).unwrap_err().message,
            "unknown variable `x` (no variables are defined here)"
        );
    }

    #[test]
    fn rand_stays_in_bounds_and_covers_them() {
        let t = compile("{{rand -3 3}}", &N).unwrap();
        let mut rng = Rng::new(99);
        let mut seen = [0u32; 7];
        for _ in 0..10_000 {
            let v: i64 = render_with(&t, 0, 0, &[], &mut rng).unwrap().parse().unwrap();
            assert!((-3..=3).contains(&v), "{v}");
            seen[(v + 3) as usize] += 1;
        }
        for (i, n) in seen.iter().enumerate() {
            assert!((1200..1700).contains(n), "value {} drawn {n} times of 10000", i as i64 - 3);
        }
        let t = compile("{{rand 300000 1300000}}", &N).unwrap();
        for _ in 0..10_000 {
            let v: i64 = render_with(&t, 0, 0, &[], &mut rng).unwrap().parse().unwrap();
            assert!((300_000..=1_300_000).contains(&v));
        }
    }

    #[test]
    fn rng_helpers() {
        let mut a = Rng::new(5);
        let mut b = Rng::new(5);
        assert_eq!(
            (0..10).map(|_| a.next_u64()).collect::<Vec<_>>(),
            (0..10).map(|_| b.next_u64()).collect::<Vec<_>>()
        );
        assert_ne!(Rng::new(6).next_u64(), Rng::new(5).next_u64());
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            assert!(r.below(3) < 3);
            let f = r.unit_f64();
            assert!((0.0..1.0).contains(&f));
            let x = r.range_i64(i64::MIN, i64::MAX);
            let _ = x;
            assert!((10..=20).contains(&r.range_i64(20, 10)));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.below(1), 0);
        let mean = (0..100_000).map(|_| r.unit_f64()).sum::<f64>() / 100_000.0;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }

    #[test]
    fn uuid_is_v4() {
        let t = compile("{{uuid}}", &N).unwrap();
        let mut rng = Rng::new(7);
        let a = render_with(&t, 0, 0, &[], &mut rng).unwrap();
        let b = render_with(&t, 0, 0, &[], &mut rng).unwrap();
        assert_ne!(a, b);
        for u in [a, b] {
            assert_eq!(u.len(), 36);
            let groups: Vec<&str> = u.split('-').collect();
            assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
            assert!(u.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)), "{u}");
            assert_eq!(&u[14..15], "4", "version nibble: {u}");
            assert!("89ab".contains(&u[19..20]), "variant bits: {u}");
        }
    }
}
