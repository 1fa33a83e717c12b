//! Positions in the scenario file: byte spans of TOML values turned into `path:line:col`, through
//! the escapes of TOML strings.

use std::ops::Range;
use std::path::PathBuf;

use crate::error::PlanError;

/// The file being compiled, to turn byte spans into `path:line:col`.
pub(super) struct Source<'a> {
    pub text: &'a str,
    pub path: String,
    pub dir: PathBuf,
}

impl Source<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    pub fn at(&self, span: Range<usize>, message: impl Into<String>) -> PlanError {
        let (line, col) = self.line_col(span.start);
        PlanError::At { path: self.path.clone(), line, col, message: message.into() }
    }

    /// Position in the file of byte `offset` of the string value written at `span`: the escapes,
    /// line-ending backslashes and CRLF line breaks of the TOML string are undone on the way.
    pub fn inside(&self, span: &Range<usize>, offset: usize) -> Range<usize> {
        let at = span.start + value_to_source(&self.text[span.clone()], offset);
        at..at
    }
}

/// Byte index in `raw`, a TOML string as written (quotes included), where byte `offset` of its
/// value starts. An offset inside what an escape stands for maps to the escape's backslash.
fn value_to_source(raw: &str, offset: usize) -> usize {
    let (delim, literal) = if raw.starts_with("\"\"\"") {
        (3, false)
    } else if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with('"') {
        (1, false)
    } else if raw.starts_with('\'') {
        (1, true)
    } else {
        return 0;
    };
    let multiline = delim == 3;
    let end = raw.len().saturating_sub(delim).max(delim);
    let mut i = delim.min(raw.len());
    // A line break right after the opening quotes of a multi-line string is not part of it.
    if multiline {
        i += [("\r\n", 2), ("\n", 1)].iter().find(|(nl, _)| raw[i..].starts_with(nl)).map_or(0, |(_, n)| *n);
    }
    let mut value = 0;
    while i < end && value < offset {
        let rest = &raw[i..end];
        if multiline && rest.starts_with("\r\n") {
            i += 2;
            value += 1;
            continue;
        }
        if !literal && rest.starts_with('\\') {
            let after = &rest[1..];
            if multiline && after.trim_start_matches([' ', '\t']).starts_with(['\r', '\n']) {
                // Line-ending backslash: it and the whitespace up to the next text stand for nothing.
                i += rest.len() - after.trim_start_matches([' ', '\t', '\r', '\n']).len();
                continue;
            }
            let hex =
                |n: usize| after.get(1..1 + n).and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32);
            let (len, ch) = match after.as_bytes().first() {
                Some(b'u') => (6, hex(4)),
                Some(b'U') => (10, hex(8)),
                _ => (2, None),
            };
            i += len.min(rest.len());
            value += ch.map_or(1, char::len_utf8);
            continue;
        }
        let n = rest.chars().next().map_or(1, char::len_utf8);
        i += n;
        value += n;
    }
    i.min(raw.len())
}
