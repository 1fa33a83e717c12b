//! Positions in the scenario file: byte spans of TOML values turned into `path:line:col`, through
//! the escapes of TOML strings.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::PlanError;

/// The files being compiled, to turn byte spans into `path:line:col`. Every file read (the
/// scenario and what it includes) has its own range of one span space: its text sits at its
/// `base` in `text`, and its values' spans are parsed there (see [`Source::parse`]).
#[derive(Default)]
pub(super) struct Source {
    /// Every file's text, one after another, each followed by a line break.
    pub text: String,
    pub files: Vec<Part>,
}

/// One file read.
pub(super) struct Part {
    pub path: String,
    /// Relative data files and includes are found here.
    pub dir: PathBuf,
    /// Where its text starts in [`Source::text`].
    pub base: usize,
}

impl Source {
    /// Add the file `text` read from `path` and parse it: the spans of what it holds fall in its
    /// own range.
    pub fn parse<T: serde::de::DeserializeOwned>(&mut self, text: &str, path: &Path) -> Result<T, PlanError> {
        // A byte-order mark is not TOML; with the file moved off offset 0 it would not be skipped.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let base = self.text.len();
        self.files.push(Part {
            path: path.display().to_string(),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            base,
        });
        self.text.push_str(text);
        self.text.push('\n');
        // Spaces before the first line are indentation to TOML: the spans come out shifted by `base`.
        let mut shifted = " ".repeat(base);
        shifted.push_str(text);
        toml::from_str(&shifted).map_err(|e| {
            let span = e.span().unwrap_or(base..base);
            self.at(span, e.message().trim_end().to_string())
        })
    }

    /// The file a span is in.
    pub fn part(&self, span: &Range<usize>) -> &Part {
        let i = self.files.partition_point(|p| p.base <= span.start).saturating_sub(1);
        &self.files[i]
    }

    /// The file that holds `span`, and its line and column there.
    pub fn place(&self, span: &Range<usize>) -> (String, usize, usize) {
        let part = self.part(span);
        let offset = span.start.clamp(part.base, self.text.len());
        let before = &self.text[part.base..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (part.path.clone(), line, col)
    }

    /// `path:line:col` of a span, for messages that name a second place.
    pub fn shown(&self, span: &Range<usize>) -> String {
        let (path, line, col) = self.place(span);
        format!("{path}:{line}:{col}")
    }

    pub fn at(&self, span: Range<usize>, message: impl Into<String>) -> PlanError {
        let (path, line, col) = self.place(&span);
        PlanError::At { path, line, col, message: message.into() }
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
