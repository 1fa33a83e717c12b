//! A scrape selector: a metric name with optional label matchers, as in PromQL —
//! `node_load1`, `node_cpu_seconds_total{mode!="idle"}`, `http_requests_total{job=~"api|web"}`.
//! Only the selector: no functions, ranges or operators (those are for `promql` series).

use regex::Regex;

/// How a label is matched.
#[derive(Debug, Clone)]
pub enum Match {
    Eq(String),
    Ne(String),
    /// Anchored, as PromQL anchors it.
    Re(Regex),
    NotRe(Regex),
}

/// A parsed selector.
#[derive(Debug, Clone)]
pub struct Selector {
    pub name: String,
    pub matchers: Vec<(String, Match)>,
}

impl Selector {
    /// Parse `name{label OP "value", ...}` (OP: `=`, `!=`, `=~`, `!~`).
    pub fn parse(text: &str) -> Result<Selector, String> {
        let t = text.trim();
        let end = t.find('{').unwrap_or(t.len());
        let name = t[..end].trim();
        let ok_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !ok_name {
            return Err(format!("`{name}` is not a metric name (letters, digits, `_` and `:`)"));
        }
        let mut matchers = Vec::new();
        if end < t.len() {
            let inner = t[end + 1..]
                .strip_suffix('}')
                .ok_or_else(|| format!("`{t}`: the label matchers are not closed with `}}`"))?;
            let cs: Vec<char> = inner.chars().collect();
            let mut i = 0;
            let ws = |i: &mut usize| {
                while *i < cs.len() && cs[*i].is_whitespace() {
                    *i += 1;
                }
            };
            loop {
                ws(&mut i);
                if i >= cs.len() {
                    break;
                }
                let a = i;
                while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_') {
                    i += 1;
                }
                let label: String = cs[a..i].iter().collect();
                if label.is_empty() {
                    return Err(format!("`{t}`: expected a label name at `{}`", cs[a..].iter().collect::<String>()));
                }
                ws(&mut i);
                let op: String = cs[i..(i + 2).min(cs.len())].iter().collect();
                let (op, len) = match op.as_str() {
                    "!=" => ("!=", 2),
                    "=~" => ("=~", 2),
                    "!~" => ("!~", 2),
                    o if o.starts_with('=') => ("=", 1),
                    _ => return Err(format!("`{t}`: expected =, !=, =~ or !~ after `{label}`")),
                };
                i += len;
                ws(&mut i);
                if i >= cs.len() || cs[i] != '"' {
                    return Err(format!("`{t}`: the value of `{label}` must be in double quotes"));
                }
                i += 1;
                let mut value = String::new();
                loop {
                    match cs.get(i) {
                        None => return Err(format!("`{t}`: the value of `{label}` is not closed with `\"`")),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match cs.get(i) {
                                Some('n') => value.push('\n'),
                                Some(c) => value.push(*c),
                                None => return Err(format!("`{t}`: a `\\` ends the value of `{label}`")),
                            }
                        }
                        Some(c) => value.push(*c),
                    }
                    i += 1;
                }
                i += 1;
                let re = |v: &str| Regex::new(&format!("^(?:{v})$")).map_err(|e| format!("`{t}`: `{v}`: {e}"));
                let m = match op {
                    "=" => Match::Eq(value),
                    "!=" => Match::Ne(value),
                    "=~" => Match::Re(re(&value)?),
                    _ => Match::NotRe(re(&value)?),
                };
                matchers.push((label, m));
                ws(&mut i);
                match cs.get(i) {
                    Some(',') => i += 1,
                    None => break,
                    Some(c) => return Err(format!("`{t}`: expected `,` or `}}`, found `{c}`")),
                }
            }
        }
        Ok(Selector { name: name.to_string(), matchers })
    }

    /// Whether a series with these labels matches (a label it lacks has the value "").
    pub fn matches(&self, label: impl Fn(&str) -> Option<String>) -> bool {
        self.matchers.iter().all(|(name, m)| {
            let v = label(name).unwrap_or_default();
            match m {
                Match::Eq(x) => v == *x,
                Match::Ne(x) => v != *x,
                Match::Re(r) => r.is_match(&v),
                Match::NotRe(r) => !r.is_match(&v),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |n| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())
    }

    #[test]
    fn names_and_matchers_of_every_kind() {
        let s = Selector::parse(r#" node_cpu_seconds_total{mode!="idle", cpu=~"0|1", job="a\"b", x!~"t.*"} "#).unwrap();
        assert_eq!(s.name, "node_cpu_seconds_total");
        assert_eq!(s.matchers.len(), 4);
        assert!(s.matches(labels(&[("mode", "user"), ("cpu", "1"), ("job", "a\"b"), ("x", "u")])));
        assert!(!s.matches(labels(&[("mode", "idle"), ("cpu", "1"), ("job", "a\"b")])));
        assert!(!s.matches(labels(&[("mode", "user"), ("cpu", "10"), ("job", "a\"b")])), "regexes are anchored");
        assert!(!s.matches(labels(&[("mode", "user"), ("cpu", "0"), ("job", "a\"b"), ("x", "top")])));
        let bare = Selector::parse("node_load1").unwrap();
        assert!(bare.matchers.is_empty() && bare.matches(labels(&[])));
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        for (text, says) in [
            ("rate(x[1m])", "not a metric name"),
            ("x{a=\"b\"", "not closed with `}`"),
            ("x{a=b}", "double quotes"),
            ("x{a~\"b\"}", "expected =, !=, =~ or !~"),
            ("x{a=~\"(\"}", "`(`"),
            ("x{a=\"b\" c=\"d\"}", "expected `,`"),
        ] {
            let e = Selector::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
