//! The small languages of a scenario file, each parsed once when the file is read: response
//! checks (`expect`, and conditions in one line), step conditions (`if`), thresholds, metric
//! sources, extraction rules and request templates. Their text parsers share one located parse
//! error ([`ParseError`], a byte offset and a message); `expect` tables, which TOML already
//! locates, are checked with plain messages.

pub mod check;
pub(crate) mod condition;
pub mod extract;
pub(crate) mod metric;
pub(crate) mod status;
pub mod template;
pub mod threshold;

/// Text in one of these languages that does not parse or compile: why, and where, as a byte
/// offset into the text as given (a char boundary), so the caller can point at it with
/// `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}
