//! Status codes as the rule languages write them, in one place: a code (`201`, 100..=999), a
//! class (`2xx`, `2XX`) and an inclusive range (`200..299`, `200..=299`). `expect` and metric
//! conditions ([`super::check`]) and step conditions ([`super::condition`]) both read them.

use std::ops::RangeInclusive;

/// The status codes a rule may name.
pub const CODES: RangeInclusive<u16> = 100..=999;

/// `Nxx` (N in 1..=9, `x` in either case) as the inclusive range it names.
pub fn class(word: &str) -> Option<(u16, u16)> {
    let b = word.as_bytes();
    if b.len() == 3 && (b'1'..=b'9').contains(&b[0]) && b[1..].eq_ignore_ascii_case(b"xx") {
        let lo = u16::from(b[0] - b'0') * 100;
        return Some((lo, lo + 99));
    }
    None
}

/// `lo..hi` or `lo..=hi` split into its two ends, as written; `None` when `item` is no range.
pub fn split_range(item: &str) -> Option<(&str, &str)> {
    let (lo, hi) = item.split_once("..")?;
    Some((lo, hi.strip_prefix('=').unwrap_or(hi)))
}

/// How a range prints: `2xx` for a whole class, `201` for one code, else `200..204`.
pub fn describe((lo, hi): (u16, u16)) -> String {
    match (lo, hi) {
        _ if lo == hi => lo.to_string(),
        _ if lo % 100 == 0 && hi == lo + 99 => format!("{}xx", lo / 100),
        _ => format!("{lo}..{hi}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(class("2xx"), Some((200, 299)));
        assert_eq!(class("5XX"), Some((500, 599)));
        assert_eq!(class("9xX"), Some((900, 999)));
        for bad in ["0xx", "2x", "2xxx", "xxx", "20x", "", "2yy"] {
            assert_eq!(class(bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(split_range("200..299"), Some(("200", "299")));
        assert_eq!(split_range("200..=299"), Some(("200", "299")));
        assert_eq!(split_range("200"), None);
        assert_eq!(describe((200, 299)), "2xx");
        assert_eq!(describe((201, 201)), "201");
        assert_eq!(describe((200, 204)), "200..204");
    }
}
